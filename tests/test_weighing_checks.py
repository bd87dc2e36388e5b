"""Issue 16's smaller edge cases (a fresh review's findings): the clerk's goods change is all
or nothing; the ERP API takes what the goods record may report, nothing wholly past, the
``Bearer`` scheme in any case, and answers every refusal in JSON; ``/api/weighings.csv``
refuses bad days and shows the state as the page does; tonnes are rounded by one function
everywhere; ``watch-scale --seconds -5`` is refused."""

from __future__ import annotations

import base64
import io
import re
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web
from playwright.async_api import Browser, expect

from edge.actions.inspection import (
    COLUMNS,
    WORKBOOK_NAME,
    ExportSources,
    file_sink,
    ledger_query,
    stream_zip,
)
from edge.actions.operator import Actor, Face, InvalidInputError
from edge.cli.main import main
from edge.config.model import load_config
from edge.domain.goods import GoodsError, tonnes, tonnes_text
from edge.domain.weighing import StableRule
from edge.ledger.figures import daily_tonnage
from edge.ledger.rows import NewTransportPlan, NewWeighing, StoredWeighing
from edge.ledger.store import NewPhoto, Store
from edge.sim.jpeg import sample_jpeg
from edge.sim.platform import CityPlatformSim
from edge.sim.scale import ScaleSim
from edge.web.auth import hash_password
from edge.web.erp_api import MAX_BODY, ErpApi
from edge.web.server import ConnectionGuard, Limits
from edge.web.ticket import ticket_html
from tests import test_operator_actions, test_status_page
from tests.helpers import camera, config_for, eventually, running_daemon, write_config
from tests.test_goods_records import ERP_TOKEN, _plan
from tests.test_inspection_export import _rows
from tests.test_operator_actions import GUARD, Gate
from tests.test_status_page import logged_in
from tests.test_store import new_pass

#: A ledger with an operator over it, and the status page over both (served on 127.0.0.1).
gate, page = test_operator_actions.gate, test_operator_actions.page
browser = test_status_page.browser  # chromium, launched once per test

SH = ZoneInfo("Asia/Shanghai")
DAY = 86400.0
ERP = Actor("erp", "127.0.0.1", Face.ERP)
SERVER_LIMIT = 16 * 1024


def _new(plate: str | None, kg: float, at: float, serial: str) -> NewWeighing:
    return NewWeighing("main", plate, "1", kg, at, serial)


async def _complete(gate: Gate, plate: str, kgs: tuple[float, float], goods: str | None) -> int:
    """A weighing completed at an entry and an exit pass (both recorded); its id."""
    entry = await gate.store.record_pass(new_pass(plate), [])
    leave = await gate.store.record_pass(new_pass(plate, direction="out"), [])
    await gate.store.weigh(_new(plate, kgs[0], 100, entry.serial), max_between_seconds=DAY)
    done = await gate.store.weigh(
        _new(plate, kgs[1], 200, leave.serial), max_between_seconds=DAY, goods=goods
    )
    assert done.state == "complete"
    return done.id


# -- 1. the clerk's goods change: all or nothing --------------------------------------------------
async def test_a_refused_goods_change_changes_nothing(gate: Gate) -> None:
    """A 985 t net cannot be reported: the clerk's goods name is refused (400, key goods) and
    the weighing keeps the name it had — none, or the one its refused record carried."""
    nameless = await _complete(gate, "豫A00001", (999_990, 15_000), None)
    named = await _complete(gate, "豫A00002", (999_990, 15_000), "煤")
    assert (await gate.store.weighing(named)).goods_error is not None  # refused when weighed
    for weighing_id, had in ((nameless, None), (named, "煤")):
        with pytest.raises(InvalidInputError, match="more than a truck carries") as refused:
            await gate.operator.set_goods(GUARD, weighing_id, "原煤")
        assert refused.value.key == "goods"
        after = await gate.store.weighing(weighing_id)
        assert (after.goods, after.ysl) == (had, None)
    with pytest.raises(GoodsError):  # the ledger itself refuses before writing
        await gate.store.give_goods(nameless, "原煤")
    assert (await gate.store.weighing(nameless)).goods is None
    fine = await _complete(gate, "豫A00003", (35_680, 15_200), None)
    done = await gate.operator.set_goods(GUARD, fine, "原煤")
    assert done.detail == "豫A00003 原煤 20.5 t"
    audit = [(r.action, r.target, r.result) for r in await gate.store.audit_log()][::-1]
    assert audit == [
        ("set goods", str(nameless), "refused"),
        ("set goods", str(named), "refused"),
        ("set goods", str(fine), "ok"),
    ]


async def test_a_clerks_goods_name_with_a_line_separator_is_refused(gate: Gate) -> None:
    """U+2028 inside the clerk's goods name, or at its end (trimmed away before), is refused
    as U+200B always was (key goods, in Chinese); the weighing keeps no name."""
    weighing_id = await _complete(gate, "豫A00005", (35_680, 15_200), None)
    for typed in ("原\u2028煤", "原煤\u2028", "原\u3000煤", "原\u200b煤"):
        with pytest.raises(InvalidInputError, match="separator") as refused:
            await gate.operator.set_goods(GUARD, weighing_id, typed)
        assert (refused.value.key, refused.value.said) == ("goods", "货物名称含控制字符或特殊空白")
    assert (await gate.store.weighing(weighing_id)).goods is None
    done = await gate.operator.set_goods(GUARD, weighing_id, " 原 煤 ")
    assert done.detail == "豫A00005 原 煤 20.5 t"


