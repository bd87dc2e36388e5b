"""Issue 16, a fresh review's findings (part A): a refused pass uses no ERP plan; a plate
correction of a pass carries to the weighings tied to it; a plate typed by the clerk is tied
to the lane's pass of that plate (or said to have no goods record); a plate read a clerk took
a moment earlier keeps the truck's weighing, unmatched; the clerk's plate form's refusals."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from edge.actions.operator import NO_TRUCK_PASS_YET, Operator
from edge.cli.main import main
from edge.config.model import ListsConfig
from edge.domain.decision import Decision
from edge.domain.plates import PlateColor
from edge.gate.weighbridge import PlanReporter, ScalePairing
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.database import LedgerUnwritableError
from edge.ledger.rows import NewScaleRead, NewTransportPlan, NewWeighing, ScaleRead, StoredWeighing
from edge.ledger.store import Store
from tests import test_operator_actions, test_weighing_pairing
from tests.helpers import eventually
from tests.test_operator_actions import GUARD, PASSWORD, SH, Gate
from tests.test_store import WHEN, new_pass
from tests.test_weighing_pairing import DAY, _pass, weighbridge
from tests.test_weighings_cli import scale_config

store = test_weighing_pairing.store  # a ledger on a real SQLite file
REFUSED = Decision(open=False, code="offline-unknown", reason="平台离线 无记录 禁止",
                   source="offline")  # fmt: skip


async def _plan(store: Store, plate: str = "豫F88888", plan_no: str = "P10") -> int:
    now = time.time()
    plan = NewTransportPlan(plan_no, plate, "原煤", 33000, now - 3600, now + 3600, "erp")
    return await store.put_plan(plan)


# -- 1. a refused pass uses no ERP plan ----------------------------------------------------------
async def test_a_refused_pass_uses_no_erp_plan(store: Store) -> None:
    """Platform down, 豫F88888 refused at the exit (平台离线 无记录 禁止): its plan P10 stays
    unused, no planned weighing, no goods record — at once, nor in the restart's catch-up;
    the truck let through afterwards uses it."""
    await _plan(store)
    now = time.time()
    refused = await store.record_pass(
        new_pass("豫F88888", lane_id="out-2", direction="out", decision=REFUSED), []
    )
    reporter = PlanReporter(store)
    reporter.lanes.append("out-2")
    message = {"plate": "豫F88888", "serial": refused.serial, "verdict": "refuse"}
    reporter.heard_pass(message)
    await reporter.aclose()
    assert await store.goods_from_plan(refused.serial, "豫F88888", now) is None  # the ledger too
    assert await store.passes_owed_plan_goods(["out-2"], 0) == []
    reporter.start()  # the restart's catch-up
    await reporter.aclose()
    plan = await store.plan_for("豫F88888", now)
    assert plan is not None
    assert plan.used_serial is None
    assert (reporter.reported, await store.recent_weighings()) == (0, [])
    assert await store.tonnage_between(now - DAY, now + DAY, DAY) == []
    let_through = await store.record_pass(
        new_pass("豫F88888", lane_id="out-2", direction="out"), []
    )
    reporter.heard_pass({"plate": "豫F88888", "serial": let_through.serial, "verdict": "open"})
    await eventually(lambda: reporter.reported == 1, timeout=5)
    await reporter.aclose()
    used = await store.plan_for("豫F88888", now)
    assert used is not None
    assert used.used_serial == let_through.serial


# -- 4. a read a clerk took a moment earlier -----------------------------------------------------
async def test_a_read_a_clerk_took_meanwhile_keeps_the_weighing_unmatched(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The weighbridge found one pending read; before it wrote its weighing, a clerk gave
    that read to a held weighing: the truck's weighing is kept, unmatched, not lost."""
    other = await store.note_scale_read(NewScaleRead("main", "豫B22222", "2", "S-B", "in-1", 1))
    pending = store.pending_reads

    async def clerk_first(scale: str, since: float) -> list[ScaleRead]:
        found = await pending(scale, since)
        for read in found:  # the clerk's pick commits between the look-up and the weighing
            held = await store.weigh(
                NewWeighing("main", None, "", 9000, 2, None),
                max_between_seconds=DAY, candidates=[read, other],
            )  # fmt: skip
            await store.assign_plate(held.id, read.read.plate, "2", serial=read.read.serial,
                                     read_id=read.id, max_between_seconds=DAY)  # fmt: skip
        return found

    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        monkeypatch.setattr(store, "pending_reads", clerk_first)
        bridge.heard_pass(_pass("豫A11111", "S-A"))
        await bridge.drain()
        sim.set_weight(Decimal(25000))
        await eventually(lambda: bridge.weighings == 1, timeout=5)
        sim.set_weight(Decimal(0))  # it drives off: no late read is its own
        await bridge.drain()
    assert [(w.plate, w.state, w.first_kg) for w in seen] == [(None, "unmatched", 25000)]


