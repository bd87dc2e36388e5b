"""The status page in a real browser shows what the plate rules did: a duplicate read kept
with its pass (live), a read that is not a plate (escaped, as text), unusual plate shapes."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from edge.gate.lane import UNUSUAL_SHAPES
from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, camera, config_for, running_daemon
from tests.test_status_page import browser  # noqa: F401 - the fixture


async def test_merged_reads_unreadable_reads_and_unusual_plates_are_shown(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    UNUSUAL_SHAPES.clear()
    lane = {**GENERIC_LANE, "detector": {"driver": "virtual", "pass_after_seconds": 60}}
    async with running_daemon(config_for(tmp_path, platform_sim, lanes=[lane])) as daemon:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{daemon.web.port}/")
        await expect(page.locator("#live")).to_have_text("实时更新")
        cam = camera(daemon)
        first = await cam.push("豫A12345")
        refined = await cam.push("豫A12346")  # the vehicle is still in the lane
        hostile = await cam.push("<img src=x onerror=alert(1)>")
        unusual = await cam.push("豫C123456")
        await cam.aclose()
        assert refined.body["duplicate"] is True
        merged = page.locator(f'#recent tr[data-merged-into="{first.body["serial"]}"]')
        await expect(merged).to_contain_text("重复识别")
        await expect(merged).to_contain_text(f"已并入 {first.body['serial']}（相近车牌）")
        await expect(merged).to_contain_text("豫A12346")
        row = page.locator(f'#recent tr[data-serial="{hostile.body["serial"]}"]')
        await expect(row).to_contain_text("无法识别：<img src=x onerror=alert(1)>")  # as text
        await expect(row).to_contain_text("车牌无法识别")
        assert await page.locator("#recent img[src=x]").count() == 0
        row = page.locator(f'#recent tr[data-serial="{unusual.body["serial"]}"]')
        await expect(row).to_contain_text("车牌格式少见")
        await page.reload()
        await expect(page.locator("#unusual")).to_have_text("省A999999 × 1")
        await page.locator(
            '#search button[type="submit"], #search input[type="submit"]'
        ).first.click()
        history = page.locator(f'#history tr[data-serial="{first.body["serial"]}"]')
        await expect(history).to_contain_text("另有 1 次重复识别已并入")
        await page.close()
