"""The inspector's export of the electronic ledger (电子台账, issue 15): the in/out ledger of a
date range, one gate and one plate if asked, as an XLSX workbook with the columns of the 2020
emergency-management guideline's 表3 (《重污染天气重点行业移动源应急管理技术指南》: time,
plate, VIN, engine number, registration date, emission stage, fuel, goods, tonnage, fleet)
and the references of each pass's photos and the vehicle's documents; and a ZIP holding that
workbook and the images it references, under those very names.

Both are streamed: the ledger is read page by page (:meth:`InspectionLedger.ledger_lines`),
the workbook written by openpyxl's write-only mode (rows go to a temporary file, not to
memory) in a thread, and the ZIP written member by member to the caller's sink, so a month at
a large plant (~150,000 passes) exports with flat memory (``make bench`` measures it).
Every text cell that a spreadsheet would read as a formula is neutralised.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from edge.actions.operator import InvalidInputError
from edge.domain.codes import EMISSION_NAMES, FUEL_NAMES
from edge.domain.filing import (
    FILING_WORDS,
    TITLES,
    EntryStatus,
    FilingState,
    Register,
    field_names,
)
from edge.domain.filing_words import code_text, filing_text
from edge.domain.plates import COLOR_WORDS, plate_text, to_halfwidth
from edge.ledger.filings import FilingLedger
from edge.ledger.inspection import InspectionLedger
from edge.ledger.rows import LedgerLine, StoredEntry

if TYPE_CHECKING:
    # openpyxl (with lxml: ~175 modules, 7–11 MiB resident) is imported when a workbook is
    # written, never at the daemon's start: a gate that never exports never holds it.
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

#: The workbook's columns, in order (表3 of the 2020 guideline, then what identifies the pass).
COLUMNS = (
    "进出厂时间",
    "进出",
    "道闸编号",
    "号牌号码",
    "号牌颜色",
    "车辆识别代码(VIN)",
    "发动机号码",
    "注册日期",
    "排放阶段",
    "燃料类型",
    "运输货物名称",
    "运输量(吨)",
    "车队名称",
    "进出厂照片",
    "过磅照片",
    "行驶证/随车清单",
    "流水号",
    "通行结果",
    "车牌更正",
)
#: Where the ZIP keeps the images the workbook references, and the workbook itself.
PHOTO_DIR, DOCUMENT_DIR, WORKBOOK_NAME = "photos", "documents", "台账.xlsx"
#: The longest date range one export may cover (the guideline keeps a year; more is asked
#: for in pieces).
MAX_DAYS = 400
MAX_FILTER = 32
_COLOR_NAMES = {color.value: word for word, color in COLOR_WORDS.items() if word != "黄绿"}
_COLOR_NAMES["5"] = "其他"
_DIRECTION = {"in": "进厂", "out": "出厂"}
_VERDICT = {"open": "放行", "refuse": "禁止"}
T = TypeVar("T")
#: What makes a spreadsheet read a cell as a formula (CWE-1236): neutralised with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> str:
    """A value as a spreadsheet cell that is never a formula: a text starting with
    ``= + - @``, a tab or a carriage return gets a leading apostrophe (OWASP)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@dataclass(frozen=True, slots=True)
class LedgerQuery:
    """What one export covers: passes from ``start`` to before ``end`` (unix s), at gate
    ``gate`` ("": all) of plate ``plate`` ("": all); ``title`` says it in one line."""

    start: float
    end: float
    gate: str = ""
    plate: str = ""

    @property
    def title(self) -> str:
        return f"{self.start:.0f}..{self.end:.0f} gate {self.gate or '*'} plate {self.plate or '*'}"


