"""The inspector's export (issue 15): a month of passes as XLSX with the 2020 guideline's
columns and the right row count; filters by gate and plate; goods and tonnage from the pass's
weighing; cells that would be formulas neutralised; the ZIP with the workbook and every photo
it references (a missing one named); from the page only when logged in (audited, a real
browser downloads it) and from the command line."""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
import time
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser

from bench.ledger import generate
from edge.actions.inspection import (
    COLUMNS,
    WORKBOOK_NAME,
    ExportSources,
    VehicleFacts,
    file_sink,
    ledger_query,
    spans_in_force,
    stream_register_zip,
    stream_zip,
    write_workbook,
)
from edge.actions.operator import InvalidInputError
from edge.cli.main import main
from edge.domain.codes import ControlFlag
from edge.domain.filing import Register, parse_entry
from edge.domain.reports import VerifyAnswer
from edge.ledger.rows import NewFilingImage
from edge.ledger.store import NewPhoto, Store
from edge.sim.platform import CityPlatformSim
from edge.web.auth import hash_password
from tests.helpers import camera, config_for, running_daemon, write_config
from tests.test_filing import LOADER
from tests.test_status_page import browser, logged_in  # noqa: F401 - the fixture
from tests.test_store import OPEN, new_pass

SH = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 11, 10, 9, 0, tzinfo=SH)
SERIAL = COLUMNS.index("流水号")


def _rows(path: Path | io.BytesIO) -> list[tuple[Any, ...]]:
    book = load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in book.active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    finally:
        book.close()


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("month") / "edge.db"
    generate(path, months=2, per_day=60)
    return path


def test_the_generated_ledger_has_no_pass_in_the_future(month: Path) -> None:
    """bench/ledger.py spread today's passes over the whole day: up to 22 h in the future (a
    fresh verification, session 17; a daemon on such a ledger numbered its passes after
    them)."""
    db = sqlite3.connect(month)
    latest, today = db.execute(
        "SELECT max(received_at), count(*) FILTER (WHERE received_at >= ?) FROM passes",
        (datetime.now(SH).replace(hour=0, minute=0, second=0, microsecond=0).timestamp(),),
    ).fetchone()
    db.close()
    assert latest <= time.time()
    assert today >= 1  # today's, until now


async def test_a_month_opens_with_the_columns_and_every_pass(month: Path, tmp_path: Path) -> None:
    last = datetime.now(SH).date() - timedelta(days=1)
    first = last - timedelta(days=29)
    query = ledger_query(first.isoformat(), last.isoformat(), "", "", SH)
    db = sqlite3.connect(month)
    expected = db.execute(
        "SELECT count(*) FROM passes WHERE received_at >= ? AND received_at < ?",
        (query.start, query.end),
    ).fetchone()[0]
    gate_01 = db.execute(
        "SELECT count(*) FROM passes WHERE received_at >= ? AND received_at < ? "
        "AND gate_code = '01'",
        (query.start, query.end),
    ).fetchone()[0]
    plate, plate_count = db.execute(
        "SELECT plate, count(*) FROM passes WHERE received_at >= ? AND received_at < ? "
        "GROUP BY plate ORDER BY 2 DESC LIMIT 1",
        (query.start, query.end),
    ).fetchone()
    (prefix_count,) = db.execute(
        "SELECT count(*) FROM passes WHERE received_at >= ? AND received_at < ? "
        "AND substr(plate, 1, 2) = ?",
        (query.start, query.end, plate[:2]),
    ).fetchone()
    db.close()
    assert expected > 1500
    store = await Store.open(month)
    try:
        out = tmp_path / "ledger.xlsx"
        done = await write_workbook(store, query, out, SH, page=500)  # several pages
        rows = _rows(out)
        assert rows[0] == COLUMNS
        assert done.rows == len(rows) - 1 == expected
        times = [row[0] for row in rows[1:]]
        assert times == sorted(times)  # oldest first, across pages
        assert str(times[0]).startswith(first.isoformat())
        assert str(times[-1]).startswith(last.isoformat())
        by_name = dict(zip(COLUMNS, rows[1], strict=True))
        assert by_name["排放阶段"].startswith("国")
        assert by_name["进出厂照片"].startswith("photos/")
        assert by_name["流水号"] in by_name["进出厂照片"]
        gate = await write_workbook(store, replace(query, gate="01"), out, SH)
        assert gate.rows == gate_01
        assert {row[2] for row in _rows(out)[1:]} == {"01"}
        one = await write_workbook(store, replace(query, plate=plate), out, SH)
        assert one.rows == plate_count
        assert {row[3] for row in _rows(out)[1:]} == {plate}
        prefix = await write_workbook(store, replace(query, plate=plate[:2]), out, SH, page=50)
        plates = [str(row[3]) for row in _rows(out)[1:]]
        assert prefix.rows == len(plates) == prefix_count  # every 冀A…, across pages
        assert {p[:2] for p in plates} == {plate[:2]}
        assert len(set(plates)) > 1
    finally:
        await store.close()


