"""When a goods record held for its truck goes out (issue 16): a weighing's goods record is
committed held while its truck may still stand on the scale, so that a doubt arising then
(a plate read, a second higher stop) still holds it. A clerk's action while the truck stands
— naming the goods, 已核对 — keeps it held until the platform empties; the command line, which
cannot see the platform, holds it too and the running daemon lets it go once it sees the
platform empty; a scale removed from the configuration holds nothing for ever."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from edge.actions.operator import Operator
from edge.config.model import ListsConfig, load_config
from edge.domain.codes import GateSignal
from edge.gate.weighbridge import ScalePairing, Weighbridge
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.rows import NewWeighing, StoredWeighing
from edge.ledger.store import Store
from tests.helpers import eventually, running_daemon, write_config
from tests.test_operator_actions import GUARD, SH
from tests.test_store import new_pass
from tests.test_weighing_pairing import (
    DAY,
    _goods_states,
    _leave,
    _pass,
    _settle,
    _weighed_in_empty,
    store,
    weighbridge,
)

__all__ = ["store"]  # the fixture


def _operator(store: Store, bridge: ScalePairing) -> Operator:
    """The operator over ``store`` with the scale ``main`` run by ``bridge``."""

    async def correct(*_args: object) -> int:
        raise AssertionError("no correction here")

    lists, plans = ListBook(store, ListsConfig(), SH), PlanBook(store, [], SH)
    return Operator(store, lists, plans, correct=correct, weighbridges={"main": bridge})


async def _weighed_out_standing(store: Store, bridge: Weighbridge, sim: object,
                                seen: list[StoredWeighing]) -> StoredWeighing:  # fmt: skip
    """豫A11111 (weighed in empty) weighs out at 35000 kg and stands on the scale."""
    truck = await _weighed_in_empty(store)
    bridge.heard_pass(_pass("豫A11111", truck.serial))
    await _settle(bridge, sim, 35000)  # type: ignore[arg-type]
    await bridge.drain()
    assert seen[-1].state == "complete"
    return seen[-1]


async def test_goods_named_while_the_truck_stands_wait_until_it_left(
    store: Store, tmp_path: Path
) -> None:
    """No goods known when the pair completed; a clerk names them on the page while the truck
    still stands: the record is committed held (before, it went out at once, and a doubt
    arising before the truck left came too late), and goes out once the platform emptied."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        pair = await _weighed_out_standing(store, bridge, sim, seen)
        assert pair.ysl is None
        done = await _operator(store, bridge).set_goods(GUARD, pair.id, "原煤")
        assert done.ok
        assert await _goods_states(store) == (1, 0)
        await _leave(bridge, sim)
        await bridge.drain()
        await eventually(lambda: _released(store), timeout=5)


async def _released(store: Store) -> bool:
    return await _goods_states(store) == (0, 1)