def ledger_query(first: str, last: str, gate: str, plate: str, zone: Any) -> LedgerQuery:
    """An export's range from two typed days (``YYYY-MM-DD``, site time, both included), a
    gate (its two-digit 道闸编号; ``1`` is read ``01``) and a plate (or its start; spaces,
    dots and hyphens removed, as plates are stored). Raises :class:`InvalidInputError` naming the
    field that is wrong (``from``, ``to``, ``gate``, ``plate``)."""
    days = []
    for key, text in (("from", first), ("to", last)):
        try:
            days.append(date.fromisoformat(text.strip()))
        except ValueError:
            raise InvalidInputError(f"{text[:32]!r} is not a date (YYYY-MM-DD)", key) from None
    if days[1] < days[0]:
        raise InvalidInputError("the last day is before the first", "to")
    if (days[1] - days[0]).days >= MAX_DAYS:
        raise InvalidInputError(f"more than {MAX_DAYS} days: export in pieces", "to")
    gate, plate = to_halfwidth(gate).strip(), plate_text(plate[: MAX_FILTER * 4])
    if gate.isdecimal() and gate.isascii() and len(gate) <= 2:
        gate = gate.zfill(2)  # as the config writes it (lanes[].gate_code: "01")
    elif gate:
        raise InvalidInputError(f"{gate[:8]!r} is not a gate code (two digits, e.g. 01)", "gate")
    if len(plate) > MAX_FILTER:
        raise InvalidInputError(f"over {MAX_FILTER} characters", "plate")
    start = datetime.combine(days[0], datetime.min.time(), zone).timestamp()
    end = datetime.combine(days[1] + timedelta(days=1), datetime.min.time(), zone).timestamp()
    return LedgerQuery(start, end, gate, plate)


#: Always: the span of time a fact given without its history covers.
_ALWAYS = ((float("-inf"), float("inf")),)


@dataclass(frozen=True, slots=True)
class VehicleFacts:
    """What the vehicle ledger knows of a plate for the export: VIN, engine number,
    registration date (as filed), fleet (车队), emission stage (§7.6 code), its document
    images (paths relative to the document root: 行驶证, 随车清单), and when its entry was in
    force (``in_force``: spans ``[from, to)`` of unix s: added, not 注销)."""

    vin: str = ""
    engine_no: str = ""
    register_date: str = ""
    fleet: str = ""
    documents: tuple[str, ...] = ()
    emission: str = ""
    in_force: tuple[tuple[float, float], ...] = _ALWAYS

    def in_force_at(self, when: float) -> bool:
        """Whether the entry was in force at ``when`` (unix s)."""
        return any(start <= when < end for start, end in self.in_force)


#: The vehicle ledger's entries of some plates, by (plate, plate colour code §7.1): every
#: entry the plate and colour had (a plate 注销 and entered again for another vehicle: each).
VehicleLookup = Callable[
    [Sequence[str]], Awaitable[Mapping[tuple[str, str], Sequence[VehicleFacts]]]
]


async def _no_vehicles(_plates: Sequence[str]) -> Mapping[tuple[str, str], Sequence[VehicleFacts]]:
    return {}


@dataclass(frozen=True, slots=True)
class ExportSources:
    """Where an export finds what is not in the passes: the pass photos' root, the vehicle
    documents' root (None: none kept) and the vehicle ledger's facts of a page's plates."""

    photo_root: Path | None = None
    document_root: Path | None = None
    vehicles: VehicleLookup = _no_vehicles


def spans_in_force(statuses: str | None) -> tuple[tuple[float, float], ...]:
    """When an entry was in force, from its status history (``at:status`` joined by ``|``:
    its adding, then each change): from each time it became 正常 or 封存 to the next time it
    became 注销 (an entry 注销 was not in force from then on; one entered back, again)."""
    events = sorted(
        (float(at), status)
        for at, _, status in (part.rpartition(":") for part in (statuses or "").split("|"))
        if at
    )
    if not events:  # no history kept of it: in force throughout, as before histories
        return _ALWAYS
    spans: list[tuple[float, float]] = []
    since: float | None = None
    for at, status in events:
        if status == EntryStatus.CANCELLED.value:
            if since is not None:
                spans.append((since, at))
            since = None
        elif since is None:
            since = at
    if since is not None:
        spans.append((since, float("inf")))
    return tuple(spans)


