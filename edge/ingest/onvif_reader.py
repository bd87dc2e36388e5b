"""Plates from a camera's ONVIF events, with ``onvif-zeep-async`` (research/onvif.md).

Each session: connect (the WSDLs ship with the library, nothing is fetched), read the device's
clock — WS-Security tokens are signed with the device's time, since cameras refuse a token a
few seconds off theirs — create a PullPoint subscription (the library renews it at 80 % of its
term), and long-poll ``PullMessages``. Any error, or the library reporting the subscription
lost, ends the session: it is re-created after a capped backoff (never in a tight loop: cameras
cap their subscriptions and some lock accounts). The subscription is cancelled on the way out.

Which topic carries the plate, and in which items, is configured (``topics``), so a new camera
model needs no code. ONVIF has no plate colour: the configured ``color`` is used unless the
plate text names one. A ``PictureUri`` is fetched (Digest auth) while the platform is asked.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import httpx
import onvif
import structlog
import zeep.exceptions
from onvif import ONVIFCamera
from onvif.exceptions import ONVIFError

from edge.config.model import OnvifCamera, OnvifTopic
from edge.domain.events import PlateEvent, PlateRead
from edge.domain.jpeg import is_jpeg
from edge.domain.plates import normalise_plate
from edge.gate.lane import Lane
from edge.ingest.generic import parse_color
from edge.ingest.payload import diagnostic
from edge.ingest.reconnect import keep_connected

log = structlog.get_logger("edge.ingest.onvif")

WSDL_DIR = str(Path(onvif.__file__).parent / "wsdl")
#: Device clock offsets above this are logged (WS-Security is compensated either way).
CLOCK_WARN_SECONDS = 5.0
ERRORS = (
    ONVIFError,
    zeep.exceptions.Error,  # Fault, TransportError, XMLParseError, ValidationError
    aiohttp.ClientError,
    TimeoutError,
    OSError,
)


class SubscriptionLostError(Exception):
    """The library could not renew the subscription."""


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def message_items(message: Any) -> dict[str, str]:
    """Every named value of a ``tt:Message``: Data items, then Source items, then the elements
    inside Data's ElementItems (Profile M's ``LicensePlateInfo/PlateNumber``)."""
    items: dict[str, str] = {}
    for part in (getattr(message, "Data", None), getattr(message, "Source", None)):
        for item in getattr(part, "SimpleItem", None) or []:
            items.setdefault(str(item.Name), str(item.Value))
    data = getattr(message, "Data", None)
    for element_item in getattr(data, "ElementItem", None) or []:
        element = getattr(element_item, "_value_1", None)
        if element is None or not hasattr(element, "iter"):
            continue
        for node in element.iter():
            if node.text and node.text.strip():
                items.setdefault(_local(node.tag), node.text.strip())
    return items


def match_topic(topic: str, topics: list[OnvifTopic]) -> OnvifTopic | None:
    topic = topic.rstrip("/.")  # cameras send "…/Motion//." too
    return next((t for t in topics if topic.endswith(t.topic)), None)


class OnvifPlateReader:
    def __init__(
        self,
        lane: Lane,
        cfg: OnvifCamera,
        zone: ZoneInfo,
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.lane, self.cfg, self.zone = lane, cfg, zone
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.health = lane.camera
        self.clock_offset: timedelta | None = None  # the device's clock minus ours
        self.snapshot_uri: str | None = None  # the camera's ONVIF snapshot, for bare events
        self._lost = False
        self._pictures = httpx.AsyncClient(
            auth=httpx.DigestAuth(cfg.username, cfg.password.get_secret_value()),
            timeout=cfg.picture_timeout_seconds,
        )

    async def run(self) -> None:
        try:
            await keep_connected(
                self._session,
                health=self.health,
                what="ONVIF events",
                errors=(*ERRORS, SubscriptionLostError),
                backoff_initial=self.backoff_initial,
                backoff_max=self.backoff_max,
            )
        finally:
            await self._pictures.aclose()

    def _subscription_lost(self) -> None:
        self._lost = True

    async def _session(self) -> None:
        camera = ONVIFCamera(
            self.cfg.host,
            self.cfg.port,
            self.cfg.username,
            self.cfg.password.get_secret_value(),
            wsdl_dir=WSDL_DIR,
            no_cache=True,  # zeep's cache would write to a home directory the service lacks
            adjust_time=True,
        )
        manager = None
        try:
            await camera.update_xaddrs()
            self._note_clock(camera.dt_diff)
            self.snapshot_uri = await self._snapshot_uri(camera)
            self._lost = False
            manager = await camera.create_pullpoint_manager(
                timedelta(seconds=self.cfg.subscription_seconds), self._subscription_lost
            )
            self.health.connected = True
            log.info("ONVIF subscription created", lane=self.lane.id, host=self.cfg.host)
            await self._pull(manager)
        finally:
            if manager is not None:
                await manager.shutdown()  # cancels renewals; best-effort Unsubscribe
            await camera.close()

    async def _snapshot_uri(self, camera: Any) -> str | None:
        """The snapshot URI of the camera's first media profile, for events that carry no
        picture (unless the lane has its own [lanes.snapshot]); None if it has none."""
        if self.lane.snapshot is not None:
            return None
        try:
            profiles = await (await camera.create_media_service()).GetProfiles()
            uri = await camera.get_snapshot_uri(profiles[0].token) if profiles else None
        except (*ERRORS, IndexError, AttributeError) as exc:
            log.warning("no ONVIF snapshot URI; bare events get no photo", error=repr(exc))
            return None
        return str(uri) if uri else None

    def _note_clock(self, offset: timedelta | None) -> None:
        self.clock_offset = offset
        seconds = offset.total_seconds() if offset is not None else 0.0
        if abs(seconds) > CLOCK_WARN_SECONDS:
            log.warning(
                "camera clock is off; requests are signed with its time, set up NTP on it",
                lane=self.lane.id,
                offset_seconds=round(seconds, 1),
            )

    async def _pull(self, manager: Any) -> None:
        request = {"MessageLimit": 100, "Timeout": timedelta(seconds=self.cfg.pull_timeout_seconds)}
        while True:
            if self._lost:
                raise SubscriptionLostError("the camera did not renew the subscription")
            # The library replaces the service when it restarts a subscription: ask each time.
            response = await manager.get_service().PullMessages(request)
            for message in getattr(response, "NotificationMessage", None) or []:
                event = self.event(message)
                if event is not None:
                    self.health.heard()
                    self.lane.offer(event)

    def event(self, notification: Any) -> PlateEvent | None:
        """The plate event in one notification, or None (another topic, or a state replay)."""
        topic_value = getattr(getattr(notification, "Topic", None), "_value_1", None)
        mapping = match_topic(str(topic_value or ""), self.cfg.topics)
        message = getattr(getattr(notification, "Message", None), "_value_1", None)
        if mapping is None or message is None:
            return None
        if getattr(message, "PropertyOperation", None) == "Initialized":
            return None  # the camera replaying its last state, not a vehicle now
        items = message_items(message)
        text = items.get(mapping.plate, "").strip()
        if not text:
            self.health.rejected += 1
            log.warning("ONVIF plate event without a plate", lane=self.lane.id, items=items)
            return None
        plate = normalise_plate(text, colour_prefix=True)
        now = datetime.now(self.zone)
        read = PlateRead(
            plate.text,
            plate.color_hint or parse_color(self.cfg.color, plate),
            camera_time=self._true_time(getattr(message, "UtcTime", None), now),
            confidence=self._confidence(items, mapping),
            unreadable=plate.unreadable,
        )
        return PlateEvent.from_read(
            read,
            lane_id=self.lane.id,
            received_at=now,
            source="onvif",
            raw=diagnostic({"topic": str(topic_value), **items}),
            image_source=self._picture(items.get(mapping.picture or "") or self.snapshot_uri),
        )

    def _true_time(self, utc: Any, now: datetime) -> datetime:
        """The camera's event time, corrected by its clock offset."""
        if not isinstance(utc, datetime) or utc.tzinfo is None:
            return now
        return (utc - (self.clock_offset or timedelta(0))).astimezone(self.zone)

    @staticmethod
    def _confidence(items: dict[str, str], mapping: OnvifTopic) -> int | None:
        try:
            value = float(items[mapping.confidence or ""]) * mapping.confidence_scale
        except (KeyError, ValueError):
            return None
        if not math.isfinite(value):  # "NaN", "Infinity": no confidence rather than a crash
            return None
        return max(0, min(100, round(value)))

    def _picture(self, url: str | None) -> Any:
        if not url or not url.startswith(("http://", "https://")):
            return None

        async def fetch() -> bytes | None:
            try:
                response = await self._pictures.get(url)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("ONVIF picture not fetched", lane=self.lane.id, error=repr(exc))
                return None
            return response.content if is_jpeg(response.content) else None

        return fetch
