"""A truck's two stops that straddle a time the scale was not watched — the daemon killed and
started again, the indicator's cable pulled — are never a pair nor the next truck's weighing
without a clerk (the fourth review of issue 16, N2), and a completed pair's higher stop can
be taken as its weight (请核对重量 → 取较高重量).

Real parts: a pty scale simulator (Yaohua tF=0), a real SQLite ledger closed and opened again
as a kill -9 leaves it (nothing in memory survives)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from edge.gate.weighbridge import ScalePairing, Weighbridge
from edge.ledger.rows import NewScaleRead, NewWeighing, StoredWeighing
from edge.ledger.store import Store
from edge.ledger.weighings import WeighingStateError
from tests.helpers import eventually
from tests.test_store import new_pass
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
    path: Path, tmp_path: Path, plate: str, *, next_read: str | None = None, kg: int = 21000
) -> int:
    """``plate`` read and weighed at ``kg`` (partly on); with ``next_read``, the next truck's
    plate read 7 s later while it stands (past the tie-in-doubt window); then the daemon is
    killed (the ledger closed as it is). Returns the weighing's id."""
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path) as (bridge, sim, seen):
            bridge.heard_pass(_pass(plate, "S-T"))
            await _settle(bridge, sim, kg)
            await bridge.drain()
        first = seen[0]
        if next_read is not None:  # heard by the daemon before it was killed
            await store.note_scale_read(
                NewScaleRead("main", next_read, "2", "S-P", "in-1", first.first_at + 7)
            )
        return first.id
    finally:
        await store.close()


async def _paired_at_a_partial_exit_stop_then_killed(
    path: Path, tmp_path: Path, plate: str
) -> StoredWeighing:
    """``plate`` weighed in at 40000 kg; its exit stop at 12000 kg (partly on) completes the
    pair (28 t, its goods record held while the truck stands); then the daemon is killed (the
    ledger closed as it is). Returns the pair."""
    store = await Store.open(path)
    try:
        truck = await _weighed_in(store, plate, 40000)
        async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
            bridge.heard_pass(_pass(plate, truck.serial))
            await _settle(bridge, sim, 12000)
            await bridge.drain()
        pair = seen[-1]
        assert (pair.state, pair.net_kg) == ("complete", 28000)
        assert await _goods_states(store) == (1, 0)
        return pair
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
        with pytest.raises(WeighingStateError, match="discarded already"):
            await bridge.same_truck(held.id)  # a second clerk, a moment later: told so
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


