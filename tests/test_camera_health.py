from __future__ import annotations

import math
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from structlog.testing import capture_logs

from edge.domain.camera_health import CameraHealth, check_silence, within_hours
from edge.sim.platform import CityPlatformSim
from tests.helpers import camera, make_config, running_daemon

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("at", "hours", "inside"),
    [
        ("10:00", "06:00-22:00", True),
        ("05:59", "06:00-22:00", False),
        ("22:00", "06:00-22:00", False),
        ("23:30", "20:00-06:00", True),
        ("03:00", "20:00-06:00", True),
        ("12:00", "20:00-06:00", False),
    ],
)
def test_operating_hours(at: str, hours: str, inside: bool) -> None:
    when = datetime.fromisoformat(f"2026-11-21T{at}:00").replace(tzinfo=SH)
    assert within_hours(when, hours) is inside


def test_silent_camera_alarm_is_logged_once_and_cleared() -> None:
    noon = datetime(2026, 11, 21, 12, 0, tzinfo=SH).timestamp()
    cameras = [CameraHealth("in-1"), CameraHealth("out-1")]
    cameras[0].heard(noon - 30 * 60)
    with capture_logs() as logs:
        for now in (noon, noon + 31 * 60, noon + 55 * 60):
            check_silence(
                cameras,
                now,
                zone=SH,
                hours="06:00-22:00",
                silent_minutes=60,
                started_at=noon - 10 * 60,
            )
        cameras[0].heard(noon + 56 * 60)
    assert [(e["event"], e["lane"]) for e in logs] == [
        ("camera silent", "in-1"),  # heard 61 minutes ago
        ("camera silent", "out-1"),  # never heard since the start, 71 minutes ago
        ("camera heard again", "in-1"),
    ]
    night = datetime(2026, 11, 21, 23, 0, tzinfo=SH).timestamp()
    quiet = CameraHealth("x")
    check_silence([quiet], night, zone=SH, hours="06:00-22:00", silent_minutes=1, started_at=0)
    assert not quiet.silent  # no trucks expected at night


async def test_health_shows_each_camera(tmp_path: Path, platform_sim: CityPlatformSim) -> None:
    async with running_daemon(make_config(tmp_path, platform_sim.base_url)) as daemon:
        cam = camera(daemon)
        pushed_at = time.time()
        await cam.push("豫A12345")
        await cam.aclose()
        async with httpx.AsyncClient() as http:
            await http.post(f"http://127.0.0.1:{daemon.web.port}/push/in-1", content=b"{")
        health = daemon.health().cameras["in-1"]
        assert (health.events, health.rejected, health.silent) == (1, 1, False)
        # whole seconds since the push (0 unless a loaded machine took a second or more)
        age = health.last_event_age_seconds
        assert age is not None
        assert 0 <= age <= math.ceil(time.time() - pushed_at)


def test_camera_state_never_online_silent_disconnected() -> None:
    camera = CameraHealth("in-1", expected_seconds=60)
    assert camera.state(1000.0) == "never"  # nothing heard yet is not "online"
    camera.heard(1000.0)
    assert camera.state(1059.0) == "online"
    assert camera.state(1061.0) == "silent"  # not heard within the expected interval
    camera.connected = False
    assert camera.state(1001.0) == "disconnected"
    assert camera.report(1001.0).state == "disconnected"
