from __future__ import annotations

from pathlib import Path

from edge.ingest.dahua_stream import split_events
from edge.sim.dahua_camera import DahuaCameraSim
from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, eventually, make_config, running_daemon


def lane_for(cam: DahuaCameraSim, password: str | None = None) -> dict[str, object]:
    camera = {
        "kind": "dahua-pull",
        "url": cam.url,
        "username": cam.username,
        "password": password or cam.password,
    }
    return {**GENERIC_LANE, "camera": camera}


async def test_plates_from_the_attach_stream_and_a_dropped_stream(
    tmp_path: Path, platform_sim: CityPlatformSim, dahua: DahuaCameraSim
) -> None:
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane_for(dahua)])
    async with running_daemon(cfg) as daemon:
        health = daemon.lanes["in-1"].camera
        await eventually(lambda: health.connected is True)
        dahua.plate("豫A12345", "Yellow", group=1)
        dahua.plate("豫A12345", "Yellow", group=1)  # the same event again: one pass
        dahua.plate("豫AD88812", "YellowGreen", group=2)
        await eventually(lambda: len(platform_sim.records) == 2)
        colors = {r[0]["cphm"]: r[0]["cpys"] for r in platform_sim.records.values()}
        assert colors == {"豫A12345": "1", "豫AD88812": "4"}

        await dahua.drop()
        await eventually(lambda: health.reconnects >= 1)
        await eventually(lambda: health.connected is True)
        dahua.plate("晋E55123", "Blue", group=3)
        await eventually(lambda: len(platform_sim.records) == 3)
        assert dahua.refused == 0


async def test_wrong_password_is_retried_quietly(
    tmp_path: Path, platform_sim: CityPlatformSim, dahua: DahuaCameraSim
) -> None:
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane_for(dahua, "wrong")])
    async with running_daemon(cfg) as daemon:
        camera = daemon.lanes["in-1"].camera
        # The camera counts its refusal before the reader hears it: wait for both.
        await eventually(lambda: dahua.refused >= 1 and camera.connected is False)
        assert daemon.health().ok is True


def test_split_events_across_chunks() -> None:
    text = (
        'Code=TrafficJunction;action=Pulse;index=0;data={\n "TrafficCar" : '
        '{"PlateNumber":"豫A12345", "Note": "a } brace \\" quote"},\n "UTC": 1 }\r\n'
        "--myboundary\r\nContent-Type: text/plain\r\n\r\nHeartbeat\r\ndata={broken}\r\n"
    )
    events, rest = [], ""
    for i in range(0, len(text), 7):
        found, rest = split_events(rest + text[i : i + 7])
        events += found
    assert events == [
        {"TrafficCar": {"PlateNumber": "豫A12345", "Note": 'a } brace " quote'}, "UTC": 1}
    ]
