"""Dahua ``eventManager.cgi?action=attach`` (camera = server, HTTP Digest auth), see
research/anpr_formats.md §3.1: a long-lived ``multipart/x-mixed-replace`` response whose text
parts read ``Code=TrafficJunction;action=Pulse;index=0;data={...}`` with the JSON spread over
several lines, and ``Heartbeat`` parts in between. The stream carries no images.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog

from edge.config import DahuaPullCamera
from edge.events import PlateEvent
from edge.ingest.dahua import dahua_color
from edge.ingest.payload import diagnostic
from edge.ingest.reconnect import keep_connected
from edge.lane import Lane
from edge.plates import normalise_plate

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
        except json.JSONDecodeError:
            event = None
        if isinstance(event, dict):
            events.append(event)
        buffer = buffer[end + 1 :]
    return events, buffer[-16:]  # keep a possible split "data={" marker


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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

    def event(self, data: dict[str, Any]) -> PlateEvent | None:
        car = _mapping(data.get("TrafficCar"))
        obj = _mapping(data.get("Object"))
        raw = car.get("PlateNumber") or (
            obj.get("Text") if obj.get("ObjectType") == "Plate" else None
        )
        if not isinstance(raw, str):
            return None
        plate = normalise_plate(raw)
        received = datetime.now(self.zone)
        utc = data.get("UTC")
        when = datetime.fromtimestamp(utc, self.zone) if isinstance(utc, int | float) else received
        group = data.get("GroupID")
        return PlateEvent(
            lane_id=self.lane.id,
            plate=plate.text,
            unreadable=plate.unreadable,
            color=dahua_color(car.get("PlateColor")),
            camera_time=when,
            received_at=received,
            received_mono=time.monotonic(),
            source="dahua-pull",
            raw=diagnostic(data),
            vendor_id=f"dhp-{group}" if group is not None else None,
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
                    if (event := self.event(data)) is not None:
                        self.health.events += 1
                        self.lane.offer(event)