async def test_a_goods_change_without_a_pass_to_tie_it_to_changes_nothing(gate: Gate) -> None:
    await gate.store.weigh(_new("豫A00004", 35_000, 100, "NOPASS1"), max_between_seconds=DAY)
    done = await gate.store.weigh(_new("豫A00004", 15_000, 200, "NOPASS2"), max_between_seconds=DAY)
    with pytest.raises(InvalidInputError, match="no pass with serial"):
        await gate.operator.set_goods(GUARD, done.id, "原煤")
    assert (await gate.store.weighing(done.id)).goods is None


# -- 3. the ERP API ------------------------------------------------------------------------------
@pytest.fixture
async def erp(gate: Gate) -> AsyncIterator[str]:
    """The ERP API over the gate's operator on 127.0.0.1 (token :data:`ERP_TOKEN`), behind the
    server's connection guard with ``[web] max_body_bytes`` = :data:`SERVER_LIMIT`; its URL."""
    guard = ConnectionGuard(Limits(max_body_bytes=SERVER_LIMIT), "test")
    app = web.Application(client_max_size=SERVER_LIMIT, middlewares=[guard.middleware])
    app.add_routes(ErpApi(gate.operator, ERP_TOKEN).routes())
    off = web.Application()
    off.add_routes(ErpApi(gate.operator, None).routes())
    app.add_subapp("/off", off)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("expected", "taken"),
    [(0.04, False), (0.05, True), (0.1, True), (99.9, True), (99.94, True), (99.95, False),
     (120, False), (-1, False), (0, False)],
)  # fmt: skip
async def test_an_erp_plans_tonnage_is_the_goods_records_rule(
    erp: str, expected: float, taken: bool
) -> None:
    """One rule: what ``tonnes`` (ysl) reports — rounded half up to 0.1 t, 0.1-99.9 t."""
    assert taken == _reportable(expected)
    auth = {"Authorization": f"Bearer {ERP_TOKEN}"}
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{erp}/api/erp/plans", json=_plan(expected_tonnes=expected),
                                 headers=auth)  # fmt: skip
    if taken:
        assert answer.status_code == 200, answer.text
        assert answer.json()["ok"]
    else:
        assert answer.status_code == 400
        assert answer.json()["key"] == "expected_tonnes"


async def test_the_erp_api_checks_the_header_path_plate_plan_no_and_validity(erp: str) -> None:
    """A non-UTF-8 Authorization header is a 401 JSON (with WWW-Authenticate), a trailing
    slash a JSON 404; a plan's plate fits the plate grammar, its plan_no has no control
    characters, its validity lies after 2000 and within a year; the reply's tonnes are the
    goods record's."""
    url = f"{erp}/api/erp/plans"
    auth = {"Authorization": f"Bearer {ERP_TOKEN}"}
    async with httpx.AsyncClient() as http:
        latin = await http.post(url, json=_plan(), headers={b"Authorization": b"Bearer \xff\xfe"})
        assert latin.status_code == 401, latin.text
        assert latin.json()["detail"] == "no valid ERP token"
        assert latin.headers["WWW-Authenticate"] == "Bearer"
        slash = await http.post(f"{url}/", json=_plan(), headers=auth)
        assert slash.status_code == 404
        assert slash.json()["ok"] is False
        soon = (datetime.now(UTC) + timedelta(days=400)).isoformat(timespec="minutes")
        for bad, key in [
            (_plan(plate="豫A-12345!"), "plate"),
            (_plan(plan_no="PO-\u0007-1"), "plan_no"),
            (_plan(goods="水泥\u2028熟料"), "goods"),  # a line separator: taken before
            (_plan(goods="水泥熟料\u2029"), "goods"),
            (_plan(valid_from="1999-12-31T00:00+08:00"), "valid_from"),
            (_plan(valid_to=soon), "valid_to"),
        ]:
            refused = await http.post(url, json=bad, headers=auth)
            assert (refused.status_code, refused.json()["key"]) == (400, key), refused.json()
        took = await http.post(url, json=_plan(plan_no="PO-T", expected_tonnes=32.54),
                               headers=auth)  # fmt: skip
        assert took.json()["detail"] == "豫A12345 水泥熟料 32.5 t"


