"""ONVIF plate events: our reader (the real onvif-zeep-async client) against the device double,
which checks WS-Security tokens against its own — skewed — clock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import zeep.exceptions
from onvif import ONVIFCamera

from edge.config.model import ONVIF_TOPICS
from edge.daemon import Daemon
from edge.domain.plates import PlateColor
from edge.gate.lane import Lane
from edge.ingest.onvif_reader import WSDL_DIR, plate_confidence
from edge.sim.jpeg import jpeg_label
from edge.sim.onvif_camera import OnvifCameraSim
from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, eventually, make_config, running_daemon

SKEW = timedelta(minutes=5)


@pytest.fixture
async def device() -> AsyncIterator[OnvifCameraSim]:
    sim = OnvifCameraSim(clock_skew=SKEW)
    await sim.start()
    yield sim
    await sim.stop()


def onvif_lane(sim: OnvifCameraSim, **camera: Any) -> dict[str, Any]:
    return {
        **GENERIC_LANE,
        "camera": {
            "kind": "onvif",
            "host": "127.0.0.1",
            "port": sim.port,
            "username": "admin",
            "password": "sim-camera",
            "pull_timeout_seconds": 5,
            "picture_timeout_seconds": 10,  # a loaded test machine; the field default is 2 s
            **camera,
        },
    }


def _passes(
    daemon: Daemon, sql: str = "SELECT plate, plate_color, source FROM passes"
) -> list[Any]:
    with sqlite3.connect(daemon.cfg.storage.database) as db:
        return db.execute(sql + " ORDER BY id").fetchall()


def _noted(daemon: Daemon) -> int:
    """Passes whose photos are committed: with what the barrier did, after the pass itself."""
    return len(_passes(daemon, "SELECT id FROM passes WHERE barrier IS NOT NULL"))


async def test_the_double_refuses_tokens_off_its_clock(device: OnvifCameraSim) -> None:
    """The control: without reading the device's time first, a 5-minute skew is fatal."""
    camera = ONVIFCamera(
        "127.0.0.1", device.port, "admin", "sim-camera", wsdl_dir=WSDL_DIR, no_cache=True
    )
    try:
        with pytest.raises(zeep.exceptions.Fault, match="not authorized"):
            await camera.update_xaddrs()
    finally:
        await camera.close()
    assert device.auth_failures >= 1  # GetServices, then the GetCapabilities fallback


@asynccontextmanager
async def subscribed(
    tmp_path: Path, platform_sim: CityPlatformSim, device: OnvifCameraSim, **camera: Any
) -> AsyncIterator[tuple[Daemon, Lane]]:
    """A daemon whose lane has subscribed to the device's events."""
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[onvif_lane(device, **camera)])
    async with running_daemon(cfg) as daemon:
        lane = daemon.lanes["in-1"]
        await eventually(lambda: device.created == 1 and lane.camera.connected is True)
        yield daemon, lane


async def test_plates_arrive_through_a_pullpoint_despite_a_skewed_clock(
    tmp_path: Path, platform_sim: CityPlatformSim, device: OnvifCameraSim
) -> None:
    async with subscribed(tmp_path, platform_sim, device) as (daemon, lane):
        device.plate("豫A12345")
        await eventually(lambda: _noted(daemon) == 1)
        await lane.drain()
        assert _passes(daemon) == [("豫A12345", PlateColor.YELLOW.value, "onvif")]
        assert device.pictures_served == 1  # the PictureUri, fetched with Digest auth
        assert _passes(daemon, "SELECT COUNT(*) FROM photos") == [(1,)]
        assert device.auth_failures == 0  # every request was signed with the device's time


async def test_a_picture_slower_than_its_timeout_leaves_the_pass_without_it(
    tmp_path: Path, platform_sim: CityPlatformSim, device: OnvifCameraSim
) -> None:
    """The picture is fetched while the pass is decided and the barrier moves: a camera that
    does not answer within ``picture_timeout_seconds`` costs the pass its photo, never the
    pass."""
    device.pictures_held = asyncio.Event()
    async with subscribed(tmp_path, platform_sim, device, picture_timeout_seconds=0.2) as (
        daemon,
        lane,
    ):
        device.plate("豫A12345")
        await eventually(lambda: _noted(daemon) == 1, 10)
        await lane.drain()
        assert _passes(daemon, "SELECT COUNT(*) FROM photos") == [(0,)]
        device.pictures_held.set()