def test_a_query_names_what_is_wrong() -> None:
    for args, key in (
        (("2026-11-31", "2026-12-01", "", ""), "from"),
        (("2026-11-02", "2026-11-01", "", ""), "to"),
        (("2025-01-01", "2026-11-01", "", ""), "to"),
        (("2026-11-01", "2026-11-01", "0;1", ""), "gate"),
        (("2026-11-01", "2026-11-01", "", "豫" * 40), "plate"),
    ):
        with pytest.raises(InvalidInputError) as caught:
            ledger_query(*args, SH)
        assert caught.value.key == key
    query = ledger_query("2026-11-01", "2026-11-01", " 01 ", "豫a12345", SH)
    assert (query.gate, query.plate) == ("01", "豫A12345")
    # as a person types them: a gate without its leading zero, a plate with spaces and a dot
    query = ledger_query("2026-11-01", "2026-11-01", "1", "豫 a·12 345", SH)
    assert (query.gate, query.plate) == ("01", "豫A12345")
    assert ledger_query("2026-11-01", "2026-11-01", "１２", "", SH).gate == "12"
    for gate in ("001", "A1", "-1"):
        with pytest.raises(InvalidInputError, match="not a gate code") as caught:
            ledger_query("2026-11-01", "2026-11-01", gate, "", SH)
        assert caught.value.key == "gate"
    assert query.end - query.start == 86400


async def _small_ledger(tmp_path: Path) -> tuple[Store, Path, list[str]]:
    """Three passes on DAY: with a photo kept, with a photo whose file is gone, with a plate
    that would be a formula and a weighing's goods."""
    photos = tmp_path / "photos"
    (photos / "20261110").mkdir(parents=True)
    (photos / "20261110" / "a-1.jpg").write_bytes(b"\xff\xd8front\xff\xd9")
    store = await Store.open(tmp_path / "edge.db")
    answer = VerifyAnswer(ControlFlag.CLEAR, fuel="B", emission="5")
    serials = []
    for minutes, plate, photo in (
        (0, "豫A11111", "20261110/a-1.jpg"),
        (1, "豫A22222", "20261110/gone-1.jpg"),
        (2, "=HYPERLINK(1)", None),
    ):
        new = new_pass(
            plate=plate,
            when=DAY + timedelta(minutes=minutes),
            decision=replace(OPEN, answer=answer),
        )
        shots = [NewPhoto(1, 1, photo, 10, new.received_at)] if photo else []
        await store.record_pass(new, shots)
        serials.append(new.serial)
    db = sqlite3.connect(store.path)  # type: ignore[arg-type]
    db.execute(
        "INSERT INTO weighings (plate, plate_color, state, first_scale, first_kg, first_at, "
        "second_serial, goods, ysl) VALUES ('豫A22222', '1', 'complete', 'main', 40000, ?, ?, "
        "'煤炭', '25.5')",
        (DAY.timestamp(), serials[1]),
    )
    db.commit()
    db.close()
    return store, photos, serials


async def test_zip_member_times_are_the_sites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ZIP's times carry no zone and are read as local time: each member is dated by its
    file's time on the site's clock (Asia/Shanghai), also on a machine that runs in UTC;
    the register's ZIP too."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        store, photos, _ = await _small_ledger(tmp_path)
        photo = photos / "20261110" / "a-1.jpg"
        taken = datetime(2026, 11, 10, 1, 30, 4, tzinfo=ZoneInfo("UTC")).timestamp()
        os.utime(photo, (taken, taken))
        entry_id = await store.add_entry(parse_entry("machine", LOADER), "王五")
        await store.add_image(entry_id, NewFilingImage("nameplate", "20261110/a-1.jpg", 9), "王五")
        query = ledger_query("2026-11-10", "2026-11-10", "", "", SH)
        out, register = tmp_path / "ledger.zip", tmp_path / "machines.zip"
        try:
            send, close = file_sink(out)
            try:
                await stream_zip(store, query, send, SH, ExportSources(photos))
            finally:
                close()
            send, close = file_sink(register)
            try:
                await stream_register_zip(store, Register.MACHINE, send, photos, zone=SH)
            finally:
                close()
        finally:
            await store.close()
        now = datetime.now(SH)
        for target, name in (
            (out, "photos/20261110/a-1.jpg"),
            (register, "documents/20261110/a-1.jpg"),
        ):
            with zipfile.ZipFile(target) as archive:
                assert archive.getinfo(name).date_time == (2026, 11, 10, 9, 30, 4)  # 01:30 UTC
                book = datetime(*archive.getinfo(WORKBOOK_NAME).date_time, tzinfo=SH)
            assert abs((now - book).total_seconds()) < 120  # just written, on the site's clock
    finally:
        monkeypatch.undo()
        time.tzset()


