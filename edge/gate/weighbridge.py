"""A truck scale (地磅) beside one or more lanes: the indicator's live weight, the stable weight
of each truck on it, tied to the plate its lanes read, recorded as a first or second weighing
(research/ledger-and-weighbridge.md §1.8-§1.9).

The plate: the lanes' passes are heard as they are recorded (any camera kind, through the
lane's ``pass_listeners``). Every plate read at the scale's lanes is kept, in the ledger (it
survives a restart), as a pending read until a weighing uses it or it is older than
``plate_max_age_seconds``. When a weight becomes stable:

- exactly one read is pending: the weighing is that plate's (it opens or completes the plate's
  first weighing);
- more than one (two trucks read in a row, or a car read that never weighs): the weighing is
  held as 待确认车牌 with those reads as candidates — no guess; a clerk picks one or types a
  plate on the status page (:meth:`Weighbridge.assign`);
- none: the weighing is kept as ``unmatched`` at once (every weighing is kept) and a snapshot
  of the scale lane's camera is taken when it can give one. Without position sensors a read
  heard within ``reread_seconds`` of its weight settling, the truck still on the scale (the
  camera slower than the scale), is taken as its plate (the late-read rule, below).

The refused-vehicle rule: the read of a pass refused at the lane (barrier not opened) is not
pending — a refused truck does not drive onto a scale behind its barrier (were its read kept,
every weighing for ``plate_max_age_seconds`` would be held); one standing on a scale in front
of the barrier is weighed unmatched (a refused truck carries no goods record).

The next-vehicle rule: with position sensors, a read heard while the weighed vehicle still
stands in position is the next vehicle's (queued behind it at the camera): it is never given
to the vehicle on the platform, and stays pending for the next weighing.

A stray read (a camera's first read of a truck it reads again, a car, a truck that skips the
scale) must stop being pending, or every weighing is held: the re-read rule (a near plate read
again at the same lane within ``reread_seconds`` supersedes the earlier read,
:meth:`~edge.ledger.weighings.WeighingLedger.note_scale_read`), the stale rule (once a weighing
takes a read, the reads pending at its lane taken more than ``drive_on_seconds`` before it
never drove on: :meth:`ScalePairing.drop_stale`), and a clerk's drop (``edge weighings
drop-read``, the page's 排除 button).

A held weighing's candidates are its own: until a clerk resolves it, a later weighing whose
only pending read is one of them is held too (with that read), never tied to it — a clerk's
drop of one of two candidates leaves the other to the held weighing (still offered it). One
heard more than ``reread_seconds`` after the weighing, while its truck stood, is not its own
only (the late-read rule, below).

Reads heard right after a weighing took one (no position sensors): while the weighed truck
still stands on the scale, the first read heard within ``reread_seconds`` of its weight settling
is that truck's own (a refined or late read, while the weighing took a stray read) or the next
truck's queued close behind; no rule tells which, so a clerk is told and no goods record goes
out on it (:meth:`Weighbridge._watch_tie`; after a restart too, :meth:`Weighbridge.resume`). A
later read of another plate is the next truck's and changes nothing. The same plate (whenever
it comes while the truck stands), or a near one at the same lane within ``reread_seconds`` of
the read taken, is that truck (the re-read rule after the weighing): not pending, and with
another plate the weighing is marked 请核对车牌. Another plate puts the tie in doubt: an open
first weighing is held with both reads once the truck left (a new vehicle weighed before the
platform emptied was the read's: nothing changes); a completed pair is marked at once. A
weighing tied through a read that superseded another plate is marked too.

The late-read rule (no position sensors, :meth:`Weighbridge._watch_unplated`): a weighing
without a plate takes, unmatched, the first read heard within ``reread_seconds`` of its weight
settling as its own late read — unless another read was heard in that window too before it
was taken: then no guess, both are candidates once the truck left. A late read taken ties the
weighing as a read heard before would: the first other read heard within ``reread_seconds``
of the weight settling while the truck stands puts that tie in doubt (the tie-in-doubt rule,
above). Any other read heard while its truck stands is its late read or the next truck's:
once the truck left it is one more candidate of the weighing (held) and stays pending; the
weighing that takes one heard later than ``reread_seconds`` after is marked
请核对车牌 (:meth:`Weighbridge._late_check`). After a restart the last weighing without a plate
goes on the same way until the platform is seen empty.

A mark holds the weighing's goods record in the outbox until a clerk clears it (``edge
weighings checked``, the page's 已核对; audited).

Doubt arises while the truck stands, so a goods record made by a weighing on the scale (a
pair completed, a preset tare; also a late read or a clerk's pick while that truck stands) is
committed ``held`` and goes out only once that truck left — the platform emptied after the
weighing (:meth:`Weighbridge._left`) — and only when no check holds it meanwhile. After a
restart (:meth:`Weighbridge.resume`) the held records of the scale's weighings whose truck
cannot stand there any more (not its last weighing, or that one older than
:attr:`Weighbridge.RESUME_SECONDS`) go out at once; the last one's once the platform is seen
empty.

Assigning a plate (a clerk's, or a late read) continues exactly as a tied weighing would
(:meth:`edge.ledger.weighings.WeighingLedger.assign_plate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, TypedDict

import structlog

from drivers.base import Detector
from drivers.scale import NET_DISPLAY_SAID, ScaleIndicator, WeightSample
from edge.config.model import Config
from edge.domain.plates import within_one_edit
from edge.domain.weighing import Refusal, StableDetector, StableRule, StableWeight, state_name
from edge.gate.devices import DeviceBuilder
from edge.gate.lane import Lane
from edge.ledger.database import LedgerUnwritableError
from edge.ledger.rows import NewScaleRead, NewWeighing, ScaleRead, StoredWeighing
from edge.ledger.weighings import (
    HalfTie,
    ReadUsedError,
    TwoTrucksError,
    WeighingHalf,
    WeighingLedger,
    WeighingStateError,
)

log = structlog.get_logger("edge.weighbridge")

#: Takes a snapshot for a weighing without a plate read (the scale lanes' camera); returns
#: the photo file kept (relative to the photo directory) or None when no camera could.
Snapshot = Callable[[], Awaitable[str | None]]


class _TieSettings(TypedDict):
    """The keywords of ``WeighingLedger.assign_plate`` / ``correct_weighing_plate`` that
    come from the scale (:meth:`ScalePairing._tie_settings`)."""

    max_between_seconds: float
    preset_tare_kg: float | None
    goods: str | None
    plan_id: int | None
    empty_kg: float
    standing_since: float | None


class ScalePairing:
    """What a weighing on the scale ``name`` needs of it to be tied to a plate, without its
    indicator: the ledger, the empty load (kg: less than this over its preset tare, a truck
    carried nothing — the scale's ``minimum_kg``), the time allowed between two weighings, the
    preset tares, the goods defaults and the scale's lanes. The daemon's :class:`Weighbridge`
    is one; the command line builds one per ``[scales.*]`` (:func:`scale_pairings`) to give a
    held weighing its plate beside a running daemon."""

    def __init__(  # noqa: PLR0913 - the scale's settings, as keywords
        self,
        name: str,
        ledger: WeighingLedger,
        *,
        empty_kg: Decimal,
        max_between_seconds: float,
        preset_tares_kg: Mapping[str, Decimal] | None = None,
        goods_for: Callable[[str, str], str | None] = lambda _plate, _lane: None,
        lanes: Sequence[str] = (),
        label: str = "",
        plate_max_age_seconds: float = 300.0,
        drive_on_seconds: float = 120.0,
    ) -> None:
        self.name, self.ledger, self.empty_kg = name, ledger, empty_kg
        #: The stale rule's drive-on time (s): once a weighing takes a read, the pending reads
        #: at its lane taken more than this before it are stale (module docstring).
        self.drive_on = drive_on_seconds
        #: How far a plate read may be from its weighing (s): a pending read's maximum age,
        #: and how far a clerk's typed plate looks for its pass.
        self.plate_max_age = plate_max_age_seconds
        #: The scale's name as guards read it (``[scales.*] name``; default its key).
        self.label = label or name
        self.max_between = max_between_seconds
        self.preset_tares = dict(preset_tares_kg or {})
        #: The goods name for a plate read at a lane (None: not known yet).
        self.goods_for = goods_for
        self.lanes: list[str] = list(lanes)
        self._clock = time.time
        #: Called with each weighing as recorded or given its plate (the status page); must
        #: not block.
        self.weighing_listeners: list[Callable[[StoredWeighing], None]] = []
        #: A clerk's decision on a weighing without its plate (a plate, 同一车辆) is taken one
        #: at a time: a double-click's second finds the first's outcome.
        self._deciding = asyncio.Lock()

    async def _goods(self, plate: str, lane: str, at: float) -> tuple[str | None, int | None]:
        """The truck's ERP plan's goods first (and the plan's id: used once the weighing
        completes), then the configured defaults."""
        plan = await self.ledger.plan_for(plate, at)
        return (plan.goods, plan.id) if plan else (self.goods_for(plate, lane), None)

    #: After a restart, the scale's last weighing taken within this many seconds may be the
    #: truck still standing on it (:meth:`Weighbridge.resume`); without the indicator (the
    #: command line), the truck of such a weighing may stand there (:meth:`standing_since`).
    RESUME_SECONDS = 600.0

    async def standing_since(self) -> float | None:
        """Since when (unix s) the truck that may stand on the scale was weighed — the goods
        record of its weighing is committed held until it left; None: none stands. Without the
        indicator (the command line beside a running daemon) nobody knows: the scale's last
        weighing within :attr:`RESUME_SECONDS` may be that truck — held, and the running
        daemon lets it go once it sees the platform empty (:meth:`Weighbridge._sample`); one
        set aside as a truck's second stop is that truck's weighing (:meth:`truck_of`)."""
        last = await self.ledger.last_weighing_on(self.name, self._clock() - self.RESUME_SECONDS)
        if last is None:
            return None
        try:
            truck = await self.truck_of_id(last[0])
        except KeyError:
            return last[2]
        sides = [at for at in (truck.first_at, truck.second_at) if at is not None]
        return min(last[2], max(sides))

    async def truck_of_id(self, weighing_id: int) -> StoredWeighing:
        """:meth:`truck_of` the weighing ``weighing_id``; KeyError when there is none."""
        return await self.truck_of(await self.ledger.weighing(weighing_id))

    async def truck_of(self, row: StoredWeighing) -> StoredWeighing:
        """The weighing of the truck ``row`` was taken of: ``row`` itself, or — set aside as a
        truck's second stop (同一车辆, or that truck's plate given) — the weighing of that
        truck (its ``stop_of``, followed)."""
        for _ in range(8):  # a chain of stops, bounded
            if row.state != "discarded" or row.stop_of is None:
                return row
            try:
                row = await self.ledger.weighing(row.stop_of)
            except KeyError:
                return row
        return row

    async def _tie_settings(self, plate: str, lane: str, at: float) -> _TieSettings:
        """What tying a weighing taken at ``at`` (unix s) to ``plate`` read at ``lane`` takes
        on this scale: its goods and ERP plan, its preset tare, the scale's empty load and time
        between weighings, and whether a truck stands on it."""
        goods, plan = await self._goods(plate, lane, at)
        return _TieSettings(
            max_between_seconds=self.max_between, preset_tare_kg=self._preset(plate),
            goods=goods, plan_id=plan, empty_kg=float(self.empty_kg),
            standing_since=await self.standing_since(),
        )  # fmt: skip

    def _preset(self, plate: str) -> float | None:
        preset = self.preset_tares.get(plate)
        return None if preset is None else float(preset)

    async def pass_of(self, plate: str, at: float) -> str | None:
        """The serial of the pass of ``plate`` (as read, or as corrected) let through at this
        scale's lanes nearest to ``at`` (unix s) within :attr:`plate_max_age` — the pass a
        plate typed by a clerk for a weighing taken at ``at`` belongs to; None: none."""
        return await self.ledger.pass_for_plate(plate, self.lanes, at, self.plate_max_age)

    async def assign(
        self,
        weighing_id: int,
        plate: str,
        plate_color: str,
        *,
        read: ScaleRead | None = None,
        serial: str | None = None,
        returned: bool = False,
    ) -> StoredWeighing:
        """An unmatched or held weighing gets ``plate`` (a candidate ``read``, or a plate typed
        by a clerk, tied to the pass ``serial`` when it has one: :meth:`pass_of`) and
        continues as a tied weighing would: goods from the plate's ERP plan or the defaults,
        its preset tare — unless it may be that plate's truck after a second stop
        (:meth:`_second_stop`; ``returned``: the clerk says that truck left the scale and came
        back, while the scale was not watched). Raises :class:`KeyError` /
        :class:`ValueError` as :meth:`WeighingLedger.assign_plate`."""
        async with self._deciding:
            return await self._assign(
                weighing_id, plate, plate_color, read=read, serial=serial, returned=returned
            )

    async def _assign(
        self,
        weighing_id: int,
        plate: str,
        plate_color: str,
        *,
        read: ScaleRead | None,
        serial: str | None,
        returned: bool,
    ) -> StoredWeighing:
        before = await self.ledger.weighing(weighing_id)
        second_stop = await self._second_stop(before, plate, read, returned=returned)
        if second_stop is not None:
            return second_stop
        lane = read.read.lane_id if read else (self.lanes[0] if self.lanes else "")
        row = await self.ledger.assign_plate(
            weighing_id,
            plate,
            plate_color,
            serial=read.read.serial if read else serial,
            read_id=read.id if read else None,
            **await self._tie_settings(plate, lane, before.first_at),
        )
        log.info("weighing given its plate", scale=self.name, weighing=weighing_id,
                 plate=plate, state=row.state, kept_as=row.id, net_kg=row.net_kg)  # fmt: skip
        if read is not None:
            await self.drop_stale(read)
        self._tell(row)
        return row

    async def stopped_before(
        self, held: StoredWeighing
    ) -> tuple[StoredWeighing, float, float] | None:
        """The weighing a held one may be the second stop of (its ``stop_of``, kept when it
        was weighed: the platform not seen empty since), with the time (unix s) and weight
        (kg) of that weighing's latest side on this scale before it; None: none."""
        if held.stop_of is None or held.state != "unmatched":
            return None
        try:  # a stop set aside as the truck's second: that truck's weighing
            earlier = await self.truck_of_id(held.stop_of)
        except KeyError:
            return None
        sides = [
            (at, kg)
            for scale, at, kg in (
                (earlier.first_scale, earlier.first_at, earlier.first_kg),
                (earlier.second_scale, earlier.second_at, earlier.second_kg),
            )
            if scale == self.name and at is not None and kg is not None and at <= held.first_at
        ]
        if not sides or earlier.state == "discarded":
            return None
        at, kg = max(sides)
        return earlier, at, kg

    async def _second_stop(
        self,
        held: StoredWeighing,
        plate: str,
        read: ScaleRead | None = None,
        *,
        returned: bool = False,
    ) -> StoredWeighing | None:
        """A clerk gives a held weighing the plate of the truck weighed on this scale just
        before it, the platform not seen empty since (:meth:`stopped_before`): with the
        platform watched all along (:attr:`~edge.domain.weighing.StableWeight.watched`), the
        same truck after a second stop, never its second weighing (a pair of one truck's two
        stops: a wrong net and goods record), nor a new first weighing — :meth:`same_truck`;
        a lower weight is refused (:class:`WeighingStateError`). Not watched since (a restart,
        a silent indicator: :attr:`~edge.domain.weighing.StableWeight.unwatched`) no rule
        tells whether the truck stopped again or left and came back: refused, the clerk says
        which (:meth:`same_truck`, or ``returned``: it pairs). None: not so — the plate pairs
        as any other."""
        link = await self.stopped_before(held)
        if link is None or link[0].plate != plate:
            return None
        earlier, at, kg = link
        ago = f"{held.first_at - at:.0f}"
        if held.stop_unwatched:
            if returned:
                return None
            raise WeighingStateError(
                f"{plate} stood on this scale at {kg:g} kg (weighing {earlier.id}) {ago} s "
                "before, and the scale was not watched since (a restart, or the indicator "
                "silent): the same truck after a second stop is `edge weighings same-truck "
                f"--config … {held.id}` (page: 同一车辆); {plate} left and came back for its "
                "second weighing is resolve with --returned (page: 已离开后返回)",
                f"{plate} {ago} 秒前在本地磅过磅（{kg:g} kg），"
                "其后地磅未被监测（程序重启或仪表断线）：如仍是该车二次停车，请点“同一车辆”；如该车已离开并返回过磅，请勾选“已离开后返回”再确认",
            )
        if held.first_kg <= kg:
            raise WeighingStateError(
                f"{plate} was weighed at {kg:g} kg on this scale {ago} s "
                f"before (weighing {earlier.id}), the platform not emptied since: the same "
                "truck, not its second weighing — discard this one if it is no load",
                f"{plate} {ago} 秒前刚在本地磅过磅（{kg:g} kg），其间地磅未空，"
                "不能作为其第二次过磅；如非车辆载重请作废",
            )
        return await self._take_stop(held, earlier, kg, read)

    async def same_truck(self, weighing_id: int) -> StoredWeighing:
        """A clerk says a held weighing is the truck weighed on this scale just before it,
        after a second stop (:meth:`stopped_before`; 同一车辆): a higher weight is the
        truck's, as the truck-stopped-twice rule says (:meth:`_take_stop`); a lower or equal
        one is no weighing of it (the truck partly off the platform) and is discarded, its
        weighing keeping its weight. Returns the truck's weighing. Raises :class:`KeyError`
        for an unknown weighing, :class:`WeighingStateError` for one that follows no weighing
        its truck may still be, or that a clerk decided already."""
        async with self._deciding:
            return await self._same_truck(weighing_id)

    async def _same_truck(self, weighing_id: int) -> StoredWeighing:
        held = await self.ledger.weighing(weighing_id)
        if held.state != "unmatched":  # a clerk decided it meanwhile
            raise WeighingStateError(
                f"weighing {weighing_id} is {held.state} already: nothing to say of it",
                f"过磅 {weighing_id} 已处理（{state_name(held.state)}）",
            )
        link = await self.stopped_before(held)
        if link is None:
            raise WeighingStateError(
                f"weighing {weighing_id} follows no weighing on this scale whose truck may "
                "still have stood there (the platform was seen empty in between)",
                f"过磅 {weighing_id} 之前地磅已空，不是上一车的二次停车",
            )
        earlier, _at, kg = link
        if held.first_kg > kg:
            return await self._take_stop(held, earlier, kg, None)
        await self.ledger.discard_weighing(
            held.id, f"a lower stop of weighing {earlier.id}'s truck: it keeps {kg:g} kg"
        )
        log.warning("truck stopped twice on the scale, lower the second time (a clerk says): "
                    "its weighing keeps its weight", scale=self.name, weighing=earlier.id,
                    plate=earlier.plate, kg=held.first_kg, before=kg,
                    discarded=held.id)  # fmt: skip
        row = await self.ledger.weighing(earlier.id)
        self._tell(row)
        return row

    async def _take_stop(
        self, held: StoredWeighing, earlier: StoredWeighing, kg: float, read: ScaleRead | None
    ) -> StoredWeighing:
        """The truck of ``earlier`` (weighed ``kg``) stopped again at ``held``'s higher weight:
        an open first weighing takes it, a completed pair keeps its weights and is marked
        请核对重量 (its goods record held; the clerk may take the higher:
        :meth:`take_higher_weight`); ``held`` is discarded as its second stop (and ``read``,
        the truck's own, is no candidate any more)."""
        plate = earlier.plate or "no plate"
        try:
            row = await self.ledger.reweigh(earlier.id, kg, held.first_kg)
            said = "its weighing takes the higher stable weight"
        except WeighingStateError:  # a completed pair (or an expired one): never recomputed
            checked = await self.ledger.check_weight(earlier, kg, held.first_kg)
            row = checked if checked is not None else earlier
            said = "its completed weighing keeps its weights, the clerk checks it"
        await self.ledger.discard_weighing(
            held.id, f"second stop of weighing {earlier.id} ({plate}): {said}"
        )
        if read is not None:  # the truck's own read: no candidate of another weighing
            with contextlib.suppress(KeyError, WeighingStateError):
                await self.ledger.drop_read(read.id, f"second stop of weighing {earlier.id}")
        log.warning("truck stopped twice on the scale (a clerk says)", outcome=said,
                    scale=self.name, weighing=earlier.id, plate=plate, before=kg,
                    kg=held.first_kg, discarded=held.id, state=row.state)  # fmt: skip
        self._tell(row)
        return row

    async def take_higher_weight(self, weighing_id: int) -> tuple[StoredWeighing, int]:
        """A clerk takes the higher stop of a completed weighing marked 请核对重量
        (:meth:`~edge.ledger.weighings.WeighingLedger.take_higher_weight`, which raises what
        it refuses): returns it as it is now and the goods records released."""
        before = await self.ledger.weighing(weighing_id)
        last = (await self.ledger.weighing_halves(weighing_id))[-1]  # its later weighing's pass
        lane = last.lane or (self.lanes[0] if self.lanes else "")
        at = before.second_at or before.first_at
        goods = None if before.plate is None else (await self._goods(before.plate, lane, at))[0]
        row, released = await self.ledger.take_higher_weight(
            weighing_id, standing_since=await self.standing_since(), goods=goods
        )
        log.info("weighing takes its higher stop", scale=self.name, weighing=weighing_id,
                 net_kg=row.net_kg, ysl=row.ysl, released=released)  # fmt: skip
        self._tell(row)
        return row, released

    async def drop_stale(self, taken: ScaleRead) -> None:
        """The stale rule (module docstring) once a weighing took the read ``taken``: each
        read dropped is logged once."""
        stale_reads = await self.ledger.drop_stale_reads(taken, self.drive_on, self.plate_max_age)
        for stale in stale_reads:
            log.warning("plate read never weighed: a later read at its lane was weighed first, "
                        "no longer a candidate", scale=self.name, plate=stale.read.plate,
                        lane=stale.read.lane_id, read=stale.id, weighed=taken.read.plate,
                        drive_on_seconds=self.drive_on)  # fmt: skip

    async def replate(
        self, weighing: StoredWeighing, plate: str, plate_color: str, lane: str
    ) -> StoredWeighing:
        """A guard corrected the plate of the pass (at ``lane``) that tied ``weighing``: it
        takes ``plate`` and is paired again with its goods (the plate's ERP plan or the
        defaults) and preset tare
        (:meth:`edge.ledger.weighings.WeighingLedger.correct_weighing_plate`)."""
        settings = await self._tie_settings(plate, lane, weighing.first_at)
        try:
            row = await self.ledger.correct_weighing_plate(
                weighing.id, plate, plate_color, **settings
            )
        except TwoTrucksError:  # left as it is, marked 请核对车牌: the page shows the mark
            log.warning("a pass's corrected plate reaches a weighing of two trucks: marked "
                        "for the clerk to split", scale=self.name, weighing=weighing.id,
                        plate=plate)  # fmt: skip
            with contextlib.suppress(KeyError):
                self._tell(await self.ledger.weighing(weighing.id))
            raise
        log.info("weighing given its pass's corrected plate", scale=self.name,
                 weighing=weighing.id, before=weighing.plate, plate=plate, state=row.state,
                 kept_as=row.id, net_kg=row.net_kg)  # fmt: skip
        self._tell(row)
        return row

    async def split(
        self, weighing_id: int, scales: Mapping[str, ScalePairing]
    ) -> tuple[list[StoredWeighing], list[str]]:
        """A clerk splits a complete weighing of two trucks: each half is tied again to the
        plate its pass has now, with that plate's goods, ERP plan and preset tare as its scale
        (``scales``: the scales run here, by name) gives them
        (:meth:`edge.ledger.weighings.WeighingLedger.split_weighing`, which raises what it
        refuses). Raises :class:`WeighingStateError` when a half's scale is not run here."""
        halves = await self.ledger.weighing_halves(weighing_id)
        ties = []
        for half in halves:
            scale = scales.get(half.scale)
            if scale is None:
                raise WeighingStateError(
                    f"the scale {half.scale!r} of weighing {weighing_id} is not run here",
                    f"地磅 {half.scale} 不在本机运行",
                )
            ties.append(await scale.tie_of(half))
        rows, withdrawn = await self.ledger.split_weighing(
            weighing_id, ties, max_between_seconds=self.max_between
        )
        log.warning("weighing of two trucks split", scale=self.name, weighing=weighing_id,
                    halves=[(r.id, r.plate, r.state, r.net_kg) for r in rows],
                    goods_records_withdrawn=withdrawn)  # fmt: skip
        for row in rows:
            self._tell(row)
        return rows, withdrawn

    async def tie_of(self, half: WeighingHalf) -> HalfTie:
        """How ``half`` (a weighing on this scale) is tied again to its pass's plate: as a
        plate read at its lane then would be (goods, ERP plan, preset tare, this scale's
        empty load, the truck standing on it)."""
        lane = half.lane or (self.lanes[0] if self.lanes else "")
        goods, plan = await self._goods(half.plate, lane, half.at)
        return HalfTie(
            half.plate, half.plate_color, goods, plan, self._preset(half.plate),
            float(self.empty_kg), await self.standing_since(),
        )  # fmt: skip

    def _tell(self, row: StoredWeighing) -> None:
        for listener in self.weighing_listeners:
            listener(row)


