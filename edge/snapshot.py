"""A photo for a plate read that came without one (serial lines, MQTT, Dahua's event stream):
an HTTP snapshot (one client per camera, connections reused) or a frame grabbed from an RTSP
stream with OpenCV in a worker thread. Under a timeout; a failure leaves the pass without a
photo, never without a record."""

from __future__ import annotations

import asyncio

import cv2
import httpx
import structlog

from edge.config import SnapshotConfig
from edge.photos import is_jpeg

log = structlog.get_logger("edge.snapshot")


class SnapshotError(Exception):
    """No photo could be had from the camera."""


def grab_frame(url: str) -> bytes:
    """One frame of a video stream (RTSP, or a file) as JPEG. Blocking: run in a thread."""
    capture = cv2.VideoCapture(url)
    try:
        ok, frame = capture.read()
        if not ok:
            raise SnapshotError(f"no frame from {url}")
        ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:  # pragma: no cover - any decoded frame encodes
            raise SnapshotError("JPEG encoding failed")
        return bytes(buffer.tobytes())
    finally:
        capture.release()


class SnapshotSource:
    def __init__(self, cfg: SnapshotConfig, lane_id: str) -> None:
        self.cfg, self.lane_id = cfg, lane_id
        self.failures = 0
        self._http: httpx.AsyncClient | None = None
        if cfg.url.startswith(("http://", "https://")):
            auth: httpx.Auth | None = None
            if cfg.username is not None:
                password = cfg.password.get_secret_value() if cfg.password else ""
                auth = (
                    httpx.DigestAuth(cfg.username, password)
                    if cfg.auth == "digest"
                    else httpx.BasicAuth(cfg.username, password)
                )
            self._http = httpx.AsyncClient(auth=auth, timeout=cfg.timeout_seconds)

    async def _fetch(self) -> bytes:
        async with asyncio.timeout(self.cfg.timeout_seconds):
            if self._http is not None:
                response = await self._http.get(self.cfg.url)
                response.raise_for_status()
                data = response.content
            else:  # the thread finishes on its own if the timeout gives up on it
                data = await asyncio.to_thread(grab_frame, self.cfg.url)
        if not is_jpeg(data):
            raise SnapshotError("the snapshot is not a JPEG")
        return data

    async def grab(self) -> bytes | None:
        """A JPEG from the camera, or None (logged) when it cannot be had in time."""
        try:
            return await self._fetch()
        except (TimeoutError, httpx.HTTPError, SnapshotError) as exc:
            self.failures += 1
            log.warning("no snapshot from the camera", lane=self.lane_id, error=repr(exc))
            return None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