def vehicles_in(ledger: InspectionLedger) -> VehicleLookup:
    """The export's vehicle facts from the vehicle ledger: every entry of a plate and colour
    (a yellow and a blue 豫A12345 are two vehicles; a plate 注销 and entered again for
    another vehicle has an entry for each), each with when it was in force. The first entry
    of a plate counts from before it was keyed in: the passes before it are its vehicle's (a
    filing completed after the platform flagged the passes, a fleet imported on day one)."""

    async def lookup(plates: Sequence[str]) -> Mapping[tuple[str, str], Sequence[VehicleFacts]]:
        found: dict[tuple[str, str], list[VehicleFacts]] = {}
        for row in await ledger.vehicle_facts(plates):  # oldest entry first
            entries = found.setdefault((row.plate, row.plate_color), [])
            spans = spans_in_force(row.statuses)
            if not entries and spans:
                spans = ((float("-inf"), spans[0][1]), *spans[1:])
            entries.append(
                VehicleFacts(
                    row.vin, row.engine_no, row.register_date, row.fleet,
                    tuple(row.documents.split("|")) if row.documents else (),
                    row.emission, spans,
                )
            )  # fmt: skip
        return found

    return lookup


def _facts_at(entries: Sequence[VehicleFacts], when: float) -> VehicleFacts:
    """The entry in force at ``when`` (the latest, should two be); none: empty facts (a pass
    after the plate's entry was 注销, before it was entered again)."""
    for facts in reversed(entries):
        if facts.in_force_at(when):
            return facts
    return VehicleFacts()


def _photos(line: LedgerLine) -> list[str]:
    """The pass's kept photos' paths (front first)."""
    if not line.photos:
        return []
    numbered = sorted(part.split(":", 1) for part in line.photos.split("|"))
    return [path for _number, path in numbered]


def _weighing_photos(line: LedgerLine) -> list[str]:
    """The photos kept with the pass's weighing (paths): its first weighing's pass's, then
    its second's, each front first — what ``/api/weighings.csv``'s 照片 lists."""
    if not line.weighing_photos:
        return []
    parts = (part.split(":", 2) for part in line.weighing_photos.split("|"))
    return [path for *_order, path in sorted(parts, key=lambda p: (int(p[0]), int(p[1])))]


#: The fuel (§7.5) an emission stage (§7.6) implies, for a pass the platform told none: an
#: electric vehicle's is 电 (the ledger keeps no fuel of its own).
_FUEL_OF_EMISSION = {"D": "C"}


def _emission_and_fuel(line: LedgerLine, facts: VehicleFacts) -> tuple[str, str]:
    """The 排放阶段 and 燃料类型 cells: the platform's verify answer's (for the corrected
    plate of a corrected pass); where it has none (an
    offline or refused pass), the ledger entry's in force at the pass; where both have an
    emission stage and they differ, the platform's with the ledger's beside it:
    ``国五（台账：国六）``."""
    answer = line.shown_answer
    said, fuel = (answer.emission, answer.fuel) if answer else ("", "")
    ledger = facts.emission
    if not said:
        emission = EMISSION_NAMES.get(ledger, ledger)
    elif ledger and ledger != said:
        emission = f"{EMISSION_NAMES.get(said, said)}（台账：{EMISSION_NAMES.get(ledger, ledger)}）"
    else:
        emission = EMISSION_NAMES.get(said, said)
    fuel = fuel or _FUEL_OF_EMISSION.get(ledger, "")
    return emission, FUEL_NAMES.get(fuel, fuel)


def _corrected_mark(line: LedgerLine) -> str:
    """车牌更正: a pass whose plate a guard corrected says so, with the camera's read."""
    if line.corrected is None:
        return ""
    colour = line.plate_color
    said = f"，{_COLOR_NAMES.get(colour, colour)}" if line.corrected_color != colour else ""
    return f"已更正（相机识别：{line.plate or '无牌车'}{said}）"


