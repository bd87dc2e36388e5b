"""Dahua ``eventManager.cgi?action=attach`` (camera = server, HTTP Digest auth), see
research/anpr_formats.md §3.1: a long-lived ``multipart/x-mixed-replace`` response whose text
parts read ``Code=TrafficJunction;action=Pulse;index=0;data={...}`` with the JSON spread over
several lines, and ``Heartbeat`` parts in between. The stream carries no images.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog

from edge.config.model import DahuaPullCamera
from edge.domain.events import PlateEvent, PlateRead
from edge.domain.plates import normalise_plate
from edge.gate.lane import Lane
from edge.ingest.dahua import dahua_color, mapping, non_motor
from edge.ingest.payload import (
    OtherEvent,
    PayloadError,
    camera_time,
    diagnostic,
    epoch_time,
    wall_clock_epoch,
)
from edge.ingest.reconnect import keep_connected

log = structlog.get_logger("edge.ingest.dahua")

ATTACH = "/cgi-bin/eventManager.cgi?action=attach&codes=[TrafficJunction]&heartbeat=5"
MAX_EVENT = 256 * 1024


def _object_end(text: str, start: int) -> int | None:
    """Index of the brace closing the JSON object that opens at ``start``, or None."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def split_events(buffer: str) -> tuple[list[dict[str, Any]], str]:
    """The complete ``data={...}`` objects in ``buffer`` (braces counted, strings respected),
    and what is left over for the next chunk."""
    events: list[dict[str, Any]] = []
    while (start := buffer.find("data={")) != -1:
        end = _object_end(buffer, start + 5)
        if end is None:  # incomplete: keep it for the next chunk (unless it is runaway noise)
            return events, buffer[start:] if len(buffer) - start < MAX_EVENT else ""
        try:
            event = json.loads(buffer[start + 5 : end + 1])
        except (ValueError, RecursionError):  # broken JSON, absurd numbers or nesting
            event = None
        if isinstance(event, dict):
            events.append(event)
        buffer = buffer[end + 1 :]
    return events, buffer[-16:]  # keep a possible split "data={" marker


def event_time(data: dict[str, Any], zone: tzinfo | None) -> datetime | None:
    """When the camera saw the vehicle, by the one rule for all vendors: ``RealUTC`` is a true
    epoch; ``LocaleTime`` is the camera's wall clock; ``UTC`` holds the wall clock counted as if
    it were UTC on many firmwares (and the true epoch on some older ones: the clock-skew check
    then falls back to the receive time), so it is read as wall-clock time in the site zone."""
    return (
        epoch_time(data.get("RealUTC"), "RealUTC", zone)
        or camera_time(data.get("LocaleTime"), "LocaleTime", zone)
        or wall_clock_epoch(data.get("UTC"), "UTC", zone)
    )


def read_event(data: dict[str, Any], received: datetime) -> PlateRead | OtherEvent | None:
    """One TrafficJunction event's ``data`` → a plate read; :class:`OtherEvent` for a
    non-motor snap; None for an event without any plate field. ``received`` carries the site
    zone. Raises :class:`PayloadError` for fields that cannot be (``UTC: NaN``)."""
    car = mapping(data.get("TrafficCar"))
    obj = mapping(data.get("Object"))
    raw = car.get("PlateNumber") or (obj.get("Text") if obj.get("ObjectType") == "Plate" else None)
    if non_motor(data, raw.strip() if isinstance(raw, str) else None):
        return OtherEvent("non-motor snap")
    if not isinstance(raw, str):
        return None
    group = data.get("GroupID")
    plate = normalise_plate(raw)
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=dahua_color(car.get("PlateColor")),
        camera_time=event_time(data, received.tzinfo) or received,
        vendor_id=f"dhp-{str(group)[:40]}" if group is not None else None,
    )


class DahuaEventStream:
    def __init__(
        self,
        lane: Lane,
        cfg: DahuaPullCamera,
        zone: ZoneInfo,
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.lane, self.cfg, self.zone = lane, cfg, zone
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.health = lane.camera
        self._transport = transport

    def event(self, data: dict[str, Any]) -> PlateEvent | OtherEvent | None:
        """A TrafficJunction event → a plate event (see :func:`read_event`)."""
        received = datetime.now(self.zone)
        read = read_event(data, received)
        if not isinstance(read, PlateRead):
            return read
        return PlateEvent.from_read(
            read,
            lane_id=self.lane.id,
            received_at=received,
            source="dahua-pull",
            raw=diagnostic(data),
        )

    async def run(self) -> None:
        auth = httpx.DigestAuth(self.cfg.username, self.cfg.password.get_secret_value())
        async with httpx.AsyncClient(
            base_url=self.cfg.url,
            auth=auth,
            timeout=httpx.Timeout(10, read=30),
            transport=self._transport,
        ) as http:
            await keep_connected(
                lambda: self._stream(http),
                health=self.health,
                what="Dahua event stream",
                errors=(httpx.HTTPError, OSError),
                backoff_initial=self.backoff_initial,
                backoff_max=self.backoff_max,
            )

    def _take(self, data: dict[str, Any]) -> None:
        try:
            event = self.event(data)
        except PayloadError as exc:
            self.health.rejected += 1
            log.warning("malformed Dahua event", lane=self.lane.id, error=str(exc))
            return
        if isinstance(event, OtherEvent):
            self.health.ignored += 1
            log.debug("Dahua event that is not a pass", lane=self.lane.id, what=event.what)
        elif event is not None:
            self.health.events += 1
            self.lane.offer(event)

    async def _stream(self, http: httpx.AsyncClient) -> None:
        async with http.stream("GET", ATTACH) as response:
            response.raise_for_status()
            self.health.connected = True
            log.info("Dahua event stream attached", lane=self.lane.id)
            buffer = ""
            async for chunk in response.aiter_text():
                self.health.heard(plate=False)  # heartbeats keep the camera "heard"
                events, buffer = split_events(buffer + chunk)
                for data in events:
                    self._take(data)