class Weighbridge(ScalePairing):
    def __init__(  # noqa: PLR0913 - the scale's settings, as keywords
        self,
        name: str,
        indicator: ScaleIndicator,
        ledger: WeighingLedger,
        rule: StableRule,
        *,
        max_between_seconds: float,
        preset_tares_kg: Mapping[str, Decimal] | None = None,
        goods_for: Callable[[str, str], str | None] = lambda _plate, _lane: None,
        plate_max_age_seconds: float = 300.0,
        position: Sequence[Detector] = (),
        snapshot: Snapshot | None = None,
        label: str = "",
        drive_on_seconds: float = 120.0,
        reread_seconds: float = 5.0,
    ) -> None:
        super().__init__(
            name, ledger, empty_kg=rule.minimum_kg, max_between_seconds=max_between_seconds,
            preset_tares_kg=preset_tares_kg, goods_for=goods_for, label=label,
            plate_max_age_seconds=plate_max_age_seconds, drive_on_seconds=drive_on_seconds,
        )  # fmt: skip
        #: A near re-read at the same lane within this (s) supersedes the earlier read.
        self.reread = reread_seconds
        self.indicator = indicator
        self.detector = StableDetector(rule)
        #: Position sensors: a weight counts only while every one reads present.
        self.position = tuple(position)
        self.snapshot = snapshot
        self._mono = time.monotonic
        #: Set (and replaced by a new one) when a read was kept, the weighed truck left or a
        #: new vehicle was weighed: a watch takes it before it looks, and waits on it
        #: (:meth:`_wake`), so no wake-up is lost to another's clear.
        self._read_arrived = asyncio.Event()
        self._noting: set[asyncio.Task[ScaleRead | None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Tied weighings watched while their truck stands (the tie-in-doubt rule); not
        #: waited for by :meth:`drain` (they end when the truck leaves).
        self._watching: set[asyncio.Task[None]] = set()
        #: After a restart: the last weighing (its row, the read that tied it — None: it has
        #: no plate — and its time), watched on as its truck is found (:meth:`resume`).
        self._resumed: tuple[StoredWeighing, ScaleRead | None, float] | None = None
        #: When (unix s) the platform emptied the last few times, by :attr:`emptied`'s count
        #: then: a watch knows when its truck left (:meth:`_standing_reads`).
        self._left_at: dict[int, float] = {}
        #: The latest weighing being recorded (its row once recorded): a higher stable
        #: weight of the same truck replaces its weight.
        self._last_weighing: asyncio.Future[StoredWeighing | None] | None = None
        self.weighings = 0
        #: Times the platform emptied after a weighing (a watch knows its truck left).
        self.emptied = 0
        #: When (unix s) the platform was last seen empty: a truck weighed since stands on it.
        self._emptied_at = 0.0
        #: A truck was weighed (or, after a restart, may stand there) and the platform was not
        #: seen empty since: its goods record is held until it is (:meth:`_left`).
        self._awaiting_empty = False
        #: When (unix s) held goods records were last let go with the platform empty.
        self._swept_at = 0.0
        #: Vehicles weighed (a first stable weight each; the truck-stopped-twice rule's
        #: higher one is the same vehicle), so a wait knows its vehicle left.
        self.vehicles = 0
        #: The last stable weight refused (and when, unix s), until the next weighing; the
        #: listeners are called with each (the status page); they must not block.
        self.refused: tuple[Refusal, float] | None = None
        self.refusal_listeners: list[Callable[[Refusal], None]] = []
        indicator.on_sample(self._sample)

    # -- inputs ----------------------------------------------------------------------------------
    def heard_pass(self, message: dict[str, Any]) -> None:
        """A lane's pass listener: keep the plate read at the scale as pending (committed in
        the background; a stable weight waits for the reads heard before it)."""
        plate, serial = message.get("plate"), message.get("serial")
        if not (isinstance(plate, str) and plate and isinstance(serial, str)):
            return
        if message.get("verdict") == "refuse":  # the refused-vehicle rule (module docstring)
            log.info("plate read of a refused vehicle: no weighing is its", scale=self.name,
                     plate=plate, serial=serial)  # fmt: skip
            return
        self.detector.doubt()  # after a weighing, a read may be another vehicle's (no merging)
        color, lane = str(message.get("color", "")), str(message.get("lane", ""))
        read = NewScaleRead(self.name, plate, color, serial, lane, self._clock())
        next_vehicle = bool(self.position) and self.detector.weighed and self.in_position()
        task = asyncio.create_task(
            self._note(read, next_vehicle=next_vehicle), name=f"read:{self.name}"
        )
        self._noting.add(task)
        task.add_done_callback(self._noting.discard)

    async def _note(self, read: NewScaleRead, *, next_vehicle: bool) -> ScaleRead | None:
        try:
            stored = await self.ledger.note_scale_read(read, reread_seconds=self.reread)
        except LedgerUnwritableError as exc:  # the pass is recorded; the pairing misses it
            log.error("plate read at the scale not kept", scale=self.name, plate=read.plate,
                      serial=read.serial, error=repr(exc))  # fmt: skip
            return None
        if next_vehicle:
            log.info("plate read while the weighed vehicle stands on the scale: kept for the "
                     "next weighing", scale=self.name, plate=read.plate)  # fmt: skip
        else:
            self._wake()
        return stored

    async def standing_since(self) -> float | None:
        """Since when (unix s) the truck on the platform stands there (the platform was last
        seen empty then); None: the platform is empty. After a restart, until the platform is
        seen empty, any truck may still stand there (0.0)."""
        return self._emptied_at if self.detector.weighed or self._awaiting_empty else None

    def _sample(self, sample: WeightSample) -> None:
        was_weighed = self.detector.weighed
        stable = self.detector.feed(
            sample.kg, sample.at, moving=sample.stable is False, in_position=self.in_position()
        )
        if was_weighed and not self.detector.weighed:
            self.emptied += 1
            self._left_at[self.emptied] = self._clock()
            self._left_at.pop(self.emptied - 16, None)
            self._wake()  # the weighed truck left: a late read is no longer its
        if self._resumed is not None and not self.detector.expecting:  # (resume)
            self._found(still=not was_weighed and self.detector.weighed and stable is None)
        if sample.kg is not None and sample.kg < self.detector.rule.minimum_kg:
            self._emptied_at = self._clock()
            if self._awaiting_empty:  # the weighed truck left: its goods record goes out
                self._awaiting_empty = False
                self._swept_at = self._emptied_at
                waits = [*self._tasks, *self._watching]
                self._spawn(self._left(self._emptied_at, waits), f"left:{self.name}")
            elif self._emptied_at - self._swept_at >= self.SWEEP_SECONDS:
                self._swept_at = self._emptied_at  # held from the command line: (standing_since)
                self._spawn(self._sweep(self._emptied_at), f"sweep:{self.name}")
        if stable is not None:
            self._awaiting_empty = True
        if stable is not None and stable.replaces is None:
            self.vehicles += 1  # a truck that stopped twice is no new vehicle (_standing_reads)
            self._wake()  # a new vehicle: a watch of the last one ends
        if stable is not None and self._refused(stable):
            return  # never paired: the plate reads stay for a real weighing
        if stable is not None and stable.replaces is not None:
            self._spawn(self._reweighed(stable), f"reweighing:{self.name}")
        elif stable is not None:
            before, self._last_weighing = (
                self._last_weighing,
                asyncio.get_running_loop().create_future(),
            )
            work = self._weighed(stable, self._last_weighing, before)
            self._spawn(work, f"weighing:{self.name}")

    def _found(self, *, still: bool) -> None:
        """After a restart (:meth:`resume`), the scale's last weighing's truck is found
        ``still`` on the scale — watched on as if the daemon had never stopped — or gone: one
        without a plate takes the reads heard since as heard while it stood."""
        assert self._resumed is not None
        row, read, at = self._resumed
        self._resumed = None
        take = row.stop_of is None  # a doubtful weight's (the weighed truck's second stop?)
        if still:
            self._watch(
                self._watch_tie(row, read, self.vehicles, self.emptied, at)
                if read is not None
                else self._watch_unplated(row, self.vehicles, self.emptied, at, take=take)
            )
        elif read is None:
            left = self._clock()
            self._watch(
                self._watch_unplated(row, self.vehicles, self.emptied, at, left_at=left, take=take)
            )

    async def _reweighed(self, stable: StableWeight) -> None:
        """The truck-stopped-twice rule (:class:`~edge.domain.weighing.StableDetector`): the
        truck's open or held first weighing takes the higher stable weight that followed
        (logged once as a warning). A completed pair (or one changed meanwhile) keeps its
        weights: a warning says so once, for the clerk to check."""
        last = self._last_weighing
        row = await asyncio.shield(last) if last is not None else None
        if row is not None:  # set aside by a clerk as a second stop since: its truck's
            with contextlib.suppress(KeyError):
                row = await self.truck_of_id(row.id)
        if row is None or stable.replaces is None:
            log.error("higher stable weight of a vehicle whose weighing was not recorded: "
                      "not recorded", scale=self.name, kg=str(stable.kg))  # fmt: skip
            return
        try:
            done = await self.ledger.reweigh(row.id, float(stable.replaces), float(stable.kg))
        except (KeyError, WeighingStateError) as exc:  # KeyError: folded into its pair
            log.warning("truck stopped twice on the scale after its weighing completed: the "
                        "weighing keeps its weights, the clerk checks it", scale=self.name,
                        weighing=row.id, plate=row.plate, kg=str(stable.kg),
                        before=str(stable.replaces), why=str(exc))  # fmt: skip
            checked = await self.ledger.check_weight(row, float(stable.replaces), float(stable.kg))
            if checked is not None:  # 请核对重量 on the page, its goods record held
                self._tell(checked)
            return
        log.warning("truck stopped twice on the scale: its weighing takes the higher stable "
                    "weight", scale=self.name, weighing=row.id, plate=row.plate,
                    before=str(stable.replaces), kg=str(stable.kg), state=done.state)  # fmt: skip
        self._tell(done)

    async def _left(self, at: float, waits: Sequence[asyncio.Task[None]]) -> None:
        """The platform emptied at ``at`` (unix s): once what was being recorded and watched
        for the trucks weighed before is written (a check its watch adds holds the record), the
        goods records held while they stood go out
        (:meth:`~edge.ledger.weighings.WeighingLedger.release_left`)."""
        await asyncio.gather(*waits, return_exceptions=True)
        await self.ledger.release_left(self.name, at)

    #: While the platform stays empty, goods records held from the command line (which
    #: cannot see the platform: :meth:`ScalePairing.standing_since`) go out within this (s).
    SWEEP_SECONDS = 5.0

    async def _sweep(self, at: float) -> None:
        """The platform is empty at ``at`` (unix s) and no weighing awaits it: goods records
        held for a truck weighed before (from the command line) go out."""
        if await self.ledger.holds_goods_on(self.name):
            await self.ledger.release_left(self.name, at)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _refused(self, stable: StableWeight) -> bool:
        """Whether a stable weight is refused (over the capacity, under the minimum): logged
        once (the detector waits for the platform to empty) and shown on the status page
        until the next weighing."""
        refusal = self.detector.rule.refusal(stable.kg)
        if refusal is None:
            self.refused = None
            return False
        self.refused = (refusal, self._clock())
        log.error(
            "stable weight refused: not a weighing", scale=self.name, kg=str(stable.kg),
            why=refusal.why, capacity_kg=str(self.detector.rule.capacity_kg),
        )  # fmt: skip
        for listener in self.refusal_listeners:
            listener(refusal)
        return True

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("weighing not recorded", scale=self.name, error=repr(exc), exc_info=exc)

    # -- a stable weight -------------------------------------------------------------------------
    async def _pending(self) -> list[ScaleRead]:
        """The reads no weighing used yet and not too old (those heard so far written first)."""
        if self._noting:
            await asyncio.gather(*self._noting, return_exceptions=True)
        reads = await self.ledger.pending_reads(self.name, self._clock() - self.plate_max_age)
        return await self._latest_per_plate(reads)

    async def _latest_per_plate(self, reads: list[ScaleRead]) -> list[ScaleRead]:
        """One pending read per plate and colour, the latest: an earlier read of the same
        plate is that truck too (its entry read, never weighed, beside its exit read), never
        another candidate — it is dropped (logged once each). Order kept."""
        latest: dict[tuple[str, str], ScaleRead] = {}
        for read in reads:
            key = (read.read.plate, read.read.plate_color)
            if key not in latest or read.read.read_at >= latest[key].read.read_at:
                latest[key] = read
        kept = {read.id for read in latest.values()}
        for read in reads:
            if read.id in kept:
                continue
            newer = latest[(read.read.plate, read.read.plate_color)]
            with contextlib.suppress(KeyError, WeighingStateError):  # taken meanwhile
                await self.ledger.drop_read(
                    read.id, f"the same plate read again (read {newer.id}): one truck"
                )
                log.info("an earlier read of a plate read again is no candidate of its own",
                         scale=self.name, plate=read.read.plate, read=read.id,
                         kept=newer.id)  # fmt: skip
        return [read for read in reads if read.id in kept]

    async def _weighed(
        self,
        stable: StableWeight,
        recorded: asyncio.Future[StoredWeighing | None],
        before: asyncio.Future[StoredWeighing | None] | None = None,
    ) -> None:
        """Record a stable weight as a weighing (``recorded`` gets its row, None on error;
        ``before``: the weighing recorded before it on this scale, or being recorded)."""
        try:
            stop_of = None
            if (stable.watched or stable.unwatched) and before is not None:
                earlier = await asyncio.shield(before)  # not seen empty since it: its truck
                if earlier is not None:  # after a second stop, maybe (set aside: its truck's)
                    with contextlib.suppress(KeyError):
                        earlier = await self.truck_of_id(earlier.id)
                stop_of = None if earlier is None else earlier.id
            await self._weigh(stable, recorded, stop_of)
        finally:
            if not recorded.done():
                recorded.set_result(None)

    async def _weigh(
        self,
        stable: StableWeight,
        recorded: asyncio.Future[StoredWeighing | None],
        stop_of: int | None,
    ) -> None:
        at, vehicle, emptied = self._clock(), self.vehicles, self.emptied
        if self._watching:  # the last vehicle's reads are settled first (_watch_tie)
            await asyncio.gather(*self._watching, return_exceptions=True)
        for again in (False, True):
            reads = await self._pending()
            # a doubtful weight (StableWeight.doubtful) is held even for one read: a clerk says
            read = reads[0] if len(reads) == 1 and not stable.doubtful else None
            since = at - self.plate_max_age
            if read is not None and await self.ledger.reserved_reads(
                [read.id], since, own_within=self.reread
            ):
                # a held weighing's candidate is its own: this one is held too (module docstring)
                log.warning("the only plate read pending is a held weighing's candidate: "
                            "weighing held", scale=self.name, plate=read.read.plate,
                            read=read.id)  # fmt: skip
                read = None
            check = (
                _both(
                    _both(await self._superseded_check(read), await self._late_check(read)),
                    await self._rival_check(read),
                )
                if read is not None
                else None
            )
            goods, plan = (
                await self._goods(read.read.plate, read.read.lane_id, at) if read else (None, None)
            )
            new = NewWeighing(
                scale=self.name,
                plate=read.read.plate if read else None,
                plate_color=read.read.plate_color if read else "",
                kg=float(stable.kg),
                at=at,
                serial=read.read.serial if read else None,
            )
            try:
                row = await self.ledger.weigh(
                    new,
                    max_between_seconds=self.max_between,
                    preset_tare_kg=self._preset(read.read.plate) if read else None,
                    goods=goods,
                    plan_id=plan,
                    read_id=read.id if read else None,
                    candidates=reads if read is None and reads else (),
                    empty_kg=float(self.empty_kg),
                    check=check,
                    standing=True,  # its goods record waits until the truck left (_left)
                    stop_of=stop_of,
                    stop_unwatched=stable.unwatched,
                )
                break
            except ReadUsedError as exc:  # a clerk used the read, or a re-read superseded it
                if not again:  # pick again among the reads pending now
                    log.info("the plate read was used or superseded meanwhile: picking again",
                             scale=self.name, plate=new.plate, read=exc.read_id,
                             why=str(exc))  # fmt: skip
                    continue
                log.warning("the plate read was used meanwhile: weighing kept without its "
                            "plate", scale=self.name, plate=new.plate, read=exc.read_id,
                            why=str(exc))  # fmt: skip
                reads, read, check = [], None, None
                unmatched = NewWeighing(self.name, None, "", new.kg, new.at, None)
                row = await self.ledger.weigh(unmatched, max_between_seconds=self.max_between)
        self.weighings += 1
        log.info(
            "weighing recorded"
            if not row.held
            else "weighing held: taken before the platform emptied since a plate read or a "
            "silence: the clerk says whose"
            if stable.doubtful
            else "weighing held: more than one plate read"
            if len(reads) > 1
            else "weighing held: its plate read is a held weighing's candidate",
            scale=self.name,
            plate=row.plate,
            kg=str(stable.kg),
            state=row.state,
            net_kg=row.net_kg,
            candidates=[r.read.plate for r in reads] if row.held else None,
        )
        if check is not None and row.plate is not None:
            log.warning("weighing tied through a read in doubt (it superseded another plate, or "
                        "was heard while an unread truck stood on the scale): the clerk checks "
                        "its plate", scale=self.name, weighing=row.id, plate=row.plate,
                        why=check[0])  # fmt: skip
        if read is not None and row.plate is not None:
            await self.drop_stale(read)
        self._tell(row)
        recorded.set_result(row)
        if row.plate is None:
            snapped = asyncio.get_running_loop().create_future()
            if not self.position:  # the late-read rule (with sensors: the next-vehicle rule)
                self._watch(
                    self._watch_unplated(
                        row, vehicle, emptied, at, snapped, take=not stable.doubtful
                    )
                )
            try:
                await self._snap(row)
            finally:
                snapped.set_result(None)
        elif read is not None and not self.position:  # the tie-in-doubt rule
            self._watch(self._watch_tie(row, read, vehicle, emptied, at))

    def _watch(self, work: Coroutine[Any, Any, None]) -> None:
        """A weighing watched while its truck stands (not waited for by :meth:`drain`)."""
        watch = asyncio.create_task(work, name=f"watch:{self.name}")
        self._watching.add(watch)
        watch.add_done_callback(self._watched)

    async def _watch_unplated(
        self,
        row: StoredWeighing,
        vehicle: int,
        emptied: int,
        since: float,
        snapped: Awaitable[None] | None = None,
        *,
        left_at: float | None = None,
        take: bool = True,
    ) -> None:
        """The late-read rule (module docstring): the weighing ``row`` without a plate, taken
        at ``since`` (unix s), hears reads while its truck (the ``vehicle``-th) stands on the
        scale. An unmatched one takes the first read heard within ``reread`` of its weight
        settling as its own late read (once its snapshot, ``snapped``, is kept; with another
        read in that window too, none: both are candidates); a read of that plate heard
        afterwards is that truck read again (dropped), the first other one within ``reread``
        puts the tie in doubt as :meth:`_watch_tie` does. Any other read heard while
        it stands — every one, for a held weighing — is one more candidate once the truck left
        (held as 待确认车牌), and stays pending: a weighing that takes one heard later than
        ``reread`` after this one is checked by the clerk (:meth:`_late_check`). A new vehicle
        weighed before the platform emptied was the reads': nothing changes. ``left_at``: after
        a restart, the truck left before it (the platform was found empty). Not ``take``: a
        doubtful weight (:attr:`~edge.domain.weighing.StableWeight.doubtful`: the weighed truck
        after a second stop, maybe) takes no late read — every read is a candidate."""
        heard: list[ScaleRead] = []
        reads = self._standing_reads(since, vehicle, emptied, left_at)
        async for fresh in reads:
            if any(fresh.id == r.id for r in heard):
                continue  # a rival of the late read, heard already (below)
            if not take or row.held or heard or fresh.read.read_at > since + self.reread:
                heard.append(fresh)  # its late read, or the next truck's: the clerk says
                continue
            if snapped is not None:
                await snapped  # the snapshot is kept with the weighing first
            rivals = await self._rivals(fresh, since, emptied, left_at)
            if rivals:  # two reads in the window: no guess, both are candidates
                log.info("more than one plate read right after an unread truck's weight "
                         "settled: no late read taken", scale=self.name, weighing=row.id,
                         plates=[r.read.plate for r in (fresh, *rivals)])  # fmt: skip
                heard.extend((fresh, *rivals))
                continue
            tied = await self._give_late(row, fresh)
            if tied is not None:  # tied as by a read heard before: the tie-in-doubt rule
                await self._doubt_on(tied, fresh, reads, since, emptied, left_at)
                return
        if not heard or (left_at is None and self.emptied == emptied):
            if heard:
                log.info("plate read while the unread truck stood on the scale was the next "
                         "vehicle's: it was weighed", scale=self.name, weighing=row.id,
                         plates=[r.read.plate for r in heard])  # fmt: skip
            return
        for fresh in heard:
            done = await self.ledger.add_candidate(row.id, fresh)
            if done is None:
                continue  # given its plate meanwhile, or the read is no longer pending
            log.warning("plate read while a weighing's truck without a plate stood on the "
                        "scale: one more candidate, still pending for the next weighing",
                        scale=self.name, weighing=row.id, plate=fresh.read.plate,
                        read=fresh.id,
                        after_seconds=round(fresh.read.read_at - since, 1))  # fmt: skip
            self._tell(done)

    async def _give_late(self, row: StoredWeighing, late: ScaleRead) -> StoredWeighing | None:
        """The unmatched weighing ``row`` takes ``late``, its own late read (the camera slower
        than the scale): the weighing as it is now (an open first weighing, a pair...); None:
        not given (a clerk gave it a plate, or used the read)."""
        try:
            return await self.assign(row.id, late.read.plate, late.read.plate_color, read=late)
        except WeighingStateError as exc:
            log.info("late plate read not given", scale=self.name, weighing=row.id,
                     plate=late.read.plate, why=str(exc))  # fmt: skip
            return None

    async def _rivals(
        self, late: ScaleRead, since: float, emptied: int, left_at: float | None
    ) -> list[ScaleRead]:
        """The other pending reads heard, like ``late``, within ``reread`` of the weight
        settling at ``since`` (unix s) while the truck stood (it left at ``left_at`` or once
        the platform emptied more than ``emptied`` times): with one, the late read is no
        guess to take."""
        if left_at is None and self.emptied != emptied:
            left_at = self._left_at.get(emptied + 1, self._clock())
        end = since + self.reread if left_at is None else min(since + self.reread, left_at)
        return [
            r
            for r in await self._pending()
            if r.id != late.id
            and since <= r.read.read_at <= end
            and not self._rereads(r, late)
            and not self._rereads(late, r)
        ]

    async def _late_check(self, read: ScaleRead) -> tuple[str, str] | None:
        """(why, said) when ``read`` was heard while the truck of a weighing without a plate
        stood on the scale, later than ``reread`` after its weight settled (one of its
        candidates: its late read, or the next truck's): the weighing that takes it is
        checked by the clerk; None: it was not."""
        stood = await self.ledger.late_candidate_of(
            read, self.reread, read.read.read_at - self.max_between
        )
        if not stood:
            return None
        r = read.read
        whose = ", ".join(
            f"{r.read_at - w.first_at:.0f} s after weighing {w.id} ({w.first_kg:g} kg)"
            for w in stood
        )
        why = (f"tied to {r.plate} (read {read.id}), read {whose} while that truck, without a "
               "plate, stood on the scale: its late read, or this truck's")  # fmt: skip
        said = "；".join(
            f"按 {r.plate} 过磅；该识别在过磅 {w.id}（{w.first_kg:g} kg，未识别车牌）的车辆仍在"
            "磅上时产生，也可能是那辆车"
            for w in stood
        )
        return why, said

    async def _rival_check(self, read: ScaleRead) -> tuple[str, str] | None:
        """(why, said) when ``read`` put in doubt the plate of a completed weighing whose truck
        stood on the scale as it was heard (the tie-in-doubt rule): the next truck's read, or
        a stray one — the weighing that takes it is checked by the clerk; None: not so."""
        doubted = await self.ledger.rival_of(read, read.read.read_at - self.max_between)
        if not doubted:
            return None
        r = read.read
        whose = ", ".join(f"weighing {w.id} ({w.plate})" for w in doubted)
        why = (f"tied to {r.plate} (read {read.id}), heard while the truck of {whose} stood "
               "on the scale: the next truck's read, or a stray one")  # fmt: skip
        said = "；".join(
            f"按 {r.plate} 过磅；该识别在过磅 {w.id}（{w.plate}）的车辆仍在磅上时产生，"
            "也可能是误识别"
            for w in doubted
        )
        return why, said

    async def _superseded_check(self, read: ScaleRead) -> tuple[str, str] | None:
        """(why, said) when ``read`` superseded a read of another plate (the re-read rule:
        a camera refining its read, or a fleet's next truck read seconds after the first):
        the weighing it ties is marked for the clerk to check its plate; None: no such
        read."""
        gone = [
            r
            for r in await self.ledger.superseded_by(read, self.reread)
            if r.read.plate != read.read.plate
        ]
        if not gone:
            return None
        plates = ", ".join(
            f"{r.read.plate} (read {r.id}, {read.read.read_at - r.read.read_at:.1f} s before)"
            for r in gone
        )
        why = (f"tied to {read.read.plate} (read {read.id}), a near re-read that superseded "
               f"{plates}: one truck read twice, or two trucks")  # fmt: skip
        said = (
            f"按 {read.read.plate} 过磅；此前 {' '.join(r.read.plate for r in gone)} 被视为同车重读"
        )
        return why, said

    async def _watch_tie(
        self,
        row: StoredWeighing,
        read: ScaleRead,
        vehicle: int,
        emptied: int,
        since: float,
    ) -> None:
        """While the truck weighed as ``row`` at ``since`` (unix s; tied to ``read``, read
        before its weight settled) still stands on the scale (module docstring): a read of
        ``read``'s very plate is that truck read again, whenever it comes (dropped:
        :meth:`~edge.ledger.weighings.WeighingLedger.reread_of_used`). Of the others, only the
        first heard within ``reread`` of the weight settling counts: a near re-read of
        ``read`` is that truck (the re-read rule after the weighing); another plate puts the
        tie in doubt (:meth:`~edge.ledger.weighings.WeighingLedger.doubt_tie`) — a pair it
        completed (its goods record queued) is marked at once, an open first weighing (nothing
        sent yet) only once that truck left: a new vehicle weighed before the platform emptied
        (the stopped-twice rule's doubt) was the read's, and nothing changes. Later reads of
        other plates are the next truck's."""
        await self._doubt_on(row, read, self._standing_reads(since, vehicle, emptied), since,
                             emptied)  # fmt: skip

    async def _doubt_on(
        self,
        row: StoredWeighing,
        read: ScaleRead,
        reads: AsyncIterator[ScaleRead],
        since: float,
        emptied: int,
        left_at: float | None = None,
    ) -> None:
        """The tie-in-doubt rule over ``reads`` (:meth:`_standing_reads`) for the weighing
        ``row`` weighed at ``since`` and tied to ``read`` (heard before, or its late read):
        :meth:`_watch_tie`."""
        other: ScaleRead | None = None
        async for fresh in reads:
            if fresh.read.plate == read.read.plate:
                await self._reread(fresh, read)  # the same truck read again while it stands
            elif other is None and fresh.read.read_at <= since + self.reread:
                other = fresh
                if row.state != "open":
                    await self._doubt(read, other)
        if other is None or row.state != "open":
            return
        if left_at is None and self.emptied == emptied:
            log.info("plate read while the weighed truck stood on the scale was the next "
                     "vehicle's: it was weighed", scale=self.name, weighing=row.id,
                     plate=other.read.plate)  # fmt: skip
            return
        await self._doubt(read, other)

    async def _reread(self, later: ScaleRead, used: ScaleRead) -> None:
        """``later`` re-reads the truck whose read ``used`` a weighing took: not pending."""
        done = await self.ledger.reread_of_used(later, used)
        if done is not None:
            self._tell(done)

    async def _doubt(self, read: ScaleRead, other: ScaleRead) -> None:
        """The first read ``other`` heard within ``reread`` while the truck tied to ``read``
        stood on the scale: a near re-read of it, or the tie in doubt."""
        if self._rereads(other, read):
            await self._reread(other, read)
            return
        done = await self.ledger.doubt_tie(read, other)
        if done is None:
            return
        said = (
            "another plate read while the weighed truck stood on the scale: weighing held"
            if done.held
            else "another plate read while the weighed truck stood on the scale: the "
            "clerk checks its plate, its goods record held"
            if any(check.hold for check in done.checks)
            else "another plate read while the weighed truck stood on the scale: the "
            "clerk checks its plate, its goods record already sent"
        )
        log.warning(said, scale=self.name, weighing=done.id, tied=read.read.plate,
                    heard=other.read.plate, state=done.state)  # fmt: skip
        self._tell(done)

    def _rereads(self, later: ScaleRead, used: ScaleRead) -> bool:
        """Whether ``later`` re-reads the truck read as ``used`` (the re-read rule: the same
        plate, or a near one at the same lane, of the same colour, within ``reread``)."""
        a, b = later.read, used.read
        return a.plate == b.plate or (
            a.lane_id == b.lane_id
            and a.plate_color == b.plate_color
            and a.read_at - b.read_at <= self.reread
            and within_one_edit(a.plate, b.plate)
        )

    async def _standing_reads(
        self, since: float, vehicle: int, emptied: int, left_at: float | None = None
    ) -> AsyncIterator[ScaleRead]:
        """Each pending read heard at or after ``since`` (unix s) while the vehicle weighed
        then (the ``vehicle``-th; the platform had emptied ``emptied`` times) stands on the
        scale, as it is heard. Ends once it left — the reads heard before it left included —
        or a new vehicle was weighed before the platform emptied (the reads were that one's).
        ``left_at``: it left by then (after a restart); the reads heard by then only."""
        told: set[int] = set()
        while True:
            arrived = self._read_arrived
            if left_at is None and self.emptied != emptied:
                left_at = self._left_at.get(emptied + 1, self._clock())
            elif left_at is None and self.vehicles != vehicle:
                return  # a new vehicle was weighed before the platform emptied
            for fresh in await self._pending():
                at = fresh.read.read_at
                if fresh.id not in told and at >= since and (left_at is None or at <= left_at):
                    told.add(fresh.id)
                    yield fresh
            if left_at is not None:
                return
            await arrived.wait()

    def _wake(self) -> None:
        """Wake the watches (a read was kept, the truck left, a new vehicle was weighed)."""
        self._read_arrived.set()
        self._read_arrived = asyncio.Event()

    def _watched(self, task: asyncio.Task[None]) -> None:
        self._watching.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("weighing's plate not checked", scale=self.name, error=repr(exc),
                      exc_info=exc)  # fmt: skip

    async def _snap(self, row: StoredWeighing) -> None:
        """A weighing without its plate: a snapshot of the scale lane's camera, when one can
        give it."""
        if self.snapshot is not None:
            photo = await self.snapshot()  # None: no camera could give one
            if photo is not None:
                await self.ledger.set_weighing_photo(row.id, photo)
                self._tell(await self.ledger.weighing(row.id))

    # -- lifecycle and what the faces show -------------------------------------------------------
    def in_position(self) -> bool:
        """Whether the truck stands where it can be weighed (no position sensors: always)."""
        return all(sensor.presence.present for sensor in self.position)

    async def resume(self) -> None:
        """Before :meth:`start`: when this scale's last weighing was taken within
        :attr:`RESUME_SECONDS`, the first stable weight within the stable band of it is that
        truck still on the platform (the daemon restarted, or was killed, while it stood
        there): it is not weighed again, and the scale waits for the platform to empty — its
        weighing goes on as if the daemon had never stopped: a higher stop of that truck is the
        truck-stopped-twice rule's (:meth:`_reweighed`: an open weighing takes it, a completed
        pair is marked 请核对重量 with its goods record held) — and
        (no position sensors) the read it was tied to is watched on as if the daemon had never
        stopped (the tie-in-doubt rule: a read heard while it stood, before the restart or
        after, puts the tie in doubt); one without a plate hears reads as if the daemon had
        never stopped too (the late-read rule), until the platform is seen empty — a truck
        gone before is taken to have stood until the restart. The goods records held while
        their truck stood (module docstring) go out now, but the last weighing's (within the
        time between two weighings): once the platform is seen empty (a check added meanwhile,
        or a weight found first that may be its truck's second stop, keeps it held)."""
        now = self._clock()
        since = now - self.RESUME_SECONDS
        last = await self.ledger.last_weighing_on(self.name, since)
        # a weight found before the platform is seen empty (doubtful: the detector) may still
        # be the last truck's, weighed within the time between two weighings: its goods record
        # waits until the platform is seen empty too (or the clerk says, when that weight is
        # its truck's second stop: release_left)
        older = last or await self.ledger.last_weighing_on(self.name, now - self.max_between)
        keep = None  # its truck's weighing (a stop set aside as a second: that truck's)
        if older is not None:
            try:
                keep = (await self.truck_of_id(older[0])).id
            except KeyError:
                keep = older[0]
        await self.ledger.release_left(self.name, now, keep)
        self._awaiting_empty = older is not None
        if last is None:
            if older is not None:
                self.detector.unwatched_before()
                self._last_weighing = asyncio.get_running_loop().create_future()
                self._last_weighing.set_result(await self.ledger.weighing(older[0]))
            return
        weighing_id, kg, at = last
        # weighed as before the restart (the stopped-twice rule goes on for it): when, on the
        # detector's clock, and whether a plate read was heard since (StableDetector.doubt)
        heard = bool(await self.ledger.pending_reads(self.name, at))
        self.detector.expect(Decimal(str(kg)), self._mono() - (now - at), unsure=heard)
        row = await self.ledger.weighing(weighing_id)
        self._last_weighing = asyncio.get_running_loop().create_future()
        self._last_weighing.set_result(row)  # a higher stop of that truck: _reweighed
        log.info("after a restart: a stable weight like the last weighing is that truck "
                 "still on the scale", scale=self.name, kg=kg, at=at)  # fmt: skip
        if self.position:
            return  # the next-vehicle rule: no read heard while it stands is its own
        # the tie-in-doubt rule goes on for it (a read heard before the restart, or after);
        # the late-read rule for one without a plate (its truck may stand there still)
        read = await self.ledger.tied_read(weighing_id, self.name, at)
        if read is not None or row.state == "unmatched":
            self._resumed = (row, read, at)

    def start(self) -> None:
        self.indicator.start()
        for sensor in self.position:
            sensor.start()

    async def aclose(self) -> None:
        for task in [*self._tasks, *self._noting, *self._watching]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._watching, return_exceptions=True)
        for sensor in self.position:
            await sensor.aclose()
        await self.indicator.aclose()

    async def drain(self) -> None:
        """Wait for the plate reads and weighings being recorded (tests, shutdown)."""
        await asyncio.gather(*self._noting, *self._tasks, return_exceptions=True)

    def live(self) -> dict[str, object]:
        """Live weight and health for the status page and ``/healthz``."""
        kg = self.indicator.current_kg()
        latest = self.indicator.latest
        return {
            "name": self.name,
            "label": self.label,
            "kg": None if kg is None else float(kg),
            "stable": None if latest is None else latest.stable,
            "weighed": self.detector.weighed,
            "in_position": self.in_position(),
            "health": self.indicator.health.to_json(),
            #: the indicator shows a net weight without its tare: nothing is weighed
            "net_display": NET_DISPLAY_SAID if self.indicator.net_display else None,
            "refused": None if self.refused is None else {
                "kg": float(self.refused[0].kg),
                "reason": self.refused[0].reason,
                "at": self.refused[1],
            },
        }  # fmt: skip


def _both(a: tuple[str, str] | None, b: tuple[str, str] | None) -> tuple[str, str] | None:
    """Two reasons (why, said) for a clerk to check a weighing's plate, as one."""
    if a is None or b is None:
        return a or b
    return f"{a[0]}; {b[0]}", f"{a[1]}；{b[1]}"


def build_weighbridges(
    cfg: Config, ledger: WeighingLedger, lanes: Mapping[str, Lane], devices: DeviceBuilder
) -> dict[str, Weighbridge]:
    """One :class:`Weighbridge` per ``[scales.<name>]``, listening to its lanes' passes."""
    bridges: dict[str, Weighbridge] = {}
    for name, scale in cfg.scales.items():
        bridge = Weighbridge(
            name,
            scale.build(name),
            ledger,
            scale.stable_rule(),
            max_between_seconds=cfg.weighing.max_hours_between * 3600,
            preset_tares_kg=cfg.weighing.preset_tare_kg,
            goods_for=cfg.weighing.goods_for,
            plate_max_age_seconds=scale.plate_max_age_seconds,
            position=devices.scale_position(name, scale.position),
            snapshot=_snapshot([lanes[lane_id] for lane_id in scale.lanes], cfg.site.zone),
            label=scale.name,
            drive_on_seconds=scale.drive_on_seconds,
            reread_seconds=scale.reread_seconds,
        )
        for lane_id in scale.lanes:
            lanes[lane_id].pass_listeners.append(bridge.heard_pass)
            bridge.lanes.append(lane_id)
        bridges[name] = bridge
    return bridges


def scale_pairings(cfg: Config, ledger: WeighingLedger) -> dict[str, ScalePairing]:
    """One :class:`ScalePairing` per ``[scales.<name>]`` with the settings the daemon's
    weighbridge has (for the command line: no indicator is opened)."""
    return {
        name: ScalePairing(
            name,
            ledger,
            empty_kg=scale.stable_rule().minimum_kg,
            max_between_seconds=cfg.weighing.max_hours_between * 3600,
            preset_tares_kg=cfg.weighing.preset_tare_kg,
            goods_for=cfg.weighing.goods_for,
            lanes=scale.lanes,
            label=scale.name,
            plate_max_age_seconds=scale.plate_max_age_seconds,
            drive_on_seconds=scale.drive_on_seconds,
        )
        for name, scale in cfg.scales.items()
    }


def _snapshot(lanes: Sequence[Lane], zone: tzinfo) -> Snapshot:
    """A snapshot from the first of the scale's lanes whose camera gives one (lanes whose
    camera only pushes have no snapshot source and are skipped)."""

    async def take() -> str | None:
        when = datetime.now(zone)
        for lane in lanes:
            photo = await lane.photos.scene(when)
            if photo is not None:
                return photo
        return None

    return take


class PlanReporter:
    """At lanes without a scale: a pass let through (not refused) with a valid, unused ERP
    transport plan for its plate sends the plan's goods and expected tonnage as its goods
    record (tied to that pass); a refused pass uses no plan."""

    #: How far back a restart looks for passes still owed their plan's goods record.
    CATCH_UP_SECONDS = 7 * 86400.0

    def __init__(self, ledger: WeighingLedger, clock: Callable[[], float] = time.time) -> None:
        self.ledger, self._clock = ledger, clock
        self._tasks: set[asyncio.Task[None]] = set()
        self.lanes: list[str] = []
        self.reported = 0

    def start(self) -> None:
        """In the background: the goods records of passes recorded just before the daemon
        stopped (the pass commits first, its plan's goods record right after, in a
        transaction of its own)."""
        task = asyncio.create_task(self._catch_up(), name="plan:catch-up")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _catch_up(self) -> None:
        since = self._clock() - self.CATCH_UP_SECONDS
        for serial, plate, at in await self.ledger.passes_owed_plan_goods(self.lanes, since):
            await self._report(serial, plate, at)

    def heard_pass(self, message: dict[str, Any]) -> None:
        """A lane's pass listener: a pass the lane let through (the barrier lifted for it)
        uses its plate's plan; a refused one uses none (the refused-vehicle rule, as the
        scale's: a truck turned away carries no goods record)."""
        plate, serial = message.get("plate"), message.get("serial")
        if message.get("verdict") == "refuse":
            log.info("refused pass: no ERP plan is used", plate=plate, serial=serial)
            return
        if isinstance(plate, str) and plate and isinstance(serial, str):
            report = self._report(serial, plate, self._clock())
            task = asyncio.create_task(report, name=f"plan:{serial}")
            self._tasks.add(task)
            task.add_done_callback(self._done)

    async def _report(self, serial: str, plate: str, at: float) -> None:
        row = await self.ledger.goods_from_plan(serial, plate, at)
        if row is not None:
            self.reported += 1
            log.info("goods record from an ERP plan", serial=serial, plate=plate, ysl=row.ysl)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("ERP plan goods record failed", error=repr(exc), exc_info=exc)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def attach_plan_reporter(
    cfg: Config, ledger: WeighingLedger, lanes: Mapping[str, Lane]
) -> PlanReporter | None:
    """With the ERP API on, the lanes without a scale in ``[erp] report_direction`` report
    plans' tonnage at their passes."""
    if cfg.erp.token is None:
        return None
    weighed = {lane for scale in cfg.scales.values() for lane in scale.lanes}
    reporter = PlanReporter(ledger)
    for lane_id, lane in lanes.items():
        if lane_id not in weighed and lane.cfg.direction == cfg.erp.report_direction:
            lane.pass_listeners.append(reporter.heard_pass)
            reporter.lanes.append(lane_id)
    return reporter
