"""The operator actions (``edge.actions.operator``) without a daemon: a real SQLite ledger, the
real books, and a lane that only remembers what it was asked. Each action is authorised and
leaves one audit row; refusals are typed. Then the status page as one face over them, served on
127.0.0.1: one session check for every action."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web

from edge.actions.operator import (
    MAY,
    STRANGER_AUDIT_SECONDS,
    Action,
    Actor,
    Done,
    Face,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    Operator,
    whole_id,
)
from edge.config.model import ListsConfig
from edge.domain.control_plan import ControlPlan
from edge.domain.plates import TYPED_PLATE_KINDS, PlateColor
from edge.gate.lane import Lane, LaneOutcome
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.store import Store
from edge.ops.health import HealthReport, OutboxReport, StorageReport
from edge.web.auth import Guard, hash_password
from edge.web.status_page import StatusPage

SH = ZoneInfo("Asia/Shanghai")
GUARD = Actor("门卫张三", "127.0.0.1", Face.PAGE)
REMOTE = Actor("调度中心李四", "mqtt", Face.MQTT)
ROOT = Actor("root", "cli", Face.CLI)
STRANGER = Actor("?", "10.0.0.9", Face.PAGE, "no valid session or CSRF token")


@dataclass
class FakeLane:
    """What a lane was asked: overrides (plate, open, reason, operator) and LED texts."""

    opens: bool = True
    pass_listeners: list[object] = field(default_factory=list)  # the status page listens
    merged_listeners: list[object] = field(default_factory=list)
    overrides: list[tuple[str | None, bool, str, str]] = field(default_factory=list)
    shown: list[Sequence[str]] = field(default_factory=list)

    async def override(
        self, plate: str | None, *, open_barrier: bool, reason: str, operator: str
    ) -> LaneOutcome:
        self.overrides.append((plate, open_barrier, reason, operator))
        barrier = ("opened" if self.opens else "failed") if open_barrier else "not-commanded"
        return LaneOutcome(False, serial=f"S{len(self.overrides)}", barrier=barrier)

    async def command(self, *, lines: Sequence[str] = ()) -> bool:
        self.shown.append(lines)
        return self.opens


@dataclass
class Gate:
    operator: Operator
    store: Store
    lane: FakeLane
    corrections: list[tuple[str, str, PlateColor, str]]

    async def audit(self) -> list[tuple[str, str, str, str, str, str]]:
        """The audit rows, oldest first: (actor, action, target, origin, result, detail)."""
        rows = await self.store.audit_log()
        return [(r.actor, r.action, r.target, r.origin, r.result, r.detail) for r in reversed(rows)]


@pytest.fixture
async def gate(tmp_path: Path) -> AsyncIterator[Gate]:
    store = await Store.open(tmp_path / "edge.db")
    lane = FakeLane()
    corrections: list[tuple[str, str, PlateColor, str]] = []

    async def correct(serial: str, plate: str, color: PlateColor, reviewer: str) -> int:
        if serial == "nope":
            raise KeyError(serial)
        if not reviewer.strip():
            raise ValueError("a correction needs the reviewer's name")
        corrections.append((serial, plate, color, reviewer))
        return len(corrections)

    operator = Operator(
        store,
        ListBook(store, ListsConfig(), SH),
        PlanBook(store, [], SH),
        lanes={"in-1": cast(Lane, lane)},
        correct=correct,
    )
    try:
        yield Gate(operator, store, lane, corrections)
    finally:
        await store.close()


async def test_a_guard_opens_and_it_is_audited_once(gate: Gate) -> None:
    done = await gate.operator.open_barrier(GUARD, "in-1", " 手续齐全 ")
    assert (done.ok, done.serial) == (True, "S1")
    assert gate.lane.overrides == [(None, True, "手续齐全", "门卫张三")]
    assert await gate.audit() == [
        ("门卫张三", "open barrier", "in-1", "127.0.0.1", "ok", "手续齐全; serial S1")
    ]


async def test_a_remote_open_is_audited_as_remote_and_recorded_as_mqtt(gate: Gate) -> None:
    gate.lane.opens = False  # the barrier did not open: tried, failed
    done = await gate.operator.open_barrier(REMOTE, "in-1", "远程开闸")
    assert not done.ok
    assert gate.lane.overrides[0][3] == "调度中心李四 (MQTT)"
    assert (await gate.audit())[0][1:5] == ("remote open", "in-1", "mqtt", "failed")
    await gate.operator.show_text(REMOTE, "in-1", "欢迎|光临")
    assert gate.lane.shown == [["欢迎", "光临"]]
    assert (await gate.audit())[1][1:6] == ("remote led", "in-1", "mqtt", "failed", "欢迎|光临")


@pytest.mark.parametrize(
    ("actor", "why"),
    [
        (STRANGER, "no valid session or CSRF token"),
        (ROOT, "open barrier is not allowed from the cli"),
    ],
)
async def test_refused_when_not_allowed_and_nothing_moves(
    gate: Gate, actor: Actor, why: str
) -> None:
    with pytest.raises(NotAllowedError, match=why):
        await gate.operator.open_barrier(actor, "in-1", "x")
    assert not gate.lane.overrides
    assert await gate.audit() == [
        (actor.name, "open barrier", "in-1", actor.origin, "refused", why)
    ]


async def test_what_each_face_may_do() -> None:
    assert MAY[Face.MQTT] == {Action.OPEN, Action.SHOW_TEXT}
    assert Action.OPEN not in MAY[Face.CLI]
    assert Action.SHOW_TEXT not in MAY[Face.PAGE]


async def test_unknown_lane_and_missing_reason_are_typed_and_audited(gate: Gate) -> None:
    with pytest.raises(NotFoundError) as lost:
        await gate.operator.open_barrier(GUARD, "in-9", "x")
    assert lost.value.key == "lane"
    with pytest.raises(InvalidInputError) as bare:
        await gate.operator.refuse_vehicle(GUARD, "in-1", "豫A12345", "  ")
    assert bare.value.key == "reason"
    with pytest.raises(InvalidInputError) as misread:
        await gate.operator.refuse_vehicle(GUARD, "in-1", "ABC", "证件不全")
    assert misread.value.key == "plate"
    assert not gate.lane.overrides
    assert [(row[1], row[4], row[5]) for row in await gate.audit()] == [
        ("open barrier", "failed", "unknown lane"),
        ("refuse vehicle", "refused", "no reason"),
        (
            "refuse vehicle",
            "refused",
            f"'ABC' is not a plate ({TYPED_PLATE_KINDS}; README: plate grammar)",
        ),
    ]


async def test_a_refusal_is_a_pass_without_a_barrier(gate: Gate) -> None:
    done = await gate.operator.refuse_vehicle(GUARD, "in-1", "", "证件不全")
    assert gate.lane.overrides == [(None, False, "证件不全", "门卫张三")]
    assert done.detail == "无牌车: 证件不全; serial S1"


async def test_list_entries_change_through_the_book(gate: Gate) -> None:
    until = datetime.now(SH) + timedelta(days=1)
    done = await gate.operator.add_list_entry(ROOT, "豫 a12345", "deny", "欠费停运", until)
    assert (done.id, done.plate) == (1, "豫A12345")
    lists = gate.operator.lists.lists  # re-read by the add itself, not after a refresh period
    assert [e.plate for e in lists.entries()] == ["豫A12345"]
    await gate.operator.remove_list_entry(GUARD, "1")
    assert not list(gate.operator.lists.lists.entries())
    with pytest.raises(NotFoundError, match="no entry 1"):
        await gate.operator.remove_list_entry(GUARD, 1)
    assert [row[:3] + row[4:] for row in await gate.audit()] == [
        ("root", "add list entry", "deny 豫A12345", "ok", "entry 1"),
        ("门卫张三", "remove list entry", "1", "ok", ""),
        ("门卫张三", "remove list entry", "1", "failed", "no entry 1"),
    ]


@pytest.mark.parametrize(
    ("plate", "kind", "reason", "days", "key"),
    [
        ("无牌", "deny", "", 1, "plate"),
        ("豫A12345", "grey", "", 1, "kind"),
        ("豫A12345", "deny", "长" * 33, 1, "reason"),
        ("豫A12345", "deny", "", -1, "until"),
    ],
)
async def test_a_bad_list_entry_names_its_key(
    gate: Gate, plate: str, kind: str, reason: str, days: int, key: str
) -> None:
    until = datetime.now(SH) + timedelta(days=days)
    with pytest.raises(InvalidInputError) as refused:
        await gate.operator.add_list_entry(GUARD, plate, kind, reason, until)
    assert refused.value.key == key
    assert not await gate.store.list_entries()
    assert [row[4] for row in await gate.audit()] == ["refused"]


#: Typed plates that are no plate: letters only, digits only (of a plate's length and
#: shorter), nothing after the spaces are trimmed, and a province with nothing a plate has.
IMPOSSIBLE = ["NOTAPLATE", "notaplate", "12345678", "123", "   ", "", "豫豫豫豫豫豫豫"]
#: Typed plates of every kind the grammar knows: still taken, normalised.
EVERY_KIND = {
    "豫A12345": "豫A12345",
    "豫 ad12345": "豫AD12345",
    "豫A12345D": "豫A12345D",
    "豫A1234挂": "豫A1234挂",
    "豫G88362挂": "豫G88362挂",  # the README's fleet trailer: refused before
    "豫a 88362学": "豫A88362学",
    "豫A1234学": "豫A1234学",
    "豫A1234警": "豫A1234警",
    "粤Z1234港": "粤Z1234港",
    "沪A1234领": "沪A1234领",
    "使014578": "使014578",
    "黑AF2793": "黑AF2793",
    "黄绿豫AD12345": "豫AD12345",
    "WJ豫12345": "WJ豫12345",
    "豫A1234应急": "豫A1234应急",
    "民航12345": "民航12345",
    "KA12345": "KA12345",
}


@pytest.mark.parametrize("plate", IMPOSSIBLE)
async def test_a_typed_plate_that_is_no_plate_is_refused_everywhere(gate: Gate, plate: str) -> None:
    until = datetime.now(SH) + timedelta(days=1)
    with pytest.raises(InvalidInputError, match="is not a plate") as listed:
        await gate.operator.add_list_entry(ROOT, plate, "deny", "", until)
    assert listed.value.key == "plate"
    assert "车牌" in listed.value.said  # the page says it in Chinese
    with pytest.raises(InvalidInputError, match="is not a plate") as corrected:
        await gate.operator.correct(GUARD, "S1", plate, "1")
    assert corrected.value.key == "plate"
    if plate.strip():  # nothing typed at a refusal is 无牌车, on purpose
        with pytest.raises(InvalidInputError, match="is not a plate"):
            await gate.operator.refuse_vehicle(GUARD, "in-1", plate, "证件不全")
    assert not await gate.store.list_entries()
    assert gate.corrections == []
    assert gate.lane.overrides == []


async def test_a_typed_plate_of_every_known_kind_is_taken(gate: Gate) -> None:
    until = datetime.now(SH) + timedelta(days=1)
    for typed, plate in EVERY_KIND.items():
        done = await gate.operator.add_list_entry(ROOT, typed, "allow", "", until)
        assert done.plate == plate
        await gate.operator.correct(GUARD, "S1", typed, "1")
        assert gate.corrections[-1][1] == plate
    assert sorted(e.plate for e in await gate.store.list_entries()) == sorted(EVERY_KIND.values())


async def test_plans_start_change_and_close_through_the_book(gate: Gate) -> None:
    now = datetime.now(SH)
    plan = ControlPlan("红色预警", 7, level=1, start=now - timedelta(minutes=1))
    done = await gate.operator.start_plan(GUARD, plan)
    active = await gate.operator.plans.active(now)
    assert active is not None
    assert active.name == "红色预警"
    await gate.operator.change_plan(ROOT, done.id or 0, strategy=5)
    active = await gate.operator.plans.active(now)
    assert active is not None
    assert active.strategy == 5
    with pytest.raises(InvalidInputError) as past:
        await gate.operator.change_plan(ROOT, 1, ends_at=now.timestamp() - 60)
    assert past.value.key == "end"
    await gate.operator.close_plan(GUARD, "1")
    assert await gate.operator.plans.active(now) is None
    with pytest.raises(NotFoundError):
        await gate.operator.close_plan(GUARD, "1")
    with pytest.raises(InvalidInputError) as bad:
        await gate.operator.close_plan(GUARD, "1; DROP")
    assert bad.value.key == "id"
    with pytest.raises(NotAllowedError):  # the page has no "change"
        await gate.operator.change_plan(GUARD, 1, level=2)
    results = [(row[1], row[4]) for row in await gate.audit()]
    assert results == [
        ("start plan", "ok"),
        ("change plan", "ok"),
        ("change plan", "refused"),
        ("close plan", "ok"),
        ("close plan", "failed"),
        ("close plan", "refused"),
        ("change plan", "refused"),
    ]


@pytest.mark.parametrize(
    ("name", "strategy", "end", "key"),
    [("", 7, None, "name"), ("a", 0, None, "strategy"), ("a", 7, -1, "end"), ("a", 7, 0, "end")],
)
async def test_a_bad_plan_names_its_key(
    gate: Gate, name: str, strategy: int, end: int | None, key: str
) -> None:
    start = datetime.now(SH) + timedelta(hours=1)
    plan = ControlPlan(
        name, strategy, start=start, end=None if end is None else start + timedelta(hours=end)
    )
    with pytest.raises(InvalidInputError) as refused:
        await gate.operator.start_plan(GUARD, plan)
    assert refused.value.key == key
    assert not await gate.store.plans()


async def test_retry_without_dead_letters_is_tried_and_says_so(gate: Gate) -> None:
    done = await gate.operator.retry(GUARD, ["7"])
    assert (done.ok, done.count, done.detail) == (False, 0, "not a dead letter")
    everything = await gate.operator.retry(ROOT, None)
    assert everything.count == 0
    with pytest.raises(InvalidInputError):
        await gate.operator.retry(GUARD, ["x"])
    assert [(row[2], row[4]) for row in await gate.audit()] == [
        ("7", "failed"),
        ("all", "failed"),
        ("x", "refused"),
    ]


async def test_corrections_map_the_daemons_errors(gate: Gate) -> None:
    done = await gate.operator.correct(GUARD, "S1", "豫A12345", "1")
    assert gate.corrections == [("S1", "豫A12345", PlateColor.YELLOW, "门卫张三")]
    assert done.detail == "plate corrected to 豫A12345"
    await gate.operator.correct(ROOT, "S1", "豫A12345", "2", reviewer="王工")
    assert gate.corrections[-1][2:] == (PlateColor.WHITE, "王工")
    with pytest.raises(NotFoundError, match="no such pass"):
        await gate.operator.correct(GUARD, "nope", "豫A12345", "1")
    with pytest.raises(InvalidInputError) as nameless:
        await gate.operator.correct(ROOT, "S1", "豫A12345", "1", reviewer=" ")
    assert nameless.value.key == "reviewer"
    with pytest.raises(InvalidInputError) as colour:
        await gate.operator.correct(GUARD, "S1", "豫A12345", "9")
    assert colour.value.key == "color"
    results = [row[4] for row in await gate.audit()]
    assert results == ["ok", "ok", "failed", "refused", "refused"]


async def test_no_correction_where_none_can_be_made(gate: Gate) -> None:
    gate.operator.correct_pass = None
    with pytest.raises(NotAllowedError):
        await gate.operator.correct(GUARD, "S1", "豫A12345", "1")
    assert [row[4] for row in await gate.audit()] == ["refused"]


async def test_a_form_the_face_could_not_read_is_audited(gate: Gate) -> None:
    await gate.operator.refused(GUARD, Action.START_PLAN, "?", "level must be a whole number")
    with pytest.raises(NotAllowedError):
        await gate.operator.refused(STRANGER, Action.START_PLAN, "?", "form is not JSON")
    assert [(row[0], row[4], row[5]) for row in await gate.audit()] == [
        ("门卫张三", "refused", "level must be a whole number"),
        ("?", "refused", "no valid session or CSRF token"),
    ]


def test_ids_typed_by_people() -> None:
    assert whole_id("12") == 12
    assert whole_id(3) == 3
    for bad in ("", "-1", "1.0", "9" * 19, "１２"):
        with pytest.raises(InvalidInputError):
            whole_id(bad)


# -- the status page as a face: one session check for every action -------------------------------
PASSWORD = "gate password 1"


def _healthy() -> HealthReport:
    """A daemon's health as the page reads it: all well, no lanes (the page's actions only)."""
    storage = StorageReport(accepting_photos=True, alarm=None, photo_mb=0.0, free_mb=None,
                            ledger_free_mb=None)  # fmt: skip
    return HealthReport(True, {}, "up", None, None, None, OutboxReport(), {}, {}, storage, None)


@pytest.fixture
async def page(gate: Gate) -> AsyncIterator[str]:
    """The status page's routes on 127.0.0.1 over the gate above; its base URL."""
    status = StatusPage(
        cast(dict[str, Lane], gate.operator.lanes),
        gate.store,
        gate.operator.plans,
        _healthy,
        SH,
        guard=Guard(hash_password(PASSWORD)),
        operator=gate.operator,
    )
    async with served(status) as base:
        yield base