def _cells(line: LedgerLine, facts: VehicleFacts, zone: Any) -> list[str]:
    emission, fuel = _emission_and_fuel(line, facts)
    photos = "; ".join(f"{PHOTO_DIR}/{path}" for path in _photos(line))
    weighed = "; ".join(f"{PHOTO_DIR}/{path}" for path in _weighing_photos(line))
    documents = "; ".join(f"{DOCUMENT_DIR}/{path}" for path in facts.documents)
    values = (
        datetime.fromtimestamp(line.received_at, zone).strftime("%Y-%m-%d %H:%M:%S"),
        _DIRECTION.get(line.direction, line.direction),
        line.gate_code,
        line.shown_plate or "无牌车",
        _COLOR_NAMES.get(line.shown_color, line.shown_color),
        facts.vin,
        facts.engine_no,
        facts.register_date,
        emission,
        fuel,
        line.goods or "",
        line.ysl or "",
        facts.fleet,
        photos,
        weighed,
        documents,
        line.serial,
        _VERDICT.get(line.verdict, line.verdict),
        _corrected_mark(line),
    )
    return [spreadsheet_cell(v) for v in values]


#: A page of the ledger: its passes and the vehicle entries of their plates.
_Page = tuple[list[LedgerLine], Mapping[tuple[str, str], Sequence[VehicleFacts]]]


async def _pages(
    ledger: InspectionLedger, query: LedgerQuery, vehicles: VehicleLookup, page: int
) -> AsyncIterator[_Page]:
    """The query's passes, page by page, with the vehicle entries of their plates (each pass
    paired with its entry by :func:`_paired`, in a worker thread: not on the event loop)."""
    async for lines in ledger.ledger_lines(
        query.start, query.end, gate=query.gate, plate=query.plate, page=page
    ):
        yield (
            lines,
            await vehicles(sorted({line.shown_plate for line in lines if line.shown_plate})),
        )


def _paired(found: _Page) -> list[tuple[LedgerLine, VehicleFacts]]:
    """Each pass of a page with the facts of its vehicle's entry in force at the pass."""
    lines, known = found
    return [
        (line, _facts_at(known.get((line.shown_plate or "", line.shown_color), ()),
                         line.received_at))
        for line in lines
    ]  # fmt: skip


def load_openpyxl() -> None:
    """Import openpyxl (and lxml), which the daemon does not load at its start: called in a
    worker thread before a workbook is first written (the import takes 60–100 ms, which is
    not the event loop's to spend)."""
    import openpyxl  # noqa: PLC0415, F401 - on first use only (see above)


def _header(sheet: WriteOnlyWorksheet, names: Sequence[str]) -> None:
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 - on first use only
    from openpyxl.styles import Font  # noqa: PLC0415

    bold = Font(bold=True)
    cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)


@dataclass
class Exported:
    """What an export wrote: ``rows`` passes, ``images`` files put in the ZIP, ``missing``
    referenced images whose file was gone (listed in the ZIP's 缺失文件.txt)."""

    rows: int = 0
    images: int = 0
    missing: int = 0


async def write_workbook(
    ledger: InspectionLedger,
    query: LedgerQuery,
    target: Path,
    zone: Any,
    sources: ExportSources = ExportSources(),
    *,
    page: int = 2000,
) -> Exported:
    """Write the ledger of ``query`` to the XLSX file ``target`` (written beside and renamed
    into place). Raises :class:`~edge.ledger.database.LedgerBusyError` when a page of the
    ledger runs past its time budget (nothing is left at ``target`` then)."""

    def rows(found: _Page) -> list[list[str]]:
        return [_cells(line, facts, zone) for line, facts in _paired(found)]

    pages = _pages(ledger, query, sources.vehicles, page)
    return await _write_book("运输车辆台账", COLUMNS, pages, rows, target)


async def _write_book(
    title: str,
    header: Sequence[str],
    pages: AsyncIterator[T],
    rows: Callable[[T], list[list[str]]],
    target: Path,
) -> Exported:
    """A one-sheet write-only workbook: the bold ``header``, then each page's ``rows`` (made
    and written in a worker thread: a page of 2,000 passes formatted on the event loop held
    it for a third of a second), saved beside ``target`` and renamed into place."""
    await asyncio.to_thread(load_openpyxl)
    from openpyxl import Workbook  # noqa: PLC0415 - loaded just above

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    _header(sheet, header)
    done = Exported()
    partial = target.with_name(target.name + ".part")
    try:
        async for found in pages:
            done.rows += await asyncio.to_thread(_append, sheet, rows, found)
        await asyncio.to_thread(book.save, partial)
        partial.replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return done