async def test_goods_named_after_the_truck_left_go_out_at_once(
    store: Store, tmp_path: Path
) -> None:
    """The same, the truck gone: nothing to wait for."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        pair = await _weighed_out_standing(store, bridge, sim, seen)
        await _leave(bridge, sim)
        await bridge.drain()
        await _operator(store, bridge).set_goods(GUARD, pair.id, "原煤")
        assert await _goods_states(store) == (0, 1)


async def test_checked_while_the_truck_stands_waits_until_it_left(
    store: Store, tmp_path: Path
) -> None:
    """已核对 pressed while the checked truck still stands: the check is cleared, but the record
    stays held until the platform empties — a doubt arising meanwhile (a second higher stop)
    holds it again for the clerk; before, 已核对 sent it at once."""
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        pair = await _weighed_out_standing(store, bridge, sim, seen)
        checked = await store.check_weight(pair, 35000, 36000)
        assert checked is not None
        operator = _operator(store, bridge)
        done = await operator.clear_check(GUARD, pair.id)
        assert "goes out once the truck left the scale" in done.detail
        assert await _goods_states(store) == (1, 0)
        assert (await store.weighing(pair.id)).checks == []
        again = await store.check_weight(pair, 35000, 37000)  # a doubt while it stands
        assert again is not None
        await _leave(bridge, sim)
        await bridge.drain()
        assert await _goods_states(store) == (1, 0)  # the new check holds it
        done = await operator.clear_check(GUARD, pair.id)  # the truck gone: at once
        assert "goods record released: 1" in done.detail
        assert await _goods_states(store) == (0, 1)


async def test_the_command_line_holds_and_the_running_daemon_lets_go(
    store: Store, tmp_path: Path
) -> None:
    """`edge weighings checked` beside a running daemon cannot see the platform: the scale's
    last weighing's record stays held (its truck may stand there); the daemon, seeing the
    platform empty, lets it go within its sweep (here 0.2 s)."""
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        bridge.SWEEP_SECONDS = 0.2
        pair = await _weighed_out_standing(store, bridge, sim, seen)
        assert await store.check_weight(pair, 35000, 36000) is not None
        await _leave(bridge, sim)
        await bridge.drain()
        assert await _goods_states(store) == (1, 0)  # the check holds it
        cli = ScalePairing("main", store, empty_kg=bridge.empty_kg, max_between_seconds=DAY,
                           lanes=["in-1"])  # fmt: skip
        assert await cli.standing_since() == pair.second_at
        done = await _operator(store, cli).clear_check(GUARD, pair.id)
        assert "goes out once the truck left the scale" in done.detail
        await eventually(lambda: _released(store), timeout=5)


async def test_the_command_line_sends_at_once_when_no_recent_weighing(store: Store) -> None:
    """A weighing older than the resume window cannot have its truck on the scale: the
    command line sends its record at once."""
    truck = await store.record_pass(new_pass("豫A11111", direction="out"), [])
    now = time.time()
    await store.weigh(NewWeighing("main", "豫A11111", "2", 14000, now - 5000, None),
                      max_between_seconds=DAY)  # fmt: skip
    pair = await store.weigh(NewWeighing("main", "豫A11111", "2", 35000, now - 4000,
                                         truck.serial), max_between_seconds=DAY)  # fmt: skip
    cli = ScalePairing("main", store, empty_kg=Decimal(20), max_between_seconds=DAY)
    assert await cli.standing_since() is None
    await _operator(store, cli).set_goods(GUARD, pair.id, "原煤")
    assert await _goods_states(store) == (0, 1)


async def test_a_daemon_without_the_scale_lets_its_held_records_go(tmp_path: Path) -> None:
    """Goods records held for a truck on the scale ``main``, then ``main`` is removed from the
    configuration: the daemon started without it sends them (no truck stands on a scale
    nobody weighs on) — before, they were held for ever. One a clerk's check holds stays."""
    state = tmp_path / "state"
    state.mkdir()
    store = await Store.open(state / "edge.db")
    try:
        now = time.time()
        for plate, check in (("豫A11111", False), ("豫C33333", True)):
            done = await store.record_pass(new_pass(plate, direction="out"), [])
            await store.weigh(NewWeighing("main", plate, "2", 14000, now - 3600, None),
                              max_between_seconds=DAY)  # fmt: skip
            row = await store.weigh(NewWeighing("main", plate, "2", 30000, now - 30, done.serial),
                                    max_between_seconds=DAY, goods="石灰石",
                                    standing=True)  # fmt: skip
            if check:
                assert await store.check_weight(row, 30000, 39000) is not None
        assert await _goods_states(store) == (2, 0)
    finally:
        await store.close()
    cfg = load_config(write_config(tmp_path / "config.toml", "http://127.0.0.1:9",
                                   state=f"{state}/"))  # fmt: skip
    async with running_daemon(cfg):
        pass
    with closing(sqlite3.connect(state / "edge.db")) as db:
        states = db.execute(
            "SELECT w.plate, o.state FROM outbox o JOIN weighings w ON w.id = o.weighing_id "
            "WHERE o.kind = 'goods' ORDER BY w.plate"
        ).fetchall()
    assert states == [("豫A11111", "pending"), ("豫C33333", "held")]


async def test_a_goods_record_held_for_its_truck_or_a_clerk_is_no_forwarding_backlog(
    store: Store,
) -> None:
    """The backlog monitor's oldest unsent entry ignores goods records held for a truck on the
    scale or a clerk's check (they wait on neither the link nor the forwarder: before, they
    raised 'forwarding is falling behind' after five minutes with nothing pending); a held
    entry of a pass still open still counts."""
    truck = await _weighed_in_empty(store)
    await store.finalise(truck.id, GateSignal.PASSED, time.time(), "detector")
    await store.weigh(NewWeighing("main", "豫A11111", "2", 35000, time.time(), truck.serial),
                      max_between_seconds=DAY, goods="石灰石", standing=True)  # fmt: skip
    await store.mark_sent_many([e.id for e in await store.due_entries(100)])
    assert await store.backlog() == ({"held": 1}, None)
    still_open = await store.record_pass(new_pass("豫B22222"), [])  # its record held meanwhile
    counts, oldest = await store.backlog()
    assert counts == {"held": 2}
    assert oldest is not None
    assert still_open.id