async def test_a_plan_that_named_a_weighings_goods_is_used(tmp_path: Path) -> None:
    """The plan is marked used by the completing pass's serial once its weighing completes;
    a push of the same plan_no is then refused."""
    store = await Store.open(tmp_path / "edge.db")
    try:
        now = time.time()
        plan = NewTransportPlan("PO-1", "豫A12345", "煤", 20000, now - 60, now + 3600, "erp")
        plan_id = await store.put_plan(plan)
        entry = await store.record_pass(new_pass(plate="豫A12345"), [])
        leave = await store.record_pass(new_pass(plate="豫A12345"), [])
        first = NewWeighing("main", "豫A12345", "2", 35000, now, entry.serial)
        await store.weigh(first, max_between_seconds=86400, goods="煤", plan_id=plan_id)
        assert (await store.plan_for("豫A12345", now)).used_serial is None  # type: ignore[union-attr]
        second = NewWeighing("main", "豫A12345", "2", 15000, now + 60, leave.serial)
        done = await store.weigh(second, max_between_seconds=86400, goods="煤", plan_id=plan_id)
        assert (done.state, done.ysl) == ("complete", "20")
        used = await store.plan_for("豫A12345", now)
        assert used is not None
        assert used.used_serial == leave.serial
        with pytest.raises(ValueError, match="already used"):
            await store.put_plan(plan)
    finally:
        await store.close()


def _reportable(t: float) -> bool:
    try:
        tonnes(Decimal(str(t)) * 1000)
    except GoodsError:
        return False
    return True


async def test_the_erp_api_refuses_past_plans_and_answers_every_error_in_json(erp: str) -> None:
    url = f"{erp}/api/erp/plans"
    async with httpx.AsyncClient() as http:
        past = await http.post(url, json=_plan(valid_from="2025-01-01T00:00+08:00",
                               valid_to="2025-02-01T00:00+08:00"),
                               headers={"Authorization": f"Bearer {ERP_TOKEN}"})  # fmt: skip
        assert (past.status_code, past.json()["key"]) == (400, "valid_to")
        assert "past" in past.json()["detail"]
        for scheme in ("bearer", "BEARER", "Bearer", "bEaReR"):  # RFC 7235: any case
            took = await http.post(url, json=_plan(plan_no=f"PO-{scheme}"),
                                   headers={"Authorization": f"{scheme} {ERP_TOKEN}"})  # fmt: skip
            assert took.status_code == 200, (scheme, took.text)
        for wrong in (f"Basic {ERP_TOKEN}", ERP_TOKEN, f"Bearer {ERP_TOKEN}x", "bearer", ""):
            refused = await http.post(url, json=_plan(), headers={"Authorization": wrong})
            assert refused.status_code == 401, wrong
            assert refused.json() == {"ok": False, "detail": "no valid ERP token", "key": None}
        auth = {"Authorization": f"Bearer {ERP_TOKEN}"}

        async def post_large(size: int, *, chunked: bool) -> httpx.Response:
            big = b'{"plan_no": "' + b"x" * size + b'"}'

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length
                for start in range(0, len(big), 1000):
                    yield big[start : start + 1000]

            return await http.post(url, content=chunks() if chunked else big, headers=auth)

        for chunked in (False, True):
            over_api = await post_large(MAX_BODY, chunked=chunked)
            assert over_api.status_code == 413
            assert over_api.json() == {
                "ok": False, "detail": f"body over {MAX_BODY} bytes", "key": None,
            }  # fmt: skip
            over_server = await post_large(SERVER_LIMIT, chunked=chunked)
            assert over_server.status_code == 413
            assert over_server.json() == {
                "result": "error", "error": f"request body over {SERVER_LIMIT} bytes",
            }  # fmt: skip
        got = await http.get(url, headers=auth)
        assert (got.status_code, got.json()["ok"], got.headers["Allow"]) == (405, False, "POST")
        off = await http.post(f"{erp}/off/api/erp/plans", json=_plan(), headers=auth)
        assert (off.status_code, off.json()["ok"]) == (404, False)
        not_json = await http.post(url, content=b"{", headers=auth)
        assert (not_json.status_code, not_json.json()["detail"]) == (
            400,
            'body is not JSON (begins "{")',
        )


async def test_every_authenticated_erp_push_is_audited_also_a_bad_body(
    erp: str, gate: Gate
) -> None:
    """A push whose body is over 4 KiB, not JSON or not an object is refused and audited once,
    with the reason and at most the body's first 32 bytes, escaped (no line break — not
    even U+0085 or U+2028 — nor any control character reaches the audit)."""
    url = f"{erp}/api/erp/plans"
    auth = {"Authorization": f"Bearer {ERP_TOKEN}"}
    before = len(await gate.store.audit_log(1000))
    async with httpx.AsyncClient() as http:
        for content in (
            b'{"plan_no": "' + b"x" * MAX_BODY + b'"}',
            "计划\n\x1b[31mPO-1 ".encode() + b"y" * 100,
            "\x85\u2028\u2029\x9b[2J\u200e计".encode(),  # C1 controls, line/paragraph separators
            b"[1, 2]",
        ):
            refused = await http.post(url, content=content, headers=auth)
            assert refused.status_code in (400, 413)
    log = await gate.store.audit_log(1000)  # newest first
    rows = log[: len(log) - before]
    audited = sorted((r.action, r.actor, r.result, r.detail) for r in rows)
    assert audited == sorted([
        ("put transport plan", "erp", "refused", f"body over {MAX_BODY} bytes"),
        ("put transport plan", "erp", "refused",
         'body is not JSON (begins "计划\\n\\u001b[31mPO-1 yyyyyyyyyyyyyyy"…)'),
        ("put transport plan", "erp", "refused",
         'body is not JSON (begins "\\u0085\\u2028\\u2029\\u009b[2J\\u200e计")'),
        ("put transport plan", "erp", "refused", 'body is not a JSON object (begins "[1, 2]")'),
    ])  # fmt: skip


