"""Photos for plate reads that arrive without one: an HTTP snapshot (Basic or Digest) or a
frame grabbed from a video stream with OpenCV."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest
from aiohttp import BasicAuth, web

from edge.config.model import SnapshotConfig
from edge.gate.camera_photos import SnapshotError, SnapshotSource, StreamGrabber
from edge.sim.jpeg import jpeg_label, sample_jpeg
from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, camera, make_config, running_daemon, wait_records


async def _snapshot_server(hang: bool = False) -> tuple[web.AppRunner, str]:
    async def picture(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Basic ") or BasicAuth.decode(auth).password != "cam-pass":
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="cam"'})
        if hang:
            await asyncio.Event().wait()
        return web.Response(body=sample_jpeg("snapshot"), content_type="image/jpeg")

    app = web.Application()
    app.add_routes([web.get("/ISAPI/Streaming/channels/101/picture", picture)])
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/ISAPI/Streaming/channels/101/picture"


async def test_http_snapshot_for_a_read_without_photo(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    runner, url = await _snapshot_server()
    lane = {
        **GENERIC_LANE,
        "snapshot": {"url": url, "username": "admin", "password": "cam-pass", "auth": "basic"},
    }
    try:
        cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane])
        async with running_daemon(cfg) as daemon:
            cam = camera(daemon)
            await cam.push("豫A12345", image=False)
            await cam.aclose()
            await wait_records(platform_sim, 1, photos=1)
            row = await daemon.store.find_pass(next(iter(platform_sim.records)))
            assert row is not None
            (photo,) = await daemon.store.photos_of(row.id)
            assert jpeg_label(await daemon.photos.read(photo.path)) == "snapshot"
    finally:
        await runner.cleanup()


async def test_a_hanging_or_refusing_camera_leaves_the_pass_without_photo(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    runner, url = await _snapshot_server(hang=True)
    lanes = [
        {
            **GENERIC_LANE,
            "snapshot": {
                "url": url,
                "username": "admin",
                "password": "cam-pass",
                "auth": "basic",
                "timeout_seconds": 0.2,
            },
        },
        {
            **GENERIC_LANE,
            "id": "in-2",
            "gate_code": "02",
            "snapshot": {"url": url, "username": "admin", "password": "wrong", "auth": "basic"},
        },
    ]
    try:
        cfg = make_config(tmp_path, platform_sim.base_url, lanes=lanes)
        async with running_daemon(cfg) as daemon:
            for lane_id in ("in-1", "in-2"):
                cam = camera(daemon, lane_id)
                result = await cam.push("豫A12345", image=False)
                await cam.aclose()
                assert result.body["verdict"] == "open"
            assert await daemon.store.count_passes() == 2
            assert await daemon.store.count_photos() == 0
            assert [lane.snapshot.failures for lane in daemon.lanes.values() if lane.snapshot] == [
                1,
                1,
            ]
    finally:
        await runner.cleanup()


async def test_frame_from_a_video_stream(tmp_path: Path, platform_sim: CityPlatformSim) -> None:
    video = tmp_path / "gate.avi"  # stands in for rtsp://camera/stream: OpenCV opens both
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 5, (320, 240))
    for i in range(5):
        writer.write(np.full((240, 320, 3), 40 * i, dtype=np.uint8))
    writer.release()
    lane = {**GENERIC_LANE, "snapshot": {"url": str(video)}}
    async with running_daemon(make_config(tmp_path, platform_sim.base_url, lanes=[lane])) as d:
        cam = camera(d)
        await cam.push("豫A12345", image=False)
        await cam.aclose()
        await wait_records(platform_sim, 1, photos=1)
        (photo,) = next(iter(platform_sim.photos.values()))
        assert photo.size > 0


def _video(path: Path, frames: int = 100) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (320, 240))
    for i in range(frames):
        writer.write(np.full((240, 320, 3), i % 250, dtype=np.uint8))
    writer.release()
    return path


async def test_the_stream_stays_open_between_photos_and_closes_when_idle(tmp_path: Path) -> None:
    grabber = StreamGrabber(str(_video(tmp_path / "gate.avi")), idle_seconds=0.3)
    first = await grabber.frame()
    second = await grabber.frame()
    assert first.startswith(b"\xff\xd8")
    assert second.startswith(b"\xff\xd8")
    assert first != second  # the current frame each time, not a buffered one
    assert grabber.opens == 1  # one connection served both photos
    assert grabber._thread is not None
    await asyncio.to_thread(grabber._thread.join, 5)  # idle: the reader closes the stream
    await grabber.frame()
    assert grabber.opens == 2
    grabber.close()


async def test_a_stream_that_cannot_be_opened_or_ends(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot open"):
        await StreamGrabber(str(tmp_path / "missing.avi")).frame()
    short = StreamGrabber(str(_video(tmp_path / "short.avi", frames=1)), idle_seconds=5)
    await short.frame()
    with pytest.raises(SnapshotError, match="ended"):
        await short.frame()


def test_rtsp_credentials_go_in_the_url_but_not_in_the_logs() -> None:
    cfg = SnapshotConfig(url="rtsp://10.0.0.5/Streaming/101", username="admin", password="p@ss:1")
    source = SnapshotSource(cfg, "in-1")
    assert source.stream is not None
    assert source.stream.url == "rtsp://10.0.0.5/Streaming/101"
    assert source.stream._open_url == "rtsp://admin:p%40ss%3A1@10.0.0.5/Streaming/101"


async def test_a_rear_camera_adds_photo_number_2(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    runner, url = await _snapshot_server()
    rear = {"url": url, "username": "admin", "password": "cam-pass", "auth": "basic"}
    lane = {**GENERIC_LANE, "rear_snapshot": rear}
    try:
        cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane])
        async with running_daemon(cfg) as daemon:
            cam = camera(daemon)
            await cam.push("豫A12345")  # the camera's own photo is the front one
            await cam.aclose()
            await wait_records(platform_sim, 1, photos=2)
            (photos,) = platform_sim.photos.values()
            assert sorted(p.info["zpbh"] for p in photos) == ["1", "2"]
            row = await daemon.store.find_pass(next(iter(platform_sim.records)))
            assert row is not None
            front, back = await daemon.store.photos_of(row.id)
            assert jpeg_label(await daemon.photos.read(back.path)) == "snapshot"
            assert jpeg_label(await daemon.photos.read(front.path)) != "snapshot"
    finally:
        await runner.cleanup()
