"""A Dahua ITC camera double for the ``eventManager.cgi`` attach stream: HTTP Digest auth
(MD5, qop=auth) and a ``multipart/x-mixed-replace`` stream of TrafficJunction events and
heartbeats, as research/anpr_formats.md §3.1 describes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - HTTP Digest is MD5


@dataclass
class DahuaCameraSim:
    username: str = "admin"
    password: str = "sim-camera"  # noqa: S105 - the double's own account
    realm: str = "Login to sim-dahua"
    heartbeat: float = 0.2
    port: int = 0
    refused: int = 0
    _events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _streams: set[web.StreamResponse] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _nonce: str = field(default_factory=lambda: secrets.token_hex(16))

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.get("/cgi-bin/eventManager.cgi", self._attach)])
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.2
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def plate(self, plate: str, color: str = "Yellow", group: int | None = None) -> None:
        """Report a vehicle on the stream(s)."""
        now = time.time()
        self._events.put_nowait(
            {
                "Object": {"ObjectType": "Plate", "Text": plate, "Confidence": 90},
                "TrafficCar": {
                    "PlateNumber": plate,
                    "PlateColor": color,
                    "Lane": 1,
                    "DrivingDirection": ["Approach", "", ""],
                    "CapTime": now,
                },
                "UTC": int(now),
                "UTCMS": int(now % 1 * 1000),
                "GroupID": group if group is not None else int(now * 1000),
            }
        )

    async def drop(self) -> None:
        """Cut every open stream, as a network hiccup would."""
        for stream in list(self._streams):
            if stream.task is not None:
                stream.task.cancel()

    def _authorised(self, header: str) -> bool:
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header))
        if fields.get("username") != self.username or fields.get("nonce") != self._nonce:
            return False
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"GET:{fields.get('uri', '')}")
        expected = _md5(f"{ha1}:{self._nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
        return secrets.compare_digest(expected, fields.get("response", ""))

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        if not (header.startswith("Digest ") and self._authorised(header)):
            if header:
                self.refused += 1
            challenge = f'Digest realm="{self.realm}", qop="auth", nonce="{self._nonce}"'
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": challenge})
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
                else:  # pretty-printed over several lines, as the cameras do
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
        finally:
            self._streams.discard(stream)
