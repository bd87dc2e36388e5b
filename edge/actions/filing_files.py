"""The electronic ledger's files: the import template, an XLSX or CSV file read as rows for
:meth:`edge.actions.filing.Filings.import_rows`, and the export written as it is read
(openpyxl's write-only mode: memory stays flat whatever the ledger's size).

A file's first row names the columns: a field name (``plate``), its Chinese title (``号牌号码``)
or both as the template writes them (``号牌号码 (plate)``). Cells are read as text; dates
that a spreadsheet stored as dates are written ``yyyy-MM-dd``. A code column takes the code
(``1``), its meaning (``黄``) or both as the template's drop-downs write them (``1 黄``).

An export of a register reads back as an import: the columns an export adds (the entry's id,
times and who changed it; the page's 备案状态, licensePK and 证件图片) are ignored, and the
export's meanings (``黄``, ``国六``, ``正常``) and neutralised cells (``'-``) read as typed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from edge.actions.filing import MAX_IMPORT_ROWS, UNCOMPUTED
from edge.actions.inspection import FORMULA_STARTS, REGISTER_EXTRA, spreadsheet_cell
from edge.actions.operator import InvalidInputError
from edge.domain.filing import TITLES, Register, field_names, required_fields
from edge.domain.filing_words import CODE_LISTS, FIELD_HELP, REGISTER_WORDS, code_text
from edge.ledger.rows import StoredEntry

#: Bytes an import file may have (20,000 rows of text fit in a few MB).
MAX_IMPORT_BYTES = 16 * 1024 * 1024
#: Columns read from a workbook (the registers have at most ~30 fields; blank styled columns
#: far to the right are never read).
MAX_IMPORT_COLUMNS = 64
#: Uncompressed bytes a workbook's sheet or shared-strings XML may declare (a register of
#: 20,000 rows is a few tens of MB at most); a member over it is refused before openpyxl
#: reads a byte of it (a "zip bomb": 1 MB of deflated 'A' is 1 GB of XML).
MAX_XML_BYTES = 64 * 1024 * 1024
#: Uncompressed bytes all of a workbook's members may declare together.
MAX_UNZIPPED_BYTES = 128 * 1024 * 1024
#: Compression ratio above which a member (of over 1 MB unpacked) is refused: spreadsheet
#: XML deflates 5–20×; hundreds is a crafted file.
MAX_RATIO = 100
#: Characters a cell may have: no field is longer (an address is 300 at most, §4.2.15).
MAX_CELL_CHARS = 1000
#: What the export adds after an entry's fields.
EXPORT_EXTRA = ("id", "created_at", "created_by", "changed_at", "changed_by")
_HEADER = re.compile(r"^\s*(?:(?P<title>[^()（）]*?)\s*[(（](?P<name>\w+)[)）]|(?P<word>\S+))\s*$")


def column_letter(column: int) -> str:
    """A spreadsheet column's letters (1 → A, 27 → AA), as openpyxl's ``get_column_letter``
    (here so that reading a CSV file does not load openpyxl)."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def header(name: str) -> str:
    """A column's heading as the template and the export write it: ``号牌号码 (plate)``."""
    return f"{TITLES.get(name, name)} ({name})"


#: The template's sheets: the one to fill, the columns described, the code lists.
HELP_SHEET, CODE_SHEET = "填写说明", "代码表"


def sheet_name(register: Register | str) -> str:
    """The sheet of a register's entries in the template and the export: its Chinese name
    (「运输车辆」, 「厂内运输车辆」, 「非道路移动机械」). An import reads a workbook's first
    sheet whatever its name (a template from before, with ``vehicle``, still imports)."""
    return REGISTER_WORDS[Register(register).value]


#: Rows of the sheet to fill that get the code columns' drop-downs (an import's maximum).
VALIDATED_ROWS = MAX_IMPORT_ROWS


