"""HTTP push from cameras: ``POST /push/<lane id>`` in the lane's configured camera format.

The handler waits for the lane to decide and actuate (under the camera's reply deadline) so
that (a) the camera is acknowledged only for a pass that is committed, and (b) cameras that take
commands in the reply (Vzenith) get the barrier and LED commands in it.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from drivers.base import CameraReply
from drivers.camera_reply import CameraMailbox
from drivers.contact_detectors import CameraInputDetector
from edge.config.model import (
    CameraConfig,
    LaneConfig,
    PushCamera,
    VzenithPushCamera,
    address_in,
)
from edge.domain.camera_health import CameraHealth
from edge.domain.events import PlateEvent, PlateRead, ReadTicket
from edge.gate.lane import Lane, LaneBusyError, LaneOutcome
from edge.ingest.generic import parse_generic
from edge.ingest.payload import OtherEvent, PayloadError, RawPush, diagnostic
from edge.ops.bodies import read_body, reads_own_body
from edge.ops.refusals import REFUSAL_HOLD_SECONDS, RefusalLog, RefusalSpell

log = structlog.get_logger("edge.ingest")

Reply = Callable[[LaneOutcome, CameraReply | None, PlateRead], web.Response]


def _json_reply(outcome: LaneOutcome, _reply: CameraReply | None, read: PlateRead) -> web.Response:
    if outcome.duplicate:  # kept with the pass it belongs to; that pass's outcome
        body = {"result": "ok", "duplicate": True, "merged": outcome.merged}
        if outcome.decision is not None:
            body.update(serial=outcome.serial, verdict=outcome.decision.verdict,
                        reason=outcome.decision.reason)  # fmt: skip
        return web.json_response(body)
    assert outcome.decision is not None
    return web.json_response(
        {
            "result": "ok",
            "duplicate": False,
            "serial": outcome.serial,
            "verdict": outcome.decision.verdict,
            "reason": outcome.decision.reason,
            "barrier": outcome.barrier,
            # What became of the camera's photo: "refused" = not a usable JPEG (not a JPEG,
            # truncated, too large to decode); the pass is recorded without it.
            "photo": "none" if not read.images else "stored" if outcome.photos else "refused",
        }
    )


def _dahua_ok() -> web.Response:
    return web.json_response({"Result": True})  # anything else and the camera re-sends


def _dahua_reply(_o: LaneOutcome, _r: CameraReply | None, _read: PlateRead) -> web.Response:
    return _dahua_ok()


def _ok_reply() -> web.Response:
    return web.json_response({"result": "ok", "pass": False})


Parser = Callable[[RawPush, datetime], PlateRead | OtherEvent]
T = TypeVar("T")


class _Imported:
    """A vendor's parser, imported when its first push comes: a site has one or two camera
    makes, and the others' modules (Hikvision's XML parser with them) stay out of the
    daemon's memory (issue 19)."""

    __slots__ = ("_function", "_module", "_name")

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name = module, name
        self._function: Parser | None = None

    def __call__(self, push: RawPush, received: datetime) -> PlateRead | OtherEvent:
        if self._function is None:
            self._function = getattr(importlib.import_module(self._module), self._name)
            assert self._function is not None
        return self._function(push, received)


@dataclass(frozen=True, slots=True)
class Vendor:
    parse: Parser
    reply: Reply
    #: The answer to a message that is not a pass (a keep-alive, a non-motor snap): HTTP 200
    #: in the form the camera expects, or it re-sends.
    other_reply: Callable[[], web.Response] = _ok_reply


VENDORS: dict[str, Vendor] = {
    "generic-push": Vendor(parse_generic, _json_reply),
    "vzenith-push": Vendor(_Imported("edge.ingest.vzenith", "parse_vzenith"), _json_reply),
    "hikvision-push": Vendor(_Imported("edge.ingest.hikvision", "parse_hikvision"), _json_reply),
    "dahua-push": Vendor(
        _Imported("edge.ingest.dahua", "parse_dahua"), _dahua_reply, other_reply=_dahua_ok
    ),
    "milesight-push": Vendor(_Imported("edge.ingest.milesight", "parse_milesight"), _json_reply),
}


