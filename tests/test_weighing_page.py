"""The weighings without a plate on the status page (issue 16), in a real browser: a weighing
held as 待确认车牌 shows its candidate plates and a clerk picks one; an unmatched weighing is
given a typed plate; both audited; a first weighing past the maximum time shows as 已超时 at
once."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, expect

from edge.daemon import Daemon
from edge.gate.weighbridge import Weighbridge
from edge.ledger.rows import NewWeighing
from edge.sim.jpeg import jpeg_label
from edge.sim.platform import CityPlatformSim
from edge.sim.scale import ScaleSim
from edge.web.auth import hash_password
from tests.helpers import GENERIC_LANE, camera, config_for, eventually, running_daemon
from tests.test_snapshot import _snapshot_server
from tests.test_status_page import browser, logged_in
from tests.test_weighbridge import EXIT_LANE

__all__ = ["browser"]  # the fixture, shared with the status page's tests


@asynccontextmanager
async def scale_daemon(
    tmp_path: Path,
    platform: CityPlatformSim,
    entry: dict[str, Any] | None = None,
    name: str = "",
    **sections: Any,
) -> AsyncIterator[tuple[Daemon, Weighbridge, ScaleSim, httpx.AsyncClient]]:
    """A daemon with an entry (``entry``, else the generic lane) and an exit lane beside one
    scale (Toledo over a pty, a short hold; ``name``: its name for guards), its indicator
    connected."""
    path = tmp_path / "scale"
    scale = {"port": str(path), "protocol": "toledo", "framing": "8N1", "stable_seconds": 0.3,
             "name": name}  # fmt: skip
    lanes = [entry or GENERIC_LANE, EXIT_LANE]
    scales = {"main": {**scale, "lanes": ["in-1", "out-1"]}}
    cfg = config_for(tmp_path, platform, lanes=lanes, scales=scales, **sections)
    async with (
        ScaleSim(path, "toledo", period=0.02) as sim,
        running_daemon(cfg) as daemon,
        httpx.AsyncClient() as http,
    ):
        bridge = daemon.components.weighbridges["main"]
        await eventually(lambda: bridge.detector.seen_empty, timeout=5)
        yield daemon, bridge, sim, http


async def test_a_clerk_gives_held_and_unmatched_weighings_their_plates(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    web = {"password_hash": hash_password("gate password 1")}
    async with scale_daemon(tmp_path, platform_sim, web=web) as (daemon, bridge, sim, http):
        base = f"http://127.0.0.1:{daemon.web.port}"
        cam = camera(daemon, "in-1")
        await cam.push("豫A11111")
        await cam.push("豫B22222")  # two trucks read before either weighs
        await cam.aclose()
        await eventually(lambda: len(bridge._noting) == 0, timeout=5)
        await sim.weigh(Decimal(35680), eventually(lambda: bridge.weighings == 1, timeout=30))
        await sim.weigh(Decimal(31000), eventually(lambda: bridge.weighings == 2, timeout=30))
        refused = await http.post(f"{base}/api/weighings/1/plate", json={"plate": "豫A11111"})
        assert refused.status_code == 403  # no session, no CSRF token

        page = await logged_in(browser, base, "过磅员李四")
        rows = page.locator("#unmatched-weighings tr")
        await expect(rows).to_have_count(2)
        held = page.locator('#unmatched-weighings tr[data-weighing="1"]')
        await expect(held).to_contain_text("待确认车牌")
        # each candidate says how long before the weighing it was read (a stray one is old)
        await expect(held).to_contain_text(
            re.compile(r"候选：豫A11111（过磅前 \d+ 秒识别）、豫B22222（过磅前 ")
        )
        await held.locator("button.candidate", has_text="豫A11111").click()
        await expect(page.locator("#message")).to_have_text("已完成")
        await expect(rows).to_have_count(1)
        await expect(page.locator("#open-weighings")).to_contain_text("豫A11111")
        # the other one: the read picked for the first is no longer its candidate
        other = page.locator('#unmatched-weighings tr[data-weighing="2"]')
        await expect(other).to_contain_text("候选：豫B22222")
        await expect(other).not_to_contain_text("豫A11111")
        # the clerk drops 豫B22222's read as a stray one (排除): no candidate of a new weighing
        await other.locator("button.drop-read", has_text="豫B22222").click()
        await expect(page.locator("#message")).to_have_text("已完成")
        await expect(other).to_contain_text("已排除")
        await expect(other.locator("button.drop-read")).to_have_count(0)
        assert await daemon.store.pending_reads("main", 0) == []
        # a typed plate instead (a truck its camera did not read), yellow
        await other.locator("input[name=plate]").fill("豫C33333")
        await other.locator("form.plate-form > button:not(.candidate)").click()
        await expect(page.locator("#unmatched-weighings")).to_contain_text("无")
        await expect(page.locator("#open-weighings")).to_contain_text("豫C33333")
        audit = await daemon.store.audit_log()
        weighings = await daemon.store.open_weighings(0)
        await page.close()
    assert {(w.id, w.plate) for w in weighings} == {(1, "豫A11111"), (2, "豫C33333")}
    assert weighings[1].plate_color == "1"  # typed: yellow, as the form chose
    picks = [(r.actor, r.action, r.target, r.result) for r in reversed(audit)]
    assert [p for p in picks if p[1] != "drop scale read"][-2:] == [
        ("过磅员李四", "assign weighing plate", "1", "ok"),
        ("过磅员李四", "assign weighing plate", "2", "ok"),
    ]
    assert [(p[0], p[3]) for p in picks if p[1] == "drop scale read"] == [("过磅员李四", "ok")]
    assert ("assign weighing plate", "1", "refused") in [
        (r.action, r.target, r.result) for r in audit
    ]


async def test_an_expired_first_weighing_shows_at_once(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """Past the maximum time between weighings a first weighing is reported as expired on the
    status page without waiting for the next weighing."""
    weighing = {"max_hours_between": 0.002}  # 7.2 s
    async with scale_daemon(tmp_path, platform_sim, weighing=weighing) as (
        daemon, bridge, sim, http,
    ):  # fmt: skip
        status_url = f"http://127.0.0.1:{daemon.web.port}/api/status"
        cam = camera(daemon, "in-1")
        await cam.push("豫A12345")
        await cam.aclose()
        sim.set_weight(Decimal(35680))
        await eventually(lambda: bridge.weighings == 1, timeout=5)

        async def shown() -> list[tuple[str, str]]:
            opened = (await http.get(status_url)).json()["weighings"]["open"]
            return [(w["plate"], w["state"]) for w in opened]

        async def expired() -> bool:
            return await shown() == [("豫A12345", "expired")]

        assert await shown() == [("豫A12345", "open")]
        await eventually(expired, timeout=15)
        assert (await daemon.store.weighing(1)).state == "open"  # not marked: only shown


async def test_a_weighing_without_a_plate_read_keeps_a_snapshot_of_the_scale_lane(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """No plate read for the truck on the scale: the scale lane's camera is asked for a
    snapshot, kept with the weighing, listed beside it and served (the ledger's tests: it
    stays with the weighing once a plate completes its pair)."""
    runner, url = await _snapshot_server()
    cam_auth = {"url": url, "username": "admin", "password": "cam-pass", "auth": "basic"}
    entry = {**GENERIC_LANE, "snapshot": cam_auth}
    try:
        async with scale_daemon(tmp_path, platform_sim, entry) as (daemon, bridge, sim, http):
            base = f"http://127.0.0.1:{daemon.web.port}"
            sim.set_weight(Decimal(30000))
            await eventually(lambda: bridge.weighings == 1, timeout=5)

            async def snapped() -> bool:
                return (await daemon.store.weighing(1)).first_photo is not None

            await eventually(snapped, timeout=10)
            status = (await http.get(f"{base}/api/status")).json()
            (shown,) = status["weighings"]["unmatched"]
            assert (shown["held"], shown["kg"], shown["photos"]) == (
                False, 30000, ["/photos/weighing-1-1.jpg"],
            )  # fmt: skip
            got = await http.get(base + shown["photos"][0])
            assert got.status_code == 200
            assert jpeg_label(got.content) == "snapshot"
            assert (await http.get(f"{base}/photos/weighing-1-2.jpg")).status_code == 404
            assert (await http.get(f"{base}/photos/weighing-9-1.jpg")).status_code == 404
    finally:
        await runner.cleanup()


async def test_the_page_shows_the_scales_name_and_an_empty_truck(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    """The scale's ``name`` (1号地磅), not its key, on the live weight and beside the open
    first weighing; a preset-tare truck weighed at its tare carried nothing: 空车过磅，无货物
    where its goods would be — no goods form even for a logged-in clerk, no goods record."""
    web = {"password_hash": hash_password("gate password 1")}
    weighing = {"preset_tare_kg": {"豫A12345": 15200}, "default_goods": "原煤"}
    async with scale_daemon(tmp_path, platform_sim, web=web, weighing=weighing, name="1号地磅") as (
        daemon,
        bridge,
        sim,
        _http,
    ):
        page = await logged_in(browser, f"http://127.0.0.1:{daemon.web.port}", "过磅员李四")
        live = page.locator('#scales [data-scale="main"]')
        await expect(live).to_have_text("1号地磅：0 kg")
        cam = camera(daemon, "in-1")
        await cam.push("豫A12345")  # empty, at its preset tare
        await eventually(lambda: len(bridge._noting) == 0, timeout=5)
        sim.set_weight(Decimal(15200))
        await expect(live).to_have_text("1号地磅：15200 kg")
        await eventually(lambda: bridge.weighings == 1, timeout=5)
        done = page.locator("#weighings tr", has_text="豫A12345")
        await expect(done).to_contain_text("空车过磅，无货物")
        await expect(done).to_contain_text("15200（预置）")
        await expect(done.locator("form.goods-form")).to_have_count(0)
        sim.set_weight(Decimal(0))
        await eventually(lambda: not bridge.detector.weighed, timeout=5)
        await cam.push("豫B22222")  # loaded: its first weighing, on 1号地磅
        await cam.aclose()
        await eventually(lambda: len(bridge._noting) == 0, timeout=5)
        sim.set_weight(Decimal(35680))
        await eventually(lambda: bridge.weighings == 2, timeout=5)
        opened = page.locator("#open-weighings tr", has_text="豫B22222")
        await expect(opened).to_contain_text("35680 kg")
        await expect(opened).to_contain_text("1号地磅")
        await expect(page.locator("#scales")).not_to_contain_text("main")
        entries = await daemon.store.list_outbox("all", 50)
        await page.close()
    assert [e.kind for e in entries if e.kind == "goods"] == []


async def test_a_clerk_discards_a_weighing_that_is_no_trucks_load(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    """A weight with no plate read (someone walked over the platform): the clerk sets it aside
    on the page with a reason (作废; none given is refused in Chinese); it leaves the list,
    is kept as 已作废 with who and why, and the refusal and the discard are audited."""
    web = {"password_hash": hash_password("gate password 1")}
    async with scale_daemon(tmp_path, platform_sim, web=web) as (daemon, bridge, sim, http):
        base = f"http://127.0.0.1:{daemon.web.port}"
        sim.set_weight(Decimal(900))
        await eventually(lambda: bridge.weighings == 1, timeout=5)
        stranger = await http.post(f"{base}/api/weighings/1/discard", json={"reason": "x"})
        assert stranger.status_code == 403
        page = await logged_in(browser, base, "过磅员李四")
        row = page.locator('#unmatched-weighings tr[data-weighing="1"]')
        await expect(row).to_contain_text("未识别车牌")
        await row.locator("form.discard-form button").click()
        await expect(page.locator("#message")).to_have_text("请填写作废原因")
        reason = row.locator("form.discard-form input[name=reason]")
        await reason.fill("有人走过地磅")
        await page.evaluate("refresh()")  # the list is rebuilt (each refresh, each live event)
        await expect(reason).to_have_value("有人走过地磅")  # what the clerk typed is kept
        await expect(reason).to_be_focused()
        await row.locator("form.discard-form button").click()
        # the discard's answer (an audited write) took over Playwright's 5 s on a loaded machine
        await expect(page.locator("#message")).to_have_text("已完成", timeout=30_000)
        await expect(page.locator("#unmatched-weighings")).to_have_text("无", timeout=30_000)
        gone = await daemon.store.weighing(1)
        audit = [(r.actor, r.action, r.result) for r in await daemon.store.audit_log()][::-1]
        await page.close()
    assert (gone.state, gone.discarded) == ("discarded", "过磅员李四: 有人走过地磅")
    assert audit[-2:] == [
        ("过磅员李四", "discard weighing", "refused"),
        ("过磅员李四", "discard weighing", "ok"),
    ]


async def test_a_clerk_clears_a_weighing_marked_for_checking(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    """A weighing whose weight is in doubt (a truck that stopped twice after its pair
    completed) is listed under 请核对的过磅 with why, in Chinese; a logged-in clerk presses
    已核对: the mark is cleared, audited as ``clear weighing check``."""
    web = {"password_hash": hash_password("gate password 1")}
    async with scale_daemon(tmp_path, platform_sim, web=web) as (daemon, _bridge, _sim, _http):
        base = f"http://127.0.0.1:{daemon.web.port}"
        row = await daemon.store.weigh(
            NewWeighing("main", "豫A11111", "2", 21000, time.time(), None),
            max_between_seconds=86400.0,
        )
        assert await daemon.store.check_weight(row, 21000, 39000) is not None
        page = await logged_in(browser, base, "过磅员李四")
        marked = page.locator(f'#checks tr[data-check="{row.id}"]')
        await expect(marked).to_contain_text("请核对重量：车辆两次停稳：先 21000 kg，后 39000 kg")
        await expect(marked).to_contain_text("豫A11111")
        for width in (1300, 390):  # the review's 1300 px: the row ran out of its card
            await page.set_viewport_size({"width": width, "height": 900})
            card = page.locator("#scales-section")
            inner, outer = await card.evaluate("c => [c.scrollWidth, c.clientWidth]")
            assert inner <= outer, (width, inner, outer)
        await page.set_viewport_size({"width": 1300, "height": 900})
        # the clerk's button in view at 1300 px, not scrolled off in a narrow card (review)
        button = await marked.locator("button.checked").bounding_box()
        card_box = await page.locator("#scales-section").bounding_box()
        assert button is not None
        assert card_box is not None
        assert button["x"] + button["width"] <= card_box["x"] + card_box["width"]
        await marked.locator("button.checked").click()
        await expect(page.locator("#message")).to_have_text("已完成")
        await expect(page.locator("#checks")).to_contain_text("无")
        await page.close()
        assert (await daemon.store.weighing(row.id)).checks == []
        audit = await daemon.store.audit_log()
    assert ("过磅员李四", "clear weighing check", str(row.id), "ok") in [
        (r.actor, r.action, r.target, r.result) for r in audit
    ]


async def test_a_daemon_shows_a_cascade_of_late_reads_for_the_clerk(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    """Through a running daemon (camera pushes, a pty scale): a car read at the scale lane
    never weighs; the truck weighed next takes its read, and the truck's own read comes while
    it stands on the scale — once it left, its weighing is held with both plates and listed
    under 请核对的过磅 (请核对车牌); the next truck is held too, never given the first one's
    plate. A candidate read after the weighing says so (过磅后 … 秒识别), not 过磅前 0 秒."""
    async with scale_daemon(tmp_path, platform_sim) as (daemon, bridge, sim, http):
        status_url = f"http://127.0.0.1:{daemon.web.port}/api/status"
        cam = camera(daemon, "in-1")
        await cam.push("豫AC1234")  # a car: never weighs
        await eventually(lambda: len(bridge._noting) == 0, timeout=5)
        sim.set_weight(Decimal(31000))
        await eventually(lambda: bridge.weighings == 1, timeout=10)
        await cam.push("豫B11111")  # the truck's own read, after its weight settled
        await eventually(lambda: len(bridge._noting) == 0, timeout=5)
        sim.set_weight(Decimal(0))
        await eventually(lambda: not bridge.detector.weighed, timeout=5)

        async def to_check() -> list[dict[str, Any]]:
            return list((await http.get(status_url)).json()["weighings"]["to_check"])

        async def listed() -> bool:
            return len(await to_check()) == 1

        await eventually(listed, timeout=10)
        sim.set_weight(Decimal(32000))  # the next truck; its camera has not read it yet
        await eventually(lambda: bridge.weighings == 2, timeout=10)
        await cam.aclose()
        [marked] = await to_check()
        unmatched = (await http.get(status_url)).json()["weighings"]["unmatched"]
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{daemon.web.port}/")
        first = page.locator("#unmatched-weighings tr", has_text="31000 kg")
        await expect(first).to_contain_text(re.compile(r"豫AC1234（过磅前 \d+ 秒识别）"))
        await expect(first).to_contain_text(re.compile(r"豫B11111（过磅后 \d+ 秒识别）"))
        await page.close()
    assert marked["plate"] is None
    assert marked["state_name"] == "待确认车牌"
    [check] = marked["checks"]
    assert check["kind"] == "plate"
    assert "豫AC1234" in check["said"]
    assert "豫B11111" in check["said"]
    [truck1] = [w for w in unmatched if w["kg"] == 31000]
    after = {c["plate"]: c["after"] for c in truck1["candidates"]}
    assert after == {"豫AC1234": False, "豫B11111": True}  # read before / after the weighing
    assert sorted((w["kg"], [c["plate"] for c in w["candidates"]]) for w in unmatched) == [
        (31000, ["豫AC1234", "豫B11111"]),
        (32000, ["豫AC1234", "豫B11111"]),
    ]


async def test_a_clerk_says_same_truck_and_takes_a_higher_stop_on_the_page(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    """A weighing taken after the scale was not watched (a restart) while 豫T10001 stood on
    it is listed with what it may be and 同一车辆 (and 已离开后返回 beside 确认车牌); a typed
    豫T10001 without the tick is refused in Chinese. 同一车辆: 豫T10001's weighing takes the
    39000 kg. A pair marked 请核对重量 (stopped twice) has 取较高重量: its net follows."""
    web = {"password_hash": hash_password("gate password 1")}
    async with scale_daemon(tmp_path, platform_sim, web=web) as (daemon, _bridge, _sim, _http):
        base = f"http://127.0.0.1:{daemon.web.port}"
        now = time.time()
        first = await daemon.store.weigh(
            NewWeighing("main", "豫T10001", "2", 21000, now - 60, None), max_between_seconds=86400.0
        )
        held = await daemon.store.weigh(
            NewWeighing("main", None, "", 39000, now - 30, None),
            max_between_seconds=86400.0,
            stop_of=first.id,
            stop_unwatched=True,
        )
        await daemon.store.weigh(
            NewWeighing("main", "豫H80009", "2", 35000, now - 600, None),
            max_between_seconds=86400.0,
        )
        pair = await daemon.store.weigh(
            NewWeighing("main", "豫H80009", "2", 14000, now - 500, None),
            max_between_seconds=86400.0,
        )
        assert await daemon.store.check_weight(pair, 14000, 14600) is not None
        page = await logged_in(browser, base, "过磅员李四")
        row = page.locator(f'#unmatched-weighings tr[data-weighing="{held.id}"]')
        await expect(row).to_contain_text("可能是 豫T10001（21000 kg） 二次停车")
        await expect(row.locator("label")).to_contain_text("已离开后返回")
        await row.locator('input[name="plate"]').fill("豫T10001")
        await row.locator('select[name="color"]').select_option("2")
        await row.get_by_role("button", name="确认车牌").click()
        await expect(page.locator("#message")).to_contain_text("同一车辆")
        await row.locator("button.same-truck").click()
        await expect(page.locator("#message")).to_contain_text("已作为上一车二次停车处理")
        marked = page.locator(f'#checks tr[data-check="{pair.id}"]')
        await marked.locator("button.higher-weight").click()
        await expect(page.locator("#message")).to_contain_text("已采用较高重量：净重 20.4 t")
        await page.close()
        assert (await daemon.store.weighing(first.id)).first_kg == 39000
        done = await daemon.store.weighing(pair.id)
        assert (done.second_kg, done.net_kg, done.checks) == (14600, 20400, [])
        audit = [(r.actor, r.action, r.result) for r in await daemon.store.audit_log()]
    assert ("过磅员李四", "weighing is a second stop", "ok") in audit
    assert ("过磅员李四", "take higher weight", "ok") in audit