async def test_a_read_heard_after_an_unwatched_weight_settled_is_no_late_read(
    tmp_path: Path,
) -> None:
    """The fifth review's case (S1): after the restart the 39000 kg weight (豫T10005's second
    stop, maybe) is taken with no read pending; the next truck's read comes 1 s later. Before,
    the late-read rule gave it that read (its goods record then counted the first truck's load
    twice); a doubtful weight takes no late read: the read is its candidate once it left, held
    for the clerk, and stays pending."""
    path = tmp_path / "edge.db"
    first = await _first_stop_then_killed(path, tmp_path, "豫T10005")
    async with _restarted(path, tmp_path, 39000) as (store, bridge, sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        bridge.heard_pass(_pass("豫B22228", "S-NEXT"))
        await bridge.drain()
        await _leave(bridge, sim)
        await eventually(lambda: seen[-1].held, timeout=5)
        held = await store.weighing(seen[-1].id)
        assert (held.plate, held.stop_of, held.held) == (None, first, True)
        assert [r.read.plate for r in held.candidate_reads] == ["豫B22228"]
        assert [r.read.plate for r in await store.pending_reads("main", 0)] == ["豫B22228"]


async def test_a_pairs_goods_record_waits_for_the_clerk_on_its_trucks_unwatched_second_stop(
    tmp_path: Path,
) -> None:
    """The fifth review's case (S2): 豫H80011 weighed in at 40000 kg; its exit stop at 12000 kg
    (partly on) completes the pair (28 t, held while it stands); the daemon is killed, the truck
    drives fully on (15000 kg). Started again: the 15000 kg is held, linked — and the pair's
    goods record stays held after the truck left (before: 28 t went out before the clerk could
    say). 同一车辆 then 取较高重量: 25 t, sent once."""
    path = tmp_path / "edge.db"
    pair = await _paired_at_a_partial_exit_stop_then_killed(path, tmp_path, "豫H80011")
    async with _restarted(path, tmp_path, 15000, goods="石灰石") as (store, bridge, sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        held = seen[-1]
        assert (held.stop_of, held.stop_unwatched) == (pair.id, 1)
        await _leave(bridge, sim)
        await bridge.drain()
        await bridge._sweep(time.time())  # the platform stays empty: what may go, goes
        assert await _goods_states(store) == (1, 0)  # held for the clerk, not 28 t sent
        checked = await bridge.same_truck(held.id)
        assert [c.kind for c in checked.checks] == ["weight"]
        row, released = await bridge.take_higher_weight(pair.id)
        assert (row.second_kg, row.net_kg, row.ysl, released) == (15000, 25000, "25", 1)
        assert await _goods_states(store) == (0, 1)


async def test_a_higher_weight_taken_for_a_pair_without_a_goods_record_makes_one(
    ledger: Store,
) -> None:
    """The fifth review's case (S3): a preset-tare truck weighed empty (no goods record), then
    higher (请核对重量); 取较高重量 gives net 10 t — and now its goods record, named by the
    scale's default (before: net 10 t and no record, silently)."""
    seen = await ledger.record_pass(new_pass("豫C33333"), [])
    row = await ledger.weigh(
        NewWeighing("main", "豫C33333", "2", 15210, time.time() - 700, seen.serial),
        max_between_seconds=86400.0, preset_tare_kg=15200, goods="石灰石", empty_kg=500,
    )  # fmt: skip
    assert (row.state, row.net_kg, row.ysl) == ("complete", 0, None)
    assert await ledger.check_weight(row, 15210, 25200) is not None
    scale = ScalePairing("main", ledger, empty_kg=Decimal(500), max_between_seconds=86400.0,
                         goods_for=lambda _plate, _lane: "石灰石")  # fmt: skip
    done, released = await scale.take_higher_weight(row.id)
    assert (done.net_kg, done.goods, done.ysl, released) == (10000, "石灰石", "10", 0)
    assert await _goods_states(ledger) == (0, 1)


async def test_a_truck_that_stopped_three_times_takes_its_highest_stop(
    ledger: Store, tmp_path: Path
) -> None:
    """The fifth review's case (M2): the exit stops at 12000, 13500, then 15000 kg after the
    pair completed at 12000: the check keeps what the pair has (12000) and the highest stop,
    and 取较高重量 takes 15000 kg (before: refused, "no longer has the 13500 kg")."""
    truck = await _weighed_in(ledger, "豫H80012", 40000)
    async with weighbridge(ledger, tmp_path, goods="石灰石") as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫H80012", truck.serial))
        await _settle(bridge, sim, 12000)
        await bridge.drain()
        pair = seen[-1]
        await _higher_stop(bridge, sim, 13500)
        await eventually(lambda: bool(seen[-1].checks), timeout=5)
        await _higher_stop(bridge, sim, 15000)
        await eventually(lambda: seen[-1].checks[0].kg == 15000, timeout=5)
        [check] = seen[-1].checks
        assert (check.before_kg, check.kg) == (12000, 15000)
        assert "weighed 12000 kg, then 13500 kg" in check.why
        row, _released = await bridge.take_higher_weight(pair.id)
    assert (row.second_kg, row.net_kg) == (15000, 25000)


async def test_a_weight_found_long_after_the_last_weighing_is_held_not_the_next_trucks(
    tmp_path: Path,
) -> None:
    """The fifth review's case (M1): the daemon was down longer than 600 s; 豫T10006 (weighed
    700 s ago) still stands on the scale, the next truck's read pending. The weight found
    before the platform is seen empty is held with the read as a candidate and the link
    (before: weighed again and tied to the next truck); 同一车辆: set aside, the read stays."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        first = await store.weigh(
            NewWeighing("main", "豫T10006", "2", 40000, time.time() - 700, None),
            max_between_seconds=86400.0,
        )
        await store.note_scale_read(
            NewScaleRead("main", "豫B22229", "2", "S-NEXT", "in-1", time.time() - 5)
        )
    finally:
        await store.close()
    async with _restarted(path, tmp_path, 40000) as (store, bridge, _sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        held = seen[-1]
        assert (held.plate, held.stop_of, held.stop_unwatched) == (None, first.id, 1)
        assert [r.read.plate for r in held.candidate_reads] == ["豫B22229"]
        row = await bridge.same_truck(held.id)
        assert (row.id, row.first_kg) == (first.id, 40000)
        assert (await store.weighing(held.id)).state == "discarded"
        assert [r.read.plate for r in await store.pending_reads("main", 0)] == ["豫B22229"]


async def test_a_second_stop_of_a_weighing_without_a_plate_says_so(ledger: Store) -> None:
    """同一车辆 on a weighing that followed one without a plate: its reason says "no plate"
    (the fifth review: "(None)")."""
    now = time.time()
    first = await ledger.weigh(
        NewWeighing("main", None, "", 21000, now - 60, None), max_between_seconds=86400.0
    )
    held = await ledger.weigh(
        NewWeighing("main", None, "", 39000, now - 30, None),
        max_between_seconds=86400.0, stop_of=first.id, stop_unwatched=True,
    )  # fmt: skip
    scale = ScalePairing("main", ledger, empty_kg=Decimal(500), max_between_seconds=86400.0)
    row = await scale.same_truck(held.id)
    assert (row.id, row.first_kg) == (first.id, 39000)
    gone = await ledger.weighing(held.id)
    assert (
        gone.discarded == f"second stop of weighing {first.id} (no plate): its weighing takes "
        "the higher stable weight"
    )


async def test_a_second_stop_of_the_entry_side_decided_after_the_exit_takes_that_side(
    tmp_path: Path,
) -> None:
    """The sixth review's case (F1): 豫T10007 stops partly on at entry (30000 kg), the daemon
    is killed, it pulls fully on (40000 kg: held, linked); it leaves and weighs out at 15000 kg
    — the pair (15 t) waits for the clerk. 同一车辆 then 取较高重量: the entry side takes
    40000 kg, 25 t — before, the exit side took it (10 t sent)."""
    path = tmp_path / "edge.db"
    first = await _first_stop_then_killed(path, tmp_path, "豫T10007", kg=30000)
    async with _restarted(path, tmp_path, 40000, goods="石灰石") as (store, bridge, sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        held = seen[-1]
        assert (held.stop_of, held.stop_unwatched) == (first, 1)
        await _leave(bridge, sim)
        out = await store.record_pass(new_pass("豫T10007", direction="out"), [])
        bridge.heard_pass(_pass("豫T10007", out.serial))
        await _settle(bridge, sim, 15000)
        await bridge.drain()
        await _leave(bridge, sim)
        await bridge._sweep(time.time())
        pair = await store.weighing(first)
        assert (pair.state, pair.net_kg) == ("complete", 15000)
        assert await _goods_states(store) == (1, 0)  # waits for the clerk
        checked = await bridge.same_truck(held.id)
        [check] = checked.checks
        assert (check.before_kg, check.kg) == (30000, 40000)
        row, released = await bridge.take_higher_weight(first)
        assert (row.first_kg, row.second_kg, row.net_kg, row.ysl) == (40000, 15000, 25000, "25")
        assert released == 1


async def test_a_pairs_record_held_across_a_long_restart_waits_for_its_trucks_second_stop(
    tmp_path: Path,
) -> None:
    """The sixth review's case (F2): the pair completed at a partial exit stop (28 t, held
    while the truck stands); the daemon is down more than 600 s while the truck pulls fully
    on. Started again, its goods record stays held — before, it went out at start (28 t for
    25 t), before the linked weighing was even taken."""
    path = tmp_path / "edge.db"
    pair = await _paired_at_a_partial_exit_stop_then_killed(path, tmp_path, "豫H80013")
    with closing(sqlite3.connect(path)) as db, db:  # the daemon was down for 700 s
        db.execute("UPDATE weighings SET first_at = first_at - 700, second_at = second_at - 700")
    async with _restarted(path, tmp_path, 15000, goods="石灰石") as (store, bridge, sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        held = seen[-1]
        assert (held.stop_of, held.stop_unwatched) == (pair.id, 1)
        await _leave(bridge, sim)
        await bridge._sweep(time.time())
        assert await _goods_states(store) == (1, 0)
        await bridge.same_truck(held.id)
        row, released = await bridge.take_higher_weight(pair.id)
    assert (row.second_kg, row.net_kg, row.ysl, released) == (15000, 25000, "25", 1)


async def test_a_double_click_on_same_truck_decides_once(tmp_path: Path) -> None:
    """The sixth review's case (F3): two 同一车辆 at once — one decides, the other is told the
    weighing was decided; no bogus 请核对重量 (41000 then 41000) is left on the truck's
    weighing."""
    path = tmp_path / "edge.db"
    first = await _first_stop_then_killed(path, tmp_path, "豫T10008", kg=40000)
    async with _restarted(path, tmp_path, 41000) as (store, bridge, _sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        held = seen[-1]
        done = await asyncio.gather(
            bridge.same_truck(held.id), bridge.same_truck(held.id), return_exceptions=True
        )
        rows = [d for d in done if not isinstance(d, BaseException)]
        refused = [d for d in done if isinstance(d, WeighingStateError)]
        assert len(rows) == len(refused) == 1
        assert "already" in str(refused[0])
        row = await store.weighing(first)
        assert (row.first_kg, row.checks) == (41000, [])


async def test_a_higher_weight_names_the_goods_of_its_passs_lane(ledger: Store) -> None:
    """The sixth review's case (F4): 取较高重量 on an empty preset-tare truck read at out-1
    (goods by lane: 原煤 there) names 原煤 — before, the scale's first lane's goods."""
    seen = await ledger.record_pass(new_pass("豫C33334", lane_id="out-1"), [])
    row = await ledger.weigh(
        NewWeighing("main", "豫C33334", "2", 15400, time.time() - 700, seen.serial),
        max_between_seconds=86400.0, preset_tare_kg=15200, empty_kg=500,
    )  # fmt: skip
    assert await ledger.check_weight(row, 15400, 35000) is not None
    scale = ScalePairing(
        "main", ledger, empty_kg=Decimal(500), max_between_seconds=86400.0,
        lanes=["in-1", "out-1"],
        goods_for=lambda _plate, lane: "原煤" if lane == "out-1" else "石灰石",
    )  # fmt: skip
    done, _released = await scale.take_higher_weight(row.id)
    assert (done.goods, done.ysl) == ("原煤", "19.8")


async def test_a_stop_after_same_truck_is_its_trucks_not_the_set_aside_weighings(
    tmp_path: Path,
) -> None:
    """The seventh check's case (S1, entry side): 豫T10009 at 40000 kg, killed, 41000 kg while
    down: 同一车辆 while it stands (its weighing takes 41000 kg); then it stops again at
    42000 kg, watched: its weighing takes 42000 kg — before, the stop was pinned on the weighing
    set aside (a check there) and the truck's weighing kept 41000 kg (26 t sent for 27 t)."""
    path = tmp_path / "edge.db"
    first = await _first_stop_then_killed(path, tmp_path, "豫T10009", kg=40000)
    async with _restarted(path, tmp_path, 41000) as (store, bridge, sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        held = seen[-1]
        await bridge.same_truck(held.id)
        await _higher_stop(bridge, sim, 42000)
        await eventually(lambda: seen[-1].id == first and seen[-1].first_kg == 42000, timeout=5)
        assert (await store.weighing(held.id)).checks == []


async def test_a_pairs_stop_after_same_truck_and_the_command_lines_higher_weight(
    tmp_path: Path,
) -> None:
    """The seventh check's cases (S1 exit side, S2): the pair completed at 12000 kg, killed,
    15000 kg while down; the clerk's 同一车辆 and 取较高重量 from the command line (which
    cannot see the platform) while the truck stands: its record stays held (before: released
    at once, 25 t); the truck stops again at 18000 kg: the pair is marked 请核对重量 (before:
    the set-aside weighing was); 取较高重量 again: 22 t, sent once the truck left."""
    path = tmp_path / "edge.db"
    pair = await _paired_at_a_partial_exit_stop_then_killed(path, tmp_path, "豫H80014")
    async with _restarted(path, tmp_path, 15000, goods="石灰石") as (store, bridge, sim, seen):
        await eventually(lambda: bool(seen), timeout=5)
        held = seen[-1]
        cli = ScalePairing("main", store, empty_kg=Decimal(500), max_between_seconds=86400.0,
                           lanes=["in-1"], goods_for=lambda _p, _l: "石灰石")  # fmt: skip
        await cli.same_truck(held.id)
        row, released = await cli.take_higher_weight(pair.id)
        assert (row.net_kg, released) == (25000, 0)  # the truck may stand there: held
        await _higher_stop(bridge, sim, 18000)
        await eventually(lambda: bool(seen[-1].checks) and seen[-1].id == pair.id, timeout=5)
        assert (await store.weighing(held.id)).checks == []
        row, released = await bridge.take_higher_weight(pair.id)
        assert (row.second_kg, row.net_kg, row.ysl) == (18000, 22000, "22")
        await _leave(bridge, sim)
        await bridge.drain()
        assert await _goods_states(store) == (0, 1)
