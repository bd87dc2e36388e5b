"""Plates over a serial line (RS-232/485): one read per line, found by a configurable pattern.

Noise is tolerated: lines without a plate are counted and dropped, and a stream without line
ends is not buffered beyond ``MAX_LINE``. When the port disappears (a USB adapter unplugged)
the reader closes it, counts a reconnect, and opens it again with a capped backoff.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import serial
import structlog
from serial_asyncio_fast import open_serial_connection

from edge.config.model import SerialCamera
from edge.domain.events import PlateEvent, PlateRead
from edge.domain.plates import PlateColor, normalise_plate
from edge.gate.lane import Lane
from edge.ingest.generic import parse_color
from edge.ingest.payload import PayloadError
from edge.ingest.reconnect import keep_connected

log = structlog.get_logger("edge.ingest.serial")

MAX_LINE = 512
_CHUNK = 256


def split_lines(buffer: bytearray, chunk: bytes) -> tuple[list[bytes], bool]:
    """The complete, non-empty lines in ``buffer`` + ``chunk`` (split at any run of CR/LF);
    ``buffer`` keeps the unterminated rest. The flag says the rest grew over ``MAX_LINE`` and
    was dropped as noise (a stream without line ends is never buffered beyond it)."""
    buffer.extend(chunk)
    *complete, rest = re.split(rb"[\r\n]+", bytes(buffer))
    buffer[:] = rest
    overflow = len(buffer) > MAX_LINE
    if overflow:
        buffer.clear()
    return [line for line in complete if line], overflow


def parse_serial_line(
    line: bytes, pattern: re.Pattern[str], encoding: str, now: datetime
) -> PlateRead:
    """The plate read in one line from the port: the first match of ``pattern`` (a named group
    ``plate``, optionally ``color``) in the line decoded with ``encoding`` (undecodable bytes
    replaced), read at ``now``. A colour the recogniser names that we do not know falls back to
    the plate's own colour word or OTHER. Raises :class:`PayloadError` for a line without a
    plate (noise, a status line)."""
    match = pattern.search(line.decode(encoding, errors="replace"))
    if match is None:
        raise PayloadError("no plate in the line")
    plate = normalise_plate(match["plate"], colour_prefix=True)
    try:
        color = parse_color(match.groupdict().get("color"), plate)
    except PayloadError:
        color = plate.color_hint or PlateColor.OTHER
    return PlateRead(plate.text, color, camera_time=now, unreadable=plate.unreadable)


class SerialPlateReader:
    def __init__(
        self,
        lane: Lane,
        cfg: SerialCamera,
        zone: ZoneInfo,
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.lane, self.cfg, self.zone = lane, cfg, zone
        self.pattern = re.compile(cfg.pattern)
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.health = lane.camera

    def lines(self, buffer: bytearray, chunk: bytes) -> list[bytes]:
        """Complete lines from ``buffer`` + ``chunk``; an over-long unterminated rest is noise."""
        complete, overflow = split_lines(buffer, chunk)
        if overflow:
            self.health.rejected += 1
        return complete

    def event(self, line: bytes) -> PlateEvent | None:
        now = datetime.now(self.zone)
        try:
            read = parse_serial_line(line, self.pattern, self.cfg.encoding, now)
        except PayloadError:
            self.health.rejected += 1
            return None
        return PlateEvent.from_read(
            read,
            lane_id=self.lane.id,
            received_at=now,
            source="serial",
            raw=line.decode(self.cfg.encoding, errors="replace"),
        )

    async def run(self) -> None:
        await keep_connected(
            self._session,
            health=self.health,
            what="serial camera port",
            errors=(OSError, serial.SerialException),
            backoff_initial=self.backoff_initial,
            backoff_max=self.backoff_max,
        )

    async def _session(self) -> None:
        reader, writer = await open_serial_connection(url=self.cfg.port, baudrate=self.cfg.baudrate)
        self.health.connected = True
        log.info("serial camera port open", lane=self.lane.id, port=self.cfg.port)
        try:
            buffer = bytearray()
            while chunk := await reader.read(_CHUNK):
                for line in self.lines(buffer, chunk):
                    if (event := self.event(line)) is not None:
                        self.health.heard()
                        self.lane.offer(event)
        finally:
            writer.close()