@asynccontextmanager
async def served(status: StatusPage) -> AsyncIterator[str]:
    """``status``'s routes served on 127.0.0.1 (a free port) while in the block; its base
    URL."""
    app = web.Application()
    app.add_routes(status.routes())
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_a_flood_without_a_login_costs_one_audit_row_a_minute(gate: Gate) -> None:
    """Anyone on the network can ask to open the barrier: each request is refused, but only
    the first from an address (per action) in a minute is written to the ledger."""
    now = [1000.0]
    gate.operator._clock = lambda: now[0]  # virtual time
    other = Actor("?", "10.0.0.10", Face.PAGE, "no valid session or CSRF token")
    for _ in range(1_500):
        with pytest.raises(NotAllowedError):
            await gate.operator.open_barrier(STRANGER, "in-1", "x")
    with pytest.raises(NotAllowedError):
        await gate.operator.open_barrier(other, "in-1", "x")  # another address: its own row
    with pytest.raises(NotAllowedError):
        await gate.operator.retry(STRANGER, None)  # another action: its own row
    rows = await gate.audit()
    assert [(r[1], r[3]) for r in rows] == [
        (Action.OPEN.value, "10.0.0.9"), (Action.OPEN.value, "10.0.0.10"),
        (Action.RETRY.value, "10.0.0.9"),
    ]  # fmt: skip
    now[0] += STRANGER_AUDIT_SECONDS
    with pytest.raises(NotAllowedError):
        await gate.operator.open_barrier(STRANGER, "in-1", "x")
    assert len(await gate.audit()) == 4
    assert not gate.lane.overrides
    for _ in range(2):  # a logged-in face that may not: audited every time
        with pytest.raises(NotAllowedError):
            await gate.operator.add_list_entry(REMOTE, "豫A12345", "deny", "x", None)
    assert len(await gate.audit()) == 6