# -- 5. the clerk's plate form --------------------------------------------------------------------
gate, page = test_operator_actions.gate, test_operator_actions.page


async def test_the_plate_form_refuses_a_read_and_a_plate_and_an_unknown_weighing_is_404(
    gate: Gate, page: str
) -> None:
    held = await gate.store.weigh(NewWeighing("main", None, "", 9000, 2, None),
                                  max_between_seconds=DAY)  # fmt: skip
    async with httpx.AsyncClient() as http:
        login = await http.post(page + "/api/login", data={"user": "过磅员李四",
                                                           "password": PASSWORD})  # fmt: skip
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        both = await http.post(f"{page}/api/weighings/{held.id}/plate", headers=csrf,
                               json={"read": "1", "plate": "豫A11111", "color": "2"})  # fmt: skip
        unknown = await http.post(f"{page}/api/weighings/999/plate", headers=csrf,
                                  json={"plate": "豫A11111", "color": "2"})  # fmt: skip
    assert (both.status_code, both.json()["detail"]) == (400, "候选车牌与手输车牌只能选一个")
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "无此过磅记录")
    assert (await gate.store.weighing(held.id)).state == "unmatched"
    audit = [(r[1], r[2], r[4], r[5]) for r in await gate.audit()][1:]
    assert audit == [
        ("assign weighing plate", str(held.id), "refused",
         "give either a candidate read or a typed plate, not both"),
        ("assign weighing plate", "999", "failed", "unknown weighing"),
    ]  # fmt: skip


# -- 2. a plate correction carries to the weighings ----------------------------------------------
def stored_corrections(store: Store) -> Callable[[str, str, PlateColor, str], Awaitable[int]]:
    """An operator's ``correct``: the correction kept in ``store`` as the daemon keeps it,
    without a platform to ask."""

    async def correct(serial: str, plate: str, color: PlateColor, reviewer: str) -> int:
        found = await store.find_pass(serial)
        if found is None:
            raise KeyError(serial)
        return await store.add_correction(found.id, plate, color.value, None, reviewer,
                                          forward=False)  # fmt: skip

    return correct


def _operator(store: Store, tares: dict[str, Decimal] | None = None) -> Operator:
    """The operator over ``store`` with the scale ``main`` (its lanes in-1 and out-1, goods
    原煤 by default, ``tares`` preset) and corrections kept in the ledger (the platform's
    check left out)."""
    correct = stored_corrections(store)
    pairing = ScalePairing(
        "main", store, empty_kg=Decimal(500), max_between_seconds=DAY,
        goods_for=lambda _plate, _lane: "原煤", lanes=["in-1", "out-1"], preset_tares_kg=tares,
    )  # fmt: skip
    lists, plans = ListBook(store, ListsConfig(), SH), PlanBook(store, [], SH)
    return Operator(store, lists, plans, correct=correct, weighbridges={"main": pairing})


