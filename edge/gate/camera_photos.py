"""A photo for a plate read that came without one (serial lines, MQTT, Dahua's event stream):
an HTTP snapshot (one client per camera, connections reused) or a frame from an RTSP stream.

An RTSP stream takes about a second to open, so it is kept open while photos are being asked
for: a worker thread reads it continuously (so the frame handed out is the current one, not a
buffered one from minutes ago) and decodes only the frames someone waits for; after
``idle_seconds`` without a request the stream is closed. All under a timeout: a failure leaves
the pass without a photo, never without a record."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import cv2
import numpy as np
import structlog

from edge.config.model import SnapshotConfig
from edge.domain.jpeg import is_jpeg

if TYPE_CHECKING:
    # httpx is imported when a lane has an HTTP snapshot: not by a daemon without one (issue
    # 19's steady RSS).
    import httpx

log = structlog.get_logger("edge.gate.camera_photos")


class SnapshotError(Exception):
    """No photo could be had from the camera."""


def encode_jpeg(frame: np.ndarray[Any, Any]) -> bytes:
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:  # pragma: no cover - any decoded frame encodes
        raise SnapshotError("JPEG encoding failed")
    return bytes(buffer.tobytes())


Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[np.ndarray[Any, Any]]"]


class StreamGrabber:
    """One open video stream, read in a worker thread while frames are wanted."""

    def __init__(
        self, url: str, idle_seconds: float = 60.0, *, open_url: str | None = None
    ) -> None:
        # ``open_url`` may carry credentials; ``url`` (without them) is the one ever logged.
        self.url, self.idle_seconds, self._open_url = url, idle_seconds, open_url or url
        self.opens = 0  # how many times the stream was opened (for health and tests)
        self._lock = threading.Lock()
        self._waiters: list[Waiter] = []
        self._last_request = 0.0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # A file (a rehearsal recording) is read at its frame rate, as a live stream arrives.
        self._paced = not url.startswith(("rtsp://", "rtsps://", "http://", "https://"))

    def _fail(self, error: str) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_set_exception, future, SnapshotError(error))

    def _run(self) -> None:
        capture = cv2.VideoCapture(self._open_url)
        self.opens += 1
        try:
            if not capture.isOpened():
                self._fail(f"cannot open {self.url}")
                return
            pace = 1 / (capture.get(cv2.CAP_PROP_FPS) or 25) if self._paced else 0.0
            while not self._stop.is_set():
                with self._lock:
                    idle = time.monotonic() - self._last_request > self.idle_seconds
                    if idle and not self._waiters:
                        return
                if not capture.grab():
                    self._fail(f"the stream {self.url} ended")
                    return
                with self._lock:
                    waiters, self._waiters = self._waiters, []
                if waiters:
                    ok, frame = capture.retrieve()
                    for loop, future in waiters:
                        if ok:
                            loop.call_soon_threadsafe(_set_result, future, frame)
                        else:
                            loop.call_soon_threadsafe(
                                _set_exception, future, SnapshotError("undecodable frame")
                            )
                if pace:
                    time.sleep(pace)
        finally:
            capture.release()

    async def frame(self) -> bytes:
        """The next frame of the stream as JPEG (the stream is opened if it is not)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray[Any, Any]] = loop.create_future()
        with self._lock:
            self._last_request = time.monotonic()
            self._waiters.append((loop, future))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="stream-grabber", daemon=True
                )
                self._thread.start()
        try:
            frame = await future
        except asyncio.CancelledError:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[1] is not future]
            raise
        return await asyncio.to_thread(encode_jpeg, frame)

    def close(self) -> None:
        self._stop.set()


def _set_result(future: asyncio.Future[np.ndarray[Any, Any]], frame: np.ndarray[Any, Any]) -> None:
    if not future.done():
        future.set_result(frame)


def _set_exception(future: asyncio.Future[Any], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


def _with_credentials(cfg: SnapshotConfig) -> str:
    """``rtsp://user:password@host/…`` from the configured account (kept out of the logs)."""
    scheme, sep, rest = cfg.url.partition("://")
    if cfg.username is None or not sep or "@" in rest.split("/", 1)[0]:
        return cfg.url
    password = cfg.password.get_secret_value() if cfg.password else ""
    return f"{scheme}://{quote(cfg.username, safe='')}:{quote(password, safe='')}@{rest}"


class SnapshotSource:
    def __init__(self, cfg: SnapshotConfig, lane_id: str) -> None:
        self.cfg, self.lane_id = cfg, lane_id
        self.failures = 0
        self._http: httpx.AsyncClient | None = None
        #: What a failed grab raises: none is the pass's failure (it goes without the photo).
        self._failures: tuple[type[Exception], ...] = (TimeoutError, SnapshotError)
        self.stream: StreamGrabber | None = None
        if not cfg.url.startswith(("http://", "https://")):
            self.stream = StreamGrabber(
                cfg.url, cfg.stream_idle_seconds, open_url=_with_credentials(cfg)
            )
        else:
            import httpx  # noqa: PLC0415 - an HTTP snapshot only (see above)

            auth: httpx.Auth | None = None
            if cfg.username is not None:
                password = cfg.password.get_secret_value() if cfg.password else ""
                auth = (
                    httpx.DigestAuth(cfg.username, password)
                    if cfg.auth == "digest"
                    else httpx.BasicAuth(cfg.username, password)
                )
            self._http = httpx.AsyncClient(auth=auth, timeout=cfg.timeout_seconds)
            self._failures = (*self._failures, httpx.HTTPError)

    async def _fetch(self) -> bytes:
        async with asyncio.timeout(self.cfg.timeout_seconds):
            if self._http is not None:
                response = await self._http.get(self.cfg.url)
                response.raise_for_status()
                data = response.content
            else:
                assert self.stream is not None
                data = await self.stream.frame()
        if not is_jpeg(data):
            raise SnapshotError("the snapshot is not a JPEG")
        return data

    async def grab(self) -> bytes | None:
        """A JPEG from the camera, or None (logged) when it cannot be had in time."""
        try:
            return await self._fetch()
        except self._failures as exc:
            self.failures += 1
            log.warning("no snapshot from the camera", lane=self.lane_id, error=repr(exc))
            return None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self.stream is not None:
            self.stream.close()