def template(register: Register | str) -> bytes:
    """An empty XLSX import template of a register: the sheet to fill (one header row, its
    fields in order; each code column with a drop-down of ``code meaning``), 「填写说明」
    (each column: its heading, meaning, required or not, format, codes with their meaning)
    and 「代码表」 (the code lists the drop-downs read)."""
    from openpyxl import Workbook  # noqa: PLC0415 - openpyxl on first use only (start's RSS)
    from openpyxl.styles import Font  # noqa: PLC0415
    from openpyxl.worksheet.datavalidation import DataValidation  # noqa: PLC0415

    kind = Register(register)
    names = field_names(kind)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_name(kind)
    sheet.append([header(name) for name in names])
    codes = book.create_sheet(CODE_SHEET)
    coded = [n for n in names if n in CODE_LISTS]
    for column, name in enumerate(coded, start=1):
        codes.cell(1, column, TITLES[name]).font = Font(bold=True)
        for row, (code, meaning) in enumerate(CODE_LISTS[name].items(), start=2):
            codes.cell(row, column, f"{code} {meaning}")
        letter, last = column_letter(column), len(CODE_LISTS[name]) + 1
        target = column_letter(names.index(name) + 1)
        choice = DataValidation(
            type="list",
            formula1=f"'{CODE_SHEET}'!${letter}$2:${letter}${last}",
            allow_blank=True,
            errorStyle="warning",  # a code typed alone (``1``) is read too
            showErrorMessage=True,
            errorTitle=TITLES[name],
            error=f"请从下拉列表选择，或只填代码（见「{HELP_SHEET}」）",
        )
        choice.add(f"{target}2:{target}{VALIDATED_ROWS + 1}")
        sheet.add_data_validation(choice)
    _describe(book.create_sheet(HELP_SHEET, 1), kind, coded)
    for column, name in enumerate(names, start=1):
        sheet.column_dimensions[column_letter(column)].width = max(12, 2 * len(TITLES[name]) + 8)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _describe(sheet: Any, register: Register, coded: list[str]) -> None:
    """The 「填写说明」 sheet: one row per column of the register."""
    from openpyxl.styles import Alignment, Font  # noqa: PLC0415 - on first use only

    sheet.append([f"{REGISTER_WORDS[register.value]}台账导入模板：填写说明"])
    sheet.append([
        "每行一个条目；第一行的列名不要改动；带 * 的列必须填写。整个文件无误才导入，"
        "有错时列出每一行的每个错误，一条也不导入。证件图片在导入后逐条上传。"
    ])  # fmt: skip
    sheet.append(["列名", "含义", "必填", "格式", "可填代码（代码 含义）"])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    required = required_fields(register)
    for name in field_names(register):
        meaning, form = FIELD_HELP.get(name, (TITLES[name], ""))
        codes = CODE_LISTS.get(name, {})
        listed = (
            f"见「{CODE_SHEET}」（共 {len(codes)} 个，如 "
            + "、".join(f"{c} {m}" for c, m in list(codes.items())[:3]) + "）"
            if len(codes) > 20
            else "、".join(f"{c} {m}" for c, m in codes.items())
        ) if name in coded else ""  # fmt: skip
        sheet.append([header(name) + (" *" if name in required else ""), meaning,
                      "是" if name in required else "否", form, listed])  # fmt: skip
    for letter, width in zip("ABCDE", (28, 36, 6, 48, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


#: Headings of the columns an export adds, ignored by an import (the round trip).
_EXPORT_ONLY = frozenset({*EXPORT_EXTRA, *(header(n) for n in EXPORT_EXTRA), *REGISTER_EXTRA})


def _column(register: Register, heading: object) -> str | None:
    """The field a heading names (None: a column an export adds, ignored)."""
    names = field_names(register)
    by_title = {TITLES[n]: n for n in names if n in TITLES}
    text = "" if heading is None else str(heading)
    found = _HEADER.match(text)
    candidates = [] if found is None else [found["name"], found["title"], found["word"]]
    if text.strip() in _EXPORT_ONLY or (found is not None and found["name"] in EXPORT_EXTRA):
        return None
    for candidate in candidates:
        if candidate in names:
            return candidate
        if candidate in by_title:
            return by_title[candidate]
    raise InvalidInputError(f"column {text!r} is not a field of {register.value}", "file")


def _as_typed(value: str) -> str:
    """A cell as a person would have typed it: a cell an export neutralised (``'=…``) without
    its apostrophe (a code column's word or drop-down choice is read by the actions)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


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


@dataclass
class _Table:
    """A file's cells, row by row (the heading first); for a workbook, its first sheet's
    name and the cells (row, column; from 1) holding a formula with no result stored."""

    rows: list[list[object]]
    sheet: str = ""
    uncomputed: set[tuple[int, int]] = field(default_factory=set)

    def why_uncomputed(self, number: int, column: int, name: str) -> str:
        """The clerk's sentence for an uncomputed formula cell."""
        where = f"第 {number} 行 {TITLES.get(name, name)}（{column_letter(column)} 列）"
        return f"工作表「{self.sheet}」{where}: {UNCOMPUTED_WORDS}"


#: Why a formula cell with no stored result is refused: openpyxl (like any reader but a
#: spreadsheet program) reads a formula's result as the file stores it, and a file written by
#: a script was never calculated.
UNCOMPUTED_WORDS = "公式没有计算结果，请在 Excel 中打开并保存后再导入"


def read_rows(register: Register | str, data: bytes, filename: str) -> list[dict[str, str]]:
    """The rows of an XLSX or CSV (UTF-8, with or without BOM; GB18030 also read) file, as
    field → text; blank rows skipped (row numbers still count them out: each row's
    ``_row`` is its number in the file). A formula is read as the result the workbook stores;
    a formula cell with none (a file a script wrote, never opened in a spreadsheet program)
    is not read as empty: its row carries ``UNCOMPUTED + field`` → the clerk's sentence
    (sheet, row, column), which the import refuses as that row's error. Raises
    InvalidInputError (``file``)."""
    kind = Register(register)
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInputError(f"over {MAX_IMPORT_BYTES} bytes", "file")
    if filename.lower().endswith(".csv"):
        table = _Table(_csv_rows(data))
    elif filename.lower().endswith((".xlsx", ".xlsm")):
        table = _xlsx_rows(data)
    else:
        raise InvalidInputError("an import is an .xlsx or a .csv file", "file")
    if not table.rows:
        raise InvalidInputError("the file is empty", "file")
    _check_cell_lengths(table.rows)
    # the heading and at most an import's rows (edge.actions.filing.MAX_IMPORT_ROWS), blank
    # ones included: a workbook claiming more (a cell styled far down) is not read on
    if len(table.rows) > MAX_IMPORT_ROWS + 1:
        raise InvalidInputError(f"over {MAX_IMPORT_ROWS} rows", "file")
    if heading := sorted(c for r, c in table.uncomputed if r == 1):
        why = table.why_uncomputed(1, heading[0], "列名")
        raise InvalidInputError(why, "file")
    # a heading cell left blank (a trailing comma, a styled empty cell) names no column
    columns = [None if _text(h) == "" else _column(kind, h) for h in table.rows[0]]
    if not any(columns):
        raise InvalidInputError("no column of the register", "file")
    rows = []
    for number, cells in enumerate(table.rows[1:], start=2):
        values = [_text(c) for c in cells]
        unread = {
            UNCOMPUTED + name: table.why_uncomputed(number, column, name)
            for column, name in enumerate(columns, start=1)
            if name is not None and (number, column) in table.uncomputed
        }
        if not any(values) and not unread:
            continue
        row = {
            name: _as_typed(value)
            for name, value in zip(columns, values, strict=False)
            if value and name is not None
        }
        rows.append({**row, **unread, "_row": str(number)})
    return rows


def _csv_rows(data: bytes) -> list[list[object]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        rows = itertools.islice(csv.reader(io.StringIO(text)), MAX_IMPORT_ROWS + 2)
        try:
            return [list[object](row) for row in rows]
        except csv.Error:  # a field over csv's own limit (128 KiB), a stray NUL
            why = "CSV 文件无法读取（某一格过长，或含有不可识别的字符）"
            raise InvalidInputError(why, "file") from None
    raise InvalidInputError("not UTF-8 or GB18030 text", "file")


def _check_cell_lengths(table: list[list[object]]) -> None:
    """Refuse a cell longer than :data:`MAX_CELL_CHARS`, naming its row and column."""
    for number, cells in enumerate(table, start=1):
        for column, cell in enumerate(cells, start=1):
            if cell is not None and len(str(cell)) > MAX_CELL_CHARS:
                where = f"第 {number} 行第 {column_letter(column)} 列"
                why = f"{where}内容过长（超过 {MAX_CELL_CHARS} 个字符），没有哪一项这么长"
                raise InvalidInputError(why, "file")


NOT_XLSX = "不是 XLSX 工作簿（请另存为 .xlsx）"


def check_zip_sizes(data: bytes) -> None:
    """Refuse a workbook whose members declare more than a register can hold, before any
    is unpacked: a sheet or the shared strings over :data:`MAX_XML_BYTES`, all members over
    :data:`MAX_UNZIPPED_BYTES`, a member over 1 MB packed over :data:`MAX_RATIO` times.
    (Python's zipfile never unpacks more than a member declares, so the declared sizes
    bound what openpyxl reads.) Raises InvalidInputError (``file``, in Chinese)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InvalidInputError(NOT_XLSX, "file") from None
    total = 0
    for member in members:
        total += member.file_size
        xml = member.filename.startswith("xl/worksheets/") or member.filename.endswith(
            "sharedStrings.xml"
        )
        if xml and member.file_size > MAX_XML_BYTES:
            why = (f"工作簿中的工作表解压后 {member.file_size // 2**20} MB，"
                   f"超过 {MAX_XML_BYTES // 2**20} MB 上限，拒绝导入")  # fmt: skip
            raise InvalidInputError(why, "file")
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 2**20 and ratio > MAX_RATIO:
            why = (f"工作簿中的一个部件压缩比 {ratio:.0f} 倍，超过 {MAX_RATIO} 倍，"
                   "疑为恶意构造的文件，拒绝导入")  # fmt: skip
            raise InvalidInputError(why, "file")
    if total > MAX_UNZIPPED_BYTES:
        why = f"工作簿解压后共 {total // 2**20} MB，超过 {MAX_UNZIPPED_BYTES // 2**20} MB 上限"
        raise InvalidInputError(why, "file")


def _xlsx_rows(data: bytes) -> _Table:
    """The first sheet's cells. A workbook with formulas (most have none: one pass, values
    only) is read twice: cell by cell, to find the formulas, then for the results the
    workbook stores of them."""
    check_zip_sizes(data)
    table = _Table([])
    if not _has_formulas(data):  # the common case: values only, one pass
        with _workbook(data, data_only=True) as sheet:
            table.sheet = sheet.title
            rows = sheet.iter_rows(max_col=MAX_IMPORT_COLUMNS, values_only=True)
            table.rows = [list(r) for r in itertools.islice(rows, MAX_IMPORT_ROWS + 2)]
        return table
    formulas: set[tuple[int, int]] = set()
    with _workbook(data, data_only=False) as sheet:
        table.sheet = sheet.title
        for number, row in enumerate(_cells(sheet), start=1):
            values: list[object] = []
            for column, cell in enumerate(row, start=1):
                if cell.data_type == "f":
                    formulas.add((number, column))
                    values.append(None)
                else:
                    values.append(cell.value)
            table.rows.append(values)
    if not formulas:
        return table
    with _workbook(data, data_only=True) as sheet:
        for number, row in enumerate(_cells(sheet), start=1):
            for column, cell in enumerate(row, start=1):
                if (number, column) not in formulas:
                    continue
                # a result stored empty (Excel writes ``t="str"`` and an empty value for "")
                # is read as empty; a formula stored with no result at all is not
                if cell.value is None and cell.data_type != "str":
                    table.uncomputed.add((number, column))
                else:
                    table.rows[number - 1][column - 1] = cell.value
    return table


#: A formula element (``<f>``, ``<f t="shared" …>``, ``<x:f>``) in a sheet's XML.
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(data: bytes) -> bool:
    """Whether any sheet of a workbook holds a formula (its XML scanned in 1 MB chunks; the
    members' sizes are bounded by :func:`check_zip_sizes` first)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                if not name.startswith("xl/worksheets/") or not name.endswith(".xml"):
                    continue
                with archive.open(name) as member:
                    tail = b""
                    while chunk := member.read(2**20):
                        if _FORMULA.search(tail + chunk):
                            return True
                        tail = chunk[-16:]
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError):  # a damaged member
        raise InvalidInputError(NOT_XLSX, "file") from None
    return False


@contextlib.contextmanager
def _workbook(data: bytes, *, data_only: bool) -> Iterator[Any]:
    """A workbook's first sheet, read only (formulas, or their stored results)."""
    from openpyxl import load_workbook  # noqa: PLC0415 - on first use only (start's RSS)

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
        sheet = book.worksheets[0]
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise InvalidInputError(f"not an XLSX workbook ({type(exc).__name__})", "file") from None
    try:
        yield sheet
    finally:
        book.close()


def _cells(sheet: Any) -> Iterator[tuple[Any, ...]]:
    rows = sheet.iter_rows(max_col=MAX_IMPORT_COLUMNS)
    return itertools.islice(rows, MAX_IMPORT_ROWS + 2)


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
            else:  # a code as "F 货运", as the template's drop-downs: read, and imported back
                value = code_text(name, str(value))
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
    from openpyxl import Workbook  # noqa: PLC0415 - on first use only (start's RSS)

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name(register))
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