async def test_a_corrected_entry_plate_pairs_its_weighing_with_the_exit_one(store: Store) -> None:
    """The entry camera misread 豫G12345 as 豫G1234S: its first weighing stayed open and the
    exit weighing (豫G12345) opened one of its own. The guard corrects the entry pass: its
    weighing takes 豫G12345 and pairs — one complete weighing, one goods record on the exit
    pass; the audit says what the correction carried to."""
    entry = await store.record_pass(new_pass("豫G1234S"), [])
    leave = await store.record_pass(new_pass("豫G12345", lane_id="out-1", direction="out"), [])
    first = await store.weigh(NewWeighing("main", "豫G1234S", "2", 35000, 1000, entry.serial),
                              max_between_seconds=DAY, goods="原煤")  # fmt: skip
    second = await store.weigh(NewWeighing("main", "豫G12345", "2", 15000, 1600, leave.serial),
                               max_between_seconds=DAY, goods="原煤")  # fmt: skip
    assert (first.state, second.state) == ("open", "open")  # never paired: two plates
    done = await _operator(store).correct(GUARD, entry.serial, "豫G12345", "2")
    assert done.detail == (
        f"plate corrected to 豫G12345; weighing {first.id} now complete as weighing {first.id}"
    )
    pair = await store.weighing(first.id)
    assert (pair.plate, pair.state, pair.net_kg, pair.goods, pair.ysl) == (
        "豫G12345", "complete", 20000, "原煤", "20")  # fmt: skip
    assert (pair.first_serial, pair.second_serial) == (entry.serial, leave.serial)
    with pytest.raises(KeyError):
        await store.weighing(second.id)  # folded into the pair
    assert [e.kind for e in await store.outbox_of(leave.serial)] == ["record", "goods"]
    audit = [(r.action, r.target, r.result, r.detail) for r in await store.audit_log()]
    assert audit == [("correct plate", entry.serial, "ok", done.detail)]


async def test_a_corrected_exit_plate_completes_the_entry_weighing(store: Store) -> None:
    """The exit camera misread instead: correcting the exit pass completes the entry's first
    weighing (kept as the earlier one)."""
    entry = await store.record_pass(new_pass("豫G12345"), [])
    leave = await store.record_pass(new_pass("豫G1234S", lane_id="out-1", direction="out"), [])
    first = await store.weigh(NewWeighing("main", "豫G12345", "2", 15000, 1000, entry.serial),
                              max_between_seconds=DAY)  # fmt: skip
    await store.weigh(NewWeighing("main", "豫G1234S", "2", 36000, 1600, leave.serial),
                      max_between_seconds=DAY)  # fmt: skip
    await _operator(store).correct(GUARD, leave.serial, "豫G12345", "2")
    pair = await store.weighing(first.id)
    assert (pair.state, pair.net_kg, pair.ysl, pair.second_serial) == (
        "complete", 21000, "21", leave.serial)  # fmt: skip
    assert [e.kind for e in await store.outbox_of(leave.serial)] == ["record", "goods"]


async def test_a_corrected_plate_reaches_a_pending_read_and_a_held_weighings_candidate(
    store: Store,
) -> None:
    """A pass corrected before its read was used at the scale: the pending read, and the
    candidate of a held weighing, are the corrected plate — a weighing given it gets it."""
    misread = await store.record_pass(new_pass("豫G1234S"), [])
    read = await store.note_scale_read(
        NewScaleRead("main", "豫G1234S", "2", misread.serial, "in-1", time.time())
    )
    other = await store.note_scale_read(
        NewScaleRead("main", "豫B22222", "2", "S-B", "in-1", time.time())
    )
    held = await store.weigh(NewWeighing("main", None, "", 35000, time.time(), None),
                             max_between_seconds=DAY, candidates=[read, other])  # fmt: skip
    done = await _operator(store).correct(GUARD, misread.serial, "豫G12345", "2")
    assert "1 pending plate read(s) at the scale corrected" in done.detail
    pending = await store.pending_reads("main", 0)
    assert [r.read.plate for r in pending] == ["豫G12345", "豫B22222"]
    candidates = (await store.weighing(held.id)).candidate_reads
    assert [r.read.plate for r in candidates] == ["豫G12345", "豫B22222"]
    given = await _operator(store).assign_plate(GUARD, held.id, read=read.id)
    assert given.plate == "豫G12345"