# -- 5. the weighings' CSV, one rounding of tonnes ------------------------------------------------
async def test_the_weighings_csv_refuses_bad_days(page: str) -> None:
    async with httpx.AsyncClient() as http:
        for query, key in [({"from": "x"}, "from"), ({"to": "2026-13-01"}, "to"),
                           ({"from": "2026-11-21", "to": "21.11.2026"}, "to")]:  # fmt: skip
            bad = await http.get(f"{page}/api/weighings.csv", params=query)
            assert bad.status_code == 400, query
            assert bad.headers["Content-Type"].startswith("application/json")
            assert bad.json()["error"].startswith(f"{key}: "), bad.json()
            assert "YYYY-MM-DD" in bad.json()["error"]
        fine = await http.get(f"{page}/api/weighings.csv", params={"from": "2026-11-21", "to": ""})
        assert fine.status_code == 200
        same_day = {"from": "2026-11-21", "to": "2026-11-21"}
        assert (await http.get(f"{page}/api/weighings.csv", params=same_day)).status_code == 200
        backwards = await http.get(f"{page}/api/weighings.csv",
                                   params={"from": "2026-11-21", "to": "2026-11-20"})  # fmt: skip
    assert backwards.status_code == 400  # it answered an empty file
    assert backwards.headers["Content-Type"].startswith("application/json")
    assert backwards.json() == {
        "error": "to: '2026-11-20' is before from: '2026-11-21'",
        "said": "结束日期（to）2026-11-20 早于开始日期（from）2026-11-21，请改正后再查询",
    }


async def test_tonnes_are_rounded_alike_and_states_are_chinese(
    gate: Gate,
    page: str,
) -> None:
    """A 20.45 t net reads 20.5 t in the goods record, the CSV, the ticket and the day's
    tonnage (it read 20.45 on the page, 20.450 t on the ticket); the CSV's state column is
    the page's Chinese."""
    midnight = datetime.combine(date(2026, 11, 21), datetime.min.time(), SH).timestamp()
    entry = await gate.store.record_pass(new_pass("豫A00005"), [])
    leave = await gate.store.record_pass(new_pass("豫A00005", direction="out"), [])
    await gate.store.weigh(_new("豫A00005", 35_450, midnight + 60, entry.serial),
                           max_between_seconds=DAY)  # fmt: skip
    done = await gate.store.weigh(_new("豫A00005", 15_000, midnight + 120, leave.serial),
                                  max_between_seconds=DAY, goods="煤")  # fmt: skip
    opened = await gate.store.weigh(_new("豫A00006", 30_000, midnight + 180, "S6"),
                                    max_between_seconds=DAY)  # fmt: skip
    nobody = await gate.store.weigh(_new(None, 30_000, midnight + 240, ""),
                                    max_between_seconds=DAY)  # fmt: skip
    assert done.ysl == "20.5"
    assert "20,450 kg（20.5 t）" in ticket_html(done, "某企业", "司磅员", SH)
    (tonnage,) = await daily_tonnage(gate.store, date(2026, 11, 21), SH, DAY)
    assert (tonnage.goods, tonnage.in_t, tonnage.out_t) == ("煤", "20.5", "0")
    async with httpx.AsyncClient() as http:
        got = await http.get(f"{page}/api/weighings.csv",
                             params={"from": "2026-11-21", "to": "2026-11-21"})  # fmt: skip
    lines = got.content.decode("utf-8-sig").splitlines()
    head = lines[0].split(",")
    rows = {int(line.split(",")[0]): line.split(",") for line in lines[1:]}
    state, net_t = head.index("状态"), head.index("净重 t")
    assert {i: (r[state], r[net_t]) for i, r in rows.items()} == {
        done.id: ("已完成", "20.5"),
        opened.id: ("等待二次过磅", ""),
        nobody.id: ("未识别车牌", ""),
    }
    assert tonnes_text(20_450) == tonnes_text(Decimal("20450.0")) == "20.5"
    assert tonnes_text(0) == "0"


# -- 6. the technician's watch-scale --------------------------------------------------------------
def test_watch_scale_refuses_a_negative_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", state=f"{tmp_path}/")
    for action in ("watch-scale", "watch-detector"):
        with pytest.raises(SystemExit) as stopped:
            main(["drivers", "test", "--config", str(path), "--lane", "in-1", action,
                  "--seconds", "-5"])  # fmt: skip
        assert stopped.value.code == 2
        assert "--seconds" in capsys.readouterr().err


