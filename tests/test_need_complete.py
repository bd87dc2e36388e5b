"""The 待完善 list (issue 15): a pass whose verify answer says isNeedComplete 1 or 2 puts its
plate on the list with that pass, a later answer saying 0 takes it off, the platform's own list
(GetNeedCompleteVehEx) and an accepted filing add and remove plates; the status page flags
such a pass live and lists the plates, in a real browser, in both platform modes."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, expect
from structlog.testing import capture_logs

from edge.domain.codes import ControlFlag
from edge.domain.filing import parse_entry
from edge.domain.reports import VerifyAnswer
from edge.ledger.database import register_functions
from edge.ledger.schema import MIGRATIONS
from edge.ledger.store import Store
from edge.sim.platform import PlatformSim, SimVehicle
from edge.sim.province import ProvincePlatformSim
from edge.uplink.need_complete_poll import added_at, poll_need_complete
from edge.uplink.platform.city_models import CheckVehicleResult
from edge.uplink.platform.errors import RetryableError
from edge.uplink.platform.province_models import NeedCompleteVehicle
from tests.helpers import camera, config_for, eventually, running_daemon
from tests.test_status_page import browser  # noqa: F401 - the fixture
from tests.test_store import OPEN, new_pass

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=SH)


def _answer(level: str) -> VerifyAnswer:
    return VerifyAnswer(ControlFlag.CLEAR, fuel="B", emission="6", need_complete=level)


async def _record(store: Store, plate: str, level: str | None, minutes: int) -> str:
    when = NOW + timedelta(minutes=minutes)
    answer = None if level is None else _answer(level)
    flag = "needs-registration" if level in ("1", "2") else None
    new = new_pass(plate=plate, when=when, decision=replace(OPEN, answer=answer, flag=flag))
    await store.record_pass(new, [])
    return new.serial


async def test_the_list_follows_the_answers(tmp_path: Path) -> None:
    filed_at = (NOW + timedelta(minutes=6)).timestamp()
    store = await Store.open(tmp_path / "edge.db", clock=lambda: filed_at)
    try:
        first = await _record(store, "豫A11111", "2", 0)
        await _record(store, "豫A22222", "1", 1)
        await _record(store, "豫A33333", "0", 2)
        await _record(store, "豫A44444", None, 3)  # no answer (offline): nothing said
        listed = await store.need_complete()
        assert [(n.plate, n.level, n.source) for n in listed] == [
            ("豫A22222", "1", "verify"),
            ("豫A11111", "2", "verify"),
        ]  # newest first
        assert (listed[1].serial, listed[1].lane_id) == (first, "in-1")
        again = await _record(store, "豫A11111", "2", 4)  # seen again: the latest pass
        assert (await store.need_complete())[0].serial == again
        await _record(store, "豫A22222", "0", 5)  # the platform now says it is complete
        assert [n.plate for n in await store.need_complete()] == ["豫A11111"]
        assert await store.need_completed("豫A11111", "1")  # its filing was accepted
        assert not await store.need_completed("豫A11111", "1")
        assert await store.need_complete() == []
        # the platform's list: a new plate, and one completed before the platform listed it
        added = (NOW + timedelta(minutes=10)).timestamp()
        assert await store.note_need_complete("豫A55555", "1", added)
        assert await store.note_need_complete("豫A11111", "1", added)
        assert not await store.note_need_complete("豫A55555", "1", added)  # already listed
        early = (NOW + timedelta(minutes=4)).timestamp()  # listed before it was completed
        assert not await store.note_need_complete("豫A22222", "1", early)
        listed = await store.need_complete()
        assert {(n.plate, n.level, n.source, n.serial) for n in listed} == {
            ("豫A55555", "", "platform", None),
            ("豫A11111", "", "platform", None),
        }
        assert len(await store.need_complete(limit=1)) == 1
    finally:
        await store.close()


async def test_the_migration_lists_what_the_ledger_already_held(tmp_path: Path) -> None:
    """A ledger written before migration 14 gets its list from its passes."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    await _record(store, "豫A11111", "2", 0)
    await _record(store, "豫A11111", "2", 1)
    await _record(store, "豫A33333", "0", 2)
    await _record(store, "豫A22222", "1", 3)
    await _record(store, "豫A22222", "0", 4)  # completed since
    await store.close()
    db = sqlite3.connect(path)
    register_functions(db)  # the figures' triggers fire as the answers are rewritten
    db.executescript(
        "DROP TRIGGER need_complete_shown; DROP TRIGGER need_complete_cleared; "
        "DROP TRIGGER IF EXISTS need_complete_filed; DROP TRIGGER IF EXISTS need_complete_refiled; "
        "DROP TABLE need_complete; DROP INDEX weighings_first_serial; "
        "DROP INDEX weighings_second_serial; DROP INDEX transport_plans_used;"
        # migration 16 (the scale's pending reads) is run again too
        "DROP TABLE scale_reads; DROP INDEX weighings_unmatched; "
        "ALTER TABLE weighings DROP COLUMN candidates; "
        "ALTER TABLE weighings DROP COLUMN first_photo; "
        "ALTER TABLE weighings DROP COLUMN second_photo;"
        # migrations 21 (its weighings' columns go with the rebuilds of 18 and 19) and 22
        "DROP INDEX outbox_weighing; DROP TABLE camera_messages; "
        "CREATE INDEX passes_code ON passes (reason_code, id);"
        # migration 24
        "DROP INDEX corrections_pass;"
    )
    # as versions before the list wrote the answer: need_complete spelled out even when '0'
    db.execute(
        "UPDATE passes SET verify_json = json_set(verify_json, '$.need_complete', "
        "coalesce(verify_json ->> '$.need_complete', '0')) WHERE verify_json IS NOT NULL"
    )
    mine = next(i for i, sql in enumerate(MIGRATIONS) if "CREATE TABLE need_complete" in sql)
    db.execute(f"PRAGMA user_version = {mine}")  # the ledger as it was before the list
    db.commit()
    db.close()
    store = await Store.open(path)
    try:
        listed = await store.need_complete()
        assert [(n.plate, n.level) for n in listed] == [("豫A11111", "2")]
        assert listed[0].seen_at == (NOW + timedelta(minutes=1)).timestamp()
    finally:
        await store.close()