async def test_every_page_action_is_refused_without_a_session(gate: Gate, page: str) -> None:
    paths = [
        "/api/lanes/in-1/open", "/api/lanes/in-1/refuse", "/api/passes/S1/correct",
        "/api/outbox/1/retry", "/api/lists", "/api/lists/1/remove", "/api/plans",
        "/api/plans/1/close",
    ]  # fmt: skip
    async with httpx.AsyncClient() as http:
        for path in paths:
            reply = await http.post(page + path, content=b"\xff not even JSON")
            assert (reply.status_code, reply.json()) == (403, {"error": "请先登录"}), path
    rows = await gate.audit()
    assert len(rows) == len(paths)
    assert {(row[0], row[4], row[5]) for row in rows} == {
        ("?", "refused", "no valid session or CSRF token")
    }
    assert not gate.lane.overrides


async def test_a_session_acts_and_bad_forms_are_answered_with_a_reason(
    gate: Gate, page: str
) -> None:
    async with httpx.AsyncClient() as http:
        login = await http.post(
            page + "/api/login", data={"user": "门卫张三", "password": PASSWORD}
        )
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        garbled = await http.post(page + "/api/lanes/in-1/refuse", content=b"[", headers=csrf)
        opened = await http.post(
            page + "/api/lanes/in-1/open", json={"reason": "送货"}, headers=csrf
        )
        lost = await http.post(page + "/api/lanes/in-9/open", json={"reason": "x"}, headers=csrf)
        bad_id = await http.post(page + "/api/outbox/x/retry", headers=csrf)
        listed = await http.post(
            page + "/api/lists", json={"plate": "无牌", "kind": "deny"}, headers=csrf
        )
        number = await http.post(page + "/api/weighings/1/plate", json={"read": 15.0}, headers=csrf)
    # the page's refusals are Chinese, as its others (the audit keeps the English reason)
    not_json = {"ok": False, "detail": "表单格式错误（不是 JSON）"}  # as the action's others
    assert (garbled.status_code, garbled.json()) == (400, not_json)
    assert (number.status_code, number.json()) == (400, {"ok": False, "detail": "read 须为文字"})
    assert opened.json() == {"opened": True, "serial": "S1"}
    assert (lost.status_code, lost.json()) == (400, {"error": "车道不存在或未填写原因"})
    assert bad_id.status_code == 403  # as the page has always answered a bad id
    assert listed.status_code == 400
    assert "不是有效车牌号" in listed.json()["detail"]  # in Chinese, as the page says it
    assert [(row[1], row[4]) for row in await gate.audit()] == [
        ("login", "ok"),
        ("refuse vehicle", "refused"),
        ("open barrier", "ok"),
        ("open barrier", "failed"),
        ("retry dead letter", "refused"),
        ("add list entry", "refused"),
        ("assign weighing plate", "refused"),
    ]


