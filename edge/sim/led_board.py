"""An LED display board double: takes the bytes a real board would (from a virtual serial port
or a TCP socket), decodes the frames of its protocol — checking lengths and checksums as the
board does — and keeps (and prints) the text it would show and the words it would speak.

Garbage between frames is skipped and counted, as a board resynchronises on the next header.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from drivers import olm_led, onbon_bx

LedProtocol = Literal["olm", "onbon", "text"]


@dataclass
class LedBoardSim:
    protocol: LedProtocol = "olm"
    encoding: str = "gbk"
    screens: list[list[str]] = field(default_factory=list)  # what the panel showed, in order
    scrolling: list[bool] = field(default_factory=list)  # Onbon: whether each line scrolls
    spoken: list[str] = field(default_factory=list)
    bad_frames: int = 0
    on_screen: Callable[[list[str]], None] | None = None
    _buffer: bytearray = field(default_factory=bytearray)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _clients: set[asyncio.StreamWriter] = field(default_factory=set)

    def feed(self, data: bytes) -> None:
        """Bytes as they come off the line; the panel shows a screen once its bytes are in."""
        before = (len(self.screens), len(self.screens[-1]) if self.screens else 0)
        self._buffer += data
        {"olm": self._olm, "onbon": self._onbon, "text": self._text}[self.protocol]()
        if (len(self.screens), len(self.screens[-1]) if self.screens else 0) != before:
            if self.on_screen is not None:
                self.on_screen(self.screens[-1])
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    def _show(self, lines: list[str]) -> None:
        self.screens.append(lines)

    def _olm(self) -> None:
        while True:
            start = self._buffer.find(olm_led.HEADER)
            if start < 0:
                del self._buffer[: max(0, len(self._buffer) - 3)]
                return
            if start:
                self.bad_frames += 1
                del self._buffer[:start]
            if len(self._buffer) < 6 or len(self._buffer) < 8 + self._buffer[5]:
                return
            end = 8 + self._buffer[5]
            raw = bytes(self._buffer[:end])
            try:
                (decoded,) = olm_led.decode(raw, encoding=self.encoding)
            except (olm_led.FrameError, UnicodeDecodeError):
                self.bad_frames += 1
                del self._buffer[:1]  # resynchronise on the next header
                continue
            del self._buffer[:end]
            if decoded.cmd == olm_led.CMD_VOICE:
                self.spoken.append(decoded.text)
            elif decoded.line == 0 or not self.screens:
                self._show([decoded.text])
            else:
                self.screens[-1].append(decoded.text)

    def _onbon(self) -> None:
        while True:
            start = self._buffer.find(onbon_bx.PREAMBLE)
            end = self._buffer.find(bytes([onbon_bx.END]), start + len(onbon_bx.PREAMBLE))
            if start < 0 or end < 0:
                return
            if start:
                self.bad_frames += 1
            raw = bytes(self._buffer[start : end + 1])
            del self._buffer[: end + 1]
            try:
                frames = onbon_bx.decode(raw, encoding=self.encoding)
            except (onbon_bx.FrameError, UnicodeDecodeError):
                self.bad_frames += 1
                continue
            for frame in frames:
                if frame.areas:
                    self.scrolling = [area.scroll for area in frame.areas]
                    self._show([area.text for area in frame.areas])

    def _text(self) -> None:
        *lines, rest = bytes(self._buffer).split(b"\r\n")
        self._buffer[:] = rest
        if lines:
            self._show([line.decode(self.encoding, errors="replace") for line in lines])

    async def wait_shown(self, lines: list[str], timeout: float = 5.0) -> None:
        """Wait until the panel has shown exactly ``lines`` (a screen's frames may arrive in
        several reads)."""
        async with asyncio.timeout(timeout):
            while lines not in self.screens:
                await self._changed.wait()

    # -- a TCP port, as networked boards have (Onbon: 5005) ----------------------------------
    async def serve_tcp(self, host: str, port: int) -> int:
        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._clients.add(writer)
            try:
                with contextlib.suppress(ConnectionError):
                    while data := await reader.read(4096):
                        self.feed(data)
            finally:
                self._clients.discard(writer)
                writer.close()

        self._server = await asyncio.start_server(client, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._clients):
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            await self._server.wait_closed()
            self._server = None