async def test_a_complete_weighing_of_two_trucks_is_not_relabelled_by_a_correction(
    store: Store,
) -> None:
    """豫B22222's first weighing was open; 豫A11111's entry was misread as 豫B22222, so its
    weighing completed B's pair (goods record queued). Correcting A's pass leaves the pair as
    it is — relabelling would give B's half to A — marks it 请核对车牌 (its goods record held)
    and says to split it, to the guard and in the audit."""
    b = await store.record_pass(new_pass("豫B22222", when=WHEN - timedelta(minutes=30)), [])
    a = await store.record_pass(new_pass("豫B22222"), [])
    pair = await store.weigh(NewWeighing("main", "豫B22222", "1", 15000, 1000, b.serial),
                             max_between_seconds=DAY, goods="原煤")  # fmt: skip
    await store.weigh(NewWeighing("main", "豫B22222", "1", 35000, 1600, a.serial),
                      max_between_seconds=DAY, goods="原煤")  # fmt: skip
    done = await _operator(store).correct(GUARD, a.serial, "豫A11111", "1")
    assert done.note == (f"过磅 {pair.id} 已完成，另一次过磅是 豫B22222 的，未改动；请拆分该过磅"
                         f"（状态页 拆分，或 edge weighings split {pair.id}）")  # fmt: skip
    assert f"weighing {pair.id} not changed: weighing {pair.id} is complete" in done.detail
    assert f"split it — edge weighings split --config … {pair.id} --reason …" in done.detail
    row = await store.weighing(pair.id)
    assert (row.plate, row.state, row.ysl) == ("豫B22222", "complete", "20")
    assert [(c.kind, c.hold) for c in row.checks] == [("plate", True)]
    (goods,) = [e for e in await store.outbox_of(a.serial) if e.kind == "goods"]
    assert goods.state == "held"
    audit = [(r.action, r.result, r.detail) for r in await store.audit_log()]
    assert audit == [("correct plate", "ok", done.detail)]


async def test_a_complete_weighing_takes_the_plate_once_both_its_passes_are_corrected(
    store: Store,
) -> None:
    """Both cameras misread 豫G12345 as 豫G1234S: its pair is complete under the misread plate.
    Correcting the entry pass alone leaves it (its exit half still reads 豫G1234S; marked, its
    goods record held); correcting the exit pass too relabels it, drops that mark and lets
    its goods record go."""
    entry = await store.record_pass(new_pass("豫G1234S"), [])
    leave = await store.record_pass(new_pass("豫G1234S", lane_id="out-1", direction="out"), [])
    pair = await store.weigh(NewWeighing("main", "豫G1234S", "2", 35000, 1000, entry.serial),
                             max_between_seconds=DAY)  # fmt: skip
    await store.weigh(NewWeighing("main", "豫G1234S", "2", 15000, 1600, leave.serial),
                      max_between_seconds=DAY, goods="原煤")  # fmt: skip
    operator = _operator(store)
    first = await operator.correct(GUARD, entry.serial, "豫G12345", "2")
    assert "另一次过磅是 豫G1234S 的，未改动；请拆分该过磅" in first.note
    assert (await store.weighing(pair.id)).plate == "豫G1234S"
    assert [e.state for e in await store.outbox_of(leave.serial) if e.kind == "goods"] == ["held"]
    second = await operator.correct(GUARD, leave.serial, "豫G12345", "2")
    assert second.note == ""
    assert second.detail.endswith(f"weighing {pair.id} now complete as weighing {pair.id}")
    row = await store.weighing(pair.id)
    assert (row.plate, row.checks) == ("豫G12345", [])
    assert [e.state for e in await store.outbox_of(leave.serial) if e.kind == "goods"] == [
        "pending"
    ]