async def test_goods_formulas_and_the_zip_with_its_images(tmp_path: Path) -> None:
    store, photos, serials = await _small_ledger(tmp_path)
    query = ledger_query("2026-11-10", "2026-11-10", "", "", SH)

    async def facts(plates: Any) -> dict[tuple[str, str], list[VehicleFacts]]:
        assert sorted(plates) == list(plates)
        yellow = VehicleFacts("LVIN1234567890123", "E1", "2020-01-02", "一车队")
        blue = VehicleFacts("LVIN_OF_ANOTHER_1", "E2", "2021-01-02", "二车队")
        return {("豫A11111", "1"): [yellow], ("豫A11111", "0"): [blue]}  # one plate, two vehicles

    sources = ExportSources(photo_root=photos, vehicles=facts)
    try:
        out = tmp_path / "ledger.zip"
        send, close = file_sink(out)
        try:
            done = await stream_zip(store, query, send, SH, sources)
        finally:
            close()
    finally:
        await store.close()
    assert (done.rows, done.images, done.missing) == (3, 1, 1)
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names[0] == WORKBOOK_NAME
        assert archive.read("photos/20261110/a-1.jpg") == b"\xff\xd8front\xff\xd9"
        assert archive.read("缺失文件.txt").decode() == "photos/20261110/gone-1.jpg\n"
        rows = _rows(io.BytesIO(archive.read(WORKBOOK_NAME)))
    lines = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [line["流水号"] for line in lines] == serials
    assert lines[0]["进出厂照片"] == "photos/20261110/a-1.jpg"
    assert lines[0]["进出厂照片"] in names
    assert (lines[0]["车辆识别代码(VIN)"], lines[0]["车队名称"]) == ("LVIN1234567890123", "一车队")
    assert (lines[1]["运输货物名称"], lines[1]["运输量(吨)"]) == ("煤炭", "25.5")
    assert lines[2]["号牌号码"] == "'=HYPERLINK(1)"  # never a formula
    assert (lines[0]["排放阶段"], lines[0]["燃料类型"], lines[0]["进出"]) == (
        "国五",
        "柴油",
        "进厂",
    )


async def test_a_corrected_pass_is_listed_with_its_corrected_plate(tmp_path: Path) -> None:
    """A guard's correction: the corrected plate and colour, that vehicle's facts and the
    platform's answer for it, and 车牌更正 with the camera's read; the others unchanged."""
    store, _photos, serials = await _small_ledger(tmp_path)
    misread = await store.find_pass(serials[1])
    assert misread is not None
    answer = VerifyAnswer(ControlFlag.CLEAR, fuel="C", emission="6")
    await store.add_correction(misread.id, "豫A22223", "0", answer, "张三", forward=False)
    asked: list[str] = []

    async def facts(plates: Any) -> dict[tuple[str, str], list[VehicleFacts]]:
        asked.extend(plates)
        return {
            ("豫A22223", "0"): [VehicleFacts("LVIN_OF_THE_RIGHT", "E9", "2022-01-02", "三车队")]
        }

    query = ledger_query("2026-11-10", "2026-11-10", "", "", SH)
    out = tmp_path / "ledger.xlsx"
    try:
        await write_workbook(store, query, out, SH, ExportSources(vehicles=facts))
        lines = [dict(zip(COLUMNS, row, strict=True)) for row in _rows(out)[1:]]
        filtered = {}  # the plate filter is the listed plate's: the corrected one where corrected
        for plate in ("豫A22223", "豫A22222", "豫A2", "豫A", "豫A1"):
            await write_workbook(store, replace(query, plate=plate), out, SH, page=1)
            filtered[plate] = [row[SERIAL] for row in _rows(out)[1:]]
    finally:
        await store.close()
    assert filtered == {
        "豫A22223": [serials[1]], "豫A22222": [], "豫A2": [serials[1]],
        "豫A": serials[:2], "豫A1": [serials[0]],
    }  # fmt: skip
    assert COLUMNS[-1] == "车牌更正"
    corrected = lines[1]
    assert (corrected["号牌号码"], corrected["号牌颜色"]) == ("豫A22223", "蓝")
    assert corrected["车牌更正"] == "已更正（相机识别：豫A22222，黄）"
    assert (corrected["车辆识别代码(VIN)"], corrected["排放阶段"]) == ("LVIN_OF_THE_RIGHT", "国六")
    assert "豫A22222" not in asked
    assert (lines[0]["号牌号码"], lines[0]["车牌更正"]) == ("豫A11111", None)