def _append(sheet: WriteOnlyWorksheet, rows: Callable[[T], list[list[str]]], found: T) -> int:
    made = rows(found)
    for row in made:
        sheet.append(row)
    return len(made)


class _Chunks(io.RawIOBase):
    """A ZIP's output taken away in chunks (never seekable: the ZIP writes data descriptors)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.offset = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.offset += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.offset

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


async def stream_zip(
    ledger: InspectionLedger,
    query: LedgerQuery,
    send: Callable[[bytes], Awaitable[None]],
    zone: Any,
    sources: ExportSources = ExportSources(),
    *,
    page: int = 2000,
) -> Exported:
    """The ZIP of ``query``: the workbook (:data:`WORKBOOK_NAME`), then every image it
    references once (``photos/…`` under the photo root, ``documents/…`` under the document
    root; a weighing's photos are remembered for the export, to add each once),
    each handed to ``send`` as soon as it is written (images are stored, not compressed:
    they are JPEGs). An image whose file is gone is named in 缺失文件.txt."""

    async def workbook(path: Path) -> int:
        return (await write_workbook(ledger, query, path, zone, sources, page=page)).rows

    documents: set[str] = set()
    weighed: set[str] = set()  # a weighing's photos: its two passes' (each once)

    def files_of(found: _Page) -> list[tuple[Path, str]]:
        files: list[tuple[Path, str]] = []
        for line, facts in _paired(found):
            if sources.photo_root is not None:
                root = sources.photo_root
                with_weighing = _weighing_photos(line)  # the pass's own among them
                for p in with_weighing or _photos(line):
                    if p not in weighed:
                        files.append((root / p, f"{PHOTO_DIR}/{p}"))
                    if with_weighing:
                        weighed.add(p)
            for doc in facts.documents:
                if sources.document_root is not None and doc not in documents:
                    documents.add(doc)
                    files.append((sources.document_root / doc, f"{DOCUMENT_DIR}/{doc}"))
        return files

    async def images() -> AsyncIterator[list[tuple[Path, str]]]:
        async for found in _pages(ledger, query, sources.vehicles, page):
            yield await asyncio.to_thread(files_of, found)  # one page at a time: the sets

    return await _archive(send, workbook, images(), zone)


async def _archive(
    send: Callable[[bytes], Awaitable[None]],
    workbook: Callable[[Path], Awaitable[int]],
    images: AsyncIterator[list[tuple[Path, str]]],
    zone: tzinfo | None,
) -> Exported:
    """A ZIP streamed to ``send``: the workbook ``workbook`` writes (its rows counted), then
    the images (file, name in the ZIP) page by page, then 缺失文件.txt naming those gone.
    Each member's time is its file's (or now) in the site's ``zone``: a ZIP's times carry no
    zone and are read as local by whoever opens it (None: the machine's zone)."""
    sink = _Chunks()
    done = Exported()
    missing: list[str] = []
    with tempfile.TemporaryDirectory(prefix="edge-ledger-") as scratch:
        book = Path(scratch) / WORKBOOK_NAME
        done.rows = await workbook(book)
        archive = zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True)
        await asyncio.to_thread(_add, archive, book, WORKBOOK_NAME, zone, zipfile.ZIP_DEFLATED)
        await send(sink.take())
        async for files in images:
            for source, name in files:
                if await asyncio.to_thread(_add, archive, source, name, zone):
                    done.images += 1
                else:
                    missing.append(name)
                await send(sink.take())
        if missing:
            note = _member("缺失文件.txt", time.time(), zone, zipfile.ZIP_DEFLATED)
            archive.writestr(note, "\n".join(missing) + "\n")
        archive.close()
        await send(sink.take())
    done.missing = len(missing)
    return done


# -- the registers (表4 in-plant vehicles, 表5 machinery, and the transport vehicles) --------
#: What a register's workbook adds after the entry's fields.
REGISTER_EXTRA = ("备案状态", "车辆备案唯一识别编码(licensePK)", "证件图片")
REGISTER_PAGE = 500
REGISTER_SHEETS = {
    Register.VEHICLE: "运输车辆备案台账",
    Register.INNER: "厂内运输车辆台账",
    Register.MACHINE: "非道路移动机械台账",
}


async def _entry_cells(ledger: FilingLedger, entry: StoredEntry) -> tuple[list[str], list[str]]:
    """An entry's cells and its current document images (paths under the photo root)."""
    register = Register(entry.register)
    values: list[str] = []
    for name in field_names(register):  # a code as "F 货运": read, and imported back
        values.append(code_text(name, str(getattr(entry, name))))
    filings = await ledger.filings_of(entry.id)
    state = (
        "；".join(filing_text(f.platform, f.state, f.words) for f in filings)
        or FILING_WORDS[FilingState.UNFILED]
    )
    pk = "；".join(f.license_pk for f in filings if f.license_pk)
    images = [i.path for i in await ledger.images_of(entry.id)]
    refs = "; ".join(f"{DOCUMENT_DIR}/{path}" for path in images)
    return [spreadsheet_cell(v) for v in (*values, state, pk, refs)], images


async def write_register_workbook(
    ledger: FilingLedger, register: Register, target: Path, status: str | None = None
) -> Exported:
    """A register's ledger (every entry, oldest first; ``status``: only those) as XLSX with
    the entry's fields under their Chinese titles, its filing and its document references."""

    async def pages() -> AsyncIterator[list[list[str]]]:
        rows: list[list[str]] = []
        async for entry in ledger.export_entries(register, status):
            rows.append((await _entry_cells(ledger, entry))[0])
            if len(rows) >= REGISTER_PAGE:
                yield rows
                rows = []
        yield rows

    header = [TITLES[n] for n in field_names(register)] + list(REGISTER_EXTRA)
    return await _write_book(REGISTER_SHEETS[register], header, pages(), _made, target)


async def stream_register_zip(
    ledger: FilingLedger,
    register: Register,
    send: Callable[[bytes], Awaitable[None]],
    document_root: Path,
    status: str | None = None,
    *,
    zone: tzinfo | None = None,
) -> Exported:
    """A register's workbook and every document image it references, streamed; member
    times in ``zone`` (the site's; None: the machine's)."""

    async def workbook(path: Path) -> int:
        return (await write_register_workbook(ledger, register, path, status)).rows

    async def images() -> AsyncIterator[list[tuple[Path, str]]]:
        async for entry in ledger.export_entries(register, status):
            paths = (await _entry_cells(ledger, entry))[1]
            yield [(document_root / p, f"{DOCUMENT_DIR}/{p}") for p in paths]

    return await _archive(send, workbook, images(), zone)


def _made(rows: list[list[str]]) -> list[list[str]]:
    """A register's page: its rows are made as its entries are read (their filings)."""
    return rows


def _member(name: str, when: float, zone: tzinfo | None, compression: int) -> zipfile.ZipInfo:
    """A ZIP member named ``name`` dated ``when`` (unix s) as the clock in ``zone`` read."""
    local = datetime.fromtimestamp(when, zone)  # zone None: the machine's, as zipfile's own
    info = zipfile.ZipInfo(name, date_time=max(local.timetuple()[:6], _ZIP_EPOCH))
    info.compress_type = compression
    return info


#: The earliest time a ZIP member can carry.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _add(
    archive: zipfile.ZipFile,
    source: Path,
    name: str,
    zone: tzinfo | None,
    compression: int = zipfile.ZIP_STORED,
) -> bool:
    """Put one file in the ZIP, dated by its modification time in ``zone``; False when its
    file is gone (pruned, or never written)."""
    try:
        stat = source.stat()
        data = source.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        return False
    info = _member(name, stat.st_mtime, zone, compression)
    info.file_size = stat.st_size
    with data, archive.open(info, "w", force_zip64=True) as member:
        shutil.copyfileobj(data, member, 1024 * 1024)
    return True


def file_sink(path: Path) -> tuple[Callable[[bytes], Awaitable[None]], Callable[[], None]]:
    """A ``send`` that appends to the file ``path`` (through a thread) and its closing."""
    out = path.open("wb")

    async def send(data: bytes) -> None:
        if data:
            await asyncio.to_thread(out.write, data)

    return send, out.close
