"""Take the README's screenshots of the status page (desktop and phone width) into docs/.

    .venv/bin/python scripts/screenshots.py

It needs Debian's chromium and a CJK font (scripts/system-packages installs both:
chromium, fonts-noto-cjk).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from edge.config.model import Config
from edge.daemon import Daemon
from edge.ops.logsetup import setup_logging
from edge.sim.camera import CameraSim
from edge.sim.platform import CityPlatformSim
from edge.web.auth import hash_password

DOCS = Path(__file__).resolve().parent.parent / "docs"


async def main() -> None:
    setup_logging("error", "console")
    work = Path(tempfile.mkdtemp(prefix="edge-shots-"))
    sim = CityPlatformSim()
    await sim.start()
    lane = {
        "camera": {"kind": "generic-push"},
        "barrier": {"driver": "virtual"},
        "led": {"driver": "virtual"},
        "detector": {"driver": "virtual", "pass_after_seconds": 0.1},
    }
    cfg = Config(
        site={"enterprise_code": "4110020001", "enterprise_name": "许昌示例建材有限公司"},
        platform={
            "base_url": sim.base_url,
            "organ": "4110020001",
            "username": "gate01",
            "password": "sim-password",
        },
        lanes=[
            {"id": "in-1", "name": "1号门入口", "gate_code": "01", "direction": "in", **lane},
            {"id": "out-1", "name": "1号门出口", "gate_code": "01", "direction": "out", **lane},
        ],
        storage={"database": str(work / "edge.db"), "photo_dir": str(work / "photos")},
        web={"port": 0, "password_hash": hash_password("screenshot password")},
    )
    daemon = Daemon(cfg)
    await daemon.start()
    base = f"http://127.0.0.1:{daemon.web.port}"
    chromium = shutil.which("chromium")
    assert chromium, "apt-get install chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{base}/")
        await page.fill("input[name=user]", "门卫张三")
        await page.fill("input[name=password]", "screenshot password")
        await page.click("#login button")
        entrance, exit_ = CameraSim(f"{base}/push/in-1"), CameraSim(f"{base}/push/out-1")
        for plate in ("豫A12345", "豫B6789G", "豫K23456", "晋E55123"):
            await entrance.push(plate)
        await exit_.push("豫A12345")
        await entrance.aclose()
        await exit_.aclose()
        await page.wait_for_timeout(800)
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(path=str(DOCS / "status-desktop.png"), full_page=True)
        phone = await browser.new_page(
            viewport={"width": 390, "height": 844}, device_scale_factor=2
        )
        await phone.goto(f"{base}/")
        await phone.wait_for_timeout(800)
        await phone.screenshot(path=str(DOCS / "status-phone.png"), full_page=True)
        await browser.close()
    await daemon.stop()
    await sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
