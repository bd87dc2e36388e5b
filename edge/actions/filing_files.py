"""The electronic ledger's files: the import template, an XLSX or CSV file read as rows for
:meth:`edge.actions.filing.Filings.import_rows`, and the export written as it is read
(openpyxl's write-only mode: memory stays flat whatever the ledger's size).

A file's first row names the columns: a field name (``plate``), its Chinese title (``号牌号码``)
or both as the template writes them (``号牌号码 (plate)``). Cells are read as text; dates
that a spreadsheet stored as dates are written ``yyyy-MM-dd``.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from edge.actions.inspection import spreadsheet_cell
from edge.actions.operator import InvalidInputError
from edge.domain.filing import TITLES, Register, field_names
from edge.ledger.rows import StoredEntry

#: Bytes an import file may have (20,000 rows of text fit in a few MB).
MAX_IMPORT_BYTES = 16 * 1024 * 1024
#: Rows (blank ones included, the heading too) an import may have: a register of a large plant
#: is a few thousand entries. A workbook claiming more (an Excel cell styled far down) is
#: refused before it is read, so memory stays bounded.
MAX_IMPORT_ROWS = 50_000
#: Columns read from a workbook (the registers have at most ~30 fields; blank styled columns
#: far to the right are never read).
MAX_IMPORT_COLUMNS = 64
#: What the export adds after an entry's fields.
EXPORT_EXTRA = ("id", "created_at", "created_by", "changed_at", "changed_by")
_HEADER = re.compile(r"^\s*(?:(?P<title>[^()（）]*?)\s*[(（](?P<name>\w+)[)）]|(?P<word>\S+))\s*$")


def header(name: str) -> str:
    """A column's heading as the template and the export write it: ``号牌号码 (plate)``."""
    return f"{TITLES.get(name, name)} ({name})"


def template(register: Register | str) -> bytes:
    """An empty XLSX import template of a register: one header row, its fields in order."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = Register(register).value
    sheet.append([header(name) for name in field_names(Register(register))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _column(register: Register, heading: object) -> str:
    names = field_names(register)
    by_title = {TITLES[n]: n for n in names if n in TITLES}
    text = "" if heading is None else str(heading)
    found = _HEADER.match(text)
    candidates = [] if found is None else [found["name"], found["title"], found["word"]]
    for candidate in candidates:
        if candidate in names:
            return candidate
        if candidate in by_title:
            return by_title[candidate]
    raise InvalidInputError(f"column {text!r} is not a field of {register.value}", "file")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_rows(register: Register | str, data: bytes, filename: str) -> list[dict[str, str]]:
    """The rows of an XLSX or CSV (UTF-8, with or without BOM; GB18030 also read) file, as
    field → text; blank rows skipped (row numbers still count them out: each row's
    ``_row`` is its number in the file). Raises InvalidInputError (``file``)."""
    kind = Register(register)
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInputError(f"over {MAX_IMPORT_BYTES} bytes", "file")
    if filename.lower().endswith(".csv"):
        table = _csv_rows(data)
    elif filename.lower().endswith((".xlsx", ".xlsm")):
        table = _xlsx_rows(data)
    else:
        raise InvalidInputError("an import is an .xlsx or a .csv file", "file")
    if not table:
        raise InvalidInputError("the file is empty", "file")
    if len(table) > MAX_IMPORT_ROWS:
        raise InvalidInputError(f"over {MAX_IMPORT_ROWS} rows", "file")
    # a heading cell left blank (a trailing comma, a styled empty cell) names no column
    columns = [None if _text(h) == "" else _column(kind, h) for h in table[0]]
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        values = [_text(c) for c in cells]
        if not any(values):
            continue
        row = {
            name: value
            for name, value in zip(columns, values, strict=False)
            if value and name is not None
        }
        rows.append({**row, "_row": str(number)})
    return rows


def _csv_rows(data: bytes) -> list[list[object]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        rows = itertools.islice(csv.reader(io.StringIO(text)), MAX_IMPORT_ROWS + 1)
        return [list[object](row) for row in rows]
    raise InvalidInputError("not UTF-8 or GB18030 text", "file")


def _xlsx_rows(data: bytes) -> list[list[object]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise InvalidInputError(f"not an XLSX workbook ({type(exc).__name__})", "file") from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(max_col=MAX_IMPORT_COLUMNS, values_only=True)
        return [list(row) for row in itertools.islice(rows, MAX_IMPORT_ROWS + 1)]
    finally:
        book.close()


def export_columns(register: Register | str) -> list[str]:
    return [*field_names(Register(register)), *EXPORT_EXTRA]


async def write_export(
    register: Register | str,
    entries: AsyncIterator[StoredEntry],
    target: Path,
    zone: Any,
) -> int:
    """Write a register's entries to ``target`` (.xlsx in openpyxl's write-only mode, or
    .csv), as read: returns how many. Times in the site's zone (``zone``)."""
    columns = export_columns(register)
    count = 0

    def cells(entry: StoredEntry) -> list[str]:
        values = []
        for name in columns:
            value = getattr(entry, name)
            if name.endswith("_at"):
                value = datetime.fromtimestamp(float(value), zone).strftime("%Y-%m-%d %H:%M:%S")
            values.append(spreadsheet_cell(value))  # never a formula (CSV and XLSX alike)
        return values

    if target.suffix.lower() == ".csv":
        with target.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([header(n) for n in columns])
            async for entry in entries:
                writer.writerow(cells(entry))
                count += 1
        return count
    book = Workbook(write_only=True)
    sheet = book.create_sheet(Register(register).value)
    sheet.append([header(n) for n in columns])
    async for entry in entries:
        sheet.append(cells(entry))
        count += 1
    book.save(target)
    return count


def rows_without_numbers(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[int]]:
    """Rows as :meth:`Filings.import_rows` takes them, and each one's number in the file."""
    numbers = [int(r["_row"]) for r in rows]
    return [{k: v for k, v in r.items() if k != "_row"} for r in rows], numbers


def field_form(values: Mapping[str, str | None]) -> dict[str, str]:
    """Options as given (None: not given) → a form of the given ones."""
    return {k: v for k, v in values.items() if v is not None}
