"""What a clerk or a guard does to the electronic ledger (电子台账), from the status page or
the command line: add, modify and change the status of transport vehicles, in-plant vehicles
and machines, attach their document images, import many at once, fetch a filing another
enterprise made, and send refused or undelivered filings again.

Every action goes through :meth:`edge.actions.operator.Operator.act`: authorised for the
actor's face (:data:`edge.actions.operator.MAY`) and audited once. Refusals are the
operator's typed errors (``InvalidInputError`` with ``key`` the first bad field; the domain's
:class:`~edge.domain.filing.FilingError` that names EVERY bad field is its ``__cause__`` and
:attr:`EntryRefusedError.problems`), so each face answers as it does for the other actions.

Filing: when a platform is configured (``platform``: ``city`` or ``province``), every change
that leaves an entry sendable — its fields valid and 行驶证 / 随车清单 (a machine: 铭牌 /
随车清单) not both missing (:func:`edge.domain.filing.check_for_sending`) — queues its filing
in the same transaction (:class:`edge.ledger.filings.FilingLedger`); the sender delivers it
with retries and dead letters like passes. An entry that is not sendable yet stays 未备案 and
:attr:`Done.note` says why.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from pathlib import Path

import structlog

from edge.actions.operator import (
    Action,
    Actor,
    Done,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    Operator,
    whole_id,
)
from edge.domain.filing import (
    PLATFORM_PLATE_LENGTH,
    STATUS_WORDS,
    Entry,
    EntryStatus,
    FieldProblem,
    FilingError,
    ImageKind,
    Register,
    TransportVehicle,
    check_for_sending,
    check_image,
    entry_form,
    notes_for,
    parse_entry,
    parse_plate,
    plate_key,
    why_not_filed,
)
from edge.domain.filing_words import as_codes
from edge.ledger.filings import EntryExistsError, VinInUseError
from edge.ledger.photos import PhotoStore
from edge.ledger.rows import NewFilingImage, StoredEntry
from edge.ledger.store import Store
from edge.uplink.photo_fit import PhotoError, document_jpeg

log = structlog.get_logger("edge.actions.filing")

#: Why an edit that carries ``status`` is refused: the status changes by its own action.
STATUS_NOT_EDITED = "the status is changed by the status action, not by an edit"
#: VehElecAccountGain (§4.2.17) as the daemon or the command line calls it: (plate, colour,
#: licensePK or "") → the platform's reply ``data`` (wire names: license, licenseColor, vin,
#: engineNo, onwer, registerDate, emissionStandard, drivingLicenseImg, drivingLicenseImg2,
#: licensePK). Raises whatever the platform client raises (mapped to a failed action).
Gain = Callable[[str, str, str], Awaitable[Mapping[str, str]]]

#: DrivingLicenseScanEx (§4.2.4) as the daemon calls it: a JPEG → the form fields the
#: platform read (``edge.uplink.platform.province.ProvincePlatform.scan_licence``).
Scan = Callable[[bytes], Awaitable[dict[str, str]]]
#: GetNeedCompleteVehEx (§4.2.3): the plates whose filing the platform wants completed, as
#: (plate, colour, the platform's addDate).
NeedComplete = Callable[[], Awaitable[list[tuple[str, str, str]]]]

#: Rows an import takes at most (a plant's ledger is hundreds to a few thousand).
MAX_IMPORT_ROWS = 20_000
#: An import row's key prefix for a field its file could not give (``UNCOMPUTED + field`` →
#: the clerk's sentence: a formula cell with no stored result,
#: :func:`edge.actions.filing_files.read_rows`): the row is refused with that sentence.
UNCOMPUTED = "_uncomputed:"


class EntryRefusedError(InvalidInputError):
    """An entry (or image) that breaks the spec's rules; ``problems`` names every bad field
    (``key`` is the first)."""

    def __init__(self, error: FilingError) -> None:
        self.problems = error.problems
        super().__init__(str(error), error.problems[0].field if error.problems else None)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A bad field of one import row: ``row`` as the file numbers it (the header is row 1, so
    the first data row is 2), the ``field`` and why."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.reason}"


class ImportRefusedError(InvalidInputError):
    """An import refused whole (nothing stored): ``problems`` names every bad row's every
    bad field."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = tuple(problems)
        rows = sorted({p.row for p in self.problems})
        detail = f"{len(rows)} bad row(s), nothing imported: " + "; ".join(
            str(p) for p in self.problems[:20]
        )
        super().__init__(detail, "rows")


