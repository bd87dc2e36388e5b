"""The ledger's weighings on truck scales (地磅): two weighings of one plate make gross, tare
and net (one part of :class:`edge.ledger.store.Store`; research/ledger-and-weighbridge.md
§1.9). Weights are kg."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import astuple, dataclass, replace
from typing import Any

import structlog

from edge.domain.goods import OVER_MAX_KG, GoodsError, goods_name, tonnes
from edge.domain.plates import within_one_edit
from edge.domain.weighing import state_name
from edge.ledger.database import LedgerPart
from edge.ledger.photos import photo_url, weighing_photo_url
from edge.ledger.rows import (
    NewScaleRead,
    NewTransportPlan,
    NewWeighing,
    ScaleRead,
    StoredWeighing,
    TransportPlan,
)

log = structlog.get_logger("edge.ledger.weighings")

#: What the status page shows for a preset-tare vehicle weighed at (or below) its preset tare:
#: nothing carried, no goods record (and no error sent to the platform).
EMPTY_WEIGHING = "空车过磅，无货物"
#: After a goods name in the daily tonnage: the weighings whose goods record cannot be sent.
UNREPORTED = "（未上报）"


class WeighingStateError(ValueError):
    """A change a weighing's state does not allow; the message is English (the log, the
    audit), ``said`` the same in Chinese (the clerk's page)."""

    def __init__(self, detail: str, said: str) -> None:
        super().__init__(detail)
        self.said = said


class ReadUsedError(WeighingStateError):
    """A plate read another weighing already used (one read is one truck's, once)."""

    def __init__(self, read_id: int) -> None:
        super().__init__(f"plate read {read_id} was used by another weighing", "该车牌识别已被使用")
        self.read_id = read_id


class ReadDroppedError(ReadUsedError):
    """A plate read that is no candidate any more (superseded by a re-read, stale, dropped by
    a clerk) since it was chosen: a new weighing does not take it, as for a used one."""

    def __init__(self, read_id: int, why: str) -> None:
        WeighingStateError.__init__(
            self, f"plate read {read_id} is no candidate any more ({why})", "该车牌识别已不是候选"
        )
        self.read_id = read_id


#: How the mark a :class:`TwoTrucksError` leaves begins (each of its reasons).
TWO_TRUCKS = "a pass corrected to"


class TwoTrucksError(WeighingStateError):
    """A pass's corrected plate reaches a complete weighing whose other half is another
    truck's (a misread plate paired two trucks): it is not relabelled; it is marked 请核对车牌
    (``mark``, ``mark_said``), its goods record held, and the clerk splits it
    (:meth:`WeighingLedger.split_weighing`; ``edge weighings split``)."""

    def __init__(self, weighing_id: int, plate: str, other: str, serial: str | None) -> None:
        self.weighing_id, self.plate, self.other, self.serial = weighing_id, plate, other, serial
        super().__init__(
            f"weighing {weighing_id} is complete and its other weighing is {other}'s (pass "
            f"{serial}): not relabelled to {plate}; marked 请核对车牌 (a goods record held): "
            f"split it — edge weighings split --config … {weighing_id} --reason …, or 拆分 on "
            "the status page",
            f"过磅 {weighing_id} 已完成，另一次过磅是 {other} 的，未改动；"
            f"请拆分该过磅（状态页 拆分，或 edge weighings split {weighing_id}）",
        )
        self.mark = (
            f"{TWO_TRUCKS} {plate}, its other weighing {other}'s (pass {serial}): two trucks "
            f"— split it (edge weighings split {weighing_id})"
        )
        self.mark_said = f"过车记录已更正为 {plate}，另一次过磅是 {other} 的：两车误配，请拆分"

    def sent(self) -> WeighingStateError:
        """The same when its goods record was sent already: nothing to split any more."""
        return WeighingStateError(
            f"weighing {self.weighing_id} is complete and its other weighing is {self.other}'s "
            f"(pass {self.serial}): not relabelled to {self.plate}; its goods record was "
            "already sent (已上报): correct it on the platform",
            f"过磅 {self.weighing_id} 已完成，另一次过磅是 {self.other} 的，未改动；"
            "货物台账已上报，请在平台上更正",
        )


def check_splittable(row: StoredWeighing) -> None:
    """Raises :class:`WeighingStateError` unless ``row`` is a pair of two weighings (what
    :meth:`WeighingLedger.split_weighing` splits)."""
    wid = row.id
    if row.state == "planned":
        raise WeighingStateError(
            f"weighing {wid} is an ERP plan's goods record: no two weighings to split",
            f"过磅 {wid} 是ERP计划的货物台账，没有两次过磅，不能拆分",
        )
    if row.state != "complete":
        raise WeighingStateError(
            f"weighing {wid} is {row.state}, not complete: nothing to split",
            f"过磅 {wid} 未完成（{state_name(row.state)}），不能拆分",
        )
    if row.tare_preset or row.second_at is None:
        raise WeighingStateError(
            f"weighing {wid} was weighed once, with a preset tare: no two weighings to split",
            f"过磅 {wid} 为预置皮重，只有一次过磅，不能拆分",
        )


def _row(columns: dict[str, Any]) -> Any:
    """A row read within a transaction (:meth:`WeighingLedger._rows_written`), as the rows'
    ``from_row`` read one."""
    return columns


@dataclass(frozen=True, slots=True)
class WeighingHalf:
    """One weighing of a pair (:meth:`WeighingLedger.weighing_halves`): its scale, kg, time
    (unix s), pass and snapshot, and the plate its pass has now (as read, or corrected), its
    colour and the pass's lane ("" without a pass)."""

    scale: str
    kg: float
    at: float
    serial: str | None
    photo: str | None
    plate: str
    plate_color: str
    lane: str


@dataclass(frozen=True, slots=True)
class HalfTie:
    """How a half of a split pair is tied again (:meth:`WeighingLedger.split_weighing`): the
    plate its pass has now and, as for a plate read then, its goods, the ERP plan that named
    them, its preset tare, the scale's empty load (``empty_kg``: :meth:`WeighingLedger.weigh`)
    and since when a truck stands on the scale."""

    plate: str
    plate_color: str
    goods: str | None = None
    plan_id: int | None = None
    preset_tare_kg: float | None = None
    empty_kg: float = 0.0
    standing_since: float | None = None


@dataclass(frozen=True, slots=True)
class _Side:
    """One of a pair's two weighings: its row (None: not stored yet), scale, kg, time, the
    serial of its plate read's pass, its snapshot."""

    id: int | None
    scale: str
    kg: float
    at: float
    serial: str | None
    photo: str | None


class WeighingLedger(LedgerPart):
    async def weigh(  # noqa: PLR0913 - the weighing and its settings, as keywords
        self,
        new: NewWeighing,
        *,
        max_between_seconds: float,
        preset_tare_kg: float | None = None,
        goods: str | None = None,
        read_id: int | None = None,
        candidates: Sequence[ScaleRead] = (),
        empty_kg: float = 0.0,
        plan_id: int | None = None,
        check: tuple[str, str] | None = None,
        standing: bool = False,
        stop_of: int | None = None,
        stop_unwatched: bool = False,
    ) -> StoredWeighing:
        """Record a stable weight, in one transaction: first weighings of any plate older than
        ``max_between_seconds`` become ``expired``; then this plate's open first weighing (on
        any scale) is completed, or — with a preset tare (预置皮重) — the weighing completes at
        once, or a first weighing is opened. Without a plate it is kept as ``unmatched``;
        with ``candidates`` (more than one plate read was pending) it is held: unmatched with
        its candidate reads, for a clerk to pick (:meth:`assign_plate`). ``read_id``: the
        pending plate read (``scale_reads``) that tied it, used by it from now on (raises
        :class:`ReadUsedError`, nothing written, when another weighing used it meanwhile).

        With a preset tare the preset is always the tare: a weight less than ``empty_kg`` (the
        scale's ``minimum_kg``: a preset tare drifts with fuel, mud and the driver) above it is
        an empty vehicle — complete with net 0, no goods record (:data:`EMPTY_WEIGHING`).

        A weighing that completes with a ``goods`` name gets its goods record (an outbox entry
        of the pass that completed it, sent after that pass's record) in the same transaction;
        a name or tonnage the platform must not get is kept as ``goods_error`` instead.
        ``plan_id``: the ERP plan that named ``goods``, marked used (by the completing pass's
        serial) when the weighing completes — it can no longer be replaced. ``check``: (why,
        said) the clerk should check the plate of the weighing tied (its goods record held
        until the clerk clears it). ``standing``: the weighed truck stands on the scale (a
        weighing taken by :class:`~edge.gate.weighbridge.Weighbridge`): the goods record is
        committed ``held`` until that truck left (:meth:`release_left`). ``stop_of``: a
        weighing without its plate was taken before the platform emptied since that weighing
        on its scale (watched all along; ``stop_unwatched``: or not watched since, and not seen
        empty): it may be that truck's second stop (kept with it)."""

        async def write() -> int:
            await self._db.execute(
                "UPDATE weighings SET state = 'expired' WHERE state = 'open' AND first_at < ?",
                (new.at - max_between_seconds,),
            )
            if candidates or new.plate is None:
                weighing_id = await self._insert(new, "unmatched")
                held = (
                    json.dumps([c.to_json() for c in candidates], ensure_ascii=False)
                    if candidates
                    else None
                )
                if held is not None or stop_of is not None:
                    await self._db.execute(
                        "UPDATE weighings SET candidates = ?, stop_of = ?, stop_unwatched = ? "
                        "WHERE id = ?",
                        (held, stop_of, int(stop_of is not None and stop_unwatched), weighing_id),
                    )
                return weighing_id
            if read_id is not None:  # dropped since it was chosen: like a used read
                for row in await self._fetchall(
                    "SELECT dropped FROM scale_reads WHERE id = ? AND dropped IS NOT NULL",
                    (read_id,),
                ):
                    raise ReadDroppedError(read_id, str(row["dropped"]))
            weighing_id = await self._tie(
                None, new, None, max_between_seconds, (preset_tare_kg, empty_kg), goods,
                standing_since=new.at if standing else None,
            )  # fmt: skip
            await self._used_by(weighing_id, read_id, plan_id)
            if check is not None:
                await self._add_check(weighing_id, "plate", *check, hold=True)
            return weighing_id

        return await self._committed(write)

    async def _committed(self, write: Callable[[], Awaitable[int]]) -> StoredWeighing:
        """Run ``write`` in a transaction; the weighing whose id it returns, as committed (a
        goods record it queued is then sent)."""
        weighing_id = await self._transaction(write)
        self.outbox_changed.set()
        return await self.weighing(weighing_id)

    async def assign_plate(  # noqa: PLR0913 - the weighing's plate and its settings, as keywords
        self,
        weighing_id: int,
        plate: str,
        plate_color: str,
        *,
        serial: str | None,
        max_between_seconds: float,
        read_id: int | None = None,
        preset_tare_kg: float | None = None,
        goods: str | None = None,
        empty_kg: float = 0.0,
        plan_id: int | None = None,
        standing_since: float | None = None,
    ) -> StoredWeighing:
        """A plate for an unmatched or held weighing (a clerk's pick, or a plate read that came
        late): it continues exactly as if the plate had been read when it was weighed — it
        opens the plate's first weighing, completes the plate's first weighing taken within
        ``max_between_seconds`` of it (before or after; the earlier one keeps its id and the
        later one is folded into it as its second weighing), or completes at once with a
        preset tare; a completed pair gets its one goods record. ``serial``: the pass of the
        plate read (or the pass a plate typed by a clerk is tied to: its reads still pending
        at this scale are used from now on; None: no pass), ``read_id`` that read, used from
        now on. ``standing_since``: a truck weighed on this weighing's scale at or after this
        time (unix s) still stands on it — a goods record whose later weighing is that one is
        committed ``held`` until the truck left (:meth:`release_left`); None: none stands.
        Raises :class:`KeyError` for an unknown weighing, :class:`ValueError` for one that
        is not unmatched (already has its plate), :class:`ReadUsedError` when ``read_id``
        was used by a weighing meanwhile (nothing changes)."""

        async def write() -> int:
            async with self._db.execute(
                "SELECT state, first_scale, first_kg, first_at, first_photo FROM weighings "
                "WHERE id = ?",
                (weighing_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise KeyError(weighing_id)
            state, scale, kg, at, photo = row
            if state != "unmatched":
                raise WeighingStateError(
                    f"weighing {weighing_id} is {state}: it has its plate",
                    f"过磅 {weighing_id} 已有车牌（{state_name(state)}）",
                )
            new = NewWeighing(scale, plate, plate_color, float(kg), float(at), serial)
            await self._db.execute(  # the clerk gave its plate: no longer in doubt
                "UPDATE weighings SET check_plate = NULL WHERE id = ?", (weighing_id,)
            )
            kept = await self._tie(
                weighing_id, new, photo, max_between_seconds, (preset_tare_kg, empty_kg), goods,
                standing_since=standing_since,
            )  # fmt: skip
            await self._used_by(kept, read_id, plan_id)
            if read_id is None and serial is not None:  # a typed plate tied to its pass
                await self._db.execute(  # whose read, still pending, ties no other weighing
                    "UPDATE scale_reads SET weighing_id = ? WHERE serial = ? AND scale = ? "
                    "AND weighing_id IS NULL",
                    (kept, serial, scale),
                )
            return kept

        return await self._committed(write)

    async def weighings_of_pass(self, serial: str) -> list[StoredWeighing]:
        """The weighings (open, expired or complete) whose first or second weighing the plate
        read of the pass ``serial`` tied, oldest first."""
        rows = await self._fetchall(
            "SELECT * FROM weighings WHERE (first_serial = ? OR second_serial = ?) "
            "AND state IN ('open', 'expired', 'complete') ORDER BY id",
            (serial, serial),
        )
        return [StoredWeighing.from_row(row) for row in rows]

    async def correct_weighing_plate(  # noqa: PLR0913 - the weighing's plate and its settings
        self,
        weighing_id: int,
        plate: str,
        plate_color: str,
        *,
        max_between_seconds: float,
        preset_tare_kg: float | None = None,
        goods: str | None = None,
        empty_kg: float = 0.0,
        plan_id: int | None = None,
        standing_since: float | None = None,
    ) -> StoredWeighing:
        """A guard corrected the misread plate of the pass that tied this weighing: an open (or
        expired) first weighing takes ``plate`` and is paired again exactly as if that plate
        had been read (:meth:`assign_plate`: it completes the plate's first weighing taken
        within ``max_between_seconds``, one goods record; an expired one that finds none stays
        expired); a complete one only shows the corrected plate (its pair and goods record
        stand: the goods record names its pass, reported with the pass's correction) — when
        both its halves are that truck's; one whose other half is another truck's is left
        as it is, marked 请核对车牌 with its goods record held (not sent yet), for the clerk
        to split (:meth:`split_weighing`). Raises :class:`KeyError` for an unknown weighing,
        :class:`WeighingStateError` for one without a plate read (unmatched, discarded), an
        ERP plan's, or (:class:`TwoTrucksError`, once its mark is committed) a complete one
        whose halves came from two trucks."""

        async def write() -> int:
            async with self._db.execute(
                "SELECT state, first_scale, first_kg, first_at, first_photo, first_serial "
                "FROM weighings WHERE id = ?",
                (weighing_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise KeyError(weighing_id)
            state, scale, kg, at, photo, serial = row
            if state == "complete":
                try:
                    await self._one_truck(weighing_id, plate)
                except TwoTrucksError as exc:  # left as it is, marked: the clerk splits it
                    await self._mark_plate(weighing_id, exc.mark, exc.mark_said)
                    sent = await self._goods_sent(weighing_id)
                    left.append(exc.sent() if sent else exc)
                    return weighing_id
                await self._db.execute(
                    "UPDATE weighings SET plate = ?, plate_color = ? WHERE id = ?",
                    (plate, plate_color, weighing_id),
                )
                await self._one_truck_now(weighing_id, standing_since)
                return weighing_id
            if state not in ("open", "expired"):
                raise WeighingStateError(
                    f"weighing {weighing_id} is {state}: no plate read tied it",
                    f"过磅 {weighing_id} 不能更正车牌（{state_name(state)}）",
                )
            new = NewWeighing(scale, plate, plate_color, float(kg), float(at), serial)
            kept = await self._tie(
                weighing_id, new, photo, max_between_seconds, (preset_tare_kg, empty_kg), goods,
                standing_since=standing_since,  # as assign_plate's
            )  # fmt: skip
            await self._use_plan(plan_id, kept)
            if state == "expired":  # no pair found: it stays what it was
                await self._db.execute(
                    "UPDATE weighings SET state = 'expired' WHERE id = ? AND state = 'open'",
                    (kept,),
                )
            return kept

        left: list[WeighingStateError] = []
        row = await self._committed(write)
        if left:  # its mark (请核对车牌, its goods record held) is committed
            raise left[0]
        return row

    async def _one_truck(self, weighing_id: int, plate: str) -> None:
        """Within a transaction: a complete weighing takes a corrected ``plate`` only if both
        its halves are that truck's — each half's pass's plate (as corrected) is ``plate``,
        a half without a pass has the weighing's plate. Else its two halves came from
        different trucks (a misread truck's weighing completed another's first weighing):
        relabelling would give the other truck's half, and its goods record, to this one —
        raises :class:`TwoTrucksError`, nothing changed (the clerk splits it)."""
        async with self._db.execute(
            "SELECT w.plate, w.second_at IS NOT NULL, h.serial, (SELECT coalesce(("
            "SELECT c.plate FROM corrections c WHERE c.pass_id = p.id ORDER BY c.id DESC "
            "LIMIT 1), p.plate) FROM passes p WHERE p.serial = h.serial) "
            "FROM weighings w JOIN (SELECT 1 AS half, first_serial AS serial FROM weighings "
            "WHERE id = ? UNION ALL SELECT 2, second_serial FROM weighings WHERE id = ?) h "
            "WHERE w.id = ?",
            (weighing_id, weighing_id, weighing_id),
        ) as cur:
            halves = await cur.fetchall()
        for half, (weighed_as, paired, serial, read_as) in enumerate(halves, 1):
            if half == 2 and not paired:
                continue  # a preset tare: one weighing only
            truck = read_as if serial is not None else weighed_as
            if truck != plate:
                raise TwoTrucksError(weighing_id, plate, truck or "no known truck", serial)

    async def _one_truck_now(self, weighing_id: int, standing_since: float | None) -> None:
        """Within a transaction: a pair marked as two trucks' by a correction
        (:class:`TwoTrucksError`) whose passes now all name its plate (the other pass was
        corrected too) is one truck's: the mark is dropped when it is the only plate check,
        and its goods record goes out unless another check holds it or its truck may still
        stand on the scale (then :meth:`release_left` lets it go)."""
        row = await self._weighing_written(weighing_id)
        check = next((c for c in row.checks if c.kind == "plate"), None) if row else None
        if row is None or check is None:
            return
        if not all(why.startswith(TWO_TRUCKS) for why in check.why.split("; ")):
            return  # another doubt too: the clerk checks it
        await self._db.execute("UPDATE weighings SET check_plate = NULL WHERE id = ?", (row.id,))
        last_at = row.second_at if row.second_at is not None else row.first_at
        held = any(c.hold for c in row.checks if c.kind != "plate")
        if held or (standing_since is not None and last_at >= standing_since):
            return
        await self._db.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE weighing_id = ? "
            "AND kind = 'goods' AND state = 'held'",
            (self._clock(), row.id),
        )

    async def correct_scale_reads(self, serial: str, plate: str, plate_color: str) -> int:
        """A guard corrected the plate of the pass ``serial``: its plate read still pending at
        a scale — and as a candidate of a held weighing — is the corrected plate from now on
        (a weighing that takes it gets the right plate). Returns the reads changed."""

        async def write() -> int:
            cur = await self._db.execute(
                "UPDATE scale_reads SET plate = ?, plate_color = ? WHERE serial = ? "
                "AND weighing_id IS NULL",
                (plate, plate_color, serial),
            )
            changed = cur.rowcount
            await cur.close()
            async with self._db.execute(
                "SELECT id, candidates FROM weighings WHERE state = 'unmatched' "
                "AND candidates IS NOT NULL AND instr(candidates, ?) > 0",
                (json.dumps(serial),),
            ) as found:
                held = await found.fetchall()
            for weighing_id, candidates in held:
                reads = json.loads(candidates)
                for read in reads:
                    if read.get("serial") == serial:
                        read.update(plate=plate, plate_color=plate_color)
                await self._db.execute(
                    "UPDATE weighings SET candidates = ? WHERE id = ?",
                    (json.dumps(reads, ensure_ascii=False), weighing_id),
                )
            return changed

        return await self._transaction(write)

    async def pass_for_plate(
        self, plate: str, lane_ids: Sequence[str], at: float, within: float
    ) -> str | None:
        """The serial of the pass of ``plate`` — as read, or as a guard corrected it — let
        through (not refused) at one of ``lane_ids`` whose time is nearest to ``at`` (unix s)
        and at most ``within`` s from it, and that ties no weighing yet (a pass is one side
        of one weighing: a clerk typing one plate for three weighings tied them all to one
        pass, and two goods records went out with its serial); None: none."""
        if not lane_ids:
            return None
        marks = ",".join("?" * len(lane_ids))
        window = (at - within, at + within)
        rows = await self._fetchall(
            "SELECT serial FROM (SELECT p.serial, p.received_at FROM passes p "  # noqa: S608
            f"WHERE p.plate = ? AND p.lane_id IN ({marks}) AND p.verdict = 'open' "
            "AND p.received_at BETWEEN ? AND ? UNION SELECT p.serial, p.received_at "
            "FROM corrections c JOIN passes p ON p.id = c.pass_id WHERE c.plate = ? "
            f"AND p.lane_id IN ({marks}) AND p.verdict = 'open' "
            "AND p.received_at BETWEEN ? AND ?) q "
            "WHERE NOT EXISTS (SELECT 1 FROM weighings w WHERE w.first_serial = q.serial) "
            "AND NOT EXISTS (SELECT 1 FROM weighings w WHERE w.second_serial = q.serial) "
            "ORDER BY abs(received_at - ?) LIMIT 1",
            (plate, *lane_ids, *window, plate, *lane_ids, *window, at),
        )
        return str(rows[0]["serial"]) if rows else None

    async def discard_weighing(self, weighing_id: int, why: str) -> StoredWeighing:
        """Set aside a weighing without its plate (unmatched, or held as 待确认车牌) that is no
        truck's load: state ``discarded`` with ``why`` (who and the reason) kept, never paired
        or given a plate afterwards; its candidate plate reads stay pending for a real
        weighing; its checks (请核对车牌) are cleared (no load: nothing to check). Raises
        :class:`KeyError` for an unknown weighing, :class:`WeighingStateError` for one that has
        its plate (or was discarded)."""

        async def write() -> int:
            async with self._db.execute(
                "SELECT state FROM weighings WHERE id = ?", (weighing_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise KeyError(weighing_id)
            state = row[0]
            if state != "unmatched":
                raise WeighingStateError(
                    f"weighing {weighing_id} is {state}: only one without its plate is discarded",
                    f"过磅 {weighing_id} 不能作废（{state_name(state)}）",
                )
            await self._db.execute(
                "UPDATE weighings SET state = 'discarded', discarded = ?, check_plate = NULL, "
                "check_weight = NULL WHERE id = ?",
                (why, weighing_id),
            )
            return weighing_id

        weighing_id = await self._transaction(write)
        return await self.weighing(weighing_id)

    #: The plate a pass has now (its latest correction's, else as read), its colour and lane.
    _PLATE_NOW = (
        "SELECT coalesce(c.plate, p.plate) AS plate, coalesce(c.plate_color, p.plate_color) "
        "AS plate_color, p.lane_id FROM passes p LEFT JOIN corrections c ON c.id = (SELECT "
        "max(id) FROM corrections WHERE pass_id = p.id) WHERE p.serial = ?"
    )

    async def weighing_halves(self, weighing_id: int) -> list[WeighingHalf]:
        """The weighings a (complete) weighing is made of — its first, and its second when it
        has one — each with the plate its pass has now (as read, or as corrected; a weighing
        without a pass: the weighing's plate). Raises :class:`KeyError` for an unknown
        weighing."""
        return await self._halves(await self.weighing(weighing_id), self._fetchall)

    async def _halves(
        self,
        row: StoredWeighing,
        fetch: Callable[[str, tuple[object, ...]], Awaitable[Sequence[Any]]],
    ) -> list[WeighingHalf]:
        sides = [(row.first_scale, row.first_kg, row.first_at, row.first_serial, row.first_photo)]
        if row.second_at is not None and row.second_kg is not None and row.second_scale:
            sides.append((row.second_scale, row.second_kg, row.second_at, row.second_serial,
                          row.second_photo))  # fmt: skip
        halves = []
        for scale, kg, at, serial, photo in sides:
            found = list(await fetch(self._PLATE_NOW, (serial,))) if serial else []
            plate, colour, lane = (
                (found[0]["plate"], found[0]["plate_color"], found[0]["lane_id"])
                if found and found[0]["plate"]
                else (row.plate or "", row.plate_color, "")
            )
            halves.append(WeighingHalf(scale, float(kg), float(at), serial, photo, plate,
                                       str(colour), str(lane)))  # fmt: skip
        return halves

    async def split_weighing(
        self, weighing_id: int, ties: Sequence[HalfTie], *, max_between_seconds: float
    ) -> tuple[list[StoredWeighing], list[str]]:
        """A clerk splits a complete weighing whose two halves are two trucks' (a misread
        plate paired them; :class:`TwoTrucksError`), in one transaction: its goods record, never
        sent (held, pending or a dead letter), is withdrawn — deleted from the outbox (and the
        ERP plan it used is unused again); its plate checks are cleared (the split answers
        them; a weight check stays with each half); then each half continues exactly as if it
        had just been tied to the plate its pass has now (:meth:`weighing_halves`: ``ties``,
        in that order, say each one's plate as the caller read it, its goods, plan, preset
        tare, band and standing truck) — it opens a first weighing or completes that plate's
        first weighing within ``max_between_seconds``, one goods record for a pair
        (:meth:`_tie`; an old one opened shows as expired, as any). The first half stays in
        this weighing's row (unless folded into an earlier one), the second gets a new one.
        Returns the weighings that now hold the halves (first, second) and the goods records
        withdrawn (their outbox state). Raises :class:`KeyError` for an unknown weighing,
        :class:`WeighingStateError` (nothing changed) for one that is not complete, was
        weighed once (a preset tare, an ERP plan's), whose goods record was sent (已上报), or
        whose halves' plates changed since ``ties`` were read."""

        async def write() -> tuple[list[int], list[str]]:
            row = await self._weighing_written(weighing_id)
            if row is None:
                raise KeyError(weighing_id)
            check_splittable(row)
            if await self._goods_sent(weighing_id):
                raise WeighingStateError(
                    f"weighing {weighing_id}'s goods record was already sent (已上报): "
                    "correct it on the platform",
                    f"过磅 {weighing_id} 的货物台账已上报，不能拆分，请在平台上更正",
                )
            halves = await self._halves(row, self._rows_written)
            plates = {(h.plate, h.plate_color) for h in halves}
            if len(halves) > 1 and len(plates) == 1:
                plate = halves[0].plate  # split, the halves would pair again as they are
                raise WeighingStateError(
                    f"both weighings' passes name {plate}: split, they would pair again — "
                    "first correct the plate of the pass that is another truck's "
                    "(edge correct … SERIAL --plate …), then split",
                    f"两次过磅的过车记录都是 {plate}，拆分后会再次配对；请先纠正不是该车的"
                    "那条过车记录的车牌，再拆分",
                )
            if len(ties) != len(halves) or any(
                (t.plate, t.plate_color) != (h.plate, h.plate_color)
                for t, h in zip(ties, halves, strict=False)
            ):
                raise WeighingStateError(
                    f"weighing {weighing_id}'s passes changed meanwhile: try again",
                    f"过磅 {weighing_id} 已变更，请重试",
                )
            withdrawn = [
                str(r["state"])
                for r in await self._rows_written(
                    "SELECT state FROM outbox WHERE weighing_id = ? AND kind = 'goods'",
                    (weighing_id,),
                )
            ]
            await self._db.execute(
                "DELETE FROM outbox WHERE weighing_id = ? AND kind = 'goods' AND state != 'sent'",
                (weighing_id,),
            )
            await self._db.execute(  # the plan its goods came from: unused again
                "UPDATE transport_plans SET used_serial = NULL WHERE used_serial = ? AND plate = ?",
                (row.second_serial or row.first_serial or f"weighing {row.id}", row.plate),
            )
            second_half = await self._insert(
                NewWeighing(halves[1].scale, None, "", halves[1].kg, halves[1].at,
                            halves[1].serial), "unmatched",
            )  # fmt: skip
            await self._db.execute(
                "UPDATE weighings SET first_photo = ?, check_weight = ? WHERE id = ?",
                (halves[1].photo, row.check_weight, second_half),
            )
            if halves[1].serial is not None:  # its pass's read is that half's
                await self._db.execute(
                    "UPDATE scale_reads SET weighing_id = ? WHERE weighing_id = ? AND serial = ?",
                    (second_half, weighing_id, halves[1].serial),
                )
            await self._db.execute(  # the first half alone, not tied yet
                "UPDATE weighings SET state = 'unmatched', plate = NULL, second_scale = NULL, "
                "second_kg = NULL, second_at = NULL, second_serial = NULL, second_photo = NULL, "
                "gross_kg = NULL, tare_kg = NULL, net_kg = NULL, goods = NULL, ysl = NULL, "
                "goods_error = NULL, check_plate = NULL, candidates = NULL WHERE id = ?",
                (weighing_id,),
            )
            kept = []
            for own, half, tie in zip((weighing_id, second_half), halves, ties, strict=True):
                new = NewWeighing(half.scale, tie.plate, tie.plate_color, half.kg, half.at,
                                  half.serial)  # fmt: skip
                at = await self._tie(
                    own, new, half.photo, max_between_seconds,
                    (tie.preset_tare_kg, tie.empty_kg), tie.goods,
                    standing_since=tie.standing_since,
                )  # fmt: skip
                await self._use_plan(tie.plan_id, at)
                kept.append(at)
            return kept, withdrawn

        kept, withdrawn = await self._transaction(write)
        self.outbox_changed.set()
        return [await self.weighing(k) for k in kept], withdrawn

    async def _tie(
        self,
        own: int | None,
        new: NewWeighing,
        photo: str | None,
        max_between_seconds: float,
        preset: tuple[float | None, float],
        goods: str | None,
        *,
        standing_since: float | None = None,
    ) -> int:
        """Within a transaction: the weighing ``new`` (with its plate) opens or completes its
        plate's first weighing; ``own``: the row already holding it (an unmatched weighing
        given its plate), else a row is inserted. Returns the id of the row that holds it.
        ``standing_since``: a truck weighed on ``new``'s scale at or after this time stands on
        it: the goods record of a pair whose later weighing is that one is held until it left.
        A weighing tied to an exit pass never pairs with a later one tied to an entry pass
        (two visits); without both passes' directions, any two pair."""

        def standing(scale: str, at: float) -> bool:
            return standing_since is not None and scale == new.scale and at >= standing_since

        async with self._db.execute(
            "SELECT id, first_kg, first_at, first_scale, first_serial, first_photo "
            "FROM weighings WHERE plate = ? AND state IN ('open', 'expired') AND id != ? "
            "AND first_at BETWEEN ? AND ? "
            # an exit's weighing, then an entry's: two visits (the first one's entry weighing
            # expired), never one truck's load — the pair is entry then exit
            "AND NOT coalesce((SELECT CASE WHEN first_at <= ? THEN d.direction || n.direction "
            "ELSE n.direction || d.direction END FROM passes d, passes n "
            "WHERE d.serial = first_serial AND n.serial = ?) = 'outin', 0) "
            "ORDER BY abs(first_at - ?), id DESC LIMIT 1",
            (
                new.plate,
                -1 if own is None else own,
                new.at - max_between_seconds,
                new.at + max_between_seconds,
                new.at,
                new.serial,
                new.at,
            ),
        ) as cur:
            other = await cur.fetchone()
        if other is not None:
            theirs = _Side(
                int(other[0]), other[3], float(other[1]), float(other[2]), other[4], other[5]
            )
            ours = _Side(own, new.scale, new.kg, new.at, new.serial, photo)
            first, second = sorted((theirs, ours), key=lambda side: (side.at, side.id or 0))
            kept = first.id if first.id is not None else theirs.id
            assert kept is not None
            await self._complete(kept, new, first, second)
            gone = second.id if second.id is not None and second.id != kept else None
            if gone is not None:  # folded into the earlier one as its second weighing
                await self._fold_checks(gone, kept)
                await self._db.execute(
                    "UPDATE scale_reads SET weighing_id = ? WHERE weighing_id = ?", (kept, gone)
                )
                await self._db.execute(  # a later stop of that truck: of the pair now
                    "UPDATE weighings SET stop_of = ? WHERE stop_of = ?", (kept, gone)
                )
                await self._db.execute("DELETE FROM weighings WHERE id = ?", (gone,))
            net = abs(first.kg - second.kg)
            await self._goods_record(
                kept, second.serial or first.serial, net, goods,
                standing=standing(second.scale, second.at),
            )  # fmt: skip
            return kept
        preset_tare_kg, empty_kg = preset
        if preset_tare_kg is not None:  # the preset is the tare, whatever the scale shows
            tare = preset_tare_kg
            empty = new.kg - tare < empty_kg
            gross = new.kg
            done = (gross, tare, 0.0 if empty else gross - tare)
            if own is None:
                weighing_id = await self._insert(new, "complete", done)
            else:
                weighing_id = own
                await self._db.execute(
                    "UPDATE weighings SET plate = ?, plate_color = ?, state = 'complete', "
                    "first_serial = ?, gross_kg = ?, tare_kg = ?, net_kg = ?, tare_preset = 1, "
                    "candidates = NULL WHERE id = ?",
                    (new.plate, new.plate_color, new.serial, *done, own),
                )
            if empty:
                log.info("preset-tare vehicle weighed empty: no goods record",
                         weighing=weighing_id, kg=new.kg, tare_kg=tare)  # fmt: skip
            else:
                await self._goods_record(
                    weighing_id,
                    new.serial,
                    gross - tare,
                    goods,
                    standing=standing(new.scale, new.at),
                )
            return weighing_id
        if own is None:
            return await self._insert(new, "open")
        await self._db.execute(
            "UPDATE weighings SET plate = ?, plate_color = ?, state = 'open', first_serial = ?, "
            "candidates = NULL WHERE id = ?",
            (new.plate, new.plate_color, new.serial, own),
        )
        return own

    async def _complete(self, kept: int, new: NewWeighing, first: _Side, second: _Side) -> None:
        gross, tare = max(first.kg, second.kg), min(first.kg, second.kg)
        await self._db.execute(
            "UPDATE weighings SET state = 'complete', plate = ?, plate_color = ?, "
            "first_scale = ?, first_kg = ?, first_at = ?, first_serial = ?, first_photo = ?, "
            "second_scale = ?, second_kg = ?, second_at = ?, second_serial = ?, "
            "second_photo = ?, gross_kg = ?, tare_kg = ?, net_kg = ?, candidates = NULL "
            "WHERE id = ?",
            (
                new.plate, new.plate_color,
                first.scale, first.kg, first.at, first.serial, first.photo,
                second.scale, second.kg, second.at, second.serial, second.photo,
                gross, tare, gross - tare, kept,
            ),
        )  # fmt: skip

    async def _used_by(self, weighing_id: int, read_id: int | None, plan_id: int | None) -> None:
        """Within a transaction: the plate read and the ERP plan a weighing took are its."""
        await self._use_read(read_id, weighing_id)
        await self._use_plan(plan_id, weighing_id)

    async def _use_plan(self, plan_id: int | None, weighing_id: int) -> None:
        """Within a transaction: the ERP plan that named a weighing's goods is used once the
        weighing completed (its completing pass's serial; ``weighing <id>`` without one)."""
        if plan_id is not None:
            await self._db.execute(
                "UPDATE transport_plans SET used_serial = (SELECT coalesce(second_serial, "
                "first_serial, 'weighing ' || id) FROM weighings WHERE id = ? "
                "AND state = 'complete') WHERE id = ? AND used_serial IS NULL",
                (weighing_id, plan_id),
            )

    async def _use_read(self, read_id: int | None, weighing_id: int) -> None:
        """Within a transaction: the read is the weighing's from now on — only if no weighing
        used it yet (else :class:`ReadUsedError`, and the transaction rolls back)."""
        if read_id is not None:
            cur = await self._db.execute(
                "UPDATE scale_reads SET weighing_id = ? WHERE id = ? AND weighing_id IS NULL",
                (weighing_id, read_id),
            )
            used = cur.rowcount
            await cur.close()
            if used == 0:
                async with self._db.execute(
                    "SELECT 1 FROM scale_reads WHERE id = ?", (read_id,)
                ) as found:
                    if await found.fetchone() is not None:
                        raise ReadUsedError(read_id)

    async def used_reads(self, read_ids: Sequence[int]) -> set[int]:
        """Which of ``read_ids`` a weighing used (no longer a candidate anywhere)."""
        return await self._reads_where(read_ids, "weighing_id IS NOT NULL")

    async def _reads_where(self, read_ids: Sequence[int], condition: str) -> set[int]:
        """Which of ``read_ids`` meet ``condition`` (SQL, this module's constants)."""
        if not read_ids:
            return set()
        marks = ",".join("?" * len(read_ids))
        rows = await self._fetchall(
            f"SELECT id FROM scale_reads WHERE id IN ({marks}) AND {condition}",  # noqa: S608
            tuple(read_ids),
        )
        return {int(row["id"]) for row in rows}

    async def reweigh(self, weighing_id: int, before_kg: float, kg: float) -> StoredWeighing:
        """The truck-stopped-twice rule: the weighing ``weighing_id`` took ``before_kg``, and
        the same truck, still on the platform, then held the higher ``kg`` — its weight. Only
        an open or unmatched (held) first weighing that still has ``before_kg`` takes it. A
        completed pair is never recomputed (its goods record may be on its way; a preset-tare
        truck completes at its first stop): raises :class:`WeighingStateError` (nothing
        written), as for any other state; :class:`KeyError` for an unknown weighing."""

        async def write() -> int:
            row = await self.weighing(weighing_id)
            if row.state not in ("open", "unmatched") or row.first_kg != before_kg:
                why = f"weighing {weighing_id} is {row.state}, not an open {before_kg:g} kg"
                raise WeighingStateError(why, "该过磅已变更")
            await self._db.execute(
                "UPDATE weighings SET first_kg = ? WHERE id = ?", (kg, weighing_id)
            )
            return weighing_id

        return await self._committed(write)

    async def dropped_reads(self, read_ids: Sequence[int]) -> set[int]:
        """Which of ``read_ids`` are no candidates of a new weighing any more (superseded,
        stale, dropped by a clerk) though no weighing used them."""
        return await self._reads_where(read_ids, "weighing_id IS NULL AND dropped IS NOT NULL")

    # -- plate reads at a scale's lanes ------------------------------------------------------
    #: How long a plate read at a scale's lane is kept once no weighing can use it any more.
    READS_KEPT_SECONDS = 7 * 86400.0

    async def note_scale_read(
        self, read: NewScaleRead, *, reread_seconds: float = 0.0
    ) -> ScaleRead:
        """Keep a plate read heard at one of ``read.scale``'s lanes as pending (committed: it
        survives a restart); reads older than :attr:`READS_KEPT_SECONDS` are dropped (their
        passes stay in the ledger). A re-read supersedes: a pending read at the same lane
        within ``reread_seconds`` before it (never one after it), of the same colour and a near
        plate (at most one character apart, :func:`~edge.domain.plates.within_one_edit`, as the
        lane merges near-plate reads), is the same vehicle read again — no longer a candidate
        (logged). A read stored after its own re-read (concurrent tasks, out-of-order
        delivery: a pending near read within ``reread_seconds`` after it) is kept dropped. (A
        re-read of a read a weighing already used: :meth:`reread_of_used`.)"""

        async def write() -> tuple[int, list[ScaleRead], ScaleRead]:
            await self._db.execute(
                "DELETE FROM scale_reads WHERE read_at < ?",
                (read.read_at - self.READS_KEPT_SECONDS,),
            )
            cur = await self._db.execute(
                "INSERT INTO scale_reads (scale, plate, plate_color, serial, lane_id, read_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                astuple(read),
            )
            assert cur.lastrowid is not None
            kept = cur.lastrowid
            near = [
                row
                for row in await self._fetchall(
                    "SELECT * FROM scale_reads WHERE scale = ? AND lane_id = ? "
                    "AND plate_color = ? AND weighing_id IS NULL AND dropped IS NULL "
                    "AND read_at >= ? AND read_at <= ? AND id != ?",
                    (
                        read.scale,
                        read.lane_id,
                        read.plate_color,
                        read.read_at - reread_seconds,
                        read.read_at + reread_seconds,
                        kept,
                    ),
                )
                if reread_seconds > 0 and within_one_edit(row["plate"], read.plate)
            ]
            later = [row for row in near if row["read_at"] > read.read_at]
            if later:  # stored out of order: the re-read came first, this read is the earlier
                by = ScaleRead.from_row(later[0])
                await self._drop([kept], f"superseded by read {by.id}")
                return kept, [ScaleRead(kept, read)], by
            superseded = [ScaleRead.from_row(row) for row in near]
            await self._drop([r.id for r in superseded], f"superseded by read {kept}")
            return kept, superseded, ScaleRead(kept, read)

        kept, superseded, by = await self._transaction(write)
        for earlier in superseded:
            log.info("plate read superseded by a re-read of the same vehicle", scale=read.scale,
                     lane=read.lane_id, before=earlier.read.plate, plate=by.read.plate,
                     read=earlier.id, by=by.id)  # fmt: skip
        return ScaleRead(kept, read)

    async def reread_of_used(self, read: ScaleRead, used: ScaleRead) -> StoredWeighing | None:
        """The re-read rule after the weighing (:mod:`edge.gate.weighbridge`): ``read``
        re-reads the truck whose read ``used`` a weighing already took — that truck, so no
        candidate of any weighing (kept, dropped with why; logged once); with another plate
        (a camera refining its read), the weighing is marked for the clerk to check its plate,
        its goods record held until the clerk clears it. Returns that weighing as changed;
        None when no weighing holds ``used`` (or ``read`` is no longer pending)."""

        async def write() -> int | None:
            rows = await self._rows_written(
                "SELECT (SELECT weighing_id FROM scale_reads WHERE id = ?) AS used, "
                "(SELECT weighing_id IS NULL AND dropped IS NULL FROM scale_reads "
                "WHERE id = ?) AS pending",
                (used.id, read.id),
            )
            weighing_id, pending = rows[0]["used"], rows[0]["pending"]
            if weighing_id is None or not pending:
                return None
            r, u = read.read, used.read
            await self._drop(
                [read.id], f"re-read of read {used.id}, used by weighing {weighing_id}"
            )
            log.warning("plate read re-reads a truck already weighed: not pending", scale=r.scale,
                        lane=r.lane_id, plate=r.plate, read=read.id, weighed_as=u.plate,
                        used=used.id, weighing=weighing_id)  # fmt: skip
            if r.plate != u.plate:
                later = r.read_at - u.read_at
                why = (f"weighed as {u.plate} (read {used.id}); the camera re-read it as "
                       f"{r.plate} (read {read.id}, {later:.1f} s later)")  # fmt: skip
                said = f"按 {u.plate} 过磅，随后重新识别为 {r.plate}"
                await self._mark_plate(int(weighing_id), why, said)
            return int(weighing_id)

        weighing_id = await self._transaction(write)
        return None if weighing_id is None else await self.weighing(weighing_id)

    async def superseded_by(self, read: ScaleRead, within: float) -> list[ScaleRead]:
        """The reads the re-read rule superseded by ``read`` (read at most ``within`` s before
        it), oldest first."""
        rows = await self._fetchall(
            "SELECT * FROM scale_reads WHERE read_at >= ? AND read_at <= ? AND dropped = ? "
            "ORDER BY read_at, id",
            (read.read.read_at - within, read.read.read_at, f"superseded by read {read.id}"),
        )
        return [ScaleRead.from_row(row) for row in rows]

    async def _drop(self, read_ids: Sequence[int], why: str) -> None:
        """Within a transaction: the pending reads ``read_ids`` are no candidates any more."""
        if read_ids:
            marks = ",".join("?" * len(read_ids))
            await self._db.execute(
                f"UPDATE scale_reads SET dropped = ? WHERE id IN ({marks}) "  # noqa: S608
                "AND weighing_id IS NULL AND dropped IS NULL",
                (why, *read_ids),
            )

    async def drop_stale_reads(
        self, taken: ScaleRead, drive_on_seconds: float, plate_max_age_seconds: float
    ) -> list[ScaleRead]:
        """The stale rule: a weighing just took the read ``taken``; the pending reads at the
        same scale and lane taken more than ``drive_on_seconds`` before it are stale (trucks
        drive from one camera onto the scale in the order they were read: one read that long
        before the truck just weighed never drove on — a car, a truck that skipped the scale).
        Reads more than ``plate_max_age_seconds`` before it are no candidates anyway (aged
        out): not touched. Returns the reads dropped."""

        async def write() -> list[ScaleRead]:
            at = taken.read.read_at
            rows = await self._fetchall(
                "SELECT * FROM scale_reads WHERE scale = ? AND lane_id = ? "
                "AND weighing_id IS NULL AND dropped IS NULL AND read_at < ? AND read_at >= ?",
                (
                    taken.read.scale,
                    taken.read.lane_id,
                    at - drive_on_seconds,
                    at - plate_max_age_seconds,
                ),
            )
            stale = [ScaleRead.from_row(row) for row in rows]
            await self._drop([r.id for r in stale], f"stale: read before read {taken.id}")
            return stale

        return await self._transaction(write)

    async def drop_read(self, read_id: int, why: str) -> ScaleRead:
        """A clerk drops the pending plate read ``read_id`` (a stray read: no weighing is its):
        it is no candidate any more. Raises :class:`KeyError` when there is no such read,
        :class:`WeighingStateError` when a weighing used it or it was dropped already."""

        async def write() -> ScaleRead:
            rows = await self._fetchall("SELECT * FROM scale_reads WHERE id = ?", (read_id,))
            if not rows:
                raise KeyError(read_id)
            if rows[0]["weighing_id"] is not None:
                raise ReadUsedError(read_id)
            if rows[0]["dropped"] is not None:
                raise WeighingStateError(
                    f"plate read {read_id} is no candidate already ({rows[0]['dropped']})",
                    "该车牌识别已不是候选",
                )
            await self._drop([read_id], why)
            return ScaleRead.from_row(rows[0])

        return await self._transaction(write)

    async def pending_reads(self, scale: str, since: float) -> list[ScaleRead]:
        """The plate reads at ``scale``'s lanes since ``since`` (unix s) that no weighing used
        yet and none dropped (superseded, stale, dropped by a clerk), oldest first."""
        rows = await self._fetchall(
            "SELECT * FROM scale_reads WHERE scale = ? AND weighing_id IS NULL "
            "AND dropped IS NULL AND read_at >= ? ORDER BY read_at, id",
            (scale, since),
        )
        return [ScaleRead.from_row(row) for row in rows]

    async def set_weighing_photo(self, weighing_id: int, photo: str) -> None:
        """Keep a snapshot (a photo file, relative to the photo directory) with a weighing
        that has none: its first weighing's, or its second's once it is complete."""

        async def write() -> None:
            await self._db.execute(
                "UPDATE weighings SET first_photo = coalesce(first_photo, ?) WHERE id = ? "
                "AND second_kg IS NULL",
                (photo, weighing_id),
            )
            await self._db.execute(
                "UPDATE weighings SET second_photo = coalesce(second_photo, ?) WHERE id = ? "
                "AND second_kg IS NOT NULL",
                (photo, weighing_id),
            )

        await self._transaction(write)

    async def put_plan(self, plan: NewTransportPlan) -> int:
        """Store an ERP transport plan; one with the same ``plan_no`` that has not been used
        is replaced (the ERP changed it). Raises :class:`ValueError` when that one was used."""

        async def write() -> int:
            cur = await self._db.execute(
                "INSERT INTO transport_plans (plan_no, plate, goods, expected_kg, valid_from, "
                "valid_to, received_at, received_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (plan_no) DO UPDATE SET plate = excluded.plate, "
                "goods = excluded.goods, expected_kg = excluded.expected_kg, "
                "valid_from = excluded.valid_from, valid_to = excluded.valid_to, "
                "received_at = excluded.received_at, received_from = excluded.received_from "
                "WHERE used_serial IS NULL RETURNING id",
                (
                    plan.plan_no,
                    plan.plate,
                    plan.goods,
                    plan.expected_kg,
                    plan.valid_from,
                    plan.valid_to,
                    self._clock(),
                    plan.received_from,
                ),
            )
            row = await cur.fetchone()
            await cur.close()
            if row is None:
                raise ValueError(f"plan {plan.plan_no} was already used; send a new plan")
            return int(row[0])

        return await self._transaction(write)

    async def plan_for(self, plate: str, at: float) -> TransportPlan | None:
        """The plate's latest plan valid at ``at`` (unix s), used or not."""
        rows = await self._fetchall(
            "SELECT * FROM transport_plans WHERE plate = ? AND valid_from <= ? AND ? <= valid_to "
            "ORDER BY received_at DESC, id DESC LIMIT 1",
            (plate, at, at),
        )
        return TransportPlan.from_row(rows[0]) if rows else None

    async def goods_from_plan(self, serial: str, plate: str, at: float) -> StoredWeighing | None:
        """At a lane without a scale: the goods record of the plate's unused plan valid at
        ``at``, with the plan's expected tonnage, tied to the pass ``serial`` (one goods record
        per plan), as a 'planned' weighing. None: no such plan, or the pass was refused (the
        barrier was not lifted for it: the plan stays unused)."""

        async def write() -> int | None:
            async with self._db.execute(
                "SELECT id, goods, expected_kg FROM transport_plans WHERE plate = ? "
                "AND valid_from <= ? AND ? <= valid_to AND used_serial IS NULL "
                "AND received_at <= ? ORDER BY received_at DESC, id DESC LIMIT 1",
                (plate, at, at, at),
            ) as cur:
                plan = await cur.fetchone()
            if plan is None:
                return None
            plan_id, goods, expected_kg = plan
            async with self._db.execute(
                "SELECT verdict FROM passes WHERE serial = ?", (serial,)
            ) as cur:
                found = await cur.fetchone()
            if found is not None and found[0] == "refuse":  # the barrier was not lifted for it
                return None
            await self._db.execute(
                "UPDATE transport_plans SET used_serial = ? WHERE id = ?", (serial, plan_id)
            )
            new = NewWeighing(f"plan {plan_id}", plate, "", float(expected_kg), at, serial)
            weighing_id = await self._insert(new, "planned")
            await self._db.execute(
                "UPDATE weighings SET net_kg = ? WHERE id = ?", (expected_kg, weighing_id)
            )
            await self._goods_record(weighing_id, serial, float(expected_kg), str(goods))
            return weighing_id

        weighing_id = await self._transaction(write)
        if weighing_id is None:
            return None
        self.outbox_changed.set()
        return await self.weighing(weighing_id)

    async def passes_owed_plan_goods(
        self, lane_ids: Sequence[str], since: float
    ) -> list[tuple[str, str, float]]:
        """(serial, plate, received_at) of passes at ``lane_ids`` since ``since`` that an unused
        plan valid at their time would have given a goods record, but have none (the daemon
        stopped between recording the pass and its goods record): oldest first. A refused
        pass is never owed one."""
        if not lane_ids:
            return []
        marks = ",".join("?" * len(lane_ids))
        rows = await self._fetchall(
            "SELECT p.serial, p.plate, p.received_at FROM passes p "  # noqa: S608
            f"WHERE p.lane_id IN ({marks}) AND p.received_at >= ? AND p.plate IS NOT NULL "
            "AND p.verdict = 'open' "
            "AND EXISTS (SELECT 1 FROM transport_plans t WHERE t.plate = p.plate "
            "AND t.used_serial IS NULL AND t.valid_from <= p.received_at "
            "AND p.received_at <= t.valid_to AND t.received_at <= p.received_at) "
            "AND NOT EXISTS (SELECT 1 FROM weighings w WHERE w.first_serial = p.serial) "
            "ORDER BY p.id",
            (*lane_ids, since),
        )
        return [(r["serial"], r["plate"], float(r["received_at"])) for r in rows]

    async def give_goods(
        self, weighing_id: int, goods: str, *, standing_since: float | None = None
    ) -> StoredWeighing:
        """A clerk's goods name for a completed weighing that has no goods record yet: the name
        is stored and the record queued in one transaction — or nothing changes.
        ``standing_since``: a truck weighed on the weighing's (later) scale at or after this
        time (unix s) may still stand on it — the record of a weighing that is that truck's is
        committed ``held`` until it left (:meth:`release_left`); None: none stands. Raises
        :class:`KeyError` for an unknown weighing, :class:`GoodsError` when the name or the
        weighing's net cannot be reported (an impossible weight) or no pass is there to tie
        the record to, :class:`ValueError` when it is not complete or its goods record was
        already queued."""

        async def write() -> None:
            async with self._db.execute(
                "SELECT state, net_kg, ysl, second_serial, first_serial, "
                "coalesce(second_at, first_at) FROM weighings WHERE id = ?",
                (weighing_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise KeyError(weighing_id)
            state, net_kg, ysl, second, first, last_at = row
            if state != "complete":
                raise WeighingStateError(
                    f"weighing {weighing_id} is {state}, not complete",
                    f"过磅 {weighing_id} 尚未完成（{state_name(state)}）",
                )
            if ysl is not None:
                raise WeighingStateError(
                    f"weighing {weighing_id} already has its goods record",
                    f"过磅 {weighing_id} 已有货物台账",
                )
            await self._goods_record(
                weighing_id, second or first, float(net_kg), goods, refuse=True,
                standing=standing_since is not None and float(last_at) >= standing_since,
            )  # fmt: skip

        await self._transaction(write)
        self.outbox_changed.set()
        return await self.weighing(weighing_id)

    async def _goods_record(
        self,
        weighing_id: int,
        serial: str | None,
        net_kg: float,
        goods: str | None,
        *,
        refuse: bool = False,
        standing: bool = False,
    ) -> None:
        """Within a transaction: the goods record of a completed weighing, or why not (kept
        as ``goods_error``; with ``refuse``, raised as :class:`GoodsError` before anything is
        written, so the caller's transaction changes nothing). It is committed ``held`` while
        the weighing has a check that holds it (the clerk clears it: :meth:`clear_checks`) or,
        with ``standing``, until the weighed truck left the scale (:meth:`release_left`)."""
        if goods is None:
            return  # no goods name yet (a clerk may give one later)
        try:
            name, ysl = goods_name(goods), tonnes(net_kg)
        except GoodsError as exc:
            if refuse:
                raise
            await self._db.execute(  # kept as the clerk reads it (the page, the ticket)
                "UPDATE weighings SET goods = ?, goods_error = ? WHERE id = ?",
                (goods, exc.said, weighing_id),
            )
            log.error("goods record refused", weighing=weighing_id, error=str(exc))
            return
        async with self._db.execute("SELECT id FROM passes WHERE serial = ?", (serial,)) as cur:
            found = await cur.fetchone()
        if found is None:
            error = f"no pass with serial {serial!r} to tie the goods record to"
            said = "没有可关联货物台账的过车记录"
            if refuse:
                raise GoodsError(error, said)
            await self._db.execute(
                "UPDATE weighings SET goods = ?, goods_error = ? WHERE id = ?",
                (name, said, weighing_id),
            )
            log.error("goods record not queued", weighing=weighing_id, error=error)
            return
        await self._db.execute(
            "UPDATE weighings SET goods = ?, ysl = ?, goods_error = NULL WHERE id = ?",
            (name, ysl, weighing_id),
        )
        own = await self._weighing_written(weighing_id)
        checked = own is not None and any(check.hold for check in own.checks)
        await self._db.execute(
            "INSERT INTO outbox (pass_id, kind, weighing_id, state, created_at) "
            "VALUES (?, 'goods', ?, ?, ?)",
            (found[0], weighing_id, "held" if checked or standing else "pending", self._clock()),
        )
        if checked:
            log.warning("goods record held: the clerk checks the weighing first",
                        weighing=weighing_id)  # fmt: skip
        elif standing:
            log.info("goods record held until the weighed truck left the scale",
                     weighing=weighing_id)  # fmt: skip

    # -- checks: a weighing whose plate or weight a clerk should check ------------------------
    async def _rows_written(self, sql: str, args: tuple[object, ...]) -> list[dict[str, Any]]:
        """Within a transaction: rows as the transaction sees them (the writer's connection:
        what it wrote so far included), as dicts by column name."""
        async with self._db.execute(sql, args) as cur:
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]

    async def _weighing_written(self, weighing_id: int) -> StoredWeighing | None:
        rows = await self._rows_written("SELECT * FROM weighings WHERE id = ?", (weighing_id,))
        return StoredWeighing.from_row(_row(rows[0])) if rows else None

    async def _add_check(
        self,
        weighing_id: int,
        kind: str,
        why: str,
        said: str,
        *,
        hold: bool,
        weights: tuple[float, float] | None = None,
    ) -> None:
        """Within a transaction: the clerk should check the weighing's ``kind`` (``plate`` or
        ``weight``; a second reason is added to the first); with ``hold``, its goods record
        not sent yet is held until the clerk clears the check (:meth:`clear_checks`).
        ``weights``: (kept, higher) kg of a truck that stopped twice (the latest is kept)."""
        column = {"plate": "check_plate", "weight": "check_weight"}[kind]
        rows = await self._rows_written(
            f"SELECT {column} FROM weighings WHERE id = ?",  # noqa: S608 - a constant
            (weighing_id,),
        )
        if not rows:
            return
        fields: dict[str, object] = {}
        if rows[0][column] is not None:
            fields = json.loads(rows[0][column])  # its other parts kept (weights, rivals)
            if why in str(fields["why"]):
                return  # said already
            why, said = f"{fields['why']}; {why}", f"{fields['said']}；{said}"
            hold = hold or bool(fields.get("hold"))
        fields.update(why=why, said=said, hold=hold)
        if weights is not None:
            fields["before_kg"], fields["kg"] = weights
        check = json.dumps(fields, ensure_ascii=False)
        await self._db.execute(
            f"UPDATE weighings SET {column} = ? WHERE id = ?",  # noqa: S608 - a constant
            (check, weighing_id),
        )
        if hold:
            await self._db.execute(
                "UPDATE outbox SET state = 'held' WHERE weighing_id = ? AND kind = 'goods' "
                "AND state = 'pending'",
                (weighing_id,),
            )

    async def _fold_checks(self, gone: int, kept: int) -> None:
        """Within a transaction: the checks of a weighing folded into its pair are the
        pair's."""
        row = await self._weighing_written(gone)
        for check in row.checks if row is not None else []:
            weights = None if check.kg is None else (check.before_kg or 0.0, check.kg)
            await self._add_check(
                kept, check.kind, check.why, check.said, hold=check.hold, weights=weights
            )

    async def _mark_plate(self, weighing_id: int, why: str, said: str) -> None:
        """Within a transaction: the clerk checks the weighing's plate, its goods record held —
        or, when it was sent already, said so (nothing is held then)."""
        sent = await self._goods_sent(weighing_id)
        if sent:
            why, said = f"{why} (goods record already sent)", f"{said}（货物台账已上报）"
        await self._add_check(weighing_id, "plate", why, said, hold=not sent)

    async def _goods_sent(self, weighing_id: int) -> bool:
        rows = await self._rows_written(
            "SELECT 1 FROM outbox WHERE weighing_id = ? AND kind = 'goods' AND state = 'sent'",
            (weighing_id,),
        )
        return bool(rows)

    async def doubt_tie(self, tied: ScaleRead, other: ScaleRead) -> StoredWeighing | None:
        """The tie-in-doubt rule (:mod:`edge.gate.weighbridge`): the weighing that took the read
        ``tied`` (read before its weight settled, or its late read) heard another plate,
        ``other``, while it still stood on the scale — ``tied`` may be a stray read and
        ``other`` the truck's late one, or ``tied`` the truck's and ``other`` the next
        truck's. An open first weighing (no goods record yet) is held as 待确认车牌 with both
        reads as candidates (``tied`` pending again); any other (a pair it completed, a
        preset tare) is marked for the clerk to check its plate, its goods record held until
        the clerk clears it. Returns the weighing as changed; None when no weighing holds
        ``tied`` any more."""

        async def write() -> int | None:
            rows = await self._rows_written(
                "SELECT weighing_id FROM scale_reads WHERE id = ?", (tied.id,)
            )
            found = await self._weighing_written(int(rows[0]["weighing_id"] or 0)) if rows else None
            if found is None:
                return None
            row = found
            t, o = tied.read, other.read
            # the weighing that took ``tied``: a pair's second when its pass is the second's
            second = row.second_at is not None and row.second_serial == t.serial
            at = row.second_at if second and row.second_at is not None else row.first_at
            when = (
                f"{at - t.read_at:.0f} s before the weight settled"
                if t.read_at <= at
                else f"its late read, {t.read_at - at:.0f} s after the weight settled"
            )
            why = (f"tied to {t.plate} (read {tied.id}, {when}); {o.plate} read "
                   f"{o.read_at - at:.0f} s after, while it stood on the scale: a stray read "
                   "or the next truck")  # fmt: skip
            said = f"过磅时用 {t.plate}，车在磅上时又识别 {o.plate}"
            if row.state == "open" and row.first_serial == t.serial and row.second_kg is None:
                held = json.dumps([tied.to_json(), other.to_json()], ensure_ascii=False)
                await self._db.execute(
                    "UPDATE weighings SET state = 'unmatched', plate = NULL, plate_color = '', "
                    "first_serial = NULL, candidates = ? WHERE id = ?",
                    (held, row.id),
                )
                await self._db.execute(
                    "UPDATE scale_reads SET weighing_id = NULL WHERE id = ?", (tied.id,)
                )
                await self._add_check(row.id, "plate", why, said, hold=True)
                return row.id
            await self._mark_plate(row.id, why, said)
            await self._add_rival(row.id, other.id)
            return row.id

        weighing_id = await self._transaction(write)
        return None if weighing_id is None else await self.weighing(weighing_id)

    async def _add_rival(self, weighing_id: int, read_id: int) -> None:
        """Within a transaction: the read ``read_id``, pending, put the plate of the weighing
        (marked 请核对车牌) in doubt — a weighing that takes it is checked too
        (:meth:`rival_of`)."""
        rows = await self._rows_written(
            "SELECT check_plate FROM weighings WHERE id = ?", (weighing_id,)
        )
        if not rows or rows[0]["check_plate"] is None:
            return
        check = json.loads(rows[0]["check_plate"])
        check["rivals"] = sorted({*check.get("rivals", []), read_id})
        await self._db.execute(
            "UPDATE weighings SET check_plate = ? WHERE id = ?",
            (json.dumps(check, ensure_ascii=False), weighing_id),
        )

    async def rival_of(self, read: ScaleRead, since: float) -> list[StoredWeighing]:
        """The weighings on ``read``'s scale taken since ``since`` (unix s) whose plate is
        still to be checked because ``read`` was heard while their truck stood
        (:meth:`doubt_tie` on a completed pair): ``read`` is the next truck's or a stray one
        — a weighing that takes it is checked by the clerk too. Oldest first."""
        rows = await self._fetchall(
            "SELECT * FROM weighings WHERE check_plate IS NOT NULL AND first_at >= ? "
            "AND ? IN (first_scale, second_scale) AND EXISTS (SELECT 1 FROM "
            "json_each(check_plate, '$.rivals') WHERE value = ?) ORDER BY first_at, id",
            (since, read.read.scale, read.id),
        )
        return [StoredWeighing.from_row(row) for row in rows]

    async def add_candidate(self, weighing_id: int, read: ScaleRead) -> StoredWeighing | None:
        """A weighing without a plate (held as 待确认车牌, or unmatched: then held from now on)
        takes the pending ``read`` as one more candidate (heard while its truck stood on the
        scale). None: it has a plate now (or was set aside), or the read is no longer pending
        (nothing changed)."""

        async def write() -> int | None:
            row = await self._weighing_written(weighing_id)
            pending = await self._rows_written(
                "SELECT 1 FROM scale_reads WHERE id = ? AND weighing_id IS NULL "
                "AND dropped IS NULL",
                (read.id,),
            )
            if row is None or row.state != "unmatched" or not pending:
                return None
            reads = [r.to_json() for r in row.candidate_reads if r.id != read.id]
            held = json.dumps([*reads, read.to_json()], ensure_ascii=False)
            await self._db.execute(
                "UPDATE weighings SET candidates = ? WHERE id = ?", (held, weighing_id)
            )
            return weighing_id

        changed = await self._transaction(write)
        return None if changed is None else await self.weighing(changed)

    async def check_weight(
        self, weighing: StoredWeighing, before_kg: float, kg: float
    ) -> StoredWeighing | None:
        """A truck stopped twice after its weighing completed a pair (or the weighing changed
        meanwhile): it keeps its weights, and the clerk checks its weight (请核对重量) — its
        goods record, not sent yet, held until the clerk clears the check. ``weighing``: the
        row as recorded (found again when it was folded into its pair since). None: gone."""

        async def write() -> int | None:
            rows = await self._rows_written(
                "SELECT id FROM weighings WHERE id = ? UNION ALL SELECT id FROM weighings "
                "WHERE first_serial = ? OR second_serial = ? LIMIT 1",
                (weighing.id, weighing.first_serial, weighing.first_serial),
            )
            if not rows:
                return None
            wid = int(rows[0]["id"])
            row = await self._weighing_written(wid)
            kept = before_kg  # the side the truck stopped again on, when it still has it
            if row is not None and before_kg not in (row.first_kg, row.second_kg):
                # a third stop (before_kg the second, never kept): what it keeps, its later side
                kept = row.second_kg if row.second_kg is not None else row.first_kg
            why = (f"truck stopped twice: weighed {kept:g} kg, then {kg:g} kg before the "
                   "platform emptied; the weighing keeps its weights")  # fmt: skip
            said = f"车辆两次停稳：先 {kept:g} kg，后 {kg:g} kg，按先者记录"
            sent = await self._goods_sent(wid)
            if sent:  # nothing left to hold: said so, never 暂缓上报 as well
                why, said = f"{why} (goods record already sent)", f"{said}（货物台账已上报）"
            await self._add_check(wid, "weight", why, said, hold=not sent, weights=(kept, kg))
            return wid

        weighing_id = await self._transaction(write)
        return None if weighing_id is None else await self.weighing(weighing_id)

    async def take_higher_weight(
        self, weighing_id: int, *, standing_since: float | None = None, goods: str | None = None
    ) -> tuple[StoredWeighing, int]:
        """A clerk takes the higher weight of a completed weighing marked 请核对重量 because its
        truck stopped twice (:meth:`check_weight`): the side that kept the lower stop takes
        the higher, gross, tare and net are computed again (a preset tare stays the tare), the
        goods record not sent yet carries the new net, and the weight check is cleared — the
        record then goes out as :meth:`clear_checks` lets it (a plate check still holds it;
        ``standing_since`` as there). Returns the weighing as it is now and the goods records
        released. A weighing that had no goods record (an empty preset-tare truck, a net that
        rounded to 0 t) gets one now, named as before or ``goods`` (the scale's default for its
        plate). Raises :class:`KeyError` for an unknown weighing, :class:`WeighingStateError`
        for one without such a check, whose goods record was sent, or whose weight changed
        since, and :class:`~edge.domain.goods.GoodsError` for a net the platform cannot take
        (nothing changes)."""

        async def write() -> int:
            row = await self._weighing_written(weighing_id)
            if row is None:
                raise KeyError(weighing_id)
            check = next((c for c in row.checks if c.kind == "weight" and c.kg), None)
            if check is None or check.kg is None or row.state != "complete":
                raise WeighingStateError(
                    f"weighing {weighing_id} has no higher stop to take",
                    f"过磅 {weighing_id} 没有可采用的较高重量",
                )
            if await self._goods_sent(weighing_id):
                raise WeighingStateError(
                    f"the goods record of weighing {weighing_id} was sent already: its weights "
                    "stay as sent",
                    f"过磅 {weighing_id} 的货物台账已上报，重量不能再改",
                )
            both = ((1, row.first_kg, row.first_at), (2, row.second_kg, row.second_at))
            sides = [(at, n) for n, kg, at in both if kg == check.before_kg and at]
            if not sides or check.kg <= (check.before_kg or 0.0):
                raise WeighingStateError(
                    f"weighing {weighing_id} no longer has the {check.before_kg:g} kg it kept",
                    f"过磅 {weighing_id} 的重量已变更",
                )
            side = max(sides)[1]
            first = check.kg if side == 1 else row.first_kg
            second = check.kg if side == 2 else row.second_kg
            if row.tare_preset:
                tare = float(row.tare_kg or 0.0)
                gross = first
            else:
                assert second is not None
                gross, tare = max(first, second), min(first, second)
            net = gross - tare
            ysl = None if row.ysl is None else tonnes(net)  # GoodsError: nothing written
            await self._db.execute(
                "UPDATE weighings SET first_kg = ?, second_kg = ?, gross_kg = ?, tare_kg = ?, "
                "net_kg = ?, ysl = ?, check_weight = NULL WHERE id = ?",
                (first, second, gross, tare, net, ysl, weighing_id),
            )
            if row.ysl is None:  # none made at the lower weight: made now (held as it stands)
                last_at = row.second_at or row.first_at
                await self._goods_record(
                    weighing_id, row.second_serial or row.first_serial, net, row.goods or goods,
                    standing=standing_since is not None and last_at >= standing_since,
                )  # fmt: skip
            log.warning("the clerk took the higher weight of a truck that stopped twice",
                        weighing=weighing_id, before_kg=check.before_kg, kg=check.kg,
                        net_kg=net)  # fmt: skip
            plate_held = any(c.hold for c in row.checks if c.kind == "plate")
            return 0 if plate_held else await self._release_checked(row, standing_since)

        released = await self._transaction(write)
        self.outbox_changed.set()
        return await self.weighing(weighing_id), released

    async def _release_checked(self, row: StoredWeighing, standing_since: float | None) -> int:
        """Within a transaction: the held goods record of a weighing left with no check goes
        out — unless its truck may still stand on the scale (its later weighing taken at or
        after ``standing_since``, unix s: :meth:`release_left` lets it go)."""
        if standing_since is not None and (row.second_at or row.first_at) >= standing_since:
            return 0
        cur = await self._db.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE weighing_id = ? "  # noqa: S608 - a constant
            "AND kind = 'goods' AND state = 'held' AND (SELECT "
            f"{self._NO_STOP_UNDECIDED} FROM weighings w WHERE w.id = outbox.weighing_id)",
            (self._clock(), row.id),
        )
        released = cur.rowcount
        await cur.close()
        return released

    async def clear_checks(
        self, weighing_id: int, *, standing_since: float | None = None
    ) -> tuple[StoredWeighing, int]:
        """A clerk checked the weighing: its checks are cleared and its held goods record goes
        out — or, when its truck may still stand on the scale (its later weighing taken on
        that scale at or after ``standing_since``, unix s), stays held until the truck left
        (:meth:`release_left`: a doubt that arises meanwhile holds it again). Returns the
        weighing as it was (its checks) and the goods records released now. Raises
        :class:`KeyError` for an unknown weighing, :class:`WeighingStateError` for one with
        nothing to check."""

        async def write() -> tuple[StoredWeighing, int]:
            row = await self._weighing_written(weighing_id)
            if row is None:
                raise KeyError(weighing_id)
            if not row.checks:
                raise WeighingStateError(
                    f"weighing {weighing_id} has nothing to check", f"过磅 {weighing_id} 无需核对"
                )
            await self._one_plate(row)
            await self._db.execute(
                "UPDATE weighings SET check_plate = NULL, check_weight = NULL WHERE id = ?",
                (weighing_id,),
            )
            # its truck may stand there: released once it left
            return row, await self._release_checked(row, standing_since)

        done = await self._transaction(write)
        self.outbox_changed.set()
        return done

    async def _one_plate(self, row: StoredWeighing) -> None:
        """Within a transaction: raises :class:`WeighingStateError` when the clerk's check
        would send the goods record of a pair whose halves' passes now name two trucks (a pass
        corrected since it was paired): it would go out under a plate its pass no longer
        has — the clerk splits it (:meth:`split_weighing`)."""
        if row.state != "complete" or row.second_at is None:
            return
        held = await self._rows_written(
            "SELECT 1 FROM outbox WHERE weighing_id = ? AND kind = 'goods' AND state != 'sent'",
            (row.id,),
        )
        if not held:
            return
        plates = {h.plate for h in await self._halves(row, self._rows_written) if h.serial}
        if plates - {row.plate}:
            trucks = "、".join(sorted(plates | {row.plate or ""} - {""}))
            raise WeighingStateError(
                f"weighing {row.id}'s two weighings are two trucks' now ({trucks}: a pass was "
                f"corrected): its goods record is not sent — split it (edge weighings split "
                f"--config … {row.id} --reason …, or 拆分 on the status page)",
                f"过磅 {row.id} 的两次过磅分属两车（{trucks}），货物台账不能上报，请先拆分",
            )

    #: A weighing without a check that holds its goods record (the JSON's ``hold``).
    #: SQL on a weighing ``w``: nothing holds its goods record — no check that holds it, and
    #: no weighing without its plate that may be its truck's second stop (``stop_of``), which
    #: a clerk has not said yet (its weight may be the truck's: 同一车辆 then 取较高重量).
    #: SQL on a weighing ``w``: no weighing without its plate may be its truck's second stop.
    _NO_STOP_UNDECIDED = (
        "NOT EXISTS (SELECT 1 FROM weighings s WHERE s.stop_of = w.id AND s.state = 'unmatched')"
    )
    _NOTHING_HELD = (
        "coalesce(json_extract(w.check_plate, '$.hold'), 0) = 0 "
        "AND coalesce(json_extract(w.check_weight, '$.hold'), 0) = 0 "
        f"AND {_NO_STOP_UNDECIDED}"
    )

    async def release_left(self, scale: str, before: float, keep: int | None = None) -> int:
        """The trucks weighed on ``scale`` before ``before`` (unix s) left it (the platform
        emptied; or, after a restart, they cannot stand on it any more): the goods records
        held while they stood (``standing``: :meth:`weigh`) go out — those of pairs (or preset
        tares) whose later weighing was taken on ``scale`` before ``before``, except the
        weighing ``keep`` (the scale's last one, whose truck may still stand there after a
        restart) and any whose weighing has a check that holds it (the clerk clears it:
        :meth:`clear_checks`). Returns the goods records released."""
        released = await self._release_held(
            "coalesce(w.second_scale, w.first_scale) = ? "
            "AND coalesce(w.second_at, w.first_at) < ? AND w.id != ?",
            (scale, before, -1 if keep is None else keep),
        )
        if released:
            log.info("the weighed truck left the scale: its goods record goes out", scale=scale,
                     released=released)  # fmt: skip
        return released

    async def _release_held(self, weighings: str, args: tuple[object, ...]) -> int:
        """In a transaction: the held goods records of the weighings ``w`` that match the SQL
        condition ``weighings`` (with ``args``) and have no check that holds them go out (the
        forwarder is woken); returns how many."""

        async def write() -> int:
            cur = await self._db.execute(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE kind = 'goods' "  # noqa: S608 - the callers' constants
                "AND state = 'held' AND weighing_id IN (SELECT w.id FROM weighings w "
                f"WHERE {weighings} AND {self._NOTHING_HELD})",
                (self._clock(), *args),
            )
            released = cur.rowcount
            await cur.close()
            return released

        released = await self._transaction(write)
        if released:
            self.outbox_changed.set()
        return released

    async def holds_goods_on(self, scale: str) -> bool:
        """Whether a goods record of a weighing whose later weighing was taken on ``scale`` is
        held (waiting for its truck to leave, or for a clerk's check)."""
        rows = await self._fetchall(
            "SELECT 1 FROM outbox o JOIN weighings w ON w.id = o.weighing_id "
            "WHERE o.state = 'held' AND o.kind = 'goods' "
            "AND coalesce(w.second_scale, w.first_scale) = ? LIMIT 1",
            (scale,),
        )
        return bool(rows)

    async def release_other_scales(self, scales: Sequence[str]) -> int:
        """At a start: the goods records held until their truck left a scale that is not
        among ``scales`` (the scales run now; one removed from the configuration) go out — no
        truck stands on a scale nobody weighs on. Those a clerk's check holds stay held.
        Returns the goods records released."""
        other = "1"  # no scale runs: every one is another
        if scales:
            marks = ", ".join("?" for _ in scales)
            other = f"coalesce(w.second_scale, w.first_scale) NOT IN ({marks})"

        released = await self._release_held(other, tuple(scales))
        if released:
            log.warning("goods records held for a scale no longer configured go out",
                        released=released, scales=list(scales))  # fmt: skip
        return released

    async def last_weighing_on(self, scale: str, since: float) -> tuple[int, float, float] | None:
        """(id, kg, unix s) of the weighing whose first or second weighing was taken last on
        ``scale``, since ``since`` (unix s), any state; None: none. After a restart the truck
        weighed then may still stand on the scale."""
        rows = await self._fetchall(
            "SELECT id, kg, at FROM (SELECT id, first_kg AS kg, first_at AS at FROM weighings "
            "WHERE first_scale = ? AND first_at >= ? UNION ALL SELECT id, second_kg, second_at "
            "FROM weighings WHERE second_scale = ? AND second_at >= ?) "
            "ORDER BY at DESC, id DESC LIMIT 1",
            (scale, since, scale, since),
        )
        if not rows:
            return None
        return int(rows[0]["id"]), float(rows[0]["kg"]), float(rows[0]["at"])

    async def tied_read(self, weighing_id: int, scale: str, at: float) -> ScaleRead | None:
        """The plate read of ``scale`` that tied weighing ``weighing_id``'s weighing taken at
        ``at`` (unix s; the latest it used by then); None: no read of its own (unmatched,
        held, a clerk's plate)."""
        rows = await self._fetchall(
            "SELECT * FROM scale_reads WHERE weighing_id = ? AND scale = ? AND read_at <= ? "
            "ORDER BY read_at DESC, id DESC LIMIT 1",
            (weighing_id, scale, at),
        )
        return ScaleRead.from_row(rows[0]) if rows else None

    async def weighings_to_check(self, since: float, limit: int = 50) -> list[StoredWeighing]:
        """The weighings a clerk should check (their plate or weight in doubt) taken since
        ``since`` (unix s), newest first, at most ``limit``."""
        rows = await self._fetchall(
            "SELECT * FROM weighings WHERE (check_plate IS NOT NULL OR check_weight IS NOT NULL) "
            "AND first_at >= ? ORDER BY first_at DESC, id DESC LIMIT ?",
            (since, limit),
        )
        return [StoredWeighing.from_row(row) for row in rows]

    async def reserved_reads(
        self, read_ids: Sequence[int], since: float, own_within: float | None = None
    ) -> set[int]:
        """Which of ``read_ids`` are candidates of a weighing held as 待确认车牌 taken since
        ``since`` (unix s): the held weighing's own, until a clerk resolves it. With
        ``own_within`` (s), a candidate read more than that after the weighing is not (heard
        while its truck stood: its late read or the next truck's, :meth:`late_candidate_of`)."""
        if not read_ids:
            return set()
        rows = await self._fetchall(
            "SELECT c.value ->> '$.id' AS read FROM weighings w, json_each(w.candidates) c "
            "WHERE w.state = 'unmatched' AND w.first_at >= ? AND w.candidates IS NOT NULL "
            "AND c.value ->> '$.read_at' <= w.first_at + ?",
            (since, 1e12 if own_within is None else own_within),
        )
        return {int(row["read"]) for row in rows} & set(read_ids)

    async def late_candidate_of(
        self, read: ScaleRead, after: float, since: float
    ) -> list[StoredWeighing]:
        """The weighings without a plate (held, unmatched) on ``read``'s scale taken since
        ``since`` (unix s) that have ``read`` as a candidate heard more than ``after`` s after
        their weighing, while their truck stood on the scale: it is their late read or the
        next truck's — a weighing that takes it is checked by the clerk. Oldest first."""
        rows = await self._fetchall(
            "SELECT w.* FROM weighings w, json_each(w.candidates) c WHERE w.state = 'unmatched' "
            "AND w.first_at >= ? AND w.first_at <= ? AND w.first_scale = ? "
            "AND w.candidates IS NOT NULL AND c.value ->> '$.id' = ? "
            "AND c.value ->> '$.read_at' > w.first_at + ? ORDER BY w.first_at, w.id",
            (since, read.read.read_at, read.read.scale, read.id, after),
        )
        return [StoredWeighing.from_row(row) for row in rows]

    async def _insert(
        self, new: NewWeighing, state: str, preset: tuple[float, float, float] | None = None
    ) -> int:
        gross, tare, net = preset if preset is not None else (None, None, None)
        cur = await self._db.execute(
            "INSERT INTO weighings (plate, plate_color, state, first_scale, first_kg, first_at, "
            "first_serial, gross_kg, tare_kg, net_kg, tare_preset) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.plate,
                new.plate_color,
                state,
                new.scale,
                new.kg,
                new.at,
                new.serial,
                gross,
                tare,
                net,
                int(preset is not None),
            ),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def weighing(self, weighing_id: int) -> StoredWeighing:
        """One weighing; raises :class:`KeyError` for an unknown id."""
        rows = await self._fetchall("SELECT * FROM weighings WHERE id = ?", (weighing_id,))
        if not rows:
            raise KeyError(weighing_id)
        return StoredWeighing.from_row(rows[0])

    async def open_weighings(
        self, since: float, expired_before: float | None = None
    ) -> list[StoredWeighing]:
        """First weighings still waiting for their second, and those that expired after
        ``since`` (unix s) — what the status page reports as unfinished — oldest first. An
        open one taken before ``expired_before`` (now − the maximum time between weighings)
        is returned as ``expired`` at once (the ledger marks it at the next weighing)."""
        rows = await self._fetchall(
            "SELECT * FROM weighings WHERE state = 'open' "
            "OR (state = 'expired' AND first_at >= ?) ORDER BY first_at",
            (since,),
        )
        found = [StoredWeighing.from_row(row) for row in rows]
        if expired_before is None:
            return found
        return [
            replace(w, state="expired") if w.state == "open" and w.first_at < expired_before else w
            for w in found
        ]

    async def unmatched_weighings(self, since: float, limit: int = 50) -> list[StoredWeighing]:
        """Weighings without a plate — unmatched (no plate read) and held (待确认车牌: more
        than one) — taken since ``since`` (unix s), newest first, at most ``limit``."""
        rows = await self._fetchall(
            "SELECT * FROM weighings WHERE state = 'unmatched' AND first_at >= ? "
            "ORDER BY first_at DESC, id DESC LIMIT ?",
            (since, limit),
        )
        return [StoredWeighing.from_row(row) for row in rows]

    async def weighing_photos(self, weighings: Sequence[StoredWeighing]) -> dict[int, list[str]]:
        """The photos kept with each weighing, by weighing id: the kept photos (URLs,
        ``/photos/<serial>-<n>.jpg``) of the pass whose plate read tied its first weighing,
        then of the one that tied its second — the scale lane's camera photo of the truck on
        the scale, kept and pruned with that pass. A weighing (or a second weighing) without a
        plate read has the snapshot taken of the scale lane instead, when there was one
        (``/photos/weighing-<id>-<1|2>.jpg``)."""
        sides = await self.weighing_photo_sides(weighings)
        return {wid: first + second for wid, (first, second) in sides.items()}

    async def weighing_photo_sides(
        self, weighings: Sequence[StoredWeighing]
    ) -> dict[int, tuple[list[str], list[str]]]:
        """:meth:`weighing_photos` kept apart by side: (the first weighing's, the second's),
        each front first; a second weighing tied by the first's pass has none of its own."""
        serials = {
            serial
            for w in weighings
            for serial in (w.first_serial, w.second_serial)
            if serial and w.state != "planned"
        }
        found: dict[str, list[str]] = {}
        if serials:
            marks = ",".join("?" * len(serials))
            rows = await self._fetchall(
                "SELECT p.serial, ph.number FROM passes p JOIN photos ph ON ph.pass_id = p.id "  # noqa: S608
                f"WHERE p.serial IN ({marks}) AND ph.pruned_at IS NULL ORDER BY ph.number",
                tuple(serials),
            )
            for row in rows:
                found.setdefault(row["serial"], []).append(photo_url(row["serial"], row["number"]))

        def side(w: StoredWeighing, number: int, serial: str | None, snap: str | None) -> list[str]:
            shown: list[str] = []
            if serial and (number == 1 or serial != w.first_serial):
                shown += found.get(serial, [])
            if snap:
                shown.append(weighing_photo_url(w.id, number))
            return shown

        return {
            w.id: (
                side(w, 1, w.first_serial, w.first_photo),
                side(w, 2, w.second_serial, w.second_photo),
            )
            for w in weighings
        }

    async def weighings_between(
        self, start: float | None, end: float | None
    ) -> list[StoredWeighing]:
        """Every weighing whose first weighing was taken in [start, end) (unix s; None: no
        bound), oldest first (the ``weighings_recent`` index bounds it)."""
        rows = await self._fetchall(
            "SELECT * FROM weighings WHERE first_at >= coalesce(?, -1e18) "
            "AND first_at < coalesce(?, 1e18) ORDER BY first_at, id",
            (start, end),
        )
        return [StoredWeighing.from_row(row) for row in rows]

    async def tonnage_between(
        self, start: float, end: float, max_between_seconds: float
    ) -> list[tuple[str, str, float]]:
        """(goods, direction, net kg) summed over the weighings that completed in [start,
        end) (unix s) — completed weighings and ERP plans' tonnage — by goods name ("" while
        the clerk has not given one) and direction: ``in`` when the truck came loaded (its
        first weighing the heavier), ``out`` when it left loaded; a weighing completed at once
        (preset tare, ERP plan) goes by the direction of its pass. A net weight no truck
        carries (from ``OVER_MAX_KG``, over 99.9 t once rounded: its goods record is refused
        too) is not counted. A weighing whose goods record cannot be sent (``goods_error``:
        no pass to tie it to — a clerk's typed plate with no pass near it —, a goods name the
        platform must not get) is counted apart, as its goods name followed by
        :data:`UNREPORTED`: the tonnage of a goods name alone is what was reported.
        Bounded by the ``weighings_recent`` index: a second weighing comes at most
        ``max_between_seconds`` after its first."""
        rows = await self._fetchall(
            "SELECT coalesce(w.goods, '') || iif(w.goods_error IS NULL, '', ?) AS goods, "
            "CASE WHEN w.second_kg IS NOT NULL "
            "THEN iif(w.first_kg >= w.second_kg, 'in', 'out') ELSE coalesce((SELECT "
            "p.direction FROM passes p WHERE p.serial = w.first_serial), 'in') END AS direction, "
            "sum(w.net_kg) AS kg FROM weighings w "
            "WHERE w.first_at >= ? AND w.first_at < ? AND w.state IN ('complete', 'planned') "
            "AND w.net_kg < ? "
            "AND coalesce(w.second_at, w.first_at) >= ? AND coalesce(w.second_at, w.first_at) < ? "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            (UNREPORTED, start - max_between_seconds, end, float(OVER_MAX_KG), start, end),
        )
        return [(row["goods"], row["direction"], float(row["kg"])) for row in rows]

    async def recent_weighings(self, limit: int = 20) -> list[StoredWeighing]:
        """The latest weighings of every state, newest first."""
        rows = await self._fetchall("SELECT * FROM weighings ORDER BY id DESC LIMIT ?", (limit,))
        return [StoredWeighing.from_row(row) for row in rows]