async def test_an_exit_weighing_never_pairs_with_the_next_visits_entry(store: Store) -> None:
    """The review's case: 豫L20001 weighed in, its first weighing expired; its exit weighing
    (13000) opened a first weighing of its own, and the next visit's loaded entry (34000)
    completed with it — 21 t sent on an entry pass. An exit's weighing and a later entry's
    are two visits: the entry opens a first weighing of its own."""
    now = time.time()
    entry = await store.record_pass(new_pass("豫L20001"), [])
    exit_ = await store.record_pass(new_pass("豫L20001", direction="out"), [])
    again = await store.record_pass(new_pass("豫L20001"), [])
    await store.weigh(NewWeighing("main", "豫L20001", "2", 35000, now - 7200, entry.serial),
                      max_between_seconds=3600)  # fmt: skip
    out = await store.weigh(NewWeighing("main", "豫L20001", "2", 13000, now - 3000,
                                        exit_.serial), max_between_seconds=3600)  # fmt: skip
    assert out.state == "open"  # its entry weighing expired
    row = await store.weigh(NewWeighing("main", "豫L20001", "2", 34000, now, again.serial),
                            max_between_seconds=3600, goods="原煤")  # fmt: skip
    assert (row.state, row.ysl) == ("open", None)
    assert (await store.weighing(out.id)).state == "open"  # shown as never completed
    assert await _goods_states(store) == (0, 0)
    # the same truck's exit after that entry still completes it
    leave = await store.record_pass(new_pass("豫L20001", direction="out"), [])
    done = await store.weigh(NewWeighing("main", "豫L20001", "2", 14000, now + 600,
                                         leave.serial), max_between_seconds=3600,
                             goods="原煤")  # fmt: skip
    assert (done.id, done.state, done.ysl) == (row.id, "complete", "20")


async def test_a_plate_read_twice_before_its_weighing_is_one_candidate(
    store: Store, tmp_path: Path
) -> None:
    """The review's case: 豫C30001's entry read (never weighed) and its exit read both pending
    held the exit weighing as 待确认车牌 with candidates [豫C30001, 豫C30001]. One plate is one
    truck: the weighing takes the latest read and the earlier one is dropped."""
    entry = await store.record_pass(new_pass("豫C30001"), [])
    leave = await store.record_pass(new_pass("豫C30001", direction="out"), [])
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫C30001", entry.serial))
        bridge.heard_pass(_pass("豫C30001", leave.serial, lane="out-1"))
        await _settle(bridge, sim, 35000)
        await bridge.drain()
        row = seen[-1]
        assert (row.state, row.plate, row.first_serial) == ("open", "豫C30001", leave.serial)
        await _leave(bridge, sim)
    assert await store.pending_reads("main", time.time() - 300) == []


async def test_a_typed_plate_never_ties_a_second_weighing_to_one_pass(store: Store) -> None:
    """The fourth review's case: 豫G74001 read at in-1 weighed 35000; three unread weighings
    follow and a clerk types 豫G74001 for each — all four were tied to the one entry pass, and
    two goods records went out with its serial (21 t and 5 t). A pass is one side of one
    weighing: a typed plate finds only a pass no weighing uses."""
    entry = await store.record_pass(new_pass("豫G74001", when=datetime.now(SH)), [])
    now = time.time()
    await store.weigh(NewWeighing("main", "豫G74001", "2", 35000, now - 60, entry.serial),
                      max_between_seconds=DAY)  # fmt: skip
    unread = []
    for n, kg in enumerate((14000, 15000, 20000)):
        weighing = NewWeighing("main", None, "", kg, now - 50 + n, None)
        unread.append(await store.weigh(weighing, max_between_seconds=DAY))
    pairing = ScalePairing(
        "main", store, empty_kg=Decimal(20), max_between_seconds=DAY,
        goods_for=lambda _plate, _lane: "原煤", lanes=["in-1", "out-1"],
    )  # fmt: skip
    operator = _operator(store, pairing)
    for row in unread:
        await operator.assign_plate(GUARD, row.id, plate="豫G74001", color="2")
    goods = [e for e in await store.outbox_of(entry.serial) if e.kind == "goods"]
    assert len(goods) == 1  # one goods record on the pass, its pair's
    tied = [w for w in await store.recent_weighings(10)
            if entry.serial in (w.first_serial, w.second_serial)]  # fmt: skip
    assert len(tied) == 1