def _refused(error: FilingError) -> EntryRefusedError:
    return EntryRefusedError(error)


class Filings:
    """The ledger's operator actions over ``operator`` (its store, authorisation and audit).

    ``photo_dir``: storage.photo_dir (images go under ``filings/``); ``platform``: the mode
    filings are sent in (``city`` / ``province``; None: none configured, nothing queued);
    ``gain``: VehElecAccountGain, ``scan``: DrivingLicenseScanEx, ``need_complete``:
    GetNeedCompleteVehEx (None: refused — city mode or no platform); ``now`` for file dates;
    ``zone``: the site's (site.timezone), whose date is "today" for the rule that no date is
    in the future (None: the machine's)."""

    def __init__(
        self,
        operator: Operator,
        photo_dir: Path,
        *,
        platform: str | None = None,
        gain: Gain | None = None,
        scan: Scan | None = None,
        need_complete: NeedComplete | None = None,
        now: Callable[[], datetime] = datetime.now,
        zone: tzinfo | None = None,
    ) -> None:
        self.operator, self.platform, self.gain = operator, platform, gain
        self._scan, self._need_complete = scan, need_complete
        self.photos = PhotoStore(photo_dir)
        self._now = now
        #: The site's time zone (None: the machine's): "today", and the times in a ZIP.
        self.zone = zone

    def today(self) -> date:
        """The site's date: no registration, issue or production date may be after it."""
        return datetime.now(self.zone).date()

    @property
    def store(self) -> Store:
        return self.operator.store

    # -- the entries ---------------------------------------------------------------------------
    async def add(
        self,
        actor: Actor,
        register: str,
        form: Mapping[str, str],
        images: Mapping[str, bytes] | None = None,
    ) -> Done:
        """Add an entry to a register (``vehicle`` / ``inner`` / ``machine``) from form text
        (field → text, :func:`edge.domain.filing.field_names`) with its document images
        (kind → image bytes: JPEG, PNG, BMP or WebP; fitted under 1 MB like pass photos).
        ``Done.id`` is the entry's; ``Done.note`` says when it is kept 未备案 and why.
        Raises :class:`EntryRefusedError` (every bad field and image), InvalidInputError
        (``plate``: in the register already)."""
        target = f"{register} {form.get('plate', '')}".strip()

        async def body() -> Done:
            entry = self._parse(register, form)
            fitted = await self._fit_all(entry.REGISTER, images or {})
            written = [
                NewFilingImage(kind, await self._write(kind, data), len(data))
                for kind, data in fitted.items()
            ]
            sizes = {ImageKind(k): len(d) for k, d in fitted.items()}
            file_to, why = self._file_to(entry, sizes, None)
            try:
                entry_id = await self.store.add_entry(entry, actor.name, written, file_to)
            except EntryExistsError as exc:  # the plate, or the VIN, of an entry in force
                raise InvalidInputError(str(exc), exc.field) from None
            return self._done(entry, entry_id, "added", why)

        return await self.operator.act(actor, Action.ADD_ENTRY, target, body)

    async def modify(
        self,
        actor: Actor,
        entry_id: int | str,
        form: Mapping[str, str],
        images: Mapping[str, bytes] | None = None,
    ) -> Done:
        """Change an entry's fields and attach document images (kind → image bytes, as
        :meth:`attach_image`), all or nothing: every field and image is checked (the images
        fitted) before one change is written. ``form`` holds the fields to change (others
        keep their value; plate and colour cannot change: add a new entry and set the old one
        to 注销; the status is not a field here: :meth:`change_status`). ``Done.detail``
        names what changed; ``Done.ok`` False when nothing did. Raises
        :class:`EntryRefusedError` (every bad field, else every bad image), NotFoundError
        (``id``), InvalidInputError (``status`` in ``form``)."""

        async def body() -> Done:
            if "status" in form:  # 正常 / 封存 / 注销 is its own action, audited as such
                raise InvalidInputError(STATUS_NOT_EDITED, "status")
            stored = await self._entry(entry_id)
            merged = {**entry_form(stored.entry()), **form}
            entry = self._parse(stored.register, merged)
            if plate_key(entry) != (stored.plate, stored.plate_color):
                why = "plate and colour cannot change: add a new entry, set this one to 注销"
                raise InvalidInputError(why, "plate")
            fitted = await self._fit_all(entry.REGISTER, images or {})
            written = [
                NewFilingImage(kind, await self._write(kind, data), len(data))
                for kind, data in fitted.items()
            ]
            sizes = await self._image_sizes(stored.id)
            sizes |= {ImageKind(i.kind): i.size for i in written}
            was = EntryStatus(stored.status)
            file_to, why = self._file_to(entry, sizes, was)
            try:
                changed = await self.store.modify_entry(
                    stored.id, entry, actor.name, file_to, written
                )
            except EntryExistsError as exc:  # the VIN of another entry in force
                raise InvalidInputError(str(exc), exc.field) from None
            if not changed:
                return Done(ok=False, detail="nothing changed", id=stored.id, plate=entry.plate)
            return self._done(entry, stored.id, "changed " + ", ".join(changed), why)

        return await self.operator.act(actor, Action.MODIFY_ENTRY, str(entry_id), body)

    async def change_status(self, actor: Actor, entry_id: int | str, status: str) -> Done:
        """Set an entry's status: ``1`` 正常, ``2`` 封存, ``3`` 注销 (the Chinese words are
        taken too). ``Done.ok`` False when it had it already. Raises InvalidInputError
        (``status``: also a 注销 entry whose plate and colour are in force in a newer entry),
        NotFoundError (``id``)."""

        async def body() -> Done:
            new = _status(status)
            stored = await self._entry(entry_id)
            was = EntryStatus(stored.status)
            entry = replace(stored.entry(), status=new)
            file_to, why = self._file_to(entry, await self._image_sizes(stored.id), was)
            try:
                if not await self.store.set_status(stored.id, new, actor.name, file_to):
                    return Done(ok=False, detail=f"already {STATUS_WORDS[new]}", id=stored.id)
            except EntryExistsError as exc:  # a 注销 entry whose plate was entered again
                raise InvalidInputError(str(exc), "status") from None
            return self._done(entry, stored.id, STATUS_WORDS[new], why)

        return await self.operator.act(actor, Action.ENTRY_STATUS, str(entry_id), body)

    async def attach_image(self, actor: Actor, entry_id: int | str, kind: str, data: bytes) -> Done:
        """Attach a document image (``driving_license`` 行驶证, ``emission_list`` 随车清单,
        ``nameplate`` 铭牌 — a vehicle has the first two, a machine the last two): fitted
        under 1 MB like pass photos, stored under ``storage.photo_dir/filings`` (never pruned),
        replacing the entry's previous image of that kind. ``Done.id`` is the image's. Raises
        :class:`EntryRefusedError` (the image), NotFoundError (``id``)."""

        async def body() -> Done:
            stored = await self._entry(entry_id)
            entry = stored.entry()
            (data_,) = (await self._fit_all(entry.REGISTER, {kind: data})).values()
            path = await self._write(kind, data_)
            sizes = {**await self._image_sizes(stored.id), ImageKind(kind): len(data_)}
            file_to, why = self._file_to(entry, sizes, EntryStatus(stored.status))
            image_id = await self.store.add_image(
                stored.id, NewFilingImage(kind, path, len(data_)), actor.name, file_to
            )
            done = self._done(entry, stored.id, f"{kind} {len(data_)} bytes", why)
            return Done(detail=done.detail, id=image_id, plate=entry.plate, note=done.note)

        return await self.operator.act(actor, Action.ATTACH_IMAGE, str(entry_id), body)

    async def import_rows(
        self,
        actor: Actor,
        register: str,
        rows: Sequence[Mapping[str, str]],
        first_row: int = 2,
        numbers: Sequence[int] | None = None,
    ) -> Done:
        """Import entries into a register (rows of form text, as read from an XLSX or CSV
        file whose header names the fields: :func:`edge.actions.filing_files.read_rows`):
        every row is stored, or none. Rows are numbered as the file numbers them: ``numbers``
        (one per row), else from ``first_row`` (2 under a header). ``Done.count`` is how many
        were stored. Raises :class:`ImportRefusedError` naming every bad row's every bad
        field (a row whose plate is in the register already, or twice in the file, is bad; so
        is a row with a field its file could not give, ``UNCOMPUTED + field``)."""
        numbered = list(numbers) if numbers is not None else [
            first_row + i for i in range(len(rows))
        ]  # fmt: skip

        async def body() -> Done:
            try:
                kind = Register(register)
            except ValueError:
                raise InvalidInputError(f"{register!r} is not a register", "register") from None
            if len(rows) > MAX_IMPORT_ROWS:
                raise InvalidInputError(f"more than {MAX_IMPORT_ROWS} rows", "rows")
            # checking thousands of rows is CPU work: off the loop the lanes share
            entries, entry_rows, problems = await asyncio.to_thread(
                _parse_rows, kind, rows, numbered, self.today(), self.platform
            )
            problems += await self._already_there(entries, entry_rows)
            if problems:
                raise ImportRefusedError(sorted(problems, key=lambda p: p.row))
            # Imported rows have no images yet: each is queued once one is attached.
            file_to = None
            try:
                ids = await self.store.import_entries(entries, actor.name, file_to)
            except EntryExistsError as exc:  # added meanwhile
                number = numbered[exc.index or 0]
                raise ImportRefusedError([RowProblem(number, exc.field, str(exc))]) from None
            return Done(detail=f"{len(ids)} {kind.value} entries", count=len(ids))

        return await self.operator.act(actor, Action.IMPORT_ENTRIES, register, body)

    async def fetch(self, actor: Actor, plate: str, plate_color: str, license_pk: str = "") -> Done:
        """Fetch a transport vehicle's filing from the province platform (VehElecAccountGain
        §4.2.17: one another enterprise made) into the ledger: a new entry, or the existing
        one updated, accepted with the platform's licensePK, its images kept. ``Done.id`` is
        the entry's. Raises NotAllowedError (no province platform), InvalidInputError
        (what the platform returned breaks the rules: ``EntryRefusedError``), and answers
        not ok when the platform has none or cannot be reached."""

        async def body() -> Done:
            if self.gain is None:
                raise NotAllowedError("fetching a filing needs the province platform")
            try:
                read, color = parse_plate(Register.VEHICLE, plate, plate_color)
            except FilingError as exc:
                raise _refused(exc) from exc
            try:
                data = await self.gain(read, color, license_pk.strip())
            except Exception as exc:  # noqa: BLE001 - the platform's error, reported
                return Done(ok=False, detail=f"platform: {exc}", plate=read)
            return await self._store_gained(actor, read, data)

        return await self.operator.act(actor, Action.FETCH_FILING, f"{plate} {plate_color}", body)

    async def retry(self, actor: Actor, entries: Sequence[int | str] | None = None) -> Done:
        """Send dead (refused or undeliverable) filings again: the given outbox-of-filings
        ids, or all (None). ``Done.count`` says how many; none: not ok."""
        target = "all" if not entries else " ".join(str(e) for e in entries)

        async def body() -> Done:
            ids = [whole_id(e) for e in entries] if entries else None
            count = await self.store.retry_dead_filings(ids)
            return Done(ok=count > 0, detail="" if count else "not a dead filing", count=count)

        return await self.operator.act(actor, Action.RETRY_FILING, target, body)

    # -- the province's filing helpers (reads: authorised, not audited) ------------------------
    @property
    def can_scan(self) -> bool:
        """Whether :meth:`scan_licence` can ask a platform (province mode)."""
        return self._scan is not None

    async def scan_licence(self, actor: Actor, image: bytes) -> dict[str, str]:
        """What the province platform read on a 行驶证 image (any format :meth:`attach_image`
        takes; fitted first) as form fields (``plate``, ``vehicle_type``, ``vin``, …) to
        pre-fill a form a person checks. Audited once (the image's size and the fields read,
        never its bytes). Raises NotAllowedError (not authenticated, or no province
        platform), EntryRefusedError (the image), NotFoundError when the platform cannot be
        asked or read nothing (``image``)."""
        read: dict[str, str] = {}

        async def body() -> Done:
            if self._scan is None:
                raise NotAllowedError("recognising a licence needs the province platform")
            fitted = await self._fit_all(Register.VEHICLE, {"driving_license": image})
            (jpeg,) = fitted.values()
            try:
                read.update(await self._scan(jpeg))
            except Exception as exc:  # noqa: BLE001 - the platform's error, reported
                raise NotFoundError(f"platform: {exc}", "image") from None
            plate = read.get("plate", "")
            fields = ", ".join(sorted(k for k, v in read.items() if v)) or "nothing"
            return Done(detail=f"{len(jpeg)} bytes: read {fields}", plate=plate)

        await self.operator.act(actor, Action.SCAN_LICENCE, "driving licence", body)
        return read

    async def need_complete(self, actor: Actor) -> list[tuple[str, str, str]]:
        """The vehicles whose filing the province platform wants completed (GetNeedCompleteVehEx,
        at most 20 a call): (plate, colour, addDate). Raises NotAllowedError (not
        authenticated, or no province platform), NotFoundError (the platform cannot be
        asked)."""
        await self.operator.authorise(actor, Action.ADD_ENTRY, "need complete")
        if self._need_complete is None:
            raise NotAllowedError("the list to complete needs the province platform")
        try:
            return await self._need_complete()
        except Exception as exc:  # noqa: BLE001 - the platform's error, reported
            raise NotFoundError(f"platform: {exc}") from None

    # -- helpers -------------------------------------------------------------------------------
    async def _store_gained(self, actor: Actor, plate: str, data: Mapping[str, str]) -> Done:
        form = {
            "plate": plate,
            "plate_color": data.get("licenseColor", ""),
            "vin": data.get("vin", ""),
            "engine_no": data.get("engineNo", ""),
            "owner": data.get("onwer", ""),
            "register_date": data.get("registerDate", ""),
            "emission": data.get("emissionStandard", ""),
        }
        pk = str(data.get("licensePK", ""))
        if not pk:
            return Done(ok=False, detail="the platform returned no licensePK", plate=plate)
        entry = self._parse(Register.VEHICLE, form)
        images: dict[str, bytes] = {}
        for kind, key in (
            (ImageKind.DRIVING_LICENSE, "drivingLicenseImg"),
            (ImageKind.EMISSION_LIST, "drivingLicenseImg2"),
        ):
            if encoded := data.get(key):
                try:
                    images[kind] = base64.b64decode(encoded, validate=True)
                except (binascii.Error, ValueError):
                    log.warning("filing image from the platform is not base64", kind=kind)
        fitted = await self._fit_all(Register.VEHICLE, images)
        written = [
            NewFilingImage(kind, await self._write(kind, d), len(d)) for kind, d in fitted.items()
        ]
        stored = await self.store.find_entry(Register.VEHICLE, *plate_key(entry))
        if stored is None:
            entry_id = await self.store.add_entry(entry, actor.name, written)
        else:
            entry_id = stored.id
            form = {**entry_form(stored.entry()), **{k: v for k, v in form.items() if v}}
            await self.store.modify_entry(entry_id, self._parse(Register.VEHICLE, form), actor.name)
            for image in written:
                await self.store.add_image(entry_id, image, actor.name)
        await self.store.note_filing(entry_id, "province", pk, "VehElecAccountGain", actor.name)
        return Done(detail=f"licensePK {pk}", id=entry_id, plate=entry.plate)

    async def _already_there(
        self, entries: Sequence[Entry], numbers: Sequence[int]
    ) -> list[RowProblem]:
        """The rows whose plate and colour, or VIN, an entry in force of the register has
        (one query per chunk of rows, not one a row). A row to be stored 注销 is not checked."""
        live = [e for e in entries if e.status is not EntryStatus.CANCELLED]
        if not live:
            return []
        found = await self.store.entries_in_force(
            live[0].REGISTER, [e.plate for e in live], [_vin(e) for e in live]
        )
        by_plate = {(f.plate, f.plate_color): f for f in found}
        by_vin = {f.vin: f for f in found if f.vin}
        problems = []
        for entry, number in zip(entries, numbers, strict=True):
            if entry.status is EntryStatus.CANCELLED:
                continue
            there = by_plate.get(plate_key(entry))
            if there is not None:
                why = EntryExistsError(there.id, entry.plate)
                problems.append(RowProblem(number, "plate", str(why)))
            other = by_vin.get(_vin(entry))
            if other is not None and other is not there:  # one vehicle, two plates
                why = VinInUseError(other.id, other.plate, other.vin)
                problems.append(RowProblem(number, "vin", str(why)))
        return problems

    def _parse(self, register: str, form: Mapping[str, str]) -> Entry:
        try:
            return _filable(
                parse_entry(register, as_codes(form), today=self.today()), self.platform
            )
        except FilingError as exc:
            raise _refused(exc) from exc

    async def _entry(self, entry_id: int | str) -> StoredEntry:
        number = whole_id(entry_id)
        stored = await self.store.get_entry(number)
        if stored is None:
            raise NotFoundError(f"no entry {number}", "id")
        return stored

    async def _image_sizes(self, entry_id: int) -> dict[ImageKind, int]:
        return {ImageKind(i.kind): i.size for i in await self.store.images_of(entry_id)}

    async def _fit_all(self, register: Register, images: Mapping[str, bytes]) -> dict[str, bytes]:
        """Every image fitted and checked; one :class:`EntryRefusedError` names every bad one."""
        fitted: dict[str, bytes] = {}
        problems: list[FieldProblem] = []
        for kind, data in images.items():
            try:
                check_image(register, kind, b"\xff\xd8\xff")  # the kind, before any decoding
                jpeg = await asyncio.to_thread(document_jpeg, data)
                check_image(register, kind, jpeg)
                fitted[kind] = jpeg
            except FilingError as exc:
                problems += exc.problems
            except PhotoError as exc:
                problems.append(FieldProblem(kind, str(exc)))
        if problems:
            raise _refused(FilingError(problems))
        return fitted

    async def _write(self, kind: str, data: bytes) -> str:
        return await self.photos.write_document(data, self._now(), kind)

    def _file_to(
        self, entry: Entry, images: Mapping[ImageKind, int], was: EntryStatus | None
    ) -> tuple[str | None, str]:
        """Where to send the entry as a change leaves it (its status before: ``was``; None:
        new) — None: nowhere — and, when nowhere, why."""
        if self.platform is None:
            return None, "no platform configured: kept in the ledger only"
        if why := why_not_filed(entry, was):
            return None, why
        try:
            check_for_sending(entry, images)
        except FilingError as exc:
            return None, f"未备案: {exc}"
        return self.platform, ""

    def _done(self, entry: Entry, entry_id: int, detail: str, why: str) -> Done:
        note = "; ".join([*notes_for(entry), *([why] if why else [])])
        return Done(detail=f"{entry.plate}: {detail}", id=entry_id, plate=entry.plate, note=note)


