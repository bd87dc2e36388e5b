"""Issue 16, a fresh review's findings (part A): a refused pass uses no ERP plan; a plate
correction of a pass carries to the weighings tied to it; a plate typed by the clerk is tied
to the lane's pass of that plate (or said to have no goods record); a plate read a clerk took
a moment earlier keeps the truck's weighing, unmatched; the clerk's plate form's refusals."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from edge.domain.decision import Decision
from edge.gate.weighbridge import PlanReporter
from edge.ledger.rows import NewScaleRead, NewTransportPlan, NewWeighing, ScaleRead
from edge.ledger.store import Store
from tests import test_operator_actions, test_weighing_pairing
from tests.helpers import eventually
from tests.test_operator_actions import PASSWORD, Gate
from tests.test_store import new_pass
from tests.test_weighing_pairing import DAY, _pass, weighbridge

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
