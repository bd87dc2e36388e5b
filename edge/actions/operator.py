"""What an operator may do to the gate, whichever face they use (the status page, MQTT, the
command line): open a barrier, refuse a vehicle, show text on the LED, send dead letters
again, add and remove list entries, start, change and close control plans, correct a pass,
export the inspector's ledger.

Every action takes WHO acts (an :class:`Actor`, authenticated by its face: a page session, a
signed MQTT command, the login of the command line), is authorised here (:data:`MAY`: what each
face may do), and leaves exactly one audit row (who, what, target, where from, result, detail):
``ok``, ``failed`` (tried and it did not work), or ``refused`` (not allowed, or bad input).
A refusal raises a typed :class:`ActionError` that each face maps to its own answer (an HTTP
status, an MQTT result, a command-line exit code)::

    NotAllowedError   → 403 / "refused" / exit 2   the actor may not (unauthenticated, or not this)
    InvalidInputError → 400 / "refused" / exit 2   ``key`` names the field or option that is wrong
    NotFoundError     → 400 / "failed"  / exit 1   no such lane, pass, entry or plan

Lists and plans change through their books (:mod:`edge.ledger.books`), which write the ledger
and re-read it, so a lane sees a change the same way whichever face made it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, get_args

import structlog

from edge.domain.control_plan import ControlPlan
from edge.domain.goods import GOODS_NAME_LENGTH, GoodsError, goods_name, tonnes, tonnes_text
from edge.domain.local_lists import ListKind
from edge.domain.plates import (
    TYPED_PLATE_KINDS,
    PlateColor,
    escape_read,
    normalise_plate,
    typed_plate,
)
from edge.domain.text import holds_hidden
from edge.domain.weighing import state_name
from edge.gate.lane import Lane
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.rows import NewTransportPlan, StoredWeighing
from edge.ledger.store import Store
from edge.ledger.weighings import ReadUsedError, WeighingStateError, check_splittable

if TYPE_CHECKING:  # a scale's module is imported only with [scales.*] (issue 19)
    from edge.gate.weighbridge import ScalePairing

#: A correction as the daemon (or the command line) carries it out: (serial, plate, colour,
#: reviewer) → correction id; raises KeyError for an unknown pass, ValueError for a bad value.
Correct = Callable[[str, str, PlateColor, str], Awaitable[int]]

LIST_KINDS: tuple[ListKind, ...] = get_args(ListKind)
MAX_LIST_REASON = 32  # as in the config's lists (shown on the LED)
MAX_PLAN_NAME = 64
#: A guard's reason for opening or refusing at a lane (the status page's form takes as many).
MAX_GUARD_REASON = 200
MAX_DISCARD_REASON = 64  # a discarded weighing's reason, as the audit and the CSV keep it
NO_WEIGHING = "无此过磅记录"
#: A plate typed for a weighing that no pass let through at the scale's lanes had near it,
#: and whose pair has no pass either: its goods record cannot be sent.
NO_TRUCK_NEAR = "地磅车道附近时间内无该车牌的过车记录"
NO_TRUCK_RECORD = f"{NO_TRUCK_NEAR}，完成后的货物台账无法上报"
#: The same, for a first weighing left open: its goods record goes out on the pass of the
#: truck's other weighing (the second one, read at the scale) — or not, if that has none.
NO_TRUCK_PASS_YET = f"{NO_TRUCK_NEAR}；货物台账将按该车另一次过磅的过车记录上报"
#: An ERP plan's validity lies after 2000-01-01 and at most a year ahead.
PLAN_EARLIEST = 946684800.0
PLAN_AHEAD_SECONDS = 366 * 86400.0
#: Requests without a login: one audit row per address and action in this many seconds.
STRANGER_AUDIT_SECONDS = 60.0
#: Addresses remembered for that (beyond, the memory starts again: at worst more rows).
MAX_STRANGERS = 4096

log = structlog.get_logger("edge.actions.operator")


class Face(StrEnum):
    """Where an actor acts from."""

    PAGE = "page"
    MQTT = "mqtt"
    CLI = "cli"
    ERP = "erp"  # the plant's ERP, through its push API


class Action(StrEnum):
    """An operator action, by the name the audit log gives it."""

    OPEN = "open barrier"
    REFUSE = "refuse vehicle"
    SHOW_TEXT = "show text"
    RETRY = "retry dead letter"
    ADD_LIST = "add list entry"
    REMOVE_LIST = "remove list entry"
    START_PLAN = "start plan"
    CHANGE_PLAN = "change plan"
    CLOSE_PLAN = "close plan"
    CORRECT = "correct plate"
    SET_GOODS = "set goods"
    ASSIGN_PLATE = "assign weighing plate"
    DISCARD_WEIGHING = "discard weighing"
    DROP_READ = "drop scale read"
    CLEAR_CHECK = "clear weighing check"
    SAME_TRUCK = "weighing is a second stop"
    TAKE_HIGHER = "take higher weight"
    SPLIT_WEIGHING = "split weighing"
    PUT_PLAN = "put transport plan"
    # the electronic ledger (edge.actions.filing)
    ADD_ENTRY = "add ledger entry"
    MODIFY_ENTRY = "modify ledger entry"
    ENTRY_STATUS = "change ledger entry status"
    ATTACH_IMAGE = "attach document image"
    IMPORT_ENTRIES = "import ledger entries"
    FETCH_FILING = "fetch filing"
    RETRY_FILING = "retry filing"
    SCAN_LICENCE = "scan driving licence"
    EXPORT_LEDGER = "export ledger"


#: What each face may do. The command line has no lanes to move; MQTT only opens and shows text.
MAY: dict[Face, frozenset[Action]] = {
    Face.PAGE: frozenset(Action) - {Action.SHOW_TEXT, Action.CHANGE_PLAN, Action.PUT_PLAN},
    Face.MQTT: frozenset({Action.OPEN, Action.SHOW_TEXT}),
    Face.CLI: frozenset(Action) - {Action.OPEN, Action.REFUSE, Action.SHOW_TEXT, Action.PUT_PLAN},
    Face.ERP: frozenset({Action.PUT_PLAN}),
}

#: The audit names of remote commands (as MQTT has always written them).
_REMOTE = {Action.OPEN: "remote open", Action.SHOW_TEXT: "remote led"}


@dataclass(frozen=True)
class Actor:
    """Who acts: ``name`` as audited (the page's user, the MQTT command's operator, the login
    of the command line), ``origin`` (the client's address, ``mqtt``, ``cli``), the face, and
    ``unauthenticated``: why the face could not authenticate it (None: it could)."""

    name: str
    origin: str
    face: Face
    unauthenticated: str | None = None

    @property
    def on_record(self) -> str:
        """The operator's name as a pass records it (a remote one marked "(MQTT)")."""
        return f"{self.name} (MQTT)" if self.face is Face.MQTT else self.name

    def audited_as(self, action: Action) -> str:
        return _REMOTE.get(action, action.value) if self.face is Face.MQTT else action.value


class ActionError(Exception):
    """An action not carried out; ``detail`` is the one-line reason (audited), ``key`` the
    field or option it is about (None: the action itself), ``said`` the reason as the status
    page shows it (Chinese, where the action is a clerk's; default ``detail``)."""

    result = "refused"

    def __init__(self, detail: str, key: str | None = None, said: str | None = None) -> None:
        super().__init__(detail)
        self.detail, self.key, self.said = detail, key, said or detail


class NotAllowedError(ActionError):
    """The actor may not do this (not authenticated, or not from this face)."""


class InvalidInputError(ActionError):
    """A value that does not validate."""


class NotFoundError(ActionError):
    """No such lane, pass, list entry or open plan."""

    result = "failed"


@dataclass(frozen=True, kw_only=True)
class Done:
    """An action carried out (``ok``) or tried without effect; ``detail`` as audited. The
    other fields say what it made or touched, where the action has one."""

    ok: bool = True
    detail: str = ""
    id: int | None = None  # the list entry, plan or correction
    serial: str | None = None  # the pass an open or refusal recorded
    count: int = 0  # dead letters queued again
    plate: str | None = None  # the plate as normalised
    note: str = ""  # something the operator should know although it worked


def whole_id(value: int | str, key: str = "id") -> int:
    """An id typed by a person (a URL part, an argument); InvalidInputError unless a whole
    number."""
    if isinstance(value, int):
        return value
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise InvalidInputError("bad id", key)
    return int(value)


def checked_plate(plate: str, key: str = "plate") -> str:
    """A plate a person typed, normalised (:func:`edge.domain.plates.typed_plate`: a plate
    of a known pattern); raises :class:`InvalidInputError` naming ``key``, in Chinese for the
    status page, for anything else (``NOTAPLATE``, ``123``, nothing but spaces)."""
    text = typed_plate(plate)
    if text is None:
        shown = escape_read(plate.strip())
        why = f"{shown!r} is not a plate ({TYPED_PLATE_KINDS}; README: plate grammar)"
        said = f"「{shown}」不是有效车牌号（如 豫A12345、豫AD12345、豫A1234挂）"
        raise InvalidInputError(why, key, said if shown else "请填写车牌号")
    return text


def check_list_entry(plate: str, kind: str, reason: str, until: datetime | None) -> None:
    """What a list entry must be before anything is stored (also for a face that has not
    opened the ledger yet). Raises :class:`InvalidInputError` naming the bad input."""
    checked_plate(plate)
    if kind not in LIST_KINDS:
        raise InvalidInputError(f"{escape_read(kind)!r} is not a list", "kind")
    if len(reason) > MAX_LIST_REASON:
        raise InvalidInputError(f"reason is over {MAX_LIST_REASON} characters", "reason")
    if until is not None and until <= datetime.now(until.tzinfo):
        raise InvalidInputError(f"{until.isoformat()} is already past", "until")


def _without_plate(weighing_id: int, state: str) -> None:
    """Raises :class:`InvalidInputError` (key ``id``) unless a weighing in ``state`` waits for
    its plate (unmatched, or held)."""
    if state == "discarded":
        said = f"过磅 {weighing_id} 已作废"
        raise InvalidInputError(f"weighing {weighing_id} was discarded", "id", said)
    if state != "unmatched":
        said = f"过磅 {weighing_id} 已有车牌（{state_name(state)}）"
        raise InvalidInputError(f"weighing {weighing_id} is {state}: it has its plate", "id", said)


def check_plan_end(ends_at: float | None) -> None:
    """A plan's new expected end (epoch seconds; None: unchanged) must lie ahead. Raises
    :class:`InvalidInputError`."""
    if ends_at is not None and ends_at <= time.time():
        raise InvalidInputError("the new end is already past", "end")


def check_baseline(baseline: object) -> None:
    """A plan's baseline (heavy entries on a normal day): a whole number, not negative (the
    quota is a share of it). Raises :class:`InvalidInputError` naming ``baseline``."""
    if baseline is None:
        return
    if isinstance(baseline, bool) or not isinstance(baseline, int) or baseline < 0:
        raise InvalidInputError(f"{baseline!r} is not a number of entries (0 or more)", "baseline")


def check_plan(plan: ControlPlan) -> None:
    """What a new control plan must be (name, strategy 1-7 of spec §7.20, an end after now
    and after its start). Raises :class:`InvalidInputError` naming the bad input."""
    if not plan.name.strip() or len(plan.name) > MAX_PLAN_NAME:
        raise InvalidInputError("name and strategy 1-7", "name")
    if not 1 <= plan.strategy <= 7:  # §7.20
        raise InvalidInputError("name and strategy 1-7", "strategy")
    check_baseline(plan.baseline_heavy_entries)
    now = datetime.now(plan.start.tzinfo if plan.start else None)
    if plan.end is not None and plan.end <= now:
        raise InvalidInputError(f"{plan.end.isoformat()} is already past", "end")
    if plan.end is not None and plan.start is not None and plan.end <= plan.start:
        raise InvalidInputError(f"{plan.end.isoformat()} is not after the start", "end")


class Operator:
    """The operator actions over one ledger; ``lanes`` empty where no lane runs (the command
    line), ``correct`` None where corrections cannot be made."""

    def __init__(
        self,
        store: Store,
        lists: ListBook,
        plans: PlanBook,
        *,
        lanes: Mapping[str, Lane] | None = None,
        correct: Correct | None = None,
        goods_list: Sequence[str] = (),
        weighbridges: Mapping[str, ScalePairing] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.lists, self.plans = store, lists, plans
        self._clock = clock
        #: (origin, action) → (when its last refusal was audited, refusals not audited since).
        self._strangers: dict[tuple[str, str], tuple[float, int]] = {}
        #: The goods a clerk may choose from ([weighing] goods); empty: any name.
        self.goods_list = tuple(goods_list)
        #: The truck scales run here (a weighing is given its plate through its scale; the
        #: command line's are the config's, without their indicators).
        self.weighbridges: Mapping[str, ScalePairing] = weighbridges or {}
        self.lanes: Mapping[str, Lane] = lanes or {}
        self.correct_pass = correct

    # -- authorisation and audit ---------------------------------------------------------------
    async def audit(self, actor: Actor, action: str, target: str, result: str, detail: str) -> None:
        await self.store.audit(
            actor=actor.name, action=action, target=target, origin=actor.origin,
            result=result, detail=detail,
        )  # fmt: skip

    async def authorise(self, actor: Actor, action: Action, target: str) -> None:
        """Raises NotAllowedError (audited) unless the actor is authenticated and its face may."""
        why = actor.unauthenticated
        if why is None and action not in MAY[actor.face]:
            why = f"{action.value} is not allowed from the {actor.face.value}"
        if why is not None:
            if actor.unauthenticated is None or self._note_stranger(actor, action):
                await self.audit(actor, actor.audited_as(action), target, "refused", why)
            raise NotAllowedError(why)

    def _note_stranger(self, actor: Actor, action: Action) -> bool:
        """Whether an unauthenticated refusal gets its own audit row: the first from an
        address for an action, then one per :data:`STRANGER_AUDIT_SECONDS`, so a flood of
        requests without a login (reachable by anyone on the network) costs no ledger write
        each. The row after a quiet spell says how many were refused without a row."""
        key = (actor.origin, action.value)
        now = self._clock()
        audited_at, unaudited = self._strangers.get(key, (-STRANGER_AUDIT_SECONDS, 0))
        if now - audited_at < STRANGER_AUDIT_SECONDS:
            self._strangers[key] = (audited_at, unaudited + 1)
            return False
        if len(self._strangers) >= MAX_STRANGERS:
            self._strangers.clear()
        self._strangers[key] = (now, 0)
        if unaudited:
            log.warning(
                "requests without a login refused",
                origin=actor.origin, action=action.value, unaudited=unaudited,
            )  # fmt: skip
        return True

    async def refused(self, actor: Actor, action: Action, target: str, why: str) -> None:
        """Input the face itself could not read (a form): audited as refused, after the
        authorisation (a stranger's bad form is NotAllowedError)."""
        await self.authorise(actor, action, target)
        await self.audit(actor, actor.audited_as(action), target, "refused", why)

    async def act(
        self, actor: Actor, action: Action, target: str, body: Callable[[], Awaitable[Done]]
    ) -> Done:
        """Authorise ``actor`` for ``action``, run ``body`` and audit its result once (a
        typed :class:`ActionError` it raises is audited with its result and re-raised; any
        other exception — a fault of ours — is audited as ``failed`` and re-raised)."""
        await self.authorise(actor, action, target)
        name = actor.audited_as(action)
        try:
            done = await body()
        except ActionError as exc:
            await self.audit(actor, name, target, exc.result, exc.detail)
            raise
        except Exception as exc:  # a fault of ours: the attempt is audited all the same
            await self.audit(actor, name, target, "failed", f"internal error: {exc!r}"[:200])
            raise
        await self.audit(actor, name, target, "ok" if done.ok else "failed", done.detail)
        return done

    def _lane(self, lane_id: str) -> Lane:
        lane = self.lanes.get(lane_id)
        if lane is None:
            raise NotFoundError("unknown lane", "lane")
        return lane

    # -- at a lane -----------------------------------------------------------------------------
    async def open_barrier(self, actor: Actor, lane_id: str, reason: str) -> Done:
        """A guard override that opens (its own pass, decided by the guard): ok when the
        barrier opened. ``reason`` is mandatory."""

        async def body() -> Done:
            lane = self._lane(lane_id)
            why = _clerks_reason(reason, "开闸", MAX_GUARD_REASON)
            outcome = await lane.override(
                None, open_barrier=True, reason=why, operator=actor.on_record
            )
            serial = str(outcome.serial)
            detail = f"{why}; serial {serial}"
            # through a camera that collects commands with its next poll: the guard waits
            # for that poll, the lane does not
            delivered = outcome.delivery is None or await outcome.delivery
            return Done(ok=outcome.barrier == "opened" and delivered, detail=detail, serial=serial)

        return await self.act(actor, Action.OPEN, lane_id, body)

    async def refuse_vehicle(self, actor: Actor, lane_id: str, plate: str, reason: str) -> Done:
        """A guard refuses the vehicle at a lane (its plate, or none typed: 无牌车; a mandatory
        reason): a pass of its own, the barrier not moved, the LED told."""

        async def body() -> Done:
            lane = self._lane(lane_id)
            why = _clerks_reason(reason, "禁止通行", MAX_GUARD_REASON)
            read = checked_plate(plate) if plate.strip() else None
            outcome = await lane.override(
                read, open_barrier=False, reason=why, operator=actor.on_record
            )
            serial = str(outcome.serial)
            detail = f"{read or '无牌车'}: {why}; serial {serial}"
            return Done(detail=detail, serial=serial, plate=read)

        return await self.act(actor, Action.REFUSE, lane_id, body)

    async def show_text(self, actor: Actor, lane_id: str, text: str) -> Done:
        """Text on the lane's LED, lines separated by ``|``; ok when it reached the board."""

        async def body() -> Done:
            shown = await self._lane(lane_id).command(lines=text.split("|"))
            return Done(ok=shown, detail=text)

        return await self.act(actor, Action.SHOW_TEXT, lane_id, body)

    # -- the weighbridge ------------------------------------------------------------------------
    async def set_goods(self, actor: Actor, weighing_id: int | str, goods: str) -> Done:
        """A clerk names the goods of a completed weighing without a goods record yet (from
        the configured goods list when there is one); its goods record is then queued. All
        or nothing: a goods record that cannot be sent (an impossible net weight, a bad name)
        is refused with :class:`InvalidInputError` (key ``goods``) and the weighing keeps
        the goods name it had."""
        target = str(weighing_id)

        async def body() -> Done:
            wid = whole_id(weighing_id)
            name = goods.strip(" ")  # as goods_name trims: U+2028 at an end is refused
            if self.goods_list and name not in self.goods_list:
                raise InvalidInputError("not in the goods list", "goods", "不在货物列表中")
            try:
                row = await self.store.give_goods(
                    wid, name, standing_since=await self._standing_since(wid)
                )
            except KeyError:
                raise NotFoundError("unknown weighing", "id", NO_WEIGHING) from None
            except GoodsError as exc:  # nothing changed: the name is not kept either
                raise InvalidInputError(str(exc), "goods", exc.said) from None
            except WeighingStateError as exc:
                raise InvalidInputError(str(exc), "id", exc.said) from None
            return Done(detail=f"{row.plate} {name} {row.ysl} t", id=wid, plate=row.plate)

        return await self.act(actor, Action.SET_GOODS, target, body)

    async def _standing_since(self, weighing_id: int) -> float | None:
        """Since when (unix s) a truck that may stand on the scale of the weighing's later
        weighing was weighed (its goods record then waits until it left); None: none stands,
        the scale is not run here, or no such weighing (the action says so)."""
        try:
            row = await self.store.weighing(weighing_id)
        except KeyError:
            return None
        bridge = self.weighbridges.get(row.second_scale or row.first_scale)
        return None if bridge is None else await bridge.standing_since()

    async def assign_plate(
        self,
        actor: Actor,
        weighing_id: int | str,
        *,
        read: int | str | None = None,
        plate: str = "",
        color: str = "",
        returned: bool = False,
    ) -> Done:
        """A clerk gives a weighing without its plate — unmatched, or held as 待确认车牌 with
        candidate plate reads — its plate: one of its candidates (``read``, the read's id) or
        a typed ``plate`` and ``color`` (the spec's plate colour code). The weighing then
        continues as if that plate had been read when it was weighed: it opens or completes
        the plate's first weighing (one goods record for a completed pair). ``returned``: the
        clerk says the truck weighed on the scale just before it, not watched since, left and
        came back (:meth:`~edge.gate.weighbridge.ScalePairing.assign`)."""
        target = str(weighing_id)

        async def body() -> Done:
            wid = whole_id(weighing_id)
            try:
                row = await self.store.weighing(wid)
            except KeyError:
                raise NotFoundError("unknown weighing", "id", NO_WEIGHING) from None
            _without_plate(wid, row.state)
            if read is not None and str(read) != "" and plate.strip():
                why = "give either a candidate read or a typed plate, not both"
                raise InvalidInputError(why, "plate", "候选车牌与手输车牌只能选一个")
            bridge = self.weighbridges.get(row.first_scale)
            if bridge is None:
                why = f"the scale {row.first_scale!r} is not run here"
                raise InvalidInputError(why, "id", f"地磅 {row.first_scale} 不在本机运行")
            chosen = None
            if read is not None and str(read) != "":
                rid = whole_id(read, "read")
                chosen = next((r for r in row.candidate_reads if r.id == rid), None)
                if chosen is None:
                    why, said = "not a candidate plate of this weighing", "不是该过磅的候选车牌"
                    raise InvalidInputError(why, "read", said)
                given, colour = chosen.read.plate, chosen.read.plate_color
            else:
                typed = checked_plate(plate)
                if color not in {c.value for c in PlateColor}:
                    raise InvalidInputError("bad plate colour", "color", "车牌颜色无效")
                given, colour = typed, color
            # a typed plate: the pass of that plate at the scale's lanes near the weighing
            serial = None if chosen else await bridge.pass_of(given, row.first_at)
            try:
                done = await bridge.assign(
                    wid, given, colour, read=chosen, serial=serial, returned=returned
                )
            except ReadUsedError as exc:  # another weighing took it meanwhile
                raise InvalidInputError(str(exc), "read", exc.said) from None
            except KeyError:
                raise NotFoundError("unknown weighing", "id", NO_WEIGHING) from None
            except WeighingStateError as exc:
                raise InvalidInputError(str(exc), "id", exc.said) from None
            aside = await self._second_stop_said(wid, given, done)
            if aside is not None:
                return aside
            return _assigned(wid, given, done, typed=chosen is None, serial=serial, before=row)

        return await self.act(actor, Action.ASSIGN_PLATE, target, body)

    async def _second_stop_said(self, wid: int, plate: str, done: StoredWeighing) -> Done | None:
        """What giving weighing ``wid`` the plate of the truck weighed just before did when it
        was that truck's second stop (set aside: ``done`` is that truck's weighing); None: it
        was not (it was given its plate, or folded into its pair)."""
        try:
            aside = done.id != wid and (await self.store.weighing(wid)).state == "discarded"
        except KeyError:  # folded into its pair
            return None
        if not aside:
            return None
        detail = (f"weighing {wid}: {plate} stopped again (the platform not emptied since "
                  f"weighing {done.id}): set aside as its second stop; weighing {done.id} now "
                  f"{done.state}, {done.first_kg:g} kg")  # fmt: skip
        return Done(detail=detail, id=done.id, plate=plate, note="已作为上一车二次停车处理")

    async def discard_weighing(self, actor: Actor, weighing_id: int | str, reason: str) -> Done:
        """A clerk sets aside a weighing without its plate (unmatched, or held as 待确认车牌)
        that is no truck's load — a test weight, a person on the platform, a truck that turned
        back — with a mandatory ``reason`` (at most :data:`MAX_DISCARD_REASON` characters): it
        is kept as 已作废, never paired or given a plate afterwards, and sends nothing."""
        target = str(weighing_id)

        async def body() -> Done:
            wid = whole_id(weighing_id)
            why = _clerks_reason(reason, "作废")
            try:
                before = await self.store.weighing(wid)
                row = await self.store.discard_weighing(wid, f"{actor.name}: {why}")
            except KeyError:
                raise NotFoundError("unknown weighing", "id", NO_WEIGHING) from None
            except WeighingStateError as exc:
                raise InvalidInputError(str(exc), "id", exc.said) from None
            detail = f"weighing {wid} ({row.first_kg:g} kg) discarded: {why}"
            if before.checks:  # no load: nothing left to check
                detail += "; check cleared: " + "; ".join(c.why for c in before.checks)
            return Done(detail=detail, id=wid)

        return await self.act(actor, Action.DISCARD_WEIGHING, target, body)

    async def drop_read(self, actor: Actor, read_id: int | str) -> Done:
        """A clerk drops a stray plate read pending at a scale (a car, a truck that skipped the
        scale, a camera's first read of a truck it read again): it is no candidate of any
        weighing from now on (a held weighing that lists it may still be given it)."""
        target = str(read_id)

        async def body() -> Done:
            rid = whole_id(read_id, "read")
            try:
                read = await self.store.drop_read(rid, f"dropped by {actor.name}")
            except KeyError:
                raise NotFoundError("unknown plate read", "read", "没有该车牌识别") from None
            except WeighingStateError as exc:
                raise InvalidInputError(str(exc), "read", exc.said) from None
            r = read.read
            detail = f"plate read {rid} ({r.plate}, lane {r.lane_id}, pass {r.serial}) dropped"
            return Done(detail=detail, id=rid, plate=r.plate)

        return await self.act(actor, Action.DROP_READ, target, body)

    async def clear_check(self, actor: Actor, weighing_id: int | str) -> Done:
        """A clerk checked a weighing marked 请核对车牌 / 请核对重量 (its plate or weight was in
        doubt) and clears the mark: its goods record held meanwhile goes out. The audit keeps
        what was checked (the marks' reasons)."""
        target = str(weighing_id)

        async def body() -> Done:
            wid = whole_id(weighing_id)
            try:
                row, released = await self.store.clear_checks(
                    wid, standing_since=await self._standing_since(wid)
                )
            except KeyError:
                raise NotFoundError("unknown weighing", "id", NO_WEIGHING) from None
            except WeighingStateError as exc:
                raise InvalidInputError(str(exc), "id", exc.said) from None
            checked = "; ".join(f"{c.kind}: {c.why}" for c in row.checks)
            sent = f"; goods record released: {released}" if released else ""
            if not released and any(c.hold for c in row.checks) and row.ysl is not None:
                sent = "; goods record goes out once the truck left the scale"
            detail = f"weighing {wid} ({row.plate or 'no plate'}) checked — {checked}{sent}"
            return Done(detail=detail, id=wid, plate=row.plate)

        return await self.act(actor, Action.CLEAR_CHECK, target, body)

    def _bridge_of(self, row: StoredWeighing) -> ScalePairing:
        bridge = self.weighbridges.get(row.first_scale)
        if bridge is None:
            why = f"the scale {row.first_scale!r} is not run here"
            raise InvalidInputError(why, "id", f"地磅 {row.first_scale} 不在本机运行")
        return bridge

    async def same_truck(self, actor: Actor, weighing_id: int | str) -> Done:
        """A clerk says a weighing without its plate is the truck weighed on the scale just
        before it, after a second stop (同一车辆; the platform not seen empty in between): a
        higher weight is that truck's (its open weighing takes it; a completed one is marked
        请核对重量), a lower one is discarded
        (:meth:`~edge.gate.weighbridge.ScalePairing.same_truck`)."""
        target = str(weighing_id)

        async def body() -> Done:
            wid = whole_id(weighing_id)
            try:
                before = await self.store.weighing(wid)
                done = await self._bridge_of(before).same_truck(wid)
            except KeyError:
                raise NotFoundError("unknown weighing", "id", NO_WEIGHING) from None
            except WeighingStateError as exc:
                raise InvalidInputError(str(exc), "id", exc.said) from None
            detail = (
                f"weighing {wid} ({before.first_kg:g} kg) is a second stop of weighing "
                f"{done.id} ({done.plate or 'no plate'}): it is now {done.state}, "
                f"{done.first_kg:g} kg" + ("; 请核对重量" if done.check_weight else "")
            )
            note = "已作为上一车二次停车处理" + (
                "；该车已完成过磅，请核对重量" if done.check_weight else ""
            )
            return Done(detail=detail, id=done.id, plate=done.plate, note=note)

        return await self.act(actor, Action.SAME_TRUCK, target, body)

    async def take_higher_weight(self, actor: Actor, weighing_id: int | str) -> Done:
        """A clerk takes the higher stop of a completed weighing marked 请核对重量 (its truck
        stopped twice): its net and goods record, not sent yet, follow
        (:meth:`~edge.gate.weighbridge.ScalePairing.take_higher_weight`)."""
        target = str(weighing_id)

        async def body() -> Done:
            wid = whole_id(weighing_id)
            try:
                before = await self.store.weighing(wid)
                row, released = await self._bridge_of(before).take_higher_weight(wid)
            except KeyError:
                raise NotFoundError("unknown weighing", "id", NO_WEIGHING) from None
            except (WeighingStateError, GoodsError) as exc:
                raise InvalidInputError(str(exc), "id", exc.said) from None
            detail = (
                f"weighing {wid} ({row.plate or 'no plate'}) takes its higher stop: net "
                f"{before.net_kg or 0:g} → {row.net_kg or 0:g} kg"
                + (f"; goods record {row.ysl} t" if row.ysl else "")
                + (f"; goods record released: {released}" if released else "")
            )
            note = f"已采用较高重量：净重 {tonnes_text(row.net_kg or 0)} t"
            return Done(detail=detail, id=wid, plate=row.plate, note=note)

        return await self.act(actor, Action.TAKE_HIGHER, target, body)

    async def split_weighing(self, actor: Actor, weighing_id: int | str, reason: str) -> Done:
        """A clerk splits a completed weighing whose two weighings are two trucks' (a misread
        plate paired them; 请核对车牌 after the pass's correction), with a mandatory ``reason``
        (at most :data:`MAX_DISCARD_REASON` characters): its goods record, never sent, is
        withdrawn, and each weighing is tied again to the plate its pass has now (it opens a
        first weighing or completes that plate's, one goods record per pair). Refused for a
        weighing that is not complete, weighed once (a preset tare, an ERP plan's) or whose
        goods record was sent (已上报: correct it on the platform)."""
        target = str(weighing_id)

        async def body() -> Done:
            wid = whole_id(weighing_id)
            why = _clerks_reason(reason, "拆分")
            try:
                before = await self.store.weighing(wid)
            except KeyError:
                raise NotFoundError("unknown weighing", "id", NO_WEIGHING) from None
            try:
                check_splittable(before)
            except WeighingStateError as exc:
                raise InvalidInputError(str(exc), "id", exc.said) from None
            bridge = self.weighbridges.get(before.first_scale)
            if bridge is None:
                why = f"the scale {before.first_scale!r} is not run here"
                raise InvalidInputError(why, "id", f"地磅 {before.first_scale} 不在本机运行")
            try:
                rows, withdrawn = await bridge.split(wid, self.weighbridges)
            except KeyError:
                raise NotFoundError("unknown weighing", "id", NO_WEIGHING) from None
            except WeighingStateError as exc:
                raise InvalidInputError(str(exc), "id", exc.said) from None
            return _split(before, rows, withdrawn, why)

        return await self.act(actor, Action.SPLIT_WEIGHING, target, body)

    async def put_plan(self, actor: Actor, body: Mapping[str, object]) -> Done:
        """An ERP transport plan: ``plan_no``, ``plate``, ``goods`` (≤ 32), ``expected_tonnes``
        (what the goods record may report: rounded half up to 0.1 t, 0.1-99.9 t, so 0.05 and
        99.94 are taken, 0.04 and 99.95 refused), ``valid_from`` / ``valid_to`` (ISO 8601 with
        an offset; ``valid_to`` not yet past); ``id`` is the stored plan's."""
        target = str(body.get("plan_no", "?"))[:64]

        async def body_() -> Done:
            plan = _transport_plan(body, actor.origin)
            try:
                plan_id = await self.store.put_plan(plan)
            except ValueError as exc:
                raise InvalidInputError(str(exc), "plan_no") from None
            detail = f"{plan.plate} {plan.goods} {tonnes_text(plan.expected_kg)} t"
            return Done(detail=detail, id=plan_id, plate=plan.plate)

        return await self.act(actor, Action.PUT_PLAN, target, body_)

    # -- the inspector's export ---------------------------------------------------------------
    async def export_ledger(self, actor: Actor, what: str) -> Done:
        """The inspector's ledger export (:mod:`edge.actions.inspection`) as it is handed out:
        ``what`` says its range, gate, plate, format and size, as audited."""

        async def body() -> Done:
            return Done(detail=what)

        return await self.act(actor, Action.EXPORT_LEDGER, "ledger", body)

    # -- the outbox ----------------------------------------------------------------------------
    async def retry(self, actor: Actor, entries: Sequence[int | str] | None) -> Done:
        """Send dead letters again: the given outbox entries, or all (None); ``count`` says how
        many were dead letters (none: not ok)."""
        target = "all" if not entries else " ".join(str(e) for e in entries)

        async def body() -> Done:
            ids = [whole_id(e) for e in entries] if entries else None
            count = await self.store.retry_dead(ids)
            return Done(ok=count > 0, detail="" if count else "not a dead letter", count=count)

        return await self.act(actor, Action.RETRY, target, body)

    # -- lists ---------------------------------------------------------------------------------
    async def add_list_entry(
        self, actor: Actor, plate: str, kind: str, reason: str, until: datetime | None
    ) -> Done:
        """Put a plate on the in-plant, allow or deny list (until a time, or for good)."""
        read = typed_plate(plate)
        target = f"{kind} {read or escape_read(plate.strip())}"

        async def body() -> Done:
            check_list_entry(plate, kind, reason, until)
            assert read is not None  # checked
            expires = until.timestamp() if until else None
            entry = await self.lists.add(read, kind, reason, expires, actor.name)
            return Done(detail=f"entry {entry}", id=entry, plate=read)

        return await self.act(actor, Action.ADD_LIST, target, body)

    async def remove_list_entry(self, actor: Actor, entry: int | str) -> Done:
        async def body() -> Done:
            entry_id = whole_id(entry)
            if not await self.lists.remove(entry_id):
                raise NotFoundError(f"no entry {entry_id}", "id")
            return Done(id=entry_id)

        return await self.act(actor, Action.REMOVE_LIST, str(entry), body)

    # -- control plans -------------------------------------------------------------------------
    async def start_plan(self, actor: Actor, plan: ControlPlan) -> Done:
        """Start (or schedule) a control plan; in force for this daemon at once, for another
        within ``edge.ledger.books.REFRESH_SECONDS``."""

        async def body() -> Done:
            check_plan(plan)
            plan_id = await self.plans.start(plan, by=actor.name)
            return Done(detail=f"plan {plan_id}", id=plan_id)

        return await self.act(actor, Action.START_PLAN, plan.name, body)

    async def change_plan(self, actor: Actor, plan: int | str, **changes: object) -> Done:
        """Change an open plan's strategy, level, area, expected end (``ends_at``) or baseline."""

        async def body() -> Done:
            plan_id = whole_id(plan)
            ends_at = changes.get("ends_at")
            check_plan_end(float(ends_at) if isinstance(ends_at, float | int) else None)
            check_baseline(changes.get("baseline"))
            if not await self.plans.change(plan_id, **changes):
                raise NotFoundError(f"no open plan {plan_id} (or nothing to change)", "id")
            return Done(detail=", ".join(changes), id=plan_id)

        return await self.act(actor, Action.CHANGE_PLAN, str(plan), body)

    async def close_plan(self, actor: Actor, plan: int | str) -> Done:
        async def body() -> Done:
            plan_id = whole_id(plan)
            if not await self.plans.close(plan_id):
                raise NotFoundError(f"no open plan {plan_id}", "id")
            return Done(id=plan_id)

        return await self.act(actor, Action.CLOSE_PLAN, str(plan), body)

    # -- corrections ---------------------------------------------------------------------------
    async def correct(
        self,
        actor: Actor,
        serial: str,
        plate: str,
        color: str,
        reviewer: str | None = None,
    ) -> Done:
        """Correct a misread plate of a recorded pass (``edge.actions.corrections``); the
        reviewer is the actor unless named."""

        async def body() -> Done:
            read = checked_plate(plate)
            if color not in {c.value for c in PlateColor}:
                raise InvalidInputError("bad plate or colour", "color")
            if self.correct_pass is None:
                raise NotAllowedError("corrections cannot be made here")
            already = await self._corrected_so(serial, read, color)
            if already is not None:
                return already
            try:
                correction = await self.correct_pass(
                    serial, read, PlateColor(color), actor.name if reviewer is None else reviewer
                )
            except KeyError:
                raise NotFoundError("no such pass", "serial") from None
            except ValueError as exc:
                if "reviewer" in str(exc):
                    said = "审核人姓名为空、超过 20 个字或含控制字符"
                    raise InvalidInputError(str(exc), "reviewer", said) from None
                raise InvalidInputError(str(exc), "plate") from None
            # the correction is stored: whatever carrying it to the scale meets, it is
            # audited and answered (what could not be carried is said, not a 500)
            carried: list[str] = []
            notes: list[str] = []
            try:
                await self._carry_correction(serial, read, color, carried, notes)
            except Exception as exc:  # told and logged: the correction stands
                log.exception("correction not carried to the scale", serial=serial, plate=read)
                carried.append(f"not carried to the weighings: {type(exc).__name__}: {exc}")
                notes.append("车牌已更正，但过磅记录未能同步更正；请核对过磅记录")
            detail = "; ".join([f"plate corrected to {read}", *carried])
            note = "；".join(dict.fromkeys(notes))
            return Done(detail=detail, id=correction, plate=read, note=note)

        return await self.act(actor, Action.CORRECT, serial, body)

    async def _corrected_so(self, serial: str, plate: str, color: str) -> Done | None:
        """A pass whose latest correction is already this plate and colour: a second
        correction is a no-op (nothing stored, nothing reported again), said so; None
        otherwise (a different plate or colour is a correction as any)."""
        found = await self.store.find_pass(serial)
        latest = None if found is None else await self.store.latest_correction(found.id)
        if latest is None or (latest.plate, latest.plate_color) != (plate, color):
            return None
        detail = (
            f"already corrected to {plate} (correction {latest.id} by {latest.reviewer}); "
            "nothing stored"
        )
        note = f"该过车记录已由 {latest.reviewer} 更正为 {plate}，无需重复更正，本次未保存"
        return Done(ok=False, detail=detail, id=latest.id, plate=plate, note=note)

    async def _carry_correction(
        self, serial: str, plate: str, color: str, said: list[str], notes: list[str]
    ) -> None:
        """A corrected plate carries to the scale: the weighings the pass's plate read tied
        take it (an open first weighing is paired again: its second weighing under the right
        plate completes it), and its read still pending at a scale (or a candidate of a held
        weighing) is the corrected plate. What changed goes to ``said`` (as the audit says
        it), what a clerk must check to ``notes`` (Chinese): a weighing gone meanwhile, or a
        complete one whose other half is another truck's (left as it is)."""
        changed = await self.store.correct_scale_reads(serial, plate, color)
        if changed:
            said.append(f"{changed} pending plate read(s) at the scale corrected")
        found = await self.store.find_pass(serial)
        lane = found.lane_id if found is not None else ""
        for weighing in await self.store.weighings_of_pass(serial):
            bridge = self.weighbridges.get(weighing.first_scale)
            if weighing.plate == plate:
                continue
            if bridge is None:
                said.append(f"weighing {weighing.id} not changed: its scale is not run here")
                continue
            try:
                row = await bridge.replate(weighing, plate, color, lane)
            except KeyError:  # folded into another or deleted since it was looked up
                said.append(f"weighing {weighing.id} not changed: it is gone meanwhile")
                continue
            except WeighingStateError as exc:
                said.append(f"weighing {weighing.id} not changed: {exc}")
                notes.append(exc.said)
                continue
            said.append(f"weighing {weighing.id} now {row.state} as weighing {row.id}")


def _assigned(
    wid: int,
    plate: str,
    done: StoredWeighing,
    *,
    typed: bool,
    serial: str | None,
    before: StoredWeighing | None = None,
) -> Done:
    """What giving weighing ``wid`` its plate did, as audited; a typed plate says the pass it
    was tied to, or that none was found — told the clerk (``note``, in Chinese) only where
    that matters, decided from what pairing did: a pair completed with the truck's other
    weighing whose pass carries the goods record needs none, a first weighing left open
    waits for its second one's pass, a complete weighing with no pass at all cannot be
    reported; a goods record that cannot be sent is said too; so is the plate check (请核对车牌)
    of ``before`` (the weighing as it was) that the clerk's plate resolved."""
    how = "typed" if typed else "candidate read"
    detail = f"weighing {wid}: {plate} ({how}), now {done.state} as weighing {done.id}"
    for check in before.checks if before is not None else []:
        if check.kind == "plate":
            detail += f"; plate check cleared: {check.why}"
    note = ""
    if typed:
        detail += f"; tied to pass {serial}" if serial else "; no pass of the plate"
        if serial is None and done.state == "open":
            note = NO_TRUCK_PASS_YET
        elif serial is None and not (done.first_serial or done.second_serial):
            note = NO_TRUCK_RECORD
    if done.goods_error:  # e.g. a pair neither of whose weighings has a pass
        detail += f"; goods record not sent: {done.goods_error}"
        note = f"货物台账无法上报：{done.goods_error}"
    return Done(detail=detail, id=done.id, plate=plate, note=note)


def _split(before: StoredWeighing, rows: Sequence[StoredWeighing], withdrawn: Sequence[str],
           why: str) -> Done:  # fmt: skip
    """What splitting ``before`` did, as audited (and told the clerk: ``note``)."""
    kept = []
    for number, row in enumerate(rows, 1):
        how = f"weighing {row.id} {row.plate} {row.state}"
        if row.state == "complete":
            how += f", net {row.net_kg:g} kg"
            how += f", goods record {row.ysl} t" if row.ysl else ""
        kept.append(f"half {number} now {how}")
    gone = ", ".join(withdrawn) if withdrawn else "none"
    checks = "".join(f"; {c.kind} check cleared: {c.why}" for c in before.checks
                     if c.kind == "plate")  # fmt: skip
    detail = (
        f"weighing {before.id} ({before.plate}, net {before.net_kg or 0:g} kg) split: {why}; "
        f"goods record withdrawn: {gone}; " + "; ".join(kept) + checks
    )
    said = "；".join(
        f"{r.plate} {state_name(r.state)}"
        + (f" 净重 {tonnes_text(r.net_kg)} t" if r.state == "complete" and r.net_kg else "")
        for r in rows
    )
    note = f"已拆分：{said}" + ("；原货物台账已撤回，未上报" if withdrawn else "")
    return Done(detail=detail, id=before.id, plate=before.plate, note=note)


def _plan_text(body: Mapping[str, object], key: str, limit: int, trim: str | None = None) -> str:
    """The plan's text ``key``, trimmed of ``trim`` (default: any whitespace; a goods name is
    trimmed of plain spaces only, as :func:`goods_name` does, so a U+2028 at its end is
    refused there, not trimmed away here)."""
    value = body.get(key)
    if not isinstance(value, str) or not value.strip(trim) or len(value.strip(trim)) > limit:
        raise InvalidInputError(f"{key} must be text of 1 to {limit} characters", key)
    return value.strip(trim)


def _plan_time(body: Mapping[str, object], key: str) -> float:
    """An ISO 8601 time with its offset, after 2000 and at most a year ahead (unix s)."""
    try:
        at = datetime.fromisoformat(_plan_text(body, key, 40))
    except ValueError:
        raise InvalidInputError(f"{key} is not an ISO 8601 time", key) from None
    if at.tzinfo is None:
        raise InvalidInputError(f"{key} needs its UTC offset (+08:00)", key)
    if not PLAN_EARLIEST <= at.timestamp() <= time.time() + PLAN_AHEAD_SECONDS:
        why = f"{key} is before 2000 or more than {PLAN_AHEAD_SECONDS // 86400:g} days ahead"
        raise InvalidInputError(why, key)
    return at.timestamp()


def _clerks_reason(reason: str, action: str, limit: int = MAX_DISCARD_REASON) -> str:
    """A mandatory reason for ``action`` (a clerk's 作废, 拆分; a guard's 开闸, 禁止通行),
    trimmed: at most ``limit`` characters without hidden ones (:func:`holds_hidden`); else
    :class:`InvalidInputError` naming ``reason``."""
    why = reason.strip()
    if not why:
        raise InvalidInputError("no reason", "reason", f"请填写{action}原因")
    if len(why) > limit or holds_hidden(why):
        why_not = f"over {limit} characters or holds hidden characters"
        raise InvalidInputError(why_not, "reason", f"{action}原因过长或含控制字符")
    return why


def _transport_plan(body: Mapping[str, object], origin: str) -> NewTransportPlan:
    """A pushed plan checked field by field; InvalidInputError names the field."""

    def text(key: str, limit: int) -> str:
        return _plan_text(body, key, limit)

    plate = normalise_plate(text("plate", 32), colour_prefix=True)  # as every source's
    if plate.text is None:
        raise InvalidInputError("not a plate (README: plate grammar)", "plate")
    plan_no = text("plan_no", 64)
    if holds_hidden(plan_no):
        raise InvalidInputError("plan_no contains control characters", "plan_no")
    try:
        goods = goods_name(_plan_text(body, "goods", GOODS_NAME_LENGTH, " "))  # as hwmc may be
    except GoodsError as exc:
        raise InvalidInputError(str(exc), "goods") from None
    expected = body.get("expected_tonnes")
    if isinstance(expected, bool) or not isinstance(expected, int | float):
        raise InvalidInputError("expected_tonnes must be a number of tonnes", "expected_tonnes")
    try:  # the goods record's own rule (ysl): what rounds to 0.1-99.9 t
        tonnes(Decimal(str(expected)) * 1000)
    except GoodsError as exc:
        raise InvalidInputError(f"expected_tonnes {expected}: {exc}", "expected_tonnes") from None
    valid_from, valid_to = _plan_time(body, "valid_from"), _plan_time(body, "valid_to")
    if valid_to <= valid_from:
        raise InvalidInputError("valid_to is not after valid_from", "valid_to")
    if valid_to <= time.time():
        raise InvalidInputError("valid_to is already past: the plan can never be used", "valid_to")
    return NewTransportPlan(
        plan_no=plan_no,
        plate=plate.text,
        goods=goods,
        expected_kg=float(expected) * 1000,
        valid_from=valid_from,
        valid_to=valid_to,
        received_from=origin,
    )