def command_channel(camera: CameraConfig) -> CameraMailbox | None:
    """The channel for commands sent to ``camera`` between vehicles (a guard's open, an LED
    message), for a camera that takes its commands only in the replies to its own requests;
    ``None`` for any other camera. The lane is given it and never asks which vendor it is."""
    return CameraMailbox() if camera.commands_in_reply else None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"result": "error", "error": message}, status=status)


def _refusal(status: int, message: str) -> Callable[[], web.Response]:
    """A refusal a flood gets again and again: its body encoded once, not per push."""
    body = json.dumps({"result": "error", "error": message}).encode()
    return lambda: web.Response(body=body, status=status, content_type="application/json")


_NOT_THE_CAMERA = _refusal(401, "bad or missing token, or not the lane's camera")
_BAD_TOKEN = _refusal(401, "bad or missing token")
_TOO_MANY = _refusal(429, "too many pushes on this lane: not recorded")


def _too_many() -> web.Response:
    response = _TOO_MANY()
    response.headers["Retry-After"] = "1"
    return response


_NO_LANE = _refusal(404, "no lane with a pushing camera here")


def _from_camera(request: web.Request, cfg: LaneConfig) -> bool:
    """Whether the push comes from an address the lane takes pushes from (``allow_from``)."""
    assert isinstance(cfg.camera, PushCamera | VzenithPushCamera)
    return not cfg.camera.allow_from or address_in(request.remote, cfg.camera.allow_from)


def _authorised(request: web.Request, cfg: LaneConfig) -> bool:
    assert isinstance(cfg.camera, PushCamera | VzenithPushCamera)
    if not _from_camera(request, cfg):
        return False
    if cfg.camera.token is None:
        return True
    given = request.query.get("token") or request.headers.get("X-Edge-Token") or ""
    expected = cfg.camera.token.get_secret_value()
    return hmac.compare_digest(given.encode(), expected.encode())


async def _read_push(request: web.Request) -> RawPush:
    """The push's body (:func:`~edge.ops.bodies.read_body`) with its content type."""
    body = await read_body(request)
    return RawPush(body, request.headers.get("Content-Type", ""), request.charset)


def _consume(future: asyncio.Future[LaneOutcome]) -> None:
    if not future.cancelled():
        future.exception()


#: A push body larger than this (bytes) is parsed, and its diagnostic text made, in a worker
#: thread (:func:`asyncio.to_thread`), not on the event loop. The thread holds the GIL
#: through each C call (``bytes.decode``, ``json.loads``, ``base64.b64decode``): the loop
#: still waits for the longest of them, but no longer for their sum and the parsers' Python
#: between them. What bounds ``json.loads`` is :data:`~edge.ingest.payload.JSON_COMMA_LIMIT`.
#: Below this a push (a 125 KB push with a photo: ~1-2 ms) costs the loop less than the
#: thread's hand-over would.
PARSE_IN_THREAD_BYTES = 256 * 1024


def _parse(
    vendor: Vendor, push: RawPush, received: datetime
) -> tuple[PlateRead | OtherEvent, str | None]:
    """The vendor's read of ``push`` and, for a pass, its :func:`diagnostic` text."""
    read = vendor.parse(push, received)
    return read, None if isinstance(read, OtherEvent) else diagnostic(push)


async def _off_loop_if_large(size: int, function: Callable[..., T], *args: object) -> T:
    """``function(*args)``, in a worker thread when the body it reads is more than
    :data:`PARSE_IN_THREAD_BYTES` (``size``, bytes)."""
    if size > PARSE_IN_THREAD_BYTES:
        return await asyncio.to_thread(function, *args)
    return function(*args)


