"""The status page in a real browser (headless Chromium from Debian's packages, driven by
Playwright): it loads, shows the lanes, and a pass appears live without a reload."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from drivers.virtual import VirtualBarrier
from edge.sim.platform import CityPlatformSim, SimVehicle
from edge.web.auth import hash_password
from tests.helpers import GENERIC_LANE, camera, config_for, running_daemon

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing (scripts/system-packages installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        b = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


async def logged_in(browser: Browser, base: str, user: str) -> Page:
    """A page of the status page at ``base``, logged in as ``user`` (password as set above)."""
    page = await browser.new_page()
    await page.goto(f"{base}/")
    await page.fill("input[name=user]", user)
    await page.fill("input[name=password]", "gate password 1")
    await page.click("#login button")
    await expect(page.locator("#who")).to_have_text(f"已登录：{user}")
    return page


async def test_a_pass_appears_live(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{daemon.web.port}/")
        await expect(page.locator("h1")).to_have_text("出入口控制终端")
        await expect(page.locator("#live")).to_have_text("实时更新")  # the event stream is open
        await expect(page.locator(".lane")).to_contain_text("道闸：正常")
        barrier = daemon.lanes["in-1"].devices.barrier
        barrier.health.failed("relay timeout at 10:02")  # an error from before it came back
        await page.reload()
        await expect(page.locator(".lane").first).to_contain_text("道闸：正常")
        await expect(page.locator(".lane").first).not_to_contain_text("relay timeout")
        cam = camera(daemon)
        allowed = await cam.push("豫A12345")
        refused = await cam.push("豫B6789G")
        await cam.aclose()
        rows = page.locator("#recent tr")
        await expect(rows.first).to_contain_text("豫B6789G")  # newest first, no reload
        await expect(
            page.locator(f'#recent tr[data-serial="{refused.body["serial"]}"]')
        ).to_contain_text("国四柴油 重污染管控")
        await expect(
            page.locator(f'#recent tr[data-serial="{allowed.body["serial"]}"]')
        ).to_contain_text("放行")
        await expect(page.locator("#link")).to_have_text("在线")
        await expect(page.locator('.lane[data-lane="in-1"] .last')).to_contain_text("豫B6789G 禁止")
        await expect(page.locator("#figures")).to_contain_text("合计")
        await page.close()


async def test_the_page_is_safe_to_serve(tmp_path: Path, platform_sim: CityPlatformSim) -> None:
    async with (
        running_daemon(config_for(tmp_path, platform_sim)) as daemon,
        httpx.AsyncClient() as http,
    ):
        page = await http.get(f"http://127.0.0.1:{daemon.web.port}/")
        status = (await http.get(f"http://127.0.0.1:{daemon.web.port}/api/status")).json()
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "sim-password" not in page.text + str(status)  # no secret ever reaches the page
    assert status["lanes"][0]["id"] == "in-1"
    assert status["plan"] is None


async def test_log_in_open_a_barrier_and_find_it_in_the_audit(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    web = {"password_hash": hash_password("gate password 1")}
    async with running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon:
        barrier = daemon.lanes["in-1"].devices.barrier
        assert isinstance(barrier, VirtualBarrier)
        base = f"http://127.0.0.1:{daemon.web.port}"
        async with httpx.AsyncClient() as http:  # no session: refused, and audited
            refused = await http.post(f"{base}/api/lanes/in-1/open", json={"reason": "x"})
        assert refused.status_code == 403
        page = await browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept("货车司机手续齐全"))
        await page.goto(f"{base}/")
        await page.fill("input[name=user]", "门卫张三")
        await page.fill("input[name=password]", "wrong")
        await page.click("#login button")
        await expect(page.locator("#message")).to_contain_text("密码错误")
        await page.fill("input[name=password]", "gate password 1")
        await page.click("#login button")
        await expect(page.locator("#who")).to_have_text("已登录：门卫张三")
        await page.click('button.open[data-lane="in-1"]')
        await expect(page.locator("#message")).to_have_text("in-1 已开闸")
        assert len(barrier.openings) == 1
        audit = await daemon.store.audit_log()
        await page.close()
    entries = [(r.actor, r.action, r.result) for r in reversed(audit)]
    assert entries == [
        ("?", "open barrier", "refused"),
        ("门卫张三", "login", "refused"),
        ("门卫张三", "login", "ok"),
        ("门卫张三", "open barrier", "ok"),
    ]
    assert audit[0].origin == "127.0.0.1"
    assert "货车司机手续齐全" in audit[0].detail


async def test_without_a_password_no_action_is_possible(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with (
        running_daemon(config_for(tmp_path, platform_sim)) as daemon,
        httpx.AsyncClient() as http,
    ):
        reply = await http.post(
            f"http://127.0.0.1:{daemon.web.port}/api/login", data={"user": "a", "password": ""}
        )
    assert reply.status_code == 403
    assert "edge set-password" in reply.json()["error"]


async def test_history_search_csv_and_dead_letter_retry(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    web = {"password_hash": hash_password("gate password 1")}
    async with running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon:
        cam = camera(daemon)
        for plate in ("豫A12345", "豫B6789G", "晋E55123"):
            await cam.push(plate)
        await cam.aclose()
        base = f"http://127.0.0.1:{daemon.web.port}"
        async with httpx.AsyncClient() as http:
            found = (await http.get(f"{base}/api/passes", params={"verdict": "refuse"})).json()
            csv_reply = await http.get(f"{base}/api/passes.csv", params={"plate": "a123"})
            refused = await http.post(f"{base}/api/outbox/1/retry")
        assert [p["plate"] for p in found] == ["晋E55123", "豫B6789G"]  # newest first
        text = csv_reply.content.decode("utf-8-sig")
        assert text.splitlines()[0].startswith("流水号,车道")
        assert "豫A12345" in text
        assert "豫B6789G" not in text
        assert refused.status_code == 403

        page = await browser.new_page()
        await page.goto(f"{base}/")
        await page.fill("#search input[name=plate]", "B6789")
        await page.click("#search button")
        await expect(page.locator("#history")).to_contain_text("共 1 条")
        await expect(page.locator("#history")).to_contain_text("国四柴油 重污染管控")
        await page.fill("#search input[name=from]", "2026-11-21")
        await page.fill("#search input[name=to]", "2026-11-20")
        await page.click("#search button")
        await expect(page.locator("#history")).to_have_text(
            "结束日期（to）2026-11-20 早于开始日期（from）2026-11-21，请改正后再查询"
        )
        await page.fill("#search input[name=from]", "")
        await page.fill("#search input[name=to]", "")

        await daemon.store.mark_dead(1, "952 记录格式校验失败")  # a dead letter to retry
        await page.fill("input[name=user]", "值班员王五")
        await page.fill("input[name=password]", "gate password 1")
        await page.click("#login button")
        dead = page.locator('#dead tr:has(button.retry[data-id="1"])')
        await expect(dead).to_contain_text("952 记录格式校验失败")
        await expect(dead).to_contain_text(re.compile("通行记录|过车照片"))  # not record / photo
        await page.click('button.retry[data-id="1"]')
        await expect(page.locator("#message")).to_have_text("已重新排队上传")
        audit = await daemon.store.audit_log()
        await page.close()
    assert (audit[0].actor, audit[0].action, audit[0].result) == (
        "值班员王五", "retry dead letter", "ok",
    )  # fmt: skip
    assert audit[-1].result == "refused"  # the request without a session


async def test_lists_and_plans_from_the_page(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    platform_sim.vehicles["豫H40002"] = SimVehicle("2", "B", "6")  # the gate's plan judges it
    web = {"password_hash": hash_password("gate password 1")}
    cfg = config_for(tmp_path, platform_sim, web=web, decision={"duplicate_window_seconds": 0})
    async with running_daemon(cfg) as daemon:
        base = f"http://127.0.0.1:{daemon.web.port}"
        async with httpx.AsyncClient() as http:
            refused = await http.post(f"{base}/api/plans", json={"name": "x", "strategy": 7})
        assert refused.status_code == 403
        page = await logged_in(browser, base, "环保专员赵六")
        await page.fill("#list-form input[name=plate]", "豫A12345")
        await page.fill("#list-form input[name=reason]", "欠费停运")
        await page.click("#list-form button")
        await expect(page.locator("#lists")).to_contain_text("豫A12345")
        await page.fill("#plan-form input[name=name]", "红色预警")
        await page.select_option("#plan-form select[name=strategy]", "7")
        await page.click("#plan-form button")
        await expect(page.locator("#plans")).to_contain_text("停止车辆运输")
        cam = camera(daemon)
        denied = await cam.push("豫A12345")
        stopped = await cam.push("豫H40002")
        await page.click("button.close-plan")
        await expect(page.locator("#plans")).not_to_contain_text("红色预警")
        await page.click("button.remove")
        await expect(page.locator("#lists")).not_to_contain_text("豫A12345")
        await daemon.plans.refresh()
        allowed = await cam.push("豫A12345")
        await cam.aclose()
        audit = await daemon.store.audit_log()
        await page.close()
    assert denied.body["reason"] == "欠费停运"
    assert stopped.body["reason"] == "停止车辆运输"
    assert allowed.body["verdict"] == "open"
    actions = [(r.action, r.result) for r in reversed(audit) if r.action != "login"]
    assert actions == [
        ("start plan", "refused"),
        ("add list entry", "ok"),
        ("start plan", "ok"),
        ("close plan", "ok"),
        ("remove list entry", "ok"),
    ]


THREE_LANES = [
    {**GENERIC_LANE, "name": "1号门 入口"},
    {**GENERIC_LANE, "id": "out-1", "name": "1号门 出口", "direction": "out"},
    {**GENERIC_LANE, "id": "in-2", "gate_code": "02"},  # no name: its id and direction
]


async def test_camera_states_lane_names_and_site_times(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim, lanes=THREE_LANES)) as daemon:
        cam = camera(daemon)
        passed = await cam.push("豫A12345")  # in-1 heard just now: online
        await cam.aclose()
        out = daemon.lanes["out-1"].camera
        out.heard(time.time() - 2 * out.expected_seconds)  # heard, but long ago: silent
        row = await daemon.store.find_pass(passed.body["serial"])
        assert row is not None
        # a browser in another zone still shows the site's time
        page = await browser.new_page(timezone_id="America/New_York")
        await page.goto(f"http://127.0.0.1:{daemon.web.port}/")
        cards = {lane: page.locator(f'.lane[data-lane="{lane}"]') for lane in daemon.lanes}
        await expect(cards["in-1"].locator("b")).to_have_text("1号门 入口")  # not doubled
        await expect(cards["in-2"].locator("b")).to_have_text("in-2（入口）")
        await expect(cards["in-1"]).to_contain_text("相机：在线")
        await expect(cards["out-1"]).to_contain_text("相机：长时间无数据")
        await expect(cards["in-2"]).to_contain_text("相机：从未收到数据")  # never green
        state = page.locator('.lane[data-lane="in-2"] [data-state]')
        await expect(state).to_have_attribute("data-state", "never")
        recent = page.locator(f'#recent tr[data-serial="{passed.body["serial"]}"]')
        site_time = datetime.fromtimestamp(row.received_at, SH).strftime("%H:%M:%S")
        await expect(recent).to_contain_text(site_time)
        await expect(recent).to_contain_text("1号门 入口")
        await expect(recent).not_to_contain_text("in-1")
        await page.close()


async def test_refuse_and_correct_from_the_page(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    web = {"password_hash": hash_password("gate password 1")}
    async with running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon:
        barrier = daemon.lanes["in-1"].devices.barrier
        assert isinstance(barrier, VirtualBarrier)
        cam = camera(daemon)
        misread = str((await cam.push("豫A12845")).body["serial"])
        await cam.aclose()
        await daemon.lanes["in-1"].drain()
        opened = len(barrier.openings)
        base = f"http://127.0.0.1:{daemon.web.port}"
        async with httpx.AsyncClient() as http:  # without a session: refused, and audited
            for url in (f"{base}/api/lanes/in-1/refuse", f"{base}/api/passes/{misread}/correct"):
                reply = await http.post(url, json={"reason": "x", "plate": "豫A12345"})
                assert reply.status_code == 403
        page = await logged_in(browser, base, "门卫张三")
        await page.select_option("#refuse-form select[name=lane]", "in-1")
        await page.fill("#refuse-form input[name=plate]", "豫B6789G")
        await page.fill("#refuse-form input[name=reason]", "证件不全")
        await page.click("#refuse-form button")
        await expect(page.locator("#message")).to_have_text("已完成")
        await expect(page.locator("#recent tr").first).to_contain_text("豫B6789G")
        await expect(page.locator("#recent tr").first).to_contain_text("禁止")
        await page.fill("#correct-form input[name=serial]", misread)
        await page.fill("#correct-form input[name=plate]", "豫A12345")
        await page.click("#correct-form button")
        await expect(page.locator("#message")).to_have_text("已完成")
        await page.fill("#correct-form input[name=serial]", "411002000101A200101000000")
        await page.fill("#correct-form input[name=plate]", "豫A12345")
        await page.click("#correct-form button")
        await expect(page.locator("#message")).to_have_text("no such pass")
        assert len(barrier.openings) == opened  # a refusal never moves the barrier
        audit = await daemon.store.audit_log()
        await page.close()
    entries = [(r.actor, r.action, r.result) for r in reversed(audit)]
    assert entries == [
        ("?", "refuse vehicle", "refused"),
        ("?", "correct plate", "refused"),
        ("门卫张三", "login", "ok"),
        ("门卫张三", "refuse vehicle", "ok"),
        ("门卫张三", "correct plate", "ok"),
        ("门卫张三", "correct plate", "failed"),
    ]
    assert "证件不全" in audit[2].detail
    assert "豫A12345" in audit[1].detail


def _cjk_font_installed() -> bool:
    fc_list = shutil.which("fc-list")
    found = (
        fc_list is not None
        and subprocess.run(
            [fc_list, ":lang=zh"], capture_output=True, text=True, check=False, timeout=30
        ).stdout.strip()
    )
    if not found and os.environ.get("CI") == "true":
        pytest.fail("no Chinese font (scripts/system-packages installs fonts-noto-cjk)")
    return bool(found)


async def test_phone_width_keeps_reasons_readable(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    if not _cjk_font_installed():
        pytest.skip("no Chinese font: the page would show boxes (apt-get install fonts-noto-cjk)")
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        cam = camera(daemon)
        await cam.push("豫B6789G")  # refused with a long reason
        await cam.aclose()
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await page.goto(f"http://127.0.0.1:{daemon.web.port}/")
        reason = page.locator("#recent td.reason").first
        await expect(reason).to_contain_text("国四柴油 重污染管控")
        box = await reason.bounding_box()
        assert box is not None
        assert box["width"] >= 5 * 14  # five characters or more a line, never one
        shot = await page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        assert shot.startswith(b"\x89PNG")
        await page.close()


async def test_the_replicas_lag_shows_red_while_behind_and_green_once_back(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    """Issue 17's line on the page: 「异地备份」 red with the Chinese advice while the share is
    not mounted (its directory missing), green with the last sync once it is (no reload)."""
    share = tmp_path / "nas" / "gate-01"
    replica = {
        "type": "file",
        "path": str(share),
        "photos": False,
        "sync_interval_seconds": 0.1,
        "check_interval_seconds": 0.2,
        "lag_alarm_seconds": 2,
    }
    async with running_daemon(config_for(tmp_path, platform_sim, replica=replica)) as daemon:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{daemon.web.port}/")
        line = page.locator("#replica")
        await expect(page.locator("#replica-box")).to_be_visible()
        await expect(line).to_contain_text("请检查备份位置", timeout=30_000)
        await expect(line).to_have_class("bad")
        await expect(line).to_contain_text("尚未同步")
        share.mkdir(parents=True)  # the share is mounted
        await expect(line).to_contain_text("上次同步", timeout=30_000)
        await expect(line).to_have_class("ok")
        await expect(line).not_to_contain_text("请检查")
        await page.close()


async def test_a_dead_filing_shows_among_the_failed_uploads_and_is_retried(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    """上传失败（需处理） lists the electronic ledger's dead filings beside the passes', with a
    button that sends the filing again (audited as a filing retry)."""
    from edge.domain.filing import parse_entry
    from edge.ledger.rows import NewFilingImage
    from tests.test_filing import TRUCK

    web = {"password_hash": hash_password("gate password 1")}
    async with running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon:
        entry_id = await daemon.store.add_entry(parse_entry("vehicle", TRUCK), "clerk",
                                                file_to="city")  # fmt: skip
        (row,) = await daemon.store.filing_outbox_of(entry_id)
        await daemon.store.filing_answered(row.id, "shareVehInfo", accepted=False,
                                           answer="企业授权码错误")  # fmt: skip
        other = {**TRUCK, "plate": "豫A54321", "vin": "LZZAELJD5KA543210"}
        lost = NewFilingImage("driving_license", "filings/gone.jpg", 1000)  # its file is gone
        other_id = await daemon.store.add_entry(parse_entry("vehicle", other), "clerk", [lost],
                                                file_to="city")  # fmt: skip
        (english,) = await daemon.store.filing_outbox_of(other_id)
        base = f"http://127.0.0.1:{daemon.web.port}"
        page = await logged_in(browser, base, "值班员王五")
        failed = page.locator(f'#dead tr[data-filing="{row.id}"]')
        await expect(failed).to_contain_text("豫A12345")
        await expect(failed).to_contain_text("台账备案（市）")
        gone = page.locator(f'#dead tr[data-filing="{english.id}"]')
        await expect(gone).to_contain_text("证件图片文件已丢失：请在台账中重新上传", timeout=15_000)
        await expect(gone).not_to_contain_text("missing")  # the ledger's English stays there
        await page.click(f'#dead button.retry-filing[data-id="{row.id}"]')
        await expect(page.locator("#message")).to_have_text("已重新排队上传")
        audit = await daemon.store.audit_log()
        await page.close()
    assert any(a.action == "retry filing" and a.result == "ok" for a in audit), audit
