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
from dataclasses import dataclass
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
from edge.ingest.payload import PayloadError, diagnostic
from edge.ingest.reconnect import keep_connected

log = structlog.get_logger("edge.ingest.onvif")

WSDL_DIR = str(Path(onvif.__file__).parent / "wsdl")
#: Device clock offsets above this are logged (WS-Security is compensated either way).
CLOCK_WARN_SECONDS = 5.0


class UnreadableReplyError(Exception):
    """A camera's reply the library could not read and did not say so with its own errors:
    zeep raises ValueError, IndexError, TypeError or AttributeError on some malformed replies
    (an empty SOAP body, a bad tag name, a body that is not XML at all)."""


ERRORS = (
    ONVIFError,
    zeep.exceptions.Error,  # Fault, TransportError, XMLParseError, ValidationError
    UnreadableReplyError,
    aiohttp.ClientError,
    TimeoutError,
    OSError,
)


class SubscriptionLostError(Exception):
    """The library could not renew the subscription."""


async def pull_notifications(service: Any, request: dict[str, Any]) -> list[Any]:
    """The ``wsnt:NotificationMessage`` objects of one ``PullMessages`` call on the pull-point
    ``service`` (onvif-zeep-async's; ``request`` its arguments). Raises one of :data:`ERRORS`
    and nothing else, whatever the camera answers: the session then ends and is created again
    after the backoff, as for any other failed call."""
    try:
        response = await service.PullMessages(request)
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        raise UnreadableReplyError(f"unreadable PullMessages reply: {exc!r}"[:300]) from exc
    return list(getattr(response, "NotificationMessage", None) or [])


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def message_items(message: Any) -> dict[str, str]:
    """Every named value of a ``tt:Message``: Data items, then Source items, then the elements
    inside Data's ElementItems (Profile M's ``LicensePlateInfo/PlateNumber``)."""
    items: dict[str, str] = {}
    for part in (getattr(message, "Data", None), getattr(message, "Source", None)):
        for item in getattr(part, "SimpleItem", None) or []:
            # zeep gives None for an item it could not read, and None for a missing Name or
            # Value: such an item holds nothing (it is not the text "None")
            name, value = getattr(item, "Name", None), getattr(item, "Value", None)
            if name is not None and value is not None:
                items.setdefault(str(name), str(value))
    data = getattr(message, "Data", None)
    for element_item in getattr(data, "ElementItem", None) or []:
        element = getattr(element_item, "_value_1", None)
        if element is None or not hasattr(element, "iter"):
            continue
        for node in element.iter():
            # elements only: a comment or processing instruction (tag not a string) is no value
            if isinstance(node.tag, str) and node.text and node.text.strip():
                items.setdefault(_local(node.tag), node.text.strip())
    return items


def match_topic(topic: str, topics: list[OnvifTopic]) -> OnvifTopic | None:
    topic = topic.rstrip("/.")  # cameras send "…/Motion//." too
    return next((t for t in topics if topic.endswith(t.topic)), None)


class OnvifPlateError(PayloadError):
    """A plate topic's message without a plate; ``items`` are what it held (for the log)."""

    def __init__(self, message: str, items: dict[str, str]) -> None:
        super().__init__(message)
        self.items = items


@dataclass(frozen=True, slots=True)
class OnvifRead:
    """What one notification on a plate topic says."""

    topic: str
    items: dict[str, str]
    read: PlateRead
    #: The event's own picture item (the reader fetches it only if it is an http(s) URL).
    picture: str | None


def read_notification(
    notification: Any,
    topics: list[OnvifTopic],
    *,
    color: str,
    now: datetime,
    clock_offset: timedelta | None,
) -> OnvifRead | None:
    """The plate read in one ``wsnt:NotificationMessage`` as onvif-zeep-async delivers it (a
    zeep object: ``Topic._value_1`` the topic text, ``Message._value_1`` the ``tt:Message``
    with ``UtcTime``, ``PropertyOperation``, ``Source``/``Data`` items — research/onvif.md §1),
    or None for another topic or a state replay (``PropertyOperation="Initialized"``).

    ``topics`` map the topic to its items; ``color`` is the plate colour when the text names
    none; ``now`` (aware, the site zone) dates a message without a usable ``UtcTime``, which is
    otherwise corrected by ``clock_offset`` (the device's clock minus ours). Raises
    :class:`OnvifPlateError` for a plate topic whose message holds no plate."""
    topic_value = getattr(getattr(notification, "Topic", None), "_value_1", None)
    mapping = match_topic(str(topic_value or ""), topics)
    message = getattr(getattr(notification, "Message", None), "_value_1", None)
    if mapping is None or message is None:
        return None
    if getattr(message, "PropertyOperation", None) == "Initialized":
        return None  # the camera replaying its last state, not a vehicle now
    items = message_items(message)
    text = items.get(mapping.plate, "").strip()
    if not text:
        raise OnvifPlateError("ONVIF plate event without a plate", items)
    plate = normalise_plate(text, colour_prefix=True)
    read = PlateRead(
        plate.text,
        plate.color_hint or parse_color(color, plate),
        camera_time=_true_time(getattr(message, "UtcTime", None), now, clock_offset),
        confidence=plate_confidence(items, mapping),
        unreadable=plate.unreadable,
    )
    return OnvifRead(str(topic_value), items, read, items.get(mapping.picture or "") or None)


def _true_time(utc: Any, now: datetime, clock_offset: timedelta | None) -> datetime:
    """The camera's event time, corrected by its clock offset, in ``now``'s zone; ``now`` for
    an event without a time, or one at the ends of the calendar (years 1 or 9999: a broken
    clock, which the lane would replace by the receive time anyway)."""
    if not isinstance(utc, datetime) or utc.tzinfo is None:
        return now
    try:
        return (utc - (clock_offset or timedelta(0))).astimezone(now.tzinfo)
    except OverflowError:
        return now


def plate_confidence(items: dict[str, str], mapping: OnvifTopic) -> int | None:
    """The read's confidence as a percentage (0-100), or None when absent or not a number."""
    try:
        value = float(items[mapping.confidence or ""]) * mapping.confidence_scale
    except (KeyError, ValueError):
        return None
    if not math.isfinite(value):  # "NaN", "Infinity": no confidence rather than a crash
        return None
    return max(0, min(100, round(value)))


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
            for message in await pull_notifications(manager.get_service(), request):
                event = self.event(message)
                if event is not None:
                    self.health.heard()
                    self.lane.offer(event)

    def event(self, notification: Any) -> PlateEvent | None:
        """The plate event in one notification, or None (another topic, a state replay, or a
        plate topic without a plate: counted as rejected)."""
        now = datetime.now(self.zone)
        try:
            found = read_notification(
                notification,
                self.cfg.topics,
                color=self.cfg.color,
                now=now,
                clock_offset=self.clock_offset,
            )
        except OnvifPlateError as exc:
            self.health.rejected += 1
            log.warning(str(exc), lane=self.lane.id, items=exc.items)
            return None
        if found is None:
            return None
        return PlateEvent.from_read(
            found.read,
            lane_id=self.lane.id,
            received_at=now,
            source="onvif",
            raw=diagnostic({"topic": found.topic, **found.items}),
            image_source=self._picture(found.picture or self.snapshot_uri),
        )

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