async def test_a_dropped_subscription_is_created_again(
    tmp_path: Path, platform_sim: CityPlatformSim, device: OnvifCameraSim
) -> None:
    async with subscribed(tmp_path, platform_sim, device) as (daemon, lane):
        device.drop_subscriptions()  # the camera reboots
        await eventually(lambda: device.created == 2 and lane.camera.connected is True, 10)
        assert lane.camera.reconnects == 1
        device.plate("豫A12345")
        await eventually(lambda: [p[0] for p in _passes(daemon)] == ["豫A12345"])
    assert not device.subscriptions  # unsubscribed on the way out


async def test_topic_map_replays_and_renewal(
    tmp_path: Path, platform_sim: CityPlatformSim, device: OnvifCameraSim
) -> None:
    async with subscribed(tmp_path, platform_sim, device, color="blue") as (daemon, lane):
        axis = "tnsaxis:CameraApplicationPlatform/ALPV.AllPlates"
        device.plate("豫A00001", topic="tns1:VideoSource/MotionAlarm")  # not a plate topic
        device.plate("豫A00002", topic=axis, operation="Initialized")  # a state replay
        device.plate("豫A12345", topic=axis)  # Axis: the plate in "text", no confidence
        device.plate("黄豫B6789G", topic=axis)  # a colour named in the text wins
        await eventually(lambda: len(_passes(daemon)) == 2)
        assert lane.camera.events == 2
        assert _passes(daemon) == [
            ("豫A12345", PlateColor.BLUE.value, "onvif"),
            ("豫B6789G", PlateColor.YELLOW.value, "onvif"),
        ]


async def test_renewal_against_the_device(device: OnvifCameraSim) -> None:
    """Renewal is the library's (at 80 % of the term); the device double answers it."""
    camera = ONVIFCamera(
        "127.0.0.1",
        device.port,
        "admin",
        "sim-camera",
        wsdl_dir=WSDL_DIR,
        no_cache=True,
        adjust_time=True,
    )
    try:
        await camera.update_xaddrs()
        lost: list[bool] = []
        manager = await camera.create_pullpoint_manager(
            timedelta(seconds=60), lambda: lost.append(True)
        )
        manager.resume()  # renew now rather than in 48 s
        await eventually(lambda: device.renewed == 1)
        assert not lost
        await manager.shutdown()
    finally:
        await camera.close()


def test_confidence_scales_to_a_percentage() -> None:
    profile_m, hikvision = ONVIF_TOPICS[2], ONVIF_TOPICS[0]
    assert plate_confidence({"Likelihood": "0.92"}, profile_m) == 92
    assert plate_confidence({"Likelihood": "96"}, hikvision) == 96
    assert plate_confidence({"Likelihood": "n/a"}, hikvision) is None
    assert plate_confidence({}, hikvision) is None
    assert plate_confidence({"Likelihood": "NaN"}, hikvision) is None
    assert plate_confidence({"Likelihood": "-Infinity"}, profile_m) is None


async def test_events_without_a_picture_get_the_onvif_snapshot(
    tmp_path: Path, platform_sim: CityPlatformSim, device: OnvifCameraSim
) -> None:
    device.picture_uri_in_events = False  # like Axis: the plate alone
    async with subscribed(tmp_path, platform_sim, device) as (daemon, lane):
        device.plate("豫A12345")
        await eventually(lambda: _noted(daemon) == 1)
        await lane.drain()
        (serial,) = _passes(daemon, "SELECT serial FROM passes")[0]
        row = await daemon.store.find_pass(serial)
        assert row is not None
        (photo,) = await daemon.store.photos_of(row.id)
        picture = await daemon.photos.read(photo.path)
        assert jpeg_label(picture) == "onvif picture snapshot"  # via GetSnapshotUri