def test_a_city_answer_may_say_it_too() -> None:
    """Beyond the city spec: isNeedComplete read as VehVerifyEx defines it, anything else 0."""
    said = CheckVehicleResult.model_validate({"isControl": 0, "isNeedComplete": 2})
    assert said.isNeedComplete == "2"
    assert CheckVehicleResult.model_validate({"isControl": "0"}).isNeedComplete == "0"


async def test_flagged_live_and_listed_in_both_modes(
    tmp_path: Path,
    any_platform: PlatformSim,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    any_platform.vehicles["豫H70001"] = SimVehicle("0", "B", "6", need_complete="2")
    async with running_daemon(config_for(tmp_path, any_platform)) as daemon:
        base = f"http://127.0.0.1:{daemon.web.port}"
        page = await browser.new_page()
        await page.goto(f"{base}/")
        await expect(page.locator("#live")).to_have_text("实时更新")
        if isinstance(any_platform, ProvincePlatformSim):  # its GetNeedCompleteVehEx lists it
            await expect(page.locator("#need-complete")).to_contain_text("豫H70001")
            await expect(page.locator("#need-complete")).to_contain_text("平台名单")
        else:
            await expect(page.locator("#need-complete")).to_have_text("无")
        cam = camera(daemon)
        flagged = await cam.push("豫H70001")
        plain = await cam.push("豫A12345")
        await cam.aclose()
        row = page.locator(f'#recent tr[data-serial="{flagged.body["serial"]}"]')
        await expect(row).to_contain_text("待完善：备案信息不完整")
        await expect(row).to_have_attribute("data-need-complete", "2")
        other = page.locator(f'#recent tr[data-serial="{plain.body["serial"]}"]')
        await expect(other).to_contain_text("放行")
        await expect(other.locator(".need-complete")).to_have_count(0)
        listed = page.locator('#need-complete tr[data-plate="豫H70001"]')
        await expect(listed).to_contain_text("备案信息不完整")
        await expect(listed).to_contain_text(flagged.body["serial"])
        await expect(page.locator("#need-complete tr")).to_have_count(1)
        await page.close()
        async with httpx.AsyncClient() as http:
            status = (await http.get(f"{base}/api/status")).json()
    assert [(n["plate"], n["level"], n["serial"]) for n in status["need_complete"]] == [
        ("豫H70001", "2", flagged.body["serial"])
    ]


async def test_an_accepted_filing_completes_the_plate(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "edge.db")
    try:
        await _record(store, "豫A11111", "2", 0)
        await _record(store, "豫A22222", "2", 1)
        form = {"plate": "豫A11111", "plate_color": "1", "vin": "LVN11234567890123",
                "engine_no": "E1", "register_date": "2020-01-01", "emission": "6"}  # fmt: skip
        entry = await store.add_entry(parse_entry("vehicle", form), "clerk", [], "province")
        (due,) = await store.due_filings(10)
        await store.filing_answered(due.id, "VehElecAccountAdd", accepted=False, answer="VIN 错")
        assert {n.plate for n in await store.need_complete()} == {"豫A11111", "豫A22222"}
        await store.queue_filing(entry, "province")
        (due,) = await store.due_filings(10)
        await store.filing_answered(due.id, "VehElecAccountAdd", accepted=True, answer="",
                                    license_pk="PK1")  # fmt: skip
        assert [n.plate for n in await store.need_complete()] == ["豫A22222"]
    finally:
        await store.close()


async def test_the_province_list_fills_it(tmp_path: Path) -> None:
    """GetNeedCompleteVehEx read when the daemon starts: its plates are listed (no pass)."""
    sim = ProvincePlatformSim()
    sim.need_complete = [("豫A12345", "1", "20261201080000"), ("豫B22222", "2", "")]
    await sim.start()
    try:
        async with running_daemon(config_for(tmp_path, sim)) as daemon:

            async def both_listed() -> bool:
                return len(await daemon.store.need_complete()) == 2

            await eventually(both_listed, timeout=10)
            listed = await daemon.store.need_complete()
    finally:
        await sim.stop()
    assert {(n.plate, n.plate_color, n.source, n.serial) for n in listed} == {
        ("豫A12345", "1", "platform", None),
        ("豫B22222", "2", "platform", None),
    }
    assert added_at("20261201080000", SH, 0) == NOW.timestamp()
    assert added_at("", SH, 5.0) == 5.0


async def test_a_failed_read_of_the_list_is_retried_soon_with_a_capped_backoff(
    tmp_path: Path,
) -> None:
    """The platform away when the daemon starts: GetNeedCompleteVehEx is read again after
    30 s, 60 s, … at most 300 s — not after the 1800 s between good reads — logged once when
    unavailable and once when back; after a good read the next waits the full period."""
    outcomes: list[bool] = [False] * 6 + [True, False, True]
    waits: list[float] = []

    async def fetch() -> list[NeedCompleteVehicle]:
        if not outcomes.pop(0):
            raise RetryableError("connection refused")
        return [NeedCompleteVehicle(license="豫A12345", licenseColor="1", addDate="")]

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if not outcomes:
            raise asyncio.CancelledError

    store = await Store.open(tmp_path / "edge.db", clock=lambda: 1000.0)
    try:
        with capture_logs() as logs, pytest.raises(asyncio.CancelledError):
            await poll_need_complete(fetch, store, ZoneInfo("Asia/Shanghai"), clock=lambda: 1.0,
                                     sleep=sleep)  # fmt: skip
        assert [n.plate for n in await store.need_complete()] == ["豫A12345"]
    finally:
        await store.close()
    assert waits == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0, 1800.0, 30.0, 1800.0]
    events = [e["event"] for e in logs if "need-complete" in e["event"]]
    assert events == [
        "need-complete list unavailable; trying again soon",
        "need-complete list readable again",
        "need-complete list unavailable; trying again soon",
        "need-complete list readable again",
    ]