def _status(text: str) -> EntryStatus:
    words = {w: s for s, w in STATUS_WORDS.items()}
    value = text.strip()
    if value in words:
        return words[value]
    if value in {s.value for s in EntryStatus}:
        return EntryStatus(value)
    raise InvalidInputError(f"{value!r} is not 1 正常, 2 封存 or 3 注销", "status")


def _filable(entry: Entry, platform: str | None) -> Entry:
    """``entry`` when a configured ``platform`` can take it; a plate (an in-plant number)
    over the platform's 14 characters is refused before it is saved (the wire model would
    stop every filing of it). Without a platform it is kept (:func:`notes_for` says so)."""
    if platform is not None and len(entry.plate) > PLATFORM_PLATE_LENGTH:
        why = f"over the platform's {PLATFORM_PLATE_LENGTH} characters: it cannot be filed"
        raise FilingError([FieldProblem("plate", why)])
    return entry


def _vin(entry: Entry) -> str:
    """An entry's VIN ("" for a machine)."""
    return entry.vin if isinstance(entry, TransportVehicle) else ""


def _parse_rows(
    kind: Register,
    rows: Sequence[Mapping[str, str]],
    numbered: Sequence[int],
    today: date,
    platform: str | None = None,
) -> tuple[list[Entry], list[int], list[RowProblem]]:
    """Each row parsed: the good entries with their row numbers, and every bad row's every
    bad field (a plate twice in the file is bad in its later row)."""
    entries: list[Entry] = []
    entry_rows: list[int] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, str], int] = {}
    vins: dict[str, int] = {}
    for number, given in zip(numbered, rows, strict=True):
        unread = {
            k.removeprefix(UNCOMPUTED): v for k, v in given.items() if k.startswith(UNCOMPUTED)
        }
        row = {k: v for k, v in given.items() if not k.startswith(UNCOMPUTED)}
        problems += [RowProblem(number, name, why) for name, why in unread.items()]
        try:
            entry = _filable(parse_entry(kind, as_codes(row), today=today), platform)
        except FilingError as exc:
            problems += [
                RowProblem(number, p.field, p.reason) for p in exc.problems if p.field not in unread
            ]
            continue
        if unread:
            continue
        key, vin = plate_key(entry), _vin(entry)
        in_force = entry.status is not EntryStatus.CANCELLED
        if in_force and key in seen:
            problems.append(RowProblem(number, "plate", f"also in row {seen[key]}"))
            continue
        if in_force and vin in vins:
            problems.append(RowProblem(number, "vin", f"VIN also in row {vins[vin]}"))
            continue
        if in_force:
            seen[key] = number
            if vin:
                vins[vin] = number
        entries.append(entry)
        entry_rows.append(number)
    return entries, entry_rows, problems