async def test_from_the_page_only_logged_in_and_audited(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    web = {"password_hash": hash_password("gate password 1")}
    async with running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon:
        cam = camera(daemon)
        pushed = await cam.push("豫A12345")
        await cam.aclose()
        base = f"http://127.0.0.1:{daemon.web.port}"
        today = datetime.now(SH).date().isoformat()
        query = {"from": today, "to": today}
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/api/ledger.xlsx", params=query)).status_code == 403
            login = await http.post(
                "/api/login", data={"user": "检查员", "password": "gate password 1"}
            )
            csrf = {"X-CSRF-Token": login.json()["csrf"]}
            bad = await http.get("/api/ledger.xlsx", params={"from": "x"}, headers=csrf)
            assert bad.status_code == 400
            assert bad.json()["error"] == "开始日期「x」不是日期，请写成 2020-05-01 这样的年-月-日"
            backwards = {"from": today, "to": "2020-01-01"}
            refused = await http.get("/api/ledger.xlsx", params=backwards, headers=csrf)
            assert refused.json()["error"] == "结束日期早于开始日期"
            got = await http.get("/api/ledger.xlsx", params=query, headers=csrf)
            assert got.status_code == 200
            rows = _rows(io.BytesIO(got.content))
            assert [row[SERIAL] for row in rows[1:]] == [pushed.body["serial"]]
            zipped = await http.get("/api/ledger.zip", params=query, headers=csrf)
            with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
                photo = f"photos/{rows[1][13].removeprefix('photos/')}"
                assert archive.namelist() == [WORKBOOK_NAME, photo]
        page = await logged_in(browser, base, "检查员")
        await page.fill("#export-form input[name=from]", today)
        await page.fill("#export-form input[name=to]", today)
        async with page.expect_download() as downloading:
            await page.click('#export-form button[data-format="xlsx"]')
        download = await downloading.value
        saved = tmp_path / "downloaded.xlsx"
        await download.save_as(saved)
        assert download.suggested_filename == f"台账-{today}-{today}.xlsx"
        assert _rows(saved)[1][3] == "豫A12345"
        await page.close()
        audit = await daemon.store.audit_log()
    exports = [
        (r.actor, r.result, r.detail) for r in reversed(audit) if r.action == "export ledger"
    ]
    assert [(actor, result) for actor, result, _ in exports] == [
        ("?", "refused"),
        ("检查员", "refused"),
        ("检查员", "refused"),
        ("检查员", "ok"),
        ("检查员", "ok"),
        ("检查员", "ok"),
    ]
    assert exports[2][2] == "to: the last day is before the first"  # the audit keeps English
    assert exports[3][2].endswith("xlsx: 1 rows")
    assert exports[4][2].endswith(" zip")


async def test_from_the_command_line(tmp_path: Path, platform_sim: CityPlatformSim) -> None:
    config = write_config(tmp_path / "edge.toml", platform_sim.base_url, state=f"{tmp_path}/")
    store, _photos, serials = await _small_ledger(tmp_path)
    await store.close()
    out = tmp_path / "cli.xlsx"
    argv = ["ledger", "export", "--config", str(config), "--from", "2026-11-10"]

    async def run(*more: str) -> int:
        return await asyncio.to_thread(main, [*argv, *more])  # its own loop, as a process

    assert await run("--to", "2026-11-10", "--out", str(out)) == 0
    assert [row[SERIAL] for row in _rows(out)[1:]] == serials
    assert await run("--to", "2026-11-09", "--out", str(out)) == 2  # before the first
    assert await run("--to", "2026-11-10", "--out", str(tmp_path / "x.csv")) == 2
    # "--gate 1" is gate 01; "--plate '豫 A1'" the plates starting 豫A1 (not 0 passes)
    typed = ("--gate", "1", "--plate", "豫 A1")
    assert await run("--to", "2026-11-10", *typed, "--out", str(out)) == 0
    assert [row[SERIAL] for row in _rows(out)[1:]] == serials[:1]
    assert await run("--to", "2026-11-10", "--gate", "A1", "--out", str(out)) == 2
    zipped = tmp_path / "cli.zip"
    assert await run("--to", "2026-11-10", "--plate", "豫A11111", "--out", str(zipped)) == 0
    with zipfile.ZipFile(zipped) as archive:
        assert archive.namelist() == [WORKBOOK_NAME, "photos/20261110/a-1.jpg"]


async def test_each_pass_shows_the_truck_its_plate_was_then(tmp_path: Path) -> None:
    """A plate 注销 and entered again for another truck: each pass shows the entry in force
    at its time (a pass before any entry: the first entry's — keyed in after its passes; a
    pass between the 注销 and the new entry: none); 排放阶段 and 燃料类型 fall back to that entry
    when the platform said none, and a stage the platform says otherwise shows both."""
    from edge.actions.inspection import vehicles_in
    from edge.domain.filing import EntryStatus
    from tests.test_filing import TRUCK

    now = [DAY.timestamp()]
    store = await Store.open(tmp_path / "edge.db", clock=lambda: now[0])
    said = VerifyAnswer(ControlFlag.CLEAR, fuel="B", emission="5")
    plate = "豫A33333"

    async def pass_at(minutes: int, answer: VerifyAnswer | None) -> None:
        now[0] = DAY.timestamp() + minutes * 60
        new = new_pass(plate=plate, when=DAY + timedelta(minutes=minutes),
                       decision=replace(OPEN, answer=answer))  # fmt: skip
        await store.record_pass(new, [])

    try:
        await pass_at(0, None)  # before any entry
        now[0] = DAY.timestamp() + 60
        old = {**TRUCK, "plate": plate, "vin": "LABCTRUCK00000001", "engine_no": "OLD1",
               "emission": "6"}  # fmt: skip
        first = await store.add_entry(parse_entry("vehicle", old), "clerk")
        await pass_at(2, said)  # the platform says 国五, the ledger 国六
        await pass_at(3, None)  # offline: the ledger's
        now[0] = DAY.timestamp() + 4 * 60
        await store.set_status(first, EntryStatus.CANCELLED, "clerk", None)
        await pass_at(5, None)  # between the 注销 and the new entry: no vehicle in force
        new = {**old, "vin": "LNEWTRUCK00000002", "engine_no": "NEW2", "emission": "D"}
        now[0] = DAY.timestamp() + 5 * 60 + 30
        await store.add_entry(parse_entry("vehicle", new), "clerk")
        await pass_at(6, None)
        out = tmp_path / "ledger.xlsx"
        query = ledger_query("2026-11-10", "2026-11-10", "", "", SH)
        sources = ExportSources(vehicles=vehicles_in(store))
        assert (await write_workbook(store, query, out, SH, sources)).rows == 5
    finally:
        await store.close()
    columns = [
        COLUMNS.index(c) for c in ("车辆识别代码(VIN)", "发动机号码", "排放阶段", "燃料类型")
    ]
    shown = [tuple(row[c] or "" for c in columns) for row in _rows(out)[1:]]
    assert shown == [
        ("LABCTRUCK00000001", "OLD1", "国六", ""),  # before the entry: the first entry's
        ("LABCTRUCK00000001", "OLD1", "国五（台账：国六）", "柴油"),
        ("LABCTRUCK00000001", "OLD1", "国六", ""),
        ("", "", "", ""),  # 注销, not entered again yet
        ("LNEWTRUCK00000002", "NEW2", "电动", "电"),
    ]


def test_when_an_entry_was_in_force_from_its_status_history() -> None:
    """Added, 注销, entered again: two spans; an entry with no history kept of it is taken
    as in force throughout (its export shows it, as before histories were read)."""
    inf = float("inf")
    assert spans_in_force("100:1|200:3|300:1") == ((100.0, 200.0), (300.0, inf))
    assert spans_in_force("100:1|150:2|200:3") == ((100.0, 200.0),)  # 封存 is still in force
    assert spans_in_force("100:1|200:3") == ((100.0, 200.0),)
    assert spans_in_force(None) == spans_in_force("") == ((-inf, inf),)
