"""One gate lane: where a plate event goes, step by step.

1. duplicate check → 2. verify with the platform under a hard deadline → 3. decide (pure)
→ 4. record the pass in SQLite (before anything moves) → 5. open the barrier and write the
LED → 6. confirm the passage in the background, then release the pass for forwarding.

Every kind of pass (a read, a stale read, a guard's override, a gate crash, a camera's stored
record) goes through the lane's queue and the one path :meth:`Lane._pass`; what differs is how
it is decided and carried out at the gate. The lane coordinates: verification, photos, the
devices and the ledger are collaborators it is given (:class:`LaneParts`).

Camera adapters call :meth:`Lane.submit` and may await the returned future, which resolves
once the barrier and LED commands were issued (the pass is committed by then).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import structlog

from drivers.base import Actuation, CameraReply, DisplayLine, DriverError
from drivers.camera_reply import CameraMailbox
from drivers.presence import Change
from edge.config.model import DecisionConfig, LaneConfig, LedTextConfig, SiteConfig
from edge.domain.camera_health import CameraHealth
from edge.domain.codes import Direction, GateSignal
from edge.domain.decision import (
    GATE_CRASH,
    STALE_READ,
    Decision,
    GateContext,
    OfflineRules,
    camera_decided,
    decide,
    guard_decided,
)
from edge.domain.dedup import Deduplicator, Earlier
from edge.domain.events import PlateEvent
from edge.domain.led_text import led_lines
from edge.domain.local_lists import LocalLists
from edge.domain.plates import PlateColor, plate_pattern, plate_shape
from edge.domain.serials import SerialAllocator, serial_prefix
from edge.gate.camera_photos import SnapshotSource
from edge.gate.devices import LaneDevices
from edge.gate.pass_photos import PassPhotos
from edge.gate.verifier import Verifier
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.journal import FallbackJournal
from edge.ledger.passes import PassLedger
from edge.ledger.photos import photo_url
from edge.ledger.store import LatePhotos, LedgerUnwritableError, NewPass, NewPhoto, NewRead
from edge.ops.metrics import Metrics
from edge.uplink.lane_activity import LaneActivity

log = structlog.get_logger("edge.gate.lane")

GATE_CRASH_PHOTO = 3  # §7.3 photo type 闯岗
#: The id of a pass kept in the fallback journal (no ledger row yet).
JOURNALLED = 0
#: A plate read this shortly before a gate crash is taken to be the crashing vehicle's.
GATE_CRASH_READ_SECONDS = 60.0
#: The source of the pass the lane records for a gate crash (its loop detector saw it).
GATE_CRASH_SOURCE = "detector"
#: The barrier error stored when a camera never collected a guard's open with its next poll.
NOT_DELIVERED = "the command did not reach the barrier"
#: How long a command waits for a camera that collects it with its next poll; then it is
#: withdrawn (a barrier must never lift long after the guard pressed the button).
COMMAND_TIMEOUT_SECONDS = 10.0


class LaneBusyError(RuntimeError):
    """The lane's queue is full, or its serial numbers ran too far ahead: the read was not
    taken (the camera should send it again)."""


@dataclass(frozen=True, slots=True)
class GuardOverride:
    open: bool
    reason: str
    operator: str


#: Plate shapes (:func:`~edge.domain.plates.plate_shape`) of unusual plates seen since start, with
#: their count: each is logged once, and shown on the status page. Bounded.
UNUSUAL_SHAPES: dict[str, int] = {}
_MAX_SHAPES = 200


@dataclass(frozen=True, slots=True)
class LaneOutcome:
    """What the lane did with one event. For a duplicate read, ``serial`` and ``decision`` are
    those of the earlier pass it was merged into (``merged`` says why), and nothing moved."""

    duplicate: bool
    serial: str | None = None
    decision: Decision | None = None
    barrier: str = "not-commanded"
    #: Photos stored with the pass (a camera's photo refused as not a usable JPEG is not).
    photos: int = 0
    merged: str | None = None
    #: A command through a camera that collects it with its next poll: whether it reached the
    #: camera (awaited by the guard's request, never by the lane). ``None``: already known.
    delivery: asyncio.Future[bool] | None = None


@dataclass(frozen=True, slots=True)
class LaneSettings:
    """What the config says for every lane (``[site]``, ``[decision]``, ``[led_text]``)."""

    site: SiteConfig
    decision: DecisionConfig
    led_text: LedTextConfig


@dataclass(frozen=True, slots=True)
class LaneParts:
    """The collaborators a lane coordinates, built by the daemon: the ledger, the lane's
    devices, verification (platform + deadline + breaker), its photos, the books it decides
    with, and, for a camera that takes commands only in its replies, the command channel."""

    store: PassLedger
    devices: LaneDevices
    verifier: Verifier
    photos: PassPhotos
    plans: PlanBook | None = None
    lists: ListBook | None = None
    metrics: Metrics | None = None
    #: Where guard overrides go while the ledger cannot be written.
    journal: FallbackJournal | None = None
    activity: LaneActivity = field(default_factory=LaneActivity)
    commands: CameraMailbox | None = None


class Lane:
    def __init__(
        self,
        cfg: LaneConfig,
        settings: LaneSettings,
        parts: LaneParts,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        site, decision = settings.site, settings.decision
        #: Where guard overrides go while the ledger cannot be written (and vehicles let
        #: through, with ``fail_open``: storage.ledger_fail_policy = "open").
        self.journal = parts.journal
        self.fail_open = False
        self.cfg, self.site, self.led_text = cfg, site, settings.led_text
        self.devices = parts.devices
        self.direction = Direction(cfg.direction)
        self.serials = SerialAllocator(
            serial_prefix(site.enterprise_code, cfg.gate_code, cfg.direction), None
        )
        self.offline = OfflineRules(
            decision.offline_policy,
            decision.offline_cache_ttl_hours * 3600,
            decision.offline_cache_miss,
        )
        self.verifier, self.store, self.photos = parts.verifier, parts.store, parts.photos
        self.dedup = Deduplicator(decision.duplicate_window_seconds)
        self.heavy_gvm_kg = decision.heavy_gvm_kg
        self.max_read_age = decision.max_read_age_seconds
        self.queue_size = decision.lane_queue_size
        self.max_serial_lead = decision.max_serial_lead_seconds
        self.busy_refusals = 0
        #: Refusing reads for the serial lead since busy_refusals was this (logged once).
        self._leading: int | None = None
        self.plans, self.lists = parts.plans, parts.lists
        self.metrics = parts.metrics
        #: Called with each pass as it is recorded (MQTT telemetry, the status page); must
        #: not block.
        self.pass_listeners: list[Callable[[dict[str, Any]], None]] = []
        #: Called with each duplicate read kept with an earlier pass (the status page).
        self.merged_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.activity = parts.activity
        self.camera = CameraHealth(cfg.id, expected_seconds=site.camera_silent_minutes * 60)
        #: Commands between vehicles for a camera that takes them only in its replies (built by
        #: ingest for such a camera, collected by its next poll); ``None``: commands go direct.
        self.commands = parts.commands
        self._clock, self._mono = clock, monotonic
        self._queue: asyncio.Queue[tuple[PlateEvent, asyncio.Future[LaneOutcome]]] = asyncio.Queue()
        self._background: set[asyncio.Task[None]] = set()
        self._expected: deque[float] = deque()  # openings whose vehicle has not reached the loop
        self._last_read: tuple[str | None, PlateColor, float] | None = None  # for gate crashes
        if self.devices.detector is not None:
            self.devices.detector.presence.on_change(self._presence_changed)

    @property
    def snapshot(self) -> SnapshotSource | None:
        """Where the front photo comes from when a read has none."""
        return self.photos.snapshot

    @property
    def id(self) -> str:
        return self.cfg.id

    async def load(self) -> None:
        """Continue the serial numbers from the ledger, and from the fallback journal if it
        was not merged yet; remember the lane's recent passes for the duplicate filter (call
        once before :meth:`run`, after unconfirmed passes were finalised)."""
        last = await self.store.last_serial(self.serials.prefix)
        if self.journal is not None:
            journalled = self.journal.last_serial(self.serials.prefix)
            if journalled is not None and (last or "") < journalled:
                last = journalled
        self.serials.start(last)  # (after a restore, a floor past the clock: no lead)
        now, mono = self._clock(), self._mono()
        recent = await self.store.recent_passes(self.id, now - self.dedup.window)
        for row in recent:
            if row.source in ("guard", GATE_CRASH_SOURCE) or row.flag == "offline-repush":
                continue  # not a camera's live read
            self.dedup.learn(
                Earlier(row.id, row.serial, row.plate or "", row.plate_color,
                        mono - (now - row.received_at),
                        open=row.state == "open" or row.gate_signal == GateSignal.NOT_LIFTED)
            )  # fmt: skip
        for row in recent:  # a lift after a vehicle without a plate: that vehicle has gone
            if row.state != "open" and row.gate_signal != GateSignal.NOT_LIFTED:
                self.dedup.close(row.id)

    def submit(self, event: PlateEvent) -> asyncio.Future[LaneOutcome]:
        """Queue ``event``; :class:`LaneBusyError` when ``lane_queue_size`` reads already wait,
        or when passes faster than one a second took the lane's serial numbers more than
        ``max_serial_lead_seconds`` ahead — half that for a camera's stored record, so that a
        camera back from an outage replaying its records as fast as it is answered leaves
        the rest to the vehicles at the barrier (a guard's override always gets in)."""
        if event.override is not None:
            return self._enqueue(event)
        if self._queue.qsize() >= self.queue_size:
            self.busy_refusals += 1
            raise LaneBusyError(f"lane {self.id} has {self.queue_size} reads waiting")
        when = event.received_at.astimezone(self.site.zone)
        lead = self.serials.lead(when, event.received_mono)
        if lead > (self.max_serial_lead / 2 if event.historical else self.max_serial_lead):
            self.busy_refusals += 1
            if self._leading is None:  # logged once, and once when the lead has run off
                self._leading = self.busy_refusals - 1
                log.warning(
                    "refusing reads: too many passes too fast",
                    lane=self.id,
                    serial_lead_seconds=round(lead),
                    stored_record=event.historical,
                )
            raise LaneBusyError(f"lane {self.id}'s serial numbers are {lead:.0f} s ahead")
        if self._leading is not None and lead < self.max_serial_lead / 4:
            # Not as soon as one read gets in: under a steady flood one does each second (the
            # pair was logged 54 times a minute); a stored record's limit is half.
            log.info(
                "taking reads again",
                lane=self.id,
                serial_lead_seconds=round(lead),
                refused=self.busy_refusals - self._leading,
            )
            self._leading = None
        return self._enqueue(event)

    def _enqueue(self, event: PlateEvent) -> asyncio.Future[LaneOutcome]:
        future: asyncio.Future[LaneOutcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, future))
        return future

    def offer(self, event: PlateEvent) -> None:
        """Submit an event nobody waits for (a serial line, an MQTT message, a pulled stream);
        the lane logs its own failures."""
        try:
            future = self.submit(event)
        except LaneBusyError as exc:
            log.warning("read dropped: the lane is busy", lane=self.id, error=str(exc))
            return
        future.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _stale(self, event: PlateEvent) -> bool:
        """Too old to move the barrier for: past ``max_read_age`` or its camera answered."""
        if event.ticket is not None and event.ticket.abandoned:
            return True
        return self._mono() - event.received_mono > self.max_read_age

    async def run(self) -> None:
        """The lane task: one vehicle after another. Supervised; an error fails one event."""
        while True:
            event, future = await self._queue.get()
            try:
                outcome = await self.handle(event)
            except LedgerUnwritableError as exc:  # the store logged the alarm once
                log.info("pass not recorded: the ledger cannot be written", lane=self.id)
                if not future.done():
                    future.set_exception(exc)
            except Exception as exc:
                log.exception("plate event failed", lane=self.id, plate=event.plate)
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(outcome)

    async def handle(self, event: PlateEvent) -> LaneOutcome:
        with (
            self.activity,
            structlog.contextvars.bound_contextvars(lane=self.id, plate=event.plate),
        ):
            if event.historical:
                return await self._handle_historical(event)
            if event.override is not None:
                return await self._handle_override(event, event.override)
            if event.source == GATE_CRASH_SOURCE:
                return await self._handle_gate_crash(event)
            event = self._dated(event)
            self._last_read = (event.plate, event.color, event.received_mono)
            asked = self._ask_early(event)
            merged = await self._merge_duplicate(event)  # a re-push is never a second pass
            if merged is not None or self._stale(event):
                if asked is not None:  # its answer is not used
                    asked.add_done_callback(lambda task: task.cancelled() or task.exception())
                if merged is not None:
                    return merged
                # a stale read is not learnt: a fresh one still opens
                return await self._pass(event, _at_once(STALE_READ), self._leave_stale)
            self._judge_plate(event)
            decided = asked if asked is not None else self._decide(event)
            return await self._pass(event, decided, self._carry_out, self._settle)

    def _ask_early(self, event: PlateEvent) -> asyncio.Task[Decision] | None:
        """For a read that carries the camera's record id and is no repeat of a pass the lane
        remembers: the platform asked while the ledger is searched for that record (a hop to
        the ledger's reader thread the barrier would otherwise wait for). A re-push found
        there leaves the answer unused: one check more, only for a record pushed again after
        the duplicate window. None: asked once the read is known to be new."""
        if event.vendor_id is None or self._stale(event):
            return None
        if self.dedup.match(event.plate, event.color.value, event.received_mono) is not None:
            return None
        # its log lines carry the serial the pass gets (the lane allocates none meanwhile)
        serial = self.serials.peek(event.received_at.astimezone(self.site.zone))
        with structlog.contextvars.bound_contextvars(serial=serial):
            return asyncio.create_task(self._decide(event))

    async def _pass(
        self,
        event: PlateEvent,
        decided: Awaitable[Decision],
        carry_out: Callable[[PlateEvent, Decision, _Recorded], Awaitable[_Gate]],
        settle: Callable[[PlateEvent, Decision], Decision] | None = None,
        *,
        photo_kind: int | None = None,
        dated: datetime | None = None,
    ) -> LaneOutcome:
        """The one way a pass is made, for every kind (a read, a stale read, a guard's
        override, a gate crash, a camera's stored record): allocate its serial → fetch its
        photos in the background if a camera must give them (:meth:`_fetches_photos`) →
        ``settle`` the decision → record the pass (committed before anything moves; flagged
        ``photo-skipped`` until its photos are) → write the photos that came with the read, in
        the background → ``carry_out`` the decision at the gate →
        note what the barrier did, with the photos once they are written, and finalise the
        pass: at once when the gate already knows how it ended, else by confirming in the
        background. ``dated``: the time the pass is recorded at, when not its receive time (a
        camera's stored record: when the vehicle passed; its serial is still of the day it
        came)."""
        serial = self.serials.allocate(
            event.received_at.astimezone(self.site.zone), event.received_mono
        )
        if dated is not None:
            event = replace(event, received_at=dated)
        with structlog.contextvars.bound_contextvars(serial=serial):
            photos = None
            if self._fetches_photos(event):  # the vehicle is there now: fetched at once
                photos = asyncio.create_task(self.photos.take(event, photo_kind))
            try:
                decision = await decided
                if settle is not None:
                    decision = settle(event, decision)
                recorded = await self._record(serial, event, decision)
                if photos is None:  # written while the barrier moves
                    photos = asyncio.create_task(self.photos.take(event, photo_kind))
                gate = await carry_out(event, decision, recorded)
            finally:  # a failed pass leaves its written photos as orphan files (harmless)
                stored = await self._taken(photos) if photos is not None else []
            late = self._late_photos(event, decision, recorded, stored)
            if recorded.id == JOURNALLED:  # a journalled pass is finalised when merged
                pass
            elif gate.delivery is not None:  # the lane does not wait for the camera's poll
                if late is not None:
                    await self.store.add_photos(recorded.id, late)
                self._spawn(self._when_delivered(recorded, gate, gate.delivery))
            else:
                await self._note_gate(recorded, gate, late)
            if recorded.id != JOURNALLED:  # (a journalled pass was announced as journalled)
                self._announce(serial, event, decision, stored)
        return LaneOutcome(
            duplicate=False,
            serial=recorded.serial,
            decision=decision,
            barrier=gate.outcome,
            photos=len(stored),
            delivery=gate.delivery,
        )

    def _fetches_photos(self, event: PlateEvent) -> bool:
        """Whether the pass's photos are taken from a camera (a snapshot, the rear camera, a
        camera's image link) rather than all in the read: then they are fetched as the pass
        begins, while the vehicle is in front of the camera. A photo that came with the read
        is written once the pass is committed, while the barrier moves: its write and fsync
        ran beside the platform's check and the pass's commit, which the barrier waits for,
        and took the loop and the disk from them (issue 19: plate → coil p50 about 0.9 ms
        shorter, the camera's reply about 1 ms later — still after the photo is committed)."""
        return event.scene_image() is None or self.photos.rear is not None

    @staticmethod
    async def _taken(photos: Awaitable[list[NewPhoto]]) -> list[NewPhoto]:
        """The photos a pass's photo task (or a re-push's photo write) stored; none when it
        failed (the barrier has moved by then: the pass goes on without them, flagged)."""
        try:
            return await photos
        except Exception:
            log.exception("the pass's photos could not be taken; recorded without them")
            return []

    def _late_photos(
        self, event: PlateEvent, decision: Decision, recorded: _Recorded, stored: list[NewPhoto]
    ) -> LatePhotos | None:
        """The photos to commit with what the barrier did, and the flag the pass has with
        them (None: nothing to add or change)."""
        flag = decision.flag or self._flag(event, stored)
        if not stored and flag == recorded.flag:
            return None
        return LatePhotos(stored, self.verifier.uploads_photos, flag)

    async def _note_gate(
        self, recorded: _Recorded, gate: _Gate, photos: LatePhotos | None = None
    ) -> None:
        """After the commands went out: what the barrier did, the pass's photos written
        meanwhile and, when it is known already (the gate knew how it ended, no loop detector
        to wait for, or the barrier did not open), how the pass ended, in one commit before
        the camera is told; else the barrier and photos now and the end once the confirmation
        has it (in the background)."""
        ended = gate.ended or self._ended_at_once(gate.outcome)
        if ended is None:
            await self.store.set_barrier(recorded.id, gate.barrier, gate.error, photos)
            self._spawn(self._confirm(recorded.id, recorded.serial, gate.since))
            return
        signal, at, how = ended
        await self.store.close_pass(
            recorded.id, signal, at, how, (gate.barrier, gate.error), photos
        )
        if gate.ended is None:  # ended by the barrier's outcome alone
            if signal is not GateSignal.NOT_LIFTED:  # a refused vehicle is still there
                self.dedup.close(recorded.id)  # a near read after this is another vehicle
            with structlog.contextvars.bound_contextvars(serial=recorded.serial):
                log.info("pass confirmed", gate_signal=signal.name.lower(), by=how)

    def _ended_at_once(self, barrier: str) -> tuple[GateSignal, float, str] | None:
        """How a live pass ends when nothing is left to wait for: the barrier did not open, or
        no loop detector can tell (the barrier's opening is the passage); else None."""
        if barrier != "opened":
            return GateSignal.NOT_LIFTED, self._clock(), "barrier"
        if self.devices.detector is None:
            return GateSignal.PASSED, self._clock(), "barrier"
        return None

    async def _when_delivered(
        self, recorded: _Recorded, gate: _Gate, delivery: asyncio.Future[bool]
    ) -> None:
        """A command the camera collects with its next poll: the barrier opened only if it
        was collected in time (else withdrawn: :class:`drivers.camera_reply.CameraMailbox`)."""
        with structlog.contextvars.bound_contextvars(lane=self.id, serial=recorded.serial):
            if not await delivery and gate.barrier == "opened":
                gate = replace(gate, barrier="failed", error=NOT_DELIVERED)
            await self._note_gate(recorded, gate)

    def _settle(self, event: PlateEvent, decision: Decision) -> Decision:
        """A live read's verdict, once the platform answered: too late to act on, or acted on
        (the camera waiting for its reply is told so)."""
        if self._stale(event):  # the verdict came too late to act on
            return STALE_READ
        if event.ticket is not None:
            event.ticket.acted = True
        return decision

    async def _carry_out(self, event: PlateEvent, decision: Decision, recorded: _Recorded) -> _Gate:
        """A live read: open the barrier (or not) and write the LED."""
        self._learn(event, recorded)
        commanded_at = self._mono()
        barrier, error = await self._actuate(event, decision)
        # logged and counted once the commands are out: the barrier does not wait for them
        log.info("pass decided", verdict=decision.verdict, reason=decision.reason,
                 code=decision.code)  # fmt: skip
        self._count(event, decision, commanded_at)
        return _Gate(barrier, error, since=commanded_at)

    def _learn(self, event: PlateEvent, recorded: _Recorded) -> None:
        """The duplicate filter learns a pass only once committed: a failed commit is no
        reason to call a retry a duplicate (a journalled pass is not in the ledger yet)."""
        if recorded.id != JOURNALLED:
            self.dedup.learn(Earlier(recorded.id, recorded.serial, event.plate or "",
                                     event.color.value, event.received_mono))  # fmt: skip

    async def _leave_stale(
        self, event: PlateEvent, decision: Decision, recorded: _Recorded
    ) -> _Gate:
        """A read too old to act on (no platform call, no barrier): the LED asks the driver
        to wait for the guard. A stale plate is not learnt (a fresh read of it still opens);
        a stale read without a plate is (such a read never opens)."""
        if event.plate is None:
            self._learn(event, recorded)
        age = self._mono() - event.received_mono
        log.warning("stale read recorded; the barrier is not moved", age=round(age, 3))
        self._count(event, decision, self._mono())
        await self._actuate(event, decision)
        return _Gate("not-commanded", "the read was too old", since=self._mono())

    def _dated(self, event: PlateEvent) -> PlateEvent:
        """A live read dated by the camera's clock only while that clock agrees with ours
        (``site.camera_clock_max_skew_seconds``); else by its receive time."""
        when = self.camera.trusted_time(
            event.camera_time, event.received_at, self.site.camera_clock_max_skew_seconds
        )
        return event if when is event.camera_time else replace(event, camera_time=when)

    def _count(self, event: PlateEvent, decision: Decision, commanded_at: float) -> None:
        if self.metrics is not None:
            self.metrics.events.labels(self.id, event.source).inc()
            self.metrics.verdicts.labels(self.id, decision.verdict, decision.code).inc()
            self.metrics.decision_seconds.labels(self.id).observe(
                commanded_at - event.received_mono
            )

    async def override(
        self,
        plate: str | None,
        *,
        open_barrier: bool,
        reason: str,
        operator: str,
        color: PlateColor = PlateColor.YELLOW,
    ) -> LaneOutcome:
        """A guard opens (or refuses) for a vehicle, with a mandatory reason and their name:
        recorded as a pass of its own (decided by the guard, flagged "override"), reported as
        any pass, and the barrier moved as for a vehicle (through the camera's next poll where
        the camera takes the commands)."""
        if not reason.strip() or not operator.strip():
            raise ValueError("an override needs a reason and the operator's name")
        order = GuardOverride(open_barrier, reason.strip(), operator.strip())
        return await self.submit(self._event_now(plate, color, "guard", self._mono(), order))

    def _event_now(
        self,
        plate: str | None,
        color: PlateColor,
        source: str,
        mono: float,
        override: GuardOverride | None = None,
    ) -> PlateEvent:
        """An event the gate makes itself (an override, a gate crash), dated now."""
        now = datetime.now(self.site.zone)
        return PlateEvent(
            lane_id=self.id,
            plate=plate,
            color=color,
            camera_time=now,
            received_at=now,
            received_mono=mono,
            source=source,
            override=override,
        )

    async def _handle_override(self, event: PlateEvent, order: GuardOverride) -> LaneOutcome:
        decision = guard_decided(open_=order.open, reason=order.reason, operator=order.operator)

        async def carry_out(event: PlateEvent, decision: Decision, _r: _Recorded) -> _Gate:
            log.warning("guard override", operator=order.operator, reason=order.reason,
                        verdict=decision.verdict)  # fmt: skip
            commanded_at = self._mono()
            templates = self.led_text.open if decision.open else self.led_text.refuse
            lines = [line.text for line in led_lines(templates, decision, event.plate, event.color)]
            sent = await self._dispatch(
                open_barrier=decision.open,
                lines=lines,
                ok=decision.open,
                timeout=COMMAND_TIMEOUT_SECONDS,  # read now: tests shorten it
            )
            if sent.done():
                done = sent.result()
                barrier = "not-commanded" if not decision.open else "opened" if done else "failed"
                error = NOT_DELIVERED if decision.open and not done else None
                return _Gate(barrier, error, since=commanded_at)
            barrier = "opened" if decision.open else "not-commanded"  # once the camera polls
            return _Gate(barrier, since=commanded_at, delivery=sent)

        return await self._pass(event, _at_once(decision), carry_out)

    def _presence_changed(self, change: Change) -> None:
        """A vehicle on the loop although the barrier did not open for it: a gate crash,
        recorded through the lane's queue like any pass (it always gets in)."""
        if not change.present:
            return
        while self._expected and change.at - self._expected[0] > self.cfg.confirm_timeout_seconds:
            self._expected.popleft()  # that vehicle never came
        if self._expected:
            self._expected.popleft()  # the vehicle the barrier was opened for
            return
        last = self._last_read
        recent = last is not None and change.at - last[2] < GATE_CRASH_READ_SECONDS
        plate, color = (last[0], last[1]) if recent and last else (None, PlateColor.OTHER)
        crash = self._enqueue(self._event_now(plate, color, GATE_CRASH_SOURCE, change.at))
        crash.add_done_callback(lambda f: f.cancelled() or f.exception())  # run() logged it

    async def _handle_gate_crash(self, event: PlateEvent) -> LaneOutcome:
        async def carry_out(event: PlateEvent, _d: Decision, _r: _Recorded) -> _Gate:
            log.warning(
                "闯岗 gate crash: a vehicle crossed without the barrier opening", plate=event.plate
            )
            return _Gate("not-commanded", ended=(GateSignal.PASSED, self._clock(), "detector"))

        return await self._pass(event, _at_once(GATE_CRASH), carry_out, photo_kind=GATE_CRASH_PHOTO)

    async def _handle_historical(self, event: PlateEvent) -> LaneOutcome:
        """A record the camera stored while we were unreachable: the vehicle passed then.

        Recorded with the camera's own decision and time; the barrier is not moved, the
        platform not asked. Matched against earlier re-pushes by record id only, so it never
        hides a live read of the same vehicle.
        """
        merged = await self._merge_duplicate(event)
        if merged is not None:
            return merged
        self._judge_plate(event)
        opened = event.camera_opened

        async def carry_out(_e: PlateEvent, decision: Decision, _r: _Recorded) -> _Gate:
            log.info("offline camera record recorded", verdict=decision.verdict,
                     camera_time=event.camera_time.isoformat())  # fmt: skip
            signal = GateSignal.PASSED if opened else GateSignal.NOT_LIFTED
            return _Gate(  # NULL: the camera did not say what it did
                None if opened is None else "camera" if opened else "not-commanded",
                ended=(signal, event.camera_time.timestamp(), "camera"),
                told="camera",
            )

        decided = _at_once(camera_decided(opened))
        return await self._pass(event, decided, carry_out, dated=event.camera_time)

    # -- steps -----------------------------------------------------------------------------

    async def _merge_duplicate(self, event: PlateEvent) -> LaneOutcome | None:
        """If ``event`` is a read of a vehicle that already has a pass (README, *What counts
        as a duplicate*), keep it linked to that pass and return that pass's outcome."""
        pass_id, why = None, ""
        if event.vendor_id is not None:  # the ledger: also after a restart, any time ago
            found = await self.store.find_read(
                self.id, event.vendor_id, event.plate, event.color.value
            )
            pass_id, why = (found.id, "re-push") if found is not None else (None, "")
        if pass_id is None and not event.historical:
            earlier = self.dedup.match(event.plate, event.color.value, event.received_mono)
            if earlier is not None:
                pass_id = earlier.pass_id
                why = (
                    "plateless" if event.plate is None
                    else "same-plate" if earlier.plate == event.plate
                    else "near-plate"
                )  # fmt: skip
        if pass_id is None:
            return None
        row = await self.store.get_pass(pass_id)
        await self.store.add_read(
            NewRead(pass_id, self.id, event.received_at.timestamp(), event.plate,
                    event.color.value, event.unreadable, event.vendor_id, event.source, why,
                    event.raw)
        )  # fmt: skip
        log.info("duplicate read kept with the earlier pass", merged_into=row.serial, why=why)
        if why == "re-push" and row.flag == "photo-skipped" and event.scene_image() is not None:
            await self._heal_photos(pass_id, row.serial, event)
        if self.metrics is not None:
            self.metrics.plate_reads.labels(self.id, "duplicate").inc()
        for listener in self.merged_listeners:
            listener({"merged_into": row.serial, "lane": self.id, "plate": event.plate,
                      "color": event.color.value, "why": why,
                      "received_at": event.received_at.isoformat()})  # fmt: skip
        decision = Decision(
            open=row.verdict == "open", code=row.reason_code, reason=row.reason,
            source=row.decided_by, operator=row.operator,
        )  # fmt: skip
        return LaneOutcome(duplicate=True, serial=row.serial, decision=decision, merged=why)

    async def _heal_photos(self, pass_id: int, serial: str, event: PlateEvent) -> None:
        """A camera pushed again a pass committed without its photo (the daemon stopped
        between the pass's commit and its photo's, so the camera was never answered and sent
        it again): the re-push's photo is the pass's (``PassLedger.heal_photos``). A photo
        the pass has already, or one refused again, changes nothing (a file written for
        nothing stays an orphan, as after a failed pass)."""
        with structlog.contextvars.bound_contextvars(serial=serial):
            stored = await self._taken(self.photos.take(event))
            if stored and await self.store.heal_photos(
                pass_id, LatePhotos(stored, self.verifier.uploads_photos, None)
            ):
                log.info("the photo of a pass recorded without it came with its re-push",
                         photos=len(stored))  # fmt: skip

    def _judge_plate(self, event: PlateEvent) -> None:
        """Count the read by what it is as a plate; log a read that is not a plate, and each
        shape of plate that fits no known pattern once."""
        if event.unreadable is not None:
            kind = "unreadable"
            log.warning("camera read is not a plate; the lane treats it as unreadable",
                        read=event.unreadable, source=event.source)  # fmt: skip
        elif event.plate is None:
            kind = "no-plate"
        elif plate_pattern(event.plate) is None:
            kind = "unusual"
            shape = plate_shape(event.plate)
            if shape not in UNUSUAL_SHAPES and len(UNUSUAL_SHAPES) < _MAX_SHAPES:
                log.warning("plate fits no known pattern; used, and flagged", shape=shape)
            if shape in UNUSUAL_SHAPES or len(UNUSUAL_SHAPES) < _MAX_SHAPES:
                UNUSUAL_SHAPES[shape] = UNUSUAL_SHAPES.get(shape, 0) + 1
        else:
            kind = "ok"
        if self.metrics is not None:
            self.metrics.plate_reads.labels(self.id, kind).inc()

    async def _decide(self, event: PlateEvent) -> Decision:
        verify = self.verifier.verify
        answer = None if event.plate is None else await verify(event.plate, event.color)
        cached = None
        if answer is None and event.plate is not None and self.offline.policy == "cache":
            cached = await self.store.cached_answer(event.plate)
        now = self._clock()
        return decide(
            unreadable=event.unreadable is not None,
            no_plate=event.plate is None,
            answer=answer,
            offline=self.offline,
            cached=cached,
            now=now,
            plate=event.plate,
            context=await self._context(datetime.fromtimestamp(now, self.site.zone)),
        )

    async def _context(self, when: datetime) -> GateContext:
        plan = await self.plans.active(when) if self.plans is not None else None
        used = 0
        if plan is not None and plan.quota is not None and self.direction is Direction.IN:
            midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
            used = await self.store.count_codes_since("quota", midnight.timestamp(), "in")
        lists = await self.lists.current() if self.lists is not None else LocalLists()
        return GateContext(when, self.direction, lists, plan, used, self.heavy_gvm_kg)

    def _announce(
        self, serial: str, event: PlateEvent, decision: Decision, photos: list[NewPhoto]
    ) -> None:
        if not self.pass_listeners:
            return
        message = {
            "serial": serial,
            "lane": self.id,
            "gate_code": self.cfg.gate_code,
            "direction": self.cfg.direction,
            "plate": event.plate,
            "read": event.unreadable,  # a read that is not a plate, escaped
            "flag": decision.flag or self._flag(event, photos),
            # isNeedComplete 1 / 2: the plate goes on the page's 待完善 list (issue 15)
            "need_complete": decision.answer.need_complete if decision.answer else "0",
            "color": event.color.value,
            "verdict": decision.verdict,
            "reason": decision.reason,
            "code": decision.code,
            "decided_by": decision.source,
            "received_at": event.received_at.isoformat(),
            "photos": [photo_url(serial, photo.number) for photo in photos],
        }
        for listener in self.pass_listeners:
            listener(message)

    async def _record(self, serial: str, event: PlateEvent, decision: Decision) -> _Recorded:
        """Commit the pass, before anything moves; its photos follow with what the barrier
        did (:meth:`_note_gate`), so until then it is flagged as a pass without them."""
        new = NewPass(
            serial=serial,
            lane_id=self.id,
            gate_code=self.cfg.gate_code,
            direction=self.cfg.direction,
            plate=event.plate,
            plate_color=event.color,
            camera_time=event.camera_time.timestamp(),
            received_at=event.received_at.timestamp(),
            source=event.source,
            vendor_id=event.vendor_id,
            decision=decision,
            flag=decision.flag or self._flag(event, []),
            raw=event.raw,
            camera_read=event.override is None and event.source != GATE_CRASH_SOURCE,
            text=event.unreadable,
        )
        try:
            recorded = await self.store.record_pass(
                new, (), forward_photos=self.verifier.uploads_photos
            )
        except LedgerUnwritableError:
            live = decision.source in ("platform", "offline", "local")  # not a re-push
            journalled = decision.source == "guard" or (self.fail_open and live and decision.open)
            if journalled and self.journal is not None:
                return await self._journalled(new, event, decision)
            await self._show_ledger_fault(event)  # the barrier stays shut
            raise
        return _Recorded(recorded.id, recorded.serial, new.flag)  # announced once carried out

    async def _journalled(self, new: NewPass, event: PlateEvent, decision: Decision) -> _Recorded:
        """A guard's override (or, with ``ledger_fail_policy = "open"``, a vehicle let through)
        while the ledger cannot be written: kept in the fallback journal (merged into the
        ledger later) and carried out. An opening is journalled as "opened" and passed."""
        assert self.journal is not None
        await self.journal.append(new, "opened" if decision.open else "not-commanded")
        self._announce(new.serial, event, decision, [])
        return _Recorded(JOURNALLED, new.serial, new.flag)

    async def _show_ledger_fault(self, event: PlateEvent) -> None:
        if self.devices.display is None:
            return
        lines = [DisplayLine(text, ok=False) for text in self.led_text.ledger_fault]
        try:
            await self.devices.display.show(
                lines, Actuation(self.id, event.plate, event.camera_reply)
            )
        except DriverError as exc:
            log.error("LED write failed", error=str(exc))

    @staticmethod
    def _flag(event: PlateEvent, photos: list[NewPhoto]) -> str | None:
        """Why a guard should look at this pass, if anything."""
        if event.historical:
            return "offline-repush"
        if event.unreadable is not None:
            return "plate-unreadable"
        if event.plate is None:
            return "no-plate"
        if plate_pattern(event.plate) is None:
            return "plate-unusual"
        if event.scene_image() is not None and not photos:
            return "photo-skipped"
        return None

    async def _actuate(self, event: PlateEvent, decision: Decision) -> tuple[str, str | None]:
        ctx = Actuation(self.id, event.plate, event.camera_reply)
        barrier: tuple[str, str | None] = ("not-commanded", None)
        if decision.open and event.override is None and self._stale(event):
            log.warning("verdict ready too late; the barrier is not moved")
            decision, barrier = STALE_READ, ("not-commanded", "the read was too old")
        if decision.open:
            self._expected.append(self._mono())  # before the vehicle can move
            try:
                await self.devices.barrier.open(ctx)
            except DriverError as exc:
                log.error("barrier did not open", error=str(exc))
                barrier = ("failed", str(exc))
                self._expected.pop()
            else:
                barrier = ("opened", None)
        if self.devices.display is not None:
            templates = self.led_text.open if decision.open else self.led_text.refuse
            # a read that is not a plate never reaches the LED: it says so instead
            plate = "车牌未识别" if event.unreadable is not None else event.plate
            lines = led_lines(templates, decision, plate, event.color)
            try:
                await self.devices.display.show(lines, ctx)
            except DriverError as exc:
                log.error("LED write failed", error=str(exc))
        return barrier

    async def command(
        self,
        *,
        open_barrier: bool = False,
        lines: Sequence[str] = (),
        timeout: float = COMMAND_TIMEOUT_SECONDS,
        ok: bool = True,
    ) -> bool:
        """A command between vehicles (a guard's manual open, an LED message); whether it
        reached the device. Through a camera that takes commands in its replies it waits for
        the camera's next poll, at most ``timeout`` seconds."""
        return await (
            await self._dispatch(open_barrier=open_barrier, lines=lines, timeout=timeout, ok=ok)
        )

    async def _dispatch(
        self,
        *,
        open_barrier: bool = False,
        lines: Sequence[str] = (),
        timeout: float = COMMAND_TIMEOUT_SECONDS,
        ok: bool = True,
    ) -> asyncio.Future[bool]:
        """Send a command (:meth:`command`); the future is done at once for devices the lane
        drives, and when the camera polls (or ``timeout`` passes) for one that collects it."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        reply = CameraReply() if self.commands is not None else None
        ctx = Actuation(self.id, None, reply)
        with structlog.contextvars.bound_contextvars(lane=self.id):
            try:
                if open_barrier:
                    self._expected.append(self._mono())
                    await self.devices.barrier.open(ctx)
                if lines and self.devices.display is not None:
                    await self.devices.display.show([DisplayLine(t, ok) for t in lines], ctx)
            except DriverError as exc:
                log.error("command not carried out", error=str(exc), open_barrier=open_barrier)
                if open_barrier and self._expected:
                    self._expected.pop()
                done.set_result(False)
                return done
            if (
                self.commands is None
                or reply is None
                or (reply.relay_channel is None and not reply.serial)
            ):
                done.set_result(True)
                return done
            return asyncio.ensure_future(
                self._deliver(self.commands, reply, timeout, open_barrier=open_barrier)
            )

    async def _deliver(
        self, mailbox: CameraMailbox, reply: CameraReply, timeout: float, *, open_barrier: bool
    ) -> bool:
        with structlog.contextvars.bound_contextvars(lane=self.id):
            delivered = await mailbox.deliver(reply, timeout)
            if not delivered:
                log.error(
                    "the camera did not poll for the command; withdrawn (is comet polling on?)",
                    open_barrier=open_barrier,
                )
            return delivered

    async def _confirm(self, pass_id: int, serial: str, since: float) -> None:
        """Wait for the loop detector to see the vehicle pass the opened barrier (or not, in
        ``confirm_timeout_seconds``): the gate signal; the pass released for forwarding."""
        detector = self.devices.detector
        assert detector is not None  # without one the pass ended as the commands went out
        with structlog.contextvars.bound_contextvars(lane=self.id, serial=serial):
            passed = await detector.wait_passage(since, self.cfg.confirm_timeout_seconds)
            signal = GateSignal.PASSED if passed else GateSignal.LIFTED_NOT_PASSED
            how = "detector" if passed else "timeout"
            self.dedup.close(pass_id)  # a near read after this is another vehicle (lifted)
            await self.store.finalise(pass_id, signal, self._clock(), how)
            log.info("pass confirmed", gate_signal=signal.name.lower(), by=how)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background step failed", lane=self.id, error=repr(exc), exc_info=exc)

    async def drain(self) -> None:
        """Wait for the background confirmations (and late platform answers) to finish."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        await self.verifier.drain()

    async def cancel_background(self) -> None:
        """Stop confirming; unconfirmed passes are finalised at the next start."""
        for task in list(self._background):
            task.cancel()
        await self.verifier.aclose()
        await self.drain()
        await self.photos.aclose()


@dataclass(frozen=True, slots=True)
class _Recorded:
    id: int
    serial: str
    #: The flag the pass was committed with (before its photos were).
    flag: str | None = None


@dataclass(frozen=True, slots=True)
class _Gate:
    """What the gate did with a recorded pass: the barrier's state and error as stored
    (``None``: unknown); how the pass ended when that is already known (signal, time, by
    what), else ``since``, the monotonic time the commands went out (the confirmation waits
    from then); ``told``: the barrier as the caller is told, when not as stored."""

    barrier: str | None
    error: str | None = None
    ended: tuple[GateSignal, float, str] | None = None
    since: float = 0.0
    told: str | None = None
    #: Whether a command the camera collects with its next poll reached it (pending).
    delivery: asyncio.Future[bool] | None = None

    @property
    def outcome(self) -> str:
        return self.told or self.barrier or "not-commanded"


async def _at_once(decision: Decision) -> Decision:
    """A decision known without asking anyone (a stale read, a guard's, a gate crash, a
    camera's)."""
    return decision
