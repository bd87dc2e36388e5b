"""A Dahua ITC camera double for the ``eventManager.cgi`` attach stream: HTTP Digest auth
(MD5, qop=auth) and a ``multipart/x-mixed-replace`` stream of TrafficJunction events and
heartbeats, as research/anpr_formats.md §3.1 describes."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from edge.sim.digest import DigestGuard
from edge.sim.http_server import CameraApiSim


@dataclass
class DahuaCameraSim(CameraApiSim):
    username: str = "admin"
    password: str = "sim-camera"  # noqa: S105 - the double's own account
    realm: str = "Login to sim-dahua"
    heartbeat: float = 0.2
    port: int = 0
    _guard: DigestGuard | None = None
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    _events: asyncio.Queue[dict[str, Any] | bytes] = field(default_factory=asyncio.Queue)
    _streams: set[web.StreamResponse] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._guard = DigestGuard(self.username, self.password, self.realm)

    @property
    def refused(self) -> int:
        assert self._guard is not None
        return self._guard.refused

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.get("/cgi-bin/eventManager.cgi", self._attach)])
        await self._serve(app)

    def plate(self, plate: str, color: str = "Yellow", group: int | None = None) -> None:
        """Report a vehicle on the stream(s), timed as current firmware does: ``RealUTC`` the
        true epoch, ``LocaleTime`` and ``UTC`` the camera's wall clock (``zone``)."""
        now = time.time()
        wall = datetime.fromtimestamp(now, self.zone).replace(tzinfo=UTC)
        self._events.put_nowait(
            {
                "CommInfo": {"SnapCategory": "Motor"},
                "Object": {"ObjectType": "Plate", "Text": plate, "Confidence": 90},
                "TrafficCar": {
                    "PlateNumber": plate,
                    "PlateColor": color,
                    "Lane": 1,
                    "DrivingDirection": ["Approach", "", ""],
                    "UTC": int(wall.timestamp()),
                },
                "LocaleTime": wall.strftime("%Y-%m-%d %H:%M:%S"),
                "RealUTC": int(now),
                "UTC": int(wall.timestamp()),
                "UTCMS": int(now % 1 * 1000),
                "GroupID": group if group is not None else int(now * 1000),
            }
        )

    def send_raw(self, data: bytes) -> None:
        """Put bytes on the stream(s) as they are (a capture from a real camera, with its own
        multipart framing)."""
        self._events.put_nowait(data)

    async def drop(self) -> None:
        """Cut every open stream, as a network hiccup would."""
        for stream in list(self._streams):
            if stream.task is not None:
                stream.task.cancel()

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        assert self._guard is not None
        self._guard.check(request)
        stream = web.StreamResponse(
            headers={"Content-Type": "multipart/x-mixed-replace; boundary=myboundary"}
        )
        await stream.prepare(request)
        self._streams.add(stream)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(self._events.get(), self.heartbeat)
                except TimeoutError:
                    body = "Heartbeat"
                else:
                    if isinstance(data, bytes):
                        await stream.write(data)
                        continue
                    # pretty-printed over several lines, as the cameras do
                    body = "Code=TrafficJunction;action=Pulse;index=0;data=" + json.dumps(
                        data, ensure_ascii=False, indent=3
                    )
                part = body.encode()
                await stream.write(
                    b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: "
                    + str(len(part)).encode()
                    + b"\r\n\r\n"
                    + part
                    + b"\r\n"
                )
        except ConnectionResetError:  # the daemon went away
            return stream
        finally:
            self._streams.discard(stream)