# -- 7. the inspector's XLSX: the weighing's photos -----------------------------------------------
async def test_the_inspectors_export_has_the_weighings_photos(tmp_path: Path) -> None:
    """Both passes of a weighing list its photos in 过磅照片 (first weighing's, then second's,
    front first) as weighings.csv's 照片 does; the ZIP holds each photo once."""
    store = await Store.open(tmp_path / "edge.db")
    root = tmp_path / "photos"
    for name in ("in-1.jpg", "in-2.jpg", "out-1.jpg", "car-1.jpg"):
        (root / "d").mkdir(parents=True, exist_ok=True)
        (root / "d" / name).write_bytes(b"\xff\xd8" + name.encode() + b"\xff\xd9")
    when = datetime(2026, 11, 10, 9, 0, tzinfo=SH)

    def shot(number: int, name: str) -> NewPhoto:
        return NewPhoto(number, number, f"d/{name}", 10, when.timestamp())

    try:
        entry = await store.record_pass(new_pass("豫A00007", when),
                                        [shot(2, "in-2.jpg"), shot(1, "in-1.jpg")])  # fmt: skip
        car = await store.record_pass(new_pass("豫A00008", when), [shot(1, "car-1.jpg")])
        leave = await store.record_pass(new_pass("豫A00007", when, direction="out"),
                                        [shot(1, "out-1.jpg")])  # fmt: skip
        await store.weigh(_new("豫A00007", 35_000, 100, entry.serial), max_between_seconds=DAY)
        await store.weigh(_new("豫A00007", 15_000, 200, leave.serial), max_between_seconds=DAY,
                          goods="煤")  # fmt: skip
        query = ledger_query("2026-11-10", "2026-11-10", "", "", SH)
        out = tmp_path / "ledger.zip"
        send, close = file_sink(out)
        try:
            done = await stream_zip(store, query, send, SH, ExportSources(photo_root=root))
        finally:
            close()
        csv_photos = (await store.weighing_photos([await store.weighing(1)]))[1]
    finally:
        await store.close()
    assert (done.rows, done.images, done.missing) == (3, 4, 0)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        rows = _rows(io.BytesIO(archive.read(WORKBOOK_NAME)))
    assert len(names) == len(set(names)) == 5
    lines = {
        line["流水号"]: line for line in (dict(zip(COLUMNS, r, strict=True)) for r in rows[1:])
    }
    weighed = "photos/d/in-1.jpg; photos/d/in-2.jpg; photos/d/out-1.jpg"
    assert lines[entry.serial]["过磅照片"] == lines[leave.serial]["过磅照片"] == weighed
    assert lines[car.serial]["过磅照片"] is None  # an empty cell
    assert lines[car.serial]["进出厂照片"] == "photos/d/car-1.jpg"
    assert [url.rsplit("/", 1)[1] for url in csv_photos] == [
        f"{entry.serial}-1.jpg", f"{entry.serial}-2.jpg", f"{leave.serial}-1.jpg",
    ]  # fmt: skip
    assert all(name in names for name in weighed.split("; "))


# -- 4. config checks ---------------------------------------------------------------------------
SCALE = '[scales.main]\nport = "{port}"\nprotocol = "toledo"\nlanes = ["in-1"]\n'
#: The exit lane, for a second scale (a lane's reads name the truck on one scale only).
OUT_LANE = (
    '[[lanes]]\nid = "out-1"\ngate_code = "01"\ndirection = "out"\n'
    'camera = { kind = "generic-push" }\nbarrier = { driver = "virtual" }\n'
)


