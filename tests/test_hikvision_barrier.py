"""The barrier opened through a Hikvision camera's ISAPI, against the ISAPI double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.base import Actuation, DriverError, DriverUnavailableError
from drivers.hikvision_barrier import HikvisionBarrier
from edge.sim.hikvision_isapi import HikvisionIsapiSim
from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, camera, free_port, make_config, running_daemon

CTX = Actuation("in-1", "豫A12345")


@pytest.fixture
async def isapi() -> AsyncIterator[HikvisionIsapiSim]:
    sim = HikvisionIsapiSim()
    await sim.start()
    yield sim
    await sim.stop()


async def test_open_and_state_with_digest_auth(isapi: HikvisionIsapiSim) -> None:
    barrier = HikvisionBarrier(isapi.url, "admin", "sim-camera")
    try:
        assert await barrier.state() == "closed"
        await barrier.open(CTX)
        assert isapi.commands == ["open"]
        assert await barrier.state() == "open"
        assert barrier.health.commands == 1
    finally:
        await barrier.aclose()


async def test_refusals_carry_the_cameras_reason(isapi: HikvisionIsapiSim) -> None:
    wrong = HikvisionBarrier(isapi.url, "admin", "wrong")
    with pytest.raises(DriverError, match="401"):
        await wrong.open(CTX)
    await wrong.aclose()
    assert isapi.guard.refused >= 1
    isapi.supports_parking = False
    barrier = HikvisionBarrier(isapi.url, "admin", "sim-camera")
    with pytest.raises(DriverError, match="notSupport"):
        await barrier.open(CTX)
    assert barrier.health.failures == 1
    await barrier.aclose()
    assert isapi.commands == []


async def test_unreachable_camera_fails_fast() -> None:
    barrier = HikvisionBarrier(f"http://127.0.0.1:{free_port()}", "admin", "x", timeout=0.5)
    with pytest.raises(DriverUnavailableError, match="unreachable"):
        await barrier.open(CTX)
    assert not barrier.health.connected
    await barrier.aclose()


async def test_a_hikvision_lane_opens_through_the_camera(
    tmp_path: Path, platform_sim: CityPlatformSim, isapi: HikvisionIsapiSim
) -> None:
    lane = {
        **GENERIC_LANE,
        "camera": {"kind": "hikvision-push"},
        "barrier": {
            "driver": "hikvision-isapi",
            "url": isapi.url,
            "username": "admin",
            "password": "sim-camera",
        },
        "detector": {"driver": "none"},
    }
    async with running_daemon(make_config(tmp_path, platform_sim.base_url, lanes=[lane])) as d:
        cam = camera(d, fmt="hikvision")
        await cam.push("豫A12345")
        await cam.push("豫B6789G")  # controlled: refused, the barrier stays down
        await cam.aclose()
        assert isapi.commands == ["open"]