#: Every page action that reads a form, and the shape of its other refusals: 开闸 answers
#: ``{"error": …}`` (车道不存在或未填写原因), every other ``{"ok": false, "detail": …}``.
FORM_ACTIONS = [
    ("/api/lanes/in-1/open", "error"),
    ("/api/lanes/in-1/refuse", "detail"),
    ("/api/passes/S1/correct", "detail"),
    ("/api/lists", "detail"),
    ("/api/plans", "detail"),
    ("/api/weighings/1/goods", "detail"),
    ("/api/weighings/1/plate", "detail"),
    ("/api/weighings/1/discard", "detail"),
    ("/api/weighings/1/split", "detail"),
]


async def test_a_form_that_is_no_json_object_is_refused_as_the_actions_others_are(
    gate: Gate, page: str
) -> None:
    """A JSON list (or a number, a string) where a form goes: 400 in the shape of the action's
    other refusals, audited — before, ``POST /api/weighings/<id>/goods`` with ``[]`` answered
    ``{"error": …}`` where its refusals of a goods name answer ``{"ok": false, "detail": …}``."""
    said = "表单格式错误（不是 JSON 对象）"
    async with httpx.AsyncClient() as http:
        login = await http.post(
            page + "/api/login", data={"user": "门卫张三", "password": PASSWORD}
        )
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        for path, shape in FORM_ACTIONS:
            for body in ([{"goods": "原煤"}], 7, "原煤"):
                reply = await http.post(page + path, json=body, headers=csrf)
                expected = {"error": said} if shape == "error" else {"ok": False, "detail": said}
                assert (reply.status_code, reply.json()) == (400, expected), (path, body)
        # the same shape as the goods action's other refusals (here: no such weighing)
        named = await http.post(page + "/api/weighings/1/goods", json={"goods": "原煤"},
                                headers=csrf)  # fmt: skip
        assert (named.status_code, set(named.json())) == (404, {"ok", "detail"})
    refused = [(row[1], row[4]) for row in await gate.audit()][1:-1]
    assert len(refused) == 3 * len(FORM_ACTIONS)
    assert {result for _action, result in refused} == {"refused"}  # each audited


async def test_a_fault_of_ours_inside_an_action_is_audited_before_it_propagates(
    gate: Gate,
) -> None:
    """An action whose body fails with an exception that is no refusal (a bug) still leaves
    its audit row, as ``failed`` — before, nothing recorded the attempt."""

    async def body() -> Done:
        raise ZeroDivisionError("a fault of ours")

    with pytest.raises(ZeroDivisionError):
        await gate.operator.act(GUARD, Action.SET_GOODS, "7", body)
    [row] = [a for a in await gate.store.audit_log() if a.action == Action.SET_GOODS.value]
    assert (row.actor, row.target, row.result) == (GUARD.name, "7", "failed")
    assert "ZeroDivisionError" in row.detail