def _check(tmp_path: Path, extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``edge check-config`` of the test config with ``extra`` appended: (exit, stderr)."""
    path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", extra=extra)
    code = main(["check-config", str(path)])
    return code, capsys.readouterr().err


def test_weighing_keys_are_plates_and_lanes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scale = SCALE.format(port=tmp_path / "tty")
    weighing = (
        '[weighing]\npreset_tare_kg = { "豫a 12345" = 15200, "ABC" = 14000 }\n'
        'goods_by_plate = { "12345" = "煤", "豫B6789G" = "原煤" }\n'
        'goods_by_lane = { "in-1" = "石灰石", "nope" = "煤" }\n'
    )
    code, err = _check(tmp_path, scale + weighing, capsys)
    assert code == 2
    assert "weighing.preset_tare_kg.ABC (line" in err
    assert "weighing.goods_by_plate.12345 (line" in err
    assert "not a plate" in err
    assert "weighing.goods_by_lane.nope (line" in err
    assert "no lane 'nope'" in err
    for fine in ("豫a 12345", "豫B6789G", "in-1"):
        assert f".{fine} " not in err
    good = weighing.replace(', "ABC" = 14000', "").replace('"12345" = "煤", ', "")
    path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9",
                        extra=scale + good.replace(', "nope" = "煤"', ""))  # fmt: skip
    cfg = load_config(path)
    assert cfg.weighing.preset_tare_kg == {"豫A12345": Decimal(15200)}  # as reads are
    assert cfg.weighing.goods_for("豫B6789G", "out-1") == "原煤"


def test_a_lane_under_two_scales_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One read would complete a weighing on either scale: refused, naming the key."""
    second = '[scales.second]\nport = "{port}"\nprotocol = "yaohua-tf0"\nlanes = ["in-1"]\n'
    extra = SCALE.format(port=tmp_path / "tty1") + second.format(port=tmp_path / "tty2")
    code, err = _check(tmp_path, extra, capsys)
    assert code == 2
    assert "scales.second.lanes (line" in err
    assert "lane 'in-1' is already a lane of [scales.main]" in err


def test_goods_settings_every_goods_record_would_refuse_are_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Goods names blank or with control characters, two keys of one plate, a preset tare
    above the scale's capacity: each named, exit 2."""
    scale = SCALE.format(port=tmp_path / "tty") + "capacity_kg = 60000\n"
    weighing = (
        '[weighing]\ngoods = ["煤", "  ", "原\\u0007煤", "原\\u2028煤", "原 煤"]\n'
        'goods_by_lane = { "in-1" = "石\\u0000灰" }\n'
        'preset_tare_kg = { "豫A12345" = 70000 }\n'
    )
    code, err = _check(tmp_path, scale + weighing, capsys)
    assert code == 2
    for key in ("weighing.goods[1]", "weighing.goods[2]", "weighing.goods[3]",
                "weighing.goods_by_lane.in-1", "weighing.preset_tare_kg.豫A12345"):  # fmt: skip
        assert f"{key} (line" in err, err
    assert "weighing.goods[0]" not in err
    assert "weighing.goods[4]" not in err  # a plain space inside a name is fine
    assert "70000 kg leaves no load on [scales.main] (60000 kg)" in err
    twice = '[weighing]\ngoods_by_plate = { "豫a 12345" = "煤", "豫A12345" = "原煤" }\n'
    code, err = _check(tmp_path, scale + twice, capsys)
    assert code == 2
    assert "weighing.goods_by_plate" in err
    assert "are one plate (豫A12345)" in err


def test_a_preset_tare_is_checked_against_every_scale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A preset tare counts on every scale (no key ties a plate to one): one that fits the
    large scale but not the small one is refused, naming the key and the small scale; the
    large scale's capacity alone let it through."""
    small = (
        '[scales.small]\nport = "{port}"\nprotocol = "yaohua-tf0"\ncapacity_kg = 30000\n'
        'lanes = ["out-1"]\n'
    )
    scales = (OUT_LANE + SCALE.format(port=tmp_path / "tty1") + "capacity_kg = 100000\n"
              + small.format(port=tmp_path / "tty2"))  # fmt: skip
    tares = '[weighing]\npreset_tare_kg = { "豫A12345" = 40000, "豫B6789G" = 15200 }\n'
    code, err = _check(tmp_path, scales + tares, capsys)
    assert code == 2
    assert "weighing.preset_tare_kg.豫A12345 (line" in err, err
    assert "40000 kg leaves no load on [scales.small] (30000 kg)" in err
    assert "[scales.main]" not in err
    assert "豫B6789G" not in err
    code, err = _check(tmp_path, scales + tares.replace("40000", "29980"), capsys)
    assert code == 0, err


def test_check_config_lists_the_scales_and_the_ticket_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config's OK summary lists each scale (its name, protocol, port, lanes); the
    scale's ``name`` is what the ticket prints (default its key)."""
    scale = SCALE.format(port=tmp_path / "tty") + 'name = "1号地磅"\n'
    path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", extra=scale)
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"  scale main (1号地磅): toledo on {tmp_path / 'tty'}, lanes in-1" in out
    row: dict[str, object] = {
        **dict.fromkeys(StoredWeighing.__dataclass_fields__),
        "id": 1, "plate": "豫A12345", "plate_color": "2", "state": "complete",
        "first_scale": "main", "first_kg": 35000.0, "first_at": 0.0, "second_scale": "east",
        "second_kg": 15000.0, "second_at": 60.0, "gross_kg": 35000.0, "tare_kg": 15000.0,
        "net_kg": 20000.0, "tare_preset": 0,
    }  # fmt: skip
    done = StoredWeighing(**row)  # type: ignore[arg-type]
    text = ticket_html(done, "某企业", "司磅员", SH, {"main": "1号地磅"})
    assert "1号地磅" in text
    assert "east" in text  # a scale not named here: its key


def test_a_serial_port_and_its_symlink_are_one_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = tmp_path / "ttyUSB0"
    device.touch()
    by_id = tmp_path / "usb-FTDI_FT232R-if00-port0"
    by_id.symlink_to(device)
    second = '[scales.second]\nport = "{port}"\nprotocol = "yaohua-tf0"\nlanes = ["out-1"]\n'
    code, err = _check(
        tmp_path, OUT_LANE + SCALE.format(port=device) + second.format(port=by_id), capsys
    )
    assert code == 2
    assert "scales.second.port (line" in err
    assert f"{by_id} (= {device}) is opened by another driver too (scales.main.port)" in err
    other = tmp_path / "ttyUSB1"
    code, err = _check(
        tmp_path, OUT_LANE + SCALE.format(port=device) + second.format(port=other), capsys
    )
    assert (code, err) == (0, "")


# -- 2. a scale's capacity ----------------------------------------------------------------------
def test_a_stable_weight_over_the_capacity_or_under_the_minimum_is_refused() -> None:
    rule = StableRule(minimum_kg=Decimal(500), capacity_kg=Decimal(60_000))
    assert rule.refusal(Decimal(60_000)) is None
    assert rule.refusal(Decimal(500)) is None
    over, under = rule.refusal(Decimal(985_000)), rule.refusal(Decimal(499))
    assert over is not None
    assert (over.why, over.reason) == ("over capacity", "超过最大称量 60000 kg")
    assert under is not None
    assert (under.why, under.reason) == ("under the minimum", "低于最小称量 500 kg")
    assert StableRule().capacity_kg == Decimal(150_000)  # the default: 150 t
    with pytest.raises(ValueError, match="capacity"):
        StableRule(minimum_kg=Decimal(500), capacity_kg=Decimal(500))


def test_a_capacity_not_above_the_minimum_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scale = SCALE.format(port=tmp_path / "tty") + "capacity_kg = 400\n"
    code, err = _check(tmp_path, scale, capsys)
    assert code == 2
    assert "scales.main.capacity_kg (line" in err
    assert "400 kg is not above minimum_kg (500 kg)" in err


def test_check_config_names_the_scale_key_and_the_erp_token_in_its_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A minimum above the capacity names minimum_kg (the key set) and its line; a scale with
    ``lanes = []``, or none given, can never tie a weighing to a pass: refused naming the
    key; a short ERP token is said in the project's words (not pydantic's "at least 16
    items")."""
    scale = SCALE.format(port=tmp_path / "tty")
    code, err = _check(tmp_path, scale + "minimum_kg = 200000\n", capsys)
    assert code == 2
    written = (tmp_path / "config.toml").read_text().splitlines()
    line = written.index("minimum_kg = 200000") + 1
    assert f"scales.main.minimum_kg (line {line})" in err  # the key's own line
    assert "200000 kg is not below the scale's capacity_kg (150000 kg)" in err
    assert "capacity_kg (line" not in err
    for no_lane in (scale.replace('lanes = ["in-1"]', "lanes = []"),
                    scale.replace('lanes = ["in-1"]\n', "")):  # fmt: skip
        code, err = _check(tmp_path, no_lane, capsys)
        assert code == 2
        assert "scales.main.lanes (line" in err
        assert "no lane: a scale needs the lanes whose camera reads the plate" in err
    code, err = _check(tmp_path, '[erp]\ntoken = "short"\n', capsys)
    assert code == 2
    assert "erp.token (line" in err
    assert "the ERP's token: must be at least 16 characters long" in err
    assert "items" not in err
    assert "short" not in err  # the secret is never shown


async def test_an_absurd_weight_is_refused_shown_and_never_paired_and_the_ticket_prints(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    """A 985 t stable weight on a 60 t scale: refused (logged), shown on the status page,
    no weighing recorded, the truck's plate read left for its real weighing. Then the
    ticket (磅单) of that weighing in a browser, logged in: its content, and printed it
    is one page."""
    path = tmp_path / "scale"
    scale = {"port": str(path), "protocol": "yaohua-tf0", "stable_seconds": 0.3,
             "lanes": ["in-1"], "capacity_kg": 60_000}  # fmt: skip
    cfg = config_for(
        tmp_path,
        platform_sim,
        scales={"main": scale},
        weighing={"preset_tare_kg": {"豫A12345": 15200}, "default_goods": "原煤"},
        web={"password_hash": hash_password("gate password 1")},
    )
    async with ScaleSim(path, "yaohua-tf0", period=0.02) as sim, running_daemon(cfg) as daemon:
        base = f"http://127.0.0.1:{daemon.web.port}"
        bridge = daemon.components.weighbridges["main"]
        page = await logged_in(browser, base, "司磅员")
        cam = camera(daemon, "in-1")
        entry = await cam.push("豫A12345")
        await cam.aclose()
        sim.set_weight(Decimal(985_000))
        await eventually(lambda: bridge.refused is not None, timeout=10)
        refused = page.locator('[data-refused="main"]')
        await expect(refused).to_contain_text(
            "稳定重量 985000 kg 已拒绝（超过最大称量 60000 kg），未计入过磅"
        )
        assert await daemon.components.store.recent_weighings() == []
        sim.set_weight(Decimal(0))
        await eventually(lambda: not bridge.detector.weighed, timeout=10)
        sim.set_weight(Decimal(35_680))
        await eventually(lambda: bridge.weighings == 1, timeout=10)
        (done,) = await daemon.components.store.recent_weighings()
        assert (done.plate, done.first_serial, done.net_kg) == (
            "豫A12345",
            entry.body["serial"],
            20480,
        )
        assert bridge.refused is None
        await expect(refused).to_have_count(0)  # the page re-read the status
        link = page.locator("#weighings a", has_text="磅单")
        async with page.context.expect_page() as opened:
            await link.click()
        ticket = await opened.value
        await ticket.wait_for_load_state()
        body = ticket.locator("body")
        for shown in (
            cfg.site.enterprise_name, f"过磅单 No. {done.id:06d}", "豫A12345", "原煤",
            "35,680 kg（35.7 t）", "15,200 kg（15.2 t）（预置皮重）", "20,480 kg（20.5 t）",
            entry.body["serial"], "司磅员：司磅员", "20.5 t",
        ):  # fmt: skip
            await expect(body).to_contain_text(shown)
        await expect(ticket.locator("button")).to_be_visible()
        # the entry pass's photo, as the pass stored it (a preset tare: one weighing, one photo)
        photo = ticket.locator("figure img")
        await expect(photo).to_have_count(1)
        assert await photo.get_attribute("src") == f"/photos/{entry.body['serial']}-1.jpg"
        assert await photo.evaluate("img => img.complete && img.naturalWidth > 0")
        await expect(ticket.locator("figcaption")).to_have_text(["一次过磅照片"])
        await ticket.emulate_media(media="print")
        await expect(ticket.locator("button")).to_be_hidden()  # 打印 is not printed
        pdf = await ticket.pdf(prefer_css_page_size=True)
    assert _pages(pdf) == 1
    longest = replace(done, goods="石" * 32, ysl=None, goods_error="net weight 985 t is more "
                      "than a truck carries (> 99.9 t): no goods record", second_at=done.first_at,
                      second_kg=15_200, second_scale="main", second_serial="S2")  # fmt: skip
    jpeg = "data:image/jpeg;base64," + base64.b64encode(sample_jpeg("豫A12345")).decode()
    crowded = await browser.new_page()
    await crowded.set_content(
        ticket_html(
            longest, "河南省某某市某某区某某建材水泥熟料有限责任公司第二分公司", "司磅员", SH,
            photos=([jpeg], [jpeg]),
        )
    )  # fmt: skip
    await expect(crowded.locator("figure img")).to_have_count(2)
    await crowded.emulate_media(media="print")
    assert _pages(await crowded.pdf(prefer_css_page_size=True)) == 1


def test_the_ticket_shows_each_weighings_photo_or_says_there_is_none() -> None:
    """Two weighings: the first's photo (the front one of its pass), and for a second without
    any (its pass kept none, or they were pruned) 无照片 in its place; values escaped."""
    done = StoredWeighing(
        7, "豫A00001", "1", "complete", "main", 35_000, 100, "S1", "main", 15_000, 200, "S2",
        35_000, 15_000, 20_000, 0, "煤", "20", None,
    )  # fmt: skip
    sides: tuple[list[str], list[str]] = (['/photos/S1-1.jpg"x', "/photos/S1-2.jpg"], [])
    text = ticket_html(done, "某企业", "司磅员", SH, photos=sides)
    assert text.count("<figure>") == 2
    assert '<img src="/photos/S1-1.jpg&quot;x" alt="照片无法显示">' in text
    assert "S1-2.jpg" not in text  # one photo per weighing: the front
    assert '<div class="none">无照片</div><figcaption>二次过磅照片' in text
    bare = ticket_html(done, "某企业", "司磅员", SH)
    assert bare.count('<div class="none">无照片</div>') == 2


def _pages(pdf: bytes) -> int:
    """How many pages a PDF has (its page objects)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        # the platform would never count as empty: only the first truck ever weighed
        ("minimum_kg = 0", "scales.main.minimum_kg (line"),
        ("capacity_kg = 1e15", "scales.main.capacity_kg (line"),
        ('lanes = ["in-1", "in-1"]', "lane 'in-1' is listed twice"),
        (
            "drive_on_seconds = 1000",
            "1000 s is not below plate_max_age_seconds (300 s): the stale rule would never "
            "drop a read",
        ),
    ],
)
def test_a_scale_setting_that_defeats_its_rule_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, said: str
) -> None:
    """Settings a review found accepted, each silently turning a rule off (minimum 0: the
    platform never empties; the stale rule never dropping a read) or absurd (1e15 kg, a
    lane listed twice: every weighing held with the same plate twice)."""
    scale = SCALE.format(port=tmp_path / "tty")
    if setting.startswith("lanes"):
        scale = scale.replace('lanes = ["in-1"]\n', "")
    code, err = _check(tmp_path, scale + setting + "\n", capsys)
    assert code == 2, err
    assert said in err


def test_a_preset_tare_in_tonnes_and_a_goods_name_listed_twice_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``preset_tare_kg = 15.2`` (tonnes meant) made a 35000 kg truck's net 34984.8 kg and
    sent 35 t; the same goods name twice makes the clerk's list ambiguous."""
    weighing = (
        '[weighing]\npreset_tare_kg = { "豫A12345" = 15.2 }\ngoods = ["原煤", "石灰石", "原煤"]\n'
    )
    code, err = _check(tmp_path, SCALE.format(port=tmp_path / "tty") + weighing, capsys)
    assert code == 2
    assert "weighing.preset_tare_kg.豫A12345 (line" in err
    assert "a preset tare is in kg (15.2 t is 15200)" in err
    assert "weighing.goods[2] (line" in err
    assert "'原煤' is listed twice" in err