async def test_a_correction_is_audited_whatever_carrying_it_to_the_scale_meets(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The correction is stored before it is carried to the weighings: a weighing gone
    meanwhile is said and skipped; a ledger that fails mid-way is logged and told (a note),
    never a 500 — either way the correction has its audit row."""
    misread = await store.record_pass(new_pass("豫G1234S"), [])
    tied = await store.weigh(NewWeighing("main", "豫G1234S", "2", 35000, 1000, misread.serial),
                             max_between_seconds=DAY)  # fmt: skip
    ghost = dataclasses.replace(tied, id=tied.id + 100)  # folded or deleted since looked up
    listed = store.weighings_of_pass

    async def with_a_ghost(serial: str) -> list[StoredWeighing]:
        return [ghost, *await listed(serial)]

    monkeypatch.setattr(store, "weighings_of_pass", with_a_ghost)
    operator = _operator(store)
    done = await operator.correct(GUARD, misread.serial, "豫G12345", "2")
    assert f"weighing {ghost.id} not changed: it is gone meanwhile" in done.detail
    assert (await store.weighing(tied.id)).plate == "豫G12345"

    async def unwritable(*_args: object, **_kw: object) -> int:
        raise LedgerUnwritableError("disk-full", "database or disk is full")

    monkeypatch.setattr(store, "correct_scale_reads", unwritable)
    again = await operator.correct(GUARD, misread.serial, "豫G12346", "2")
    assert again.ok
    assert again.note == "车牌已更正，但过磅记录未能同步更正；请核对过磅记录"
    assert "not carried to the weighings: LedgerUnwritableError" in again.detail
    audit = [(r.action, r.result, r.detail) for r in await store.audit_log()]
    assert audit == [("correct plate", "ok", again.detail), ("correct plate", "ok", done.detail)]


# -- 3. a plate typed by the clerk -----------------------------------------------------------------
async def test_a_typed_plate_is_tied_to_the_lanes_pass_of_that_plate_near_the_weighing(
    store: Store,
) -> None:
    """The camera did not read the preset-tare truck 豫A11111 on the scale; its pass at the
    scale lane (read by the other camera, or corrected) is there a minute before: the clerk's
    typed plate ties the weighing to it — the goods record goes out on that pass. A refused
    pass, another lane's or one an hour away is not its pass."""
    at = WHEN.timestamp()
    await store.record_pass(new_pass("豫A11111", when=WHEN - timedelta(hours=1)), [])
    await store.record_pass(new_pass("豫A11111", lane_id="in-2"), [])
    await store.record_pass(new_pass("豫A11111", decision=REFUSED), [])
    truck = await store.record_pass(new_pass("豫A11111", when=WHEN - timedelta(minutes=1)), [])
    held = await store.weigh(NewWeighing("main", None, "", 35000, at, None),
                             max_between_seconds=DAY)  # fmt: skip
    operator = _operator(store, {"豫A11111": Decimal(15000), "豫A22222": Decimal(15000)})
    done = await operator.assign_plate(GUARD, held.id, plate="豫A11111", color="1")
    assert done.detail.endswith(f"now complete as weighing {held.id}; tied to pass {truck.serial}")
    assert done.note == ""
    row = await store.weighing(held.id)
    assert (row.first_serial, row.goods, row.ysl, row.goods_error) == (
        truck.serial, "原煤", "20", None)  # fmt: skip
    assert [e.kind for e in await store.outbox_of(truck.serial)] == ["record", "goods"]
    # the plate as a guard corrected it counts too
    misread = await store.record_pass(new_pass("豫A2222Z", when=WHEN + timedelta(minutes=3)), [])
    await operator.correct(GUARD, misread.serial, "豫A22222", "1")
    other = await store.weigh(NewWeighing("main", None, "", 36000, at + 200, None),
                              max_between_seconds=DAY)  # fmt: skip
    given = await operator.assign_plate(GUARD, other.id, plate="豫A22222", color="1")
    assert given.detail.endswith(f"tied to pass {misread.serial}")
    assert (await store.weighing(other.id)).ysl == "21"


async def test_a_typed_plate_without_a_pass_says_so_and_is_counted_as_not_reported(
    store: Store,
) -> None:
    """No pass of the typed plate near the weighing: the clerk is told at once that its goods
    record cannot be sent, and the day's tonnage counts it apart (原煤（未上报）), not as
    reported 原煤."""
    at = WHEN.timestamp()
    truck = await store.record_pass(new_pass("豫A11111"), [])
    first = NewWeighing("main", "豫A11111", "1", 35000, at, truck.serial)
    tied = await store.weigh(first, max_between_seconds=DAY, preset_tare_kg=15000, goods="原煤")
    assert tied.ysl == "20"
    held = await store.weigh(NewWeighing("main", None, "", 45000, at + 60, None),
                             max_between_seconds=DAY)  # fmt: skip
    operator = _operator(store, {"豫A33333": Decimal(15000)})
    done = await operator.assign_plate(GUARD, held.id, plate="豫A33333", color="1")
    assert (
        "; no pass of the plate; goods record not sent: 没有可关联货物台账的过车记录" in done.detail
    )
    assert done.note == "货物台账无法上报：没有可关联货物台账的过车记录"
    assert await store.tonnage_between(at - 60, at + 3600, DAY) == [
        ("原煤", "in", 20000.0),
        ("原煤（未上报）", "in", 30000.0),
    ]
    audit = [(r.action, r.result, r.detail) for r in await store.audit_log()]
    assert audit == [("assign weighing plate", "ok", done.detail)]


async def test_a_typed_plate_without_a_pass_pairs_with_the_trucks_other_weighing_and_is_sent(
    store: Store,
) -> None:
    """豫A11111 weighed in with its read (its first weighing open on the entry pass) and left an
    hour later with the exit read missed. The clerk types 豫A11111: no pass of it near the exit
    weighing, yet the pair's goods record goes out on the entry pass — the clerk is not told
    it cannot be. A typed plate whose first weighing stays open is told it waits for the
    truck's other weighing's pass."""
    at = WHEN.timestamp()
    truck = await store.record_pass(new_pass("豫A11111", when=WHEN - timedelta(hours=1)), [])
    first = await store.weigh(NewWeighing("main", "豫A11111", "1", 15000, at - 3600,
                                          truck.serial), max_between_seconds=DAY)  # fmt: skip
    held = await store.weigh(NewWeighing("main", None, "", 35000, at, None),
                             max_between_seconds=DAY)  # fmt: skip
    operator = _operator(store)
    done = await operator.assign_plate(GUARD, held.id, plate="豫A11111", color="1")
    assert done.detail.endswith(f"now complete as weighing {first.id}; no pass of the plate")
    assert done.note == ""
    pair = await store.weighing(first.id)
    assert (pair.state, pair.ysl, pair.goods_error) == ("complete", "20", None)
    assert [e.kind for e in await store.outbox_of(truck.serial)] == ["record", "goods"]
    alone = await store.weigh(NewWeighing("main", None, "", 36000, at + 60, None),
                              max_between_seconds=DAY)  # fmt: skip
    opened = await operator.assign_plate(GUARD, alone.id, plate="豫A55555", color="1")
    assert (await store.weighing(alone.id)).state == "open"
    assert opened.note == NO_TRUCK_PASS_YET


async def test_a_typed_plate_tied_to_a_pass_uses_that_pass_s_pending_read(store: Store) -> None:
    """The clerk types 豫A11111 for a weighing whose read came too late: the weighing is tied
    to its pass, and that pass's read pending at the scale is used — the next weighing does
    not take it (one pass, one weighing)."""
    at = WHEN.timestamp()
    truck = await store.record_pass(new_pass("豫A11111", when=WHEN - timedelta(minutes=1)), [])
    await store.note_scale_read(NewScaleRead("main", "豫A11111", "1", truck.serial, "in-1", at))
    other = await store.note_scale_read(NewScaleRead("main", "豫B22222", "2", "S-B", "in-1", at))
    held = await store.weigh(NewWeighing("main", None, "", 35000, at, None),
                             max_between_seconds=DAY)  # fmt: skip
    done = await _operator(store).assign_plate(GUARD, held.id, plate="豫A11111", color="1")
    assert done.detail.endswith(f"tied to pass {truck.serial}")
    assert [r.id for r in await store.pending_reads("main", 0)] == [other.id]


async def _two_weighings(
    path: Path, entry_read: str, exit_read: str, colour: str
) -> tuple[str, str, int]:
    """An entry pass read ``entry_read`` (its first weighing, 35 t, ten minutes ago) and an exit
    one read ``exit_read`` (weighed 15 t a minute ago), kept in the ledger at ``path``: the
    entry's serial, the exit's, the entry's weighing."""
    store = await Store.open(path)
    try:
        now = time.time()
        entry = await store.record_pass(new_pass(entry_read), [])
        leave = await store.record_pass(new_pass(exit_read, direction="out"), [])
        first = await store.weigh(NewWeighing("main", entry_read, colour, 35000, now - 600,
                                              entry.serial), max_between_seconds=DAY)  # fmt: skip
        await store.weigh(NewWeighing("main", exit_read, colour, 15000, now - 60, leave.serial),
                          max_between_seconds=DAY)  # fmt: skip
        return entry.serial, leave.serial, first.id
    finally:
        await store.close()


async def _misread_pair(path: Path) -> tuple[str, int]:
    """The entry pass misread as 豫G1234S (its first weighing open) and the exit one read right
    (豫G12345, its own first weighing): the entry's serial, its weighing."""
    entry, _leave, weighing = await _two_weighings(path, "豫G1234S", "豫G12345", "2")
    return entry, weighing


def misread_correction(tmp_path: Path) -> tuple[str, int, list[str]]:
    """The misread pair (:func:`_misread_pair`) in a ledger beside a scale config: the entry
    pass's serial, its weighing, and ``edge correct`` of that pass to 豫G12345 (by 王工)."""
    config = scale_config(tmp_path)
    serial, weighing_id = asyncio.run(_misread_pair(tmp_path / "edge.db"))
    argv = ["correct", "--config", str(config), serial, "--plate", "豫G12345", "--reviewer", "王工"]
    return serial, weighing_id, argv


def test_edge_correct_pairs_the_weighing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _serial, weighing_id, argv = misread_correction(tmp_path)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"weighing {weighing_id} now complete as weighing {weighing_id}" in out

    async def pair() -> StoredWeighing:
        store = await Store.open(tmp_path / "edge.db")
        try:
            return await store.weighing(weighing_id)
        finally:
            await store.close()

    done = asyncio.run(pair())
    assert (done.plate, done.state, done.goods, done.ysl) == (
        "豫G12345",
        "complete",
        "石灰石",
        "20",
    )


def test_edge_correct_says_a_two_trucks_weighing_is_left_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """豫B22222's first weighing was completed by 豫A11111's, whose exit was misread as
    豫B22222: correcting A's pass leaves the pair and the command says so."""
    config = scale_config(tmp_path)
    _b, serial, weighing_id = asyncio.run(
        _two_weighings(tmp_path / "edge.db", "豫B22222", "豫B22222", "1")
    )
    argv = ["correct", "--config", str(config), serial, "--plate", "豫A11111", "--color", "1",
            "--reviewer", "王工"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"weighing {weighing_id} not changed: weighing {weighing_id} is complete" in out
    assert f"note: 过磅 {weighing_id} 已完成，另一次过磅是 豫B22222 的，未改动；请拆分该过磅" in out