@dataclass(slots=True)
class PushBudget:
    """One lane's token bucket of plate pushes: ``rate`` a second on average, bursts of
    ``2 × rate`` (at least one push, however low the rate). A push is counted before its body
    is read (:meth:`take`, which may keep it a place up to some seconds ahead) and given back
    (:meth:`give_back`) when it turns out not to be a pass (a keep-alive, an alert). A sender
    refused is logged once when it starts and once when it is back within the rate: at the
    first push taken :data:`~edge.ops.refusals.FLOOD_OVER_SECONDS` after the last refused
    (with how many pushes were refused meanwhile)."""

    lane_id: str
    rate: float
    clock: Callable[[], float] = time.monotonic
    kind: str = "plate pushes"  # what is counted, for the log
    tokens: float = field(init=False)
    at: float = field(init=False)
    flood: RefusalSpell = field(default_factory=RefusalSpell)  # since it went over the rate

    def __post_init__(self) -> None:
        self.tokens, self.at = self.burst, self.clock()

    @property
    def burst(self) -> float:
        return max(2 * self.rate, 1.0)

    def give_back(self) -> None:
        """A counted push that was not a pass: it does not use up the lane's budget."""
        self.tokens = min(self.burst, self.tokens + 1)

    def take(self, within: float = 0.0) -> float | None:
        """Count one more push: the seconds until it is within the budget (0: now) when that
        is at most ``within`` seconds (its place is then kept: the pushes after it wait
        longer), else None (refused, not counted)."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        wait = max(0.0, (1 - self.tokens) / self.rate)
        if wait > within:
            if self.flood.refuse(now):
                log.warning(
                    "camera pushes faster than a lane passes vehicles: the excess is refused",
                    lane=self.lane_id,
                    kind=self.kind,
                    max_per_second=self.rate,
                )
            return None
        self.tokens -= 1
        if (refused := self.flood.over(now)) is not None:
            log.info("camera pushes within the lane's rate again", lane=self.lane_id,
                     kind=self.kind, refused=refused)  # fmt: skip
        return wait


class PushReceiver:
    """The push endpoints of every lane with a pushing camera (:meth:`routes`)."""

    def __init__(self, lanes: Mapping[str, Lane], zone: ZoneInfo) -> None:
        self.lanes, self.zone = lanes, zone
        self.hold = REFUSAL_HOLD_SECONDS  # seconds (read here: a test may set it)
        self.refusals = RefusalLog()
        self.budgets: dict[str, PushBudget] = {}
        #: A lane's keep-alives and IO inputs, in a budget of their own at the same rate: a
        #: flood of them (answered 200 at once, each a request's CPU) is paced as pushes are.
        self.chatter: dict[str, PushBudget] = {}
        dahua_rate = 0.0
        #: The lanes with a Dahua camera pushing to Dahua's fixed paths.
        self.dahua: list[Lane] = []
        for lane in lanes.values():
            if isinstance(lane.cfg.camera, PushCamera | VzenithPushCamera):
                rate = lane.cfg.camera.max_pushes_per_second
                self.budgets[lane.id] = PushBudget(lane.id, rate)
                self.chatter[lane.id] = PushBudget(lane.id, rate, kind="keep-alives, IO inputs")
                if lane.cfg.camera.kind == "dahua-push":
                    self.dahua.append(lane)
                    dahua_rate += rate
        #: Dahua's keep-alives name no lane: one budget for all, as many a second as lanes.
        self.dahua_keepalives = PushBudget(
            "dahua", 5.0 * max(len(self.dahua), 1), kind="keep-alives"
        )
        #: Dahua's plate pushes (``/NotificationInfo/TollgateInfo``) name their lane only in
        #: the body: a place in this budget, the Dahua lanes' rates together, is taken before
        #: the body is read (then the lane's own, once the body named it).
        self.dahua_pushes = PushBudget("dahua", dahua_rate or 1.0, kind="Dahua plate pushes")

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/push/{lane}", self.handle),
            web.post("/push/{lane}/heartbeat", self.heartbeat),
            web.post("/push/{lane}/gpio", self.gpio),
            web.post("/NotificationInfo/TollgateInfo", self.dahua_tollgate),
            web.post("/NotificationInfo/KeepAlive", self.dahua_keepalive),
        ]

    def _lane(self, request: web.Request) -> Lane | None:
        lane = self.lanes.get(request.match_info["lane"])
        return lane if lane is not None and lane.cfg.camera.kind in VENDORS else None

    @reads_own_body
    async def handle(self, request: web.Request) -> web.Response:
        came = time.monotonic()
        lane = self._lane(request)
        if lane is None:
            return await self._held(_NO_LANE())
        refused, waited = await self._admitted(lane, request)
        if refused is not None:
            return refused
        push = await _read_push(request)
        return await self._receive(lane, request, push, came, waited)

    async def _admitted(
        self, lane: Lane, request: web.Request
    ) -> tuple[web.Response | None, float]:
        """A push refused on its address, token or the lane's rate, before its body is read
        (the cheap way out for anything the camera did not send: the listener has not read
        the body either, see :func:`edge.ops.bodies.reads_own_body`), answered after
        :attr:`hold`; or None and the seconds the push waited for its place in the lane's
        budget (0 unless it came in a burst beyond it)."""
        if not _authorised(request, lane.cfg):
            self._log_unauthorised(lane, request)
            lane.camera.rejected += 1
            return await self._held(_NOT_THE_CAMERA()), 0.0
        return await self._paced(self.budgets[lane.id], lane.camera)

    async def _paced(
        self, budget: PushBudget, camera: CameraHealth | None = None
    ) -> tuple[web.Response | None, float]:
        """None and the seconds the request waited for its place in ``budget`` (up to
        :attr:`hold`), or the held 429 (counted as ``camera``'s rejected push)."""
        wait = budget.take(within=self.hold)
        if wait is None:
            if camera is not None:
                camera.rejected += 1
            return await self._held(_too_many()), 0.0
        if wait:
            await asyncio.sleep(wait)
        return None, wait

    async def _held(self, refusal: web.Response) -> web.Response:
        """``refusal``, answered :attr:`hold` seconds from now (see
        :data:`REFUSAL_HOLD_SECONDS`)."""
        await asyncio.sleep(self.hold)
        return refusal

    def _log_unauthorised(self, lane: Lane, request: web.Request) -> None:
        peer = request.remote or "?"
        refused = self.refusals.refused("unauthorised", lane.id, peer)
        if refused is not None:
            log.warning("camera push refused: bad token or address", lane=lane.id, peer=peer,
                        refused_since=refused)  # fmt: skip

    @reads_own_body
    async def heartbeat(self, request: web.Request) -> web.Response:
        """A camera's keep-alive (Vzenith posts a form with its name and serial number)."""
        lane = self._lane(request)
        if lane is None:
            return await self._held(_NO_LANE())
        if not _authorised(request, lane.cfg):
            return await self._held(_BAD_TOKEN())
        refused, _ = await self._paced(self.chatter[lane.id])
        if refused is not None:
            return refused
        await read_body(request)
        lane.camera.heard(plate=False)
        camera = lane.cfg.camera
        if lane.commands is not None and isinstance(camera, VzenithPushCamera):
            from edge.ingest.vzenith import vzenith_reply  # noqa: PLC0415 - Vzenith lanes only

            # comet: answer with what is queued, if any
            return web.json_response(
                vzenith_reply(await lane.commands.collect(camera.comet_hold_seconds))
            )
        return web.json_response({"status": "ok"})

    @reads_own_body
    async def gpio(self, request: web.Request) -> web.Response:
        """A Vzenith camera's IO input changed (``AlarmGioIn``): the loop detector wired to it."""
        lane = self._lane(request)
        if lane is None:
            return await self._held(_NO_LANE())
        if not _authorised(request, lane.cfg):
            return await self._held(_BAD_TOKEN())
        refused, _ = await self._paced(self.chatter[lane.id])
        if refused is not None:
            return refused
        body = await read_body(request)
        from edge.ingest.vzenith import parse_gpio_input  # noqa: PLC0415 - Vzenith lanes only

        try:
            source, value = parse_gpio_input(RawPush(body, request.content_type, request.charset))
        except PayloadError as exc:  # once per source and interval, with the count since
            count = self.refusals.refused("malformed IO input", lane.id, request.remote or "?")
            if count is not None:
                log.warning("bad IO input push", lane=lane.id, error=str(exc), size=len(body),
                            head=body[:120].decode("utf-8", "replace"), peer=request.remote,
                            refused_since=count)  # fmt: skip
            return _error(400, str(exc))
        lane.camera.heard(plate=False)
        detector = lane.devices.detector
        used = isinstance(detector, CameraInputDetector) and detector.feed(source, value)
        return web.json_response({"Response_AlarmGioIn": {"info": "ok"}, "used": used})

    @reads_own_body  # (none to read: its own pace is its budget, as a push's lane's is)
    async def dahua_keepalive(self, _request: web.Request) -> web.Response:
        refused, _ = await self._paced(self.dahua_keepalives)
        return _dahua_ok() if refused is None else refused

    @reads_own_body
    async def dahua_tollgate(self, request: web.Request) -> web.Response:
        """Dahua's fixed path: the lane is the one whose camera has this DeviceID (or the
        only Dahua lane). The lane is named only in the body, so before it is read a push is
        refused (after :attr:`hold`) when no lane has a Dahua camera (404), when every Dahua
        lane has an ``allow_from`` and its address is in none (401), and beyond the Dahua
        lanes' rates together (429, :attr:`dahua_pushes`); then its lane's own checks."""
        came = time.monotonic()
        if not self.dahua:
            return await self._held(_NO_LANE())
        if not any(_from_camera(request, lane.cfg) for lane in self.dahua):
            self._log_unauthorised(self.dahua[0], request)
            return await self._held(_NOT_THE_CAMERA())
        refused, _ = await self._paced(self.dahua_pushes)
        if refused is not None:
            return refused
        push = await _read_push(request)
        from edge.ingest.dahua import dahua_device_id  # noqa: PLC0415 - Dahua lanes only

        try:
            device = dahua_device_id(await _off_loop_if_large(len(push.body), push.json))
        except PayloadError as exc:
            return _error(400, str(exc))
        matching = [
            lane for lane in self.dahua if getattr(lane.cfg.camera, "device_id", None) == device
        ]
        lanes = matching or (self.dahua if len(self.dahua) == 1 else [])
        if not lanes:  # logged once per address and interval, with the count since
            peer = request.remote or "?"
            if count := self.refusals.refused("unknown Dahua camera", "dahua", peer):
                log.warning("Dahua push from an unknown camera", device_id=device, peer=peer,
                            refused_since=count)  # fmt: skip
            return await self._held(_error(404, f"no lane for Dahua camera {device!r}"))
        refused, waited = await self._admitted(lanes[0], request)  # (read: the lane is in it)
        if refused is not None:
            return refused
        return await self._receive(lanes[0], request, push, came, waited, self.dahua_pushes)

    async def _receive(
        self,
        lane: Lane,
        request: web.Request,
        push: RawPush,
        came: float,
        waited: float,
        shared: PushBudget | None = None,
    ) -> web.Response:
        """Parse and hand the push to its lane. ``came``: the monotonic time its request
        came (the camera's reply deadline counts from it); ``waited``: the seconds it waited
        for its place in the lane's rate, which do not age the read (its body's upload does
        not either: a camera on a slow link is not stale for it); ``shared``: a budget it was
        also counted in before its lane was known (Dahua's fixed path), given back as the
        lane's is for a message that is not a pass."""
        received = datetime.now(self.zone) - timedelta(seconds=waited)
        mono = time.monotonic() - waited
        kind = lane.cfg.camera.kind
        vendor = VENDORS[kind]
        body = push.body
        try:
            read, raw = await _off_loop_if_large(len(body), _parse, vendor, push, received)
        except PayloadError as exc:
            refused = self.refusals.refused("malformed", lane.id, request.remote or "?")
            if refused is not None:  # once per source and interval, with the count since
                log.warning(
                    "malformed camera payload",
                    lane=lane.id,
                    format=kind,
                    error=str(exc),
                    size=len(body),
                    head=body[:120].decode("utf-8", "replace"),
                    peer=request.remote,
                    refused_since=refused,
                )
            lane.camera.rejected += 1
            return _error(400, str(exc))
        except Exception:  # a parser bug: one JSON log record with the trace; the push refused
            log.exception("camera payload could not be read", lane=lane.id, format=kind)
            lane.camera.rejected += 1
            return _error(400, "unreadable payload")
        if isinstance(read, OtherEvent):  # heard, answered, never a pass
            self.budgets[lane.id].give_back()  # keep-alives and alerts do not use the budget
            if shared is not None:
                shared.give_back()
            lane.camera.heard(plate=False)
            lane.camera.ignored += 1
            log.debug("camera message that is not a pass", lane=lane.id, what=read.what)
            return vendor.other_reply()
        lane.camera.heard()
        reply = CameraReply() if lane.cfg.camera.commands_in_reply else None
        event = PlateEvent.from_read(
            read,
            lane_id=lane.id,
            received_at=received,
            received_mono=mono,
            source=kind,
            raw=raw,
            camera_reply=reply,
            ticket=ReadTicket(),
        )
        try:
            future = lane.submit(event)
        except LaneBusyError:
            lane.camera.rejected += 1
            return _error(503, "lane busy: the read was not recorded; send it again")
        try:
            outcome = await self._outcome(lane, event, future, came)
        except Exception as exc:  # noqa: BLE001 - the lane logged it; the camera gets a 500
            return _error(500, f"internal error: {type(exc).__name__}")
        finally:
            if reply is not None:
                reply.seal()
        if reply is not None:  # the camera acts on what the drivers managed to put in
            from edge.ingest.vzenith import vzenith_reply  # noqa: PLC0415 - (its replies only)

            return web.json_response(
                vzenith_reply(reply, read.echo, continue_offline=read.historical)
            )
        if outcome is None:
            return _error(
                504,
                "not decided in time: the read will be recorded as stale, "
                "the barrier will not move for it",
            )
        return vendor.reply(outcome, reply, read)

    @staticmethod
    async def _outcome(
        lane: Lane, event: PlateEvent, future: asyncio.Future[LaneOutcome], came: float
    ) -> LaneOutcome | None:
        """The lane's outcome within the camera's reply deadline, or None: then the read is
        marked abandoned, so the lane records it as stale and never moves the barrier for
        it. A read the lane already acted on (recorded, the barrier moving) is waited for —
        the reply must say what happened."""
        assert isinstance(lane.cfg.camera, PushCamera | VzenithPushCamera)
        assert event.ticket is not None
        try:
            left = lane.cfg.camera.reply_deadline_seconds - (time.monotonic() - came)
            return await asyncio.wait_for(asyncio.shield(future), max(left, 0.0))
        except TimeoutError:
            if event.ticket.acted:
                return await future
            event.ticket.abandoned = True
            log.error("lane did not decide before the camera's deadline", lane=lane.id)
            future.add_done_callback(_consume)  # the lane logs its own failures
            return None
