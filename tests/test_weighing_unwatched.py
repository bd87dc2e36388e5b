"""A truck's two stops that straddle a time the scale was not watched — the daemon killed and
started again, the indicator's cable pulled — are never a pair nor the next truck's weighing
without a clerk (the fourth review of issue 16, N2), and a completed pair's higher stop can
be taken as its weight (请核对重量 → 取较高重量).

Real parts: a pty scale simulator (Yaohua tF=0), a real SQLite ledger closed and opened again
as a kill -9 leaves it (nothing in memory survives)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from edge.gate.weighbridge import Weighbridge
from edge.ledger.rows import NewScaleRead, StoredWeighing
from edge.ledger.store import Store
from edge.ledger.weighings import WeighingStateError
from tests.helpers import eventually
from tests.test_weighing_pairing import (
    RULE,
    _goods_states,
    _higher_stop,
    _leave,
    _pass,
    _restarted,
    _settle,
    _weighed_in,
    weighbridge,
)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(tmp_path / "ledger.db")
    try:
        yield store
    finally:
        await store.close()


async def _first_stop_then_killed(
    path: Path, tmp_path: Path, plate: str, *, next_read: str | None = None
) -> int:
    """``plate`` read and weighed at 21000 kg (partly on); with ``next_read``, the next truck's
    plate read 7 s later while it stands (past the tie-in-doubt window); then the daemon is
    killed (the ledger closed as it is). Returns the weighing's id."""
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path) as (bridge, sim, seen):
            bridge.heard_pass(_pass(plate, "S-T"))
            await _settle(bridge, sim, 21000)
            await bridge.drain()
        first = seen[0]
        if next_read is not None:  # heard by the daemon before it was killed
            await store.note_scale_read(
                NewScaleRead("main", next_read, "2", "S-P", "in-1", first.first_at + 7)
            )
        return first.id
    finally:
        await store.close()


async def test_a_higher_stop_made_while_the_daemon_was_down_is_not_the_next_trucks(
    tmp_path: Path,
) -> None:
    """The review's case (N2a): 豫T10001 weighed at 21000 kg; 豫P20002 read behind it; the
    daemon killed; meanwhile the truck drove fully on (39000 kg). Started again, the platform
    loaded and never seen empty: the 39000 kg is held with 豫P20002 as a candidate and the
    link to 豫T10001's weighing (not watched in between) — before, it was tied to 豫P20002 at
    once. The clerk says 同一车辆: 豫T10001's weighing takes 39000 kg, the held one is set
    aside, and 豫P20002's read stays pending for its own weighing."""
    path = tmp_path / "edge.db"
    first = await _first_stop_then_killed(path, tmp_path, "豫T10001", next_read="豫P20002")
    async with _restarted(path, tmp_path, 39000) as (store, bridge, sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        held = seen[-1]
        assert (held.plate, held.stop_of, held.stop_unwatched) == (None, first, 1)
        assert [r.read.plate for r in held.candidate_reads] == ["豫P20002"]
        with pytest.raises(WeighingStateError, match="same-truck"):
            await bridge.assign(held.id, "豫T10001", "2")
        row = await bridge.same_truck(held.id)
        await _leave(bridge, sim)
        await bridge.drain()
        assert (row.id, row.plate, row.state, row.first_kg) == (first, "豫T10001", "open", 39000)
        assert (await store.weighing(held.id)).state == "discarded"
        assert [r.read.plate for r in await store.pending_reads("main", 0)] == ["豫P20002"]


async def test_a_typed_plate_never_pairs_one_trucks_two_stops_across_a_restart(
    tmp_path: Path,
) -> None:
    """The review's case (N2b): 豫T10003 weighed at 21000 kg; the daemon killed while it
    drives fully on (39000 kg). The clerk types 豫T10003 for the 39000 kg weighing: refused,
    saying both choices — before, it paired the truck's two stops (an 18 t goods record).
    已离开后返回 (``returned``): the truck's real second weighing, paired."""
    path = tmp_path / "edge.db"
    first = await _first_stop_then_killed(path, tmp_path, "豫T10003")
    async with _restarted(path, tmp_path, 39000, goods="煤") as (store, bridge, _sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        await _refused_then_returned(store, bridge, seen[-1], first)


async def test_a_typed_plate_never_pairs_one_trucks_two_stops_across_a_pulled_cable(
    ledger: Store, tmp_path: Path
) -> None:
    """The same with the indicator's cable pulled (no readings for longer than the stable
    rule's gap) while the truck drives fully on: held, linked (not watched), refused."""
    async with weighbridge(ledger, tmp_path, goods="煤") as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫T10003", "S-T"))
        await _settle(bridge, sim, 21000)
        await bridge.drain()
        first = seen[0].id
        sim.port.unplug()  # the cable pulled; the truck drives fully on meanwhile
        await eventually(lambda: _silent_for(bridge, RULE.max_gap_seconds), timeout=5)
        sim.set_weight(Decimal(39000))
        sim.port.plug()
        await eventually(lambda: len(seen) == 2, timeout=10)
        await _refused_then_returned(ledger, bridge, seen[-1], first)


def _silent_for(bridge: Weighbridge, seconds: float) -> bool:
    latest = bridge.indicator.latest
    return latest is not None and time.monotonic() - latest.at > seconds


async def _refused_then_returned(
    store: Store, bridge: Weighbridge, held: StoredWeighing, first: int
) -> None:
    assert (held.plate, held.stop_of, held.stop_unwatched) == (None, first, 1)
    with pytest.raises(WeighingStateError, match="returned") as refused:
        await bridge.assign(held.id, "豫T10003", "2")
    assert "同一车辆" in refused.value.said
    assert (await store.weighing(first)).state == "open"
    row = await bridge.assign(held.id, "豫T10003", "2", returned=True)
    assert (row.id, row.state, row.net_kg) == (first, "complete", 18000)


async def test_a_completed_pairs_higher_stop_is_taken_as_its_weight(tmp_path: Path) -> None:
    """The review's medium case: the truck's weighing out (14000 kg) completes its pair, it
    stops again higher (14600 kg): 请核对重量, its goods record held. The clerk takes the
    higher weight (取较高重量): net 20.4 t, the goods record carries it and goes out once the
    truck left; a second time is refused (nothing to take)."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        truck = await _weighed_in(store, "豫H80009", 35000)
        async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
            bridge.heard_pass(_pass("豫H80009", truck.serial))
            await _settle(bridge, sim, 14000)
            await bridge.drain()
            pair = seen[-1]
            assert (pair.state, pair.net_kg) == ("complete", 21000)
            await _higher_stop(bridge, sim, 14600)
            await eventually(lambda: bool(seen[-1].checks), timeout=5)
            [check] = seen[-1].checks
            assert (check.kind, check.before_kg, check.kg) == ("weight", 14000, 14600)
            row, released = await bridge.take_higher_weight(pair.id)
            assert (row.second_kg, row.net_kg, row.ysl, row.checks) == (14600, 20400, "20.4", [])
            assert released == 0  # the truck stands on the scale: held until it left
            assert await _goods_states(store) == (1, 0)
            await _leave(bridge, sim)
            await bridge.drain()
        assert await _goods_states(store) == (0, 1)
        with pytest.raises(WeighingStateError, match="no higher stop"):
            await store.take_higher_weight(pair.id)
    finally:
        await store.close()
