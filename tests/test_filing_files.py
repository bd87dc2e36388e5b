"""The electronic ledger's files (issue 15): the import template describes every column and
offers the code lists as drop-downs, and an export of each register imports back unchanged
into an empty ledger (the CLI's XLSX and CSV, the page's XLSX)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import AsyncIterator, Mapping
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import column_index_from_string, get_column_letter

from edge.actions.filing import Filings, ImportRefusedError, _parse_rows
from edge.actions.filing_files import (
    CODE_SHEET,
    HELP_SHEET,
    column_letter,
    header,
    read_rows,
    rows_without_numbers,
    sheet_name,
    template,
    write_export,
)
from edge.actions.inspection import write_register_workbook
from edge.actions.operator import InvalidInputError
from edge.domain.filing import (
    TITLES,
    Register,
    entry_form,
    field_names,
    required_fields,
)
from edge.domain.filing_words import CODE_LISTS, is_chinese, words
from edge.ledger.store import Store
from tests.test_filing import CLERK, LOADER, TRUCK, _operator

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("register", list(Register))
def test_the_template_describes_every_column_and_offers_the_codes(register: Register) -> None:
    book = load_workbook(io.BytesIO(template(register)))
    assert book.sheetnames == [sheet_name(register), HELP_SHEET, CODE_SHEET]
    assert book.sheetnames[0] in ("运输车辆", "厂内运输车辆", "非道路移动机械")
    names = field_names(register)
    sheet = book[sheet_name(register)]
    assert [c.value for c in sheet[1]] == [header(n) for n in names]
    described = {
        str(row[0]).removesuffix(" *"): row
        for row in book[HELP_SHEET].iter_rows(min_row=4, values_only=True)
    }
    assert list(described) == [header(n) for n in names]
    for name in names:
        _heading, meaning, required, form, codes = described[header(name)]
        assert meaning, name
        assert form, name
        assert required == ("是" if name in required_fields(register) else "否")
        if name in CODE_LISTS and len(CODE_LISTS[name]) <= 20:
            assert codes == "、".join(f"{c} {m}" for c, m in CODE_LISTS[name].items())
        elif name in CODE_LISTS:
            assert CODE_SHEET in str(codes)
    drop_downs = {}
    for rule in sheet.data_validations.dataValidation:
        (cells,) = rule.sqref.ranges
        drop_downs[names[cells.min_col - 1]] = (rule.type, rule.formula1, cells.max_row)
    coded = [n for n in names if n in CODE_LISTS]
    assert sorted(drop_downs) == sorted(coded)
    code_sheet = book[CODE_SHEET]
    for name, (kind, formula, last_row) in drop_downs.items():
        assert (kind, last_row) == ("list", 20_001)
        column = str(formula).split("!")[1].split(":")[0].strip("$").rstrip("0123456789")
        index = column_index_from_string(column.strip("$"))
        cells = [r[0] for r in code_sheet.iter_rows(min_col=index, max_col=index, values_only=True)]
        listed = [c for c in cells[1:] if c]
        assert cells[0] == TITLES[name]
        assert listed == [f"{c} {m}" for c, m in CODE_LISTS[name].items()]
        assert formula.endswith(f"${len(listed) + 1}")


def test_a_row_filled_from_the_drop_downs_imports() -> None:
    book = load_workbook(io.BytesIO(template(Register.VEHICLE)))
    sheet = book["运输车辆"]
    picked = {**TRUCK, "plate_color": "1 黄", "vehicle_type": "H11 重型普通货车",
              "use_character": "F 货运", "emission": "国六", "status": "2 封存"}  # fmt: skip
    sheet.append([picked.get(n, "") for n in field_names(Register.VEHICLE)])
    out = io.BytesIO()
    book.save(out)
    rows, numbers = rows_without_numbers(read_rows(Register.VEHICLE, out.getvalue(), "f.xlsx"))
    # the words are read as codes where every face's rows go: the actions (Filings)
    (entry,), _, problems = _parse_rows(Register.VEHICLE, rows, numbers, date(2026, 12, 1))
    assert problems == []
    form = entry_form(entry)
    assert (form["plate_color"], form["vehicle_type"], form["use_character"]) == ("1", "H11", "F")
    assert (form["emission"], form["status"]) == ("6", "2")


ENTRIES = {
    Register.VEHICLE: [
        TRUCK,
        {
            **TRUCK,
            "plate": "冀A54321",
            "vin": "LSVAG2180E2100002",
            "plate_color": "4",
            "owner": "-某公司",
            "fleet": "",
            "emission": "D",
            "address": "=SUM(A1)",
            "issue_date": "2020-02-29",
        },
        {
            "plate": "豫B00001",
            "plate_color": "0",
            "vin": "LSVAG2180E2100001",
            "engine_no": "E1",
            "register_date": "2010-01-01",
            "emission": "3",
            "status": "3",
        },
    ],
    Register.INNER: [
        {**TRUCK, "plate": "厂内01"},
        {
            **TRUCK,
            "plate": "INNER-0002",
            "plate_color": "5",
            "status": "2",
            "model": "+型号",
            "vin": "LSVAG2180E2100003",
        },
    ],
    Register.MACHINE: [
        LOADER,
        {**LOADER, "plate": "厂内叉车07", "name": "叉车", "emission": "X", "status": "2"},
    ],
}


@pytest.fixture
async def two_ledgers(tmp_path: Path) -> AsyncIterator[tuple[Filings, Filings]]:
    first = await Store.open(tmp_path / "first.db")
    second = await Store.open(tmp_path / "second.db")
    try:
        yield (
            Filings(_operator(first), tmp_path / "p1"),
            Filings(_operator(second), tmp_path / "p2"),
        )
    finally:
        await first.close()
        await second.close()


async def _forms(filings: Filings, register: Register) -> list[dict[str, str]]:
    return [entry_form(e.entry()) async for e in filings.store.export_entries(register.value)]


@pytest.mark.parametrize("form", ["cli.xlsx", "cli.csv", "page.xlsx"])
async def test_an_export_imports_back_unchanged(
    two_ledgers: tuple[Filings, Filings], tmp_path: Path, form: str
) -> None:
    """Export → import into an empty ledger gives the same entries, for all three registers:
    the export's own columns (id, times, who; filing state, licensePK, images) are ignored,
    its words for codes (黄, 国六, 封存) and neutralised cells (``'-``) read as typed."""
    source, target = two_ledgers
    for register, entries in ENTRIES.items():
        for entry in entries:
            assert (await source.add(CLERK, register.value, entry)).ok  # status too
        path = tmp_path / f"{register.value}-{form}"
        if form == "page.xlsx":
            await write_register_workbook(source.store, register, path)
        else:
            await write_export(register, source.store.export_entries(register.value), path, SH)
            if form.endswith(".xlsx"):
                assert load_workbook(path, read_only=True).sheetnames == [sheet_name(register)]
        read = read_rows(register, path.read_bytes(), path.name)
        rows, numbers = rows_without_numbers(read)
        done = await target.import_rows(CLERK, register.value, rows, numbers=numbers)
        assert done.count == len(entries)
        assert await _forms(target, register) == await _forms(source, register)
    vehicles = await _forms(target, Register.VEHICLE)
    assert [(v["owner"], v["address"], v["status"]) for v in vehicles[1:]] == [
        ("-某公司", "=SUM(A1)", "1"), ("", "", "3"),
    ]  # fmt: skip


def _bomb(path: Path, megabytes: int) -> None:
    """An XLSX whose sheet1.xml holds one inline-string cell of ``megabytes`` MB of 'A',
    deflated as it is written (the test never holds it in memory)."""
    from zipfile import ZIP_DEFLATED, ZipFile

    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxml'
            'formats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
            'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships"><sheets><sheet name="vehicle" sheetId="1" r:id="rId1"/>'
            "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>'
        ),
    }
    with ZipFile(path, "w", ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr">'
                b"<is><t>"
            )
            chunk = b"A" * 2**20
            for _ in range(megabytes):
                sheet.write(chunk)
            sheet.write(b"</t></is></c></row></sheetData></worksheet>")


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    """A small XLSX holding 160 MB of XML once unpacked (the review's had 1,000 MB: the same
    refusal, 6× the deflating time): refused from the members' declared sizes, the process's
    memory unmoved (openpyxl would have built the whole 160 MB cell)."""
    import resource

    path = tmp_path / "bomb.xlsx"
    _bomb(path, 160)
    data = path.read_bytes()
    assert len(data) < 2**20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(InvalidInputError, match="工作表解压后 160 MB") as refused:
        read_rows("vehicle", data, "bomb.xlsx")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < 48 * 1024, f"peak RSS grew {grown} KiB"
    assert refused.value.key == "file"
    assert is_chinese(words("file", refused.value.detail))  # the page shows it as said


def test_a_cell_too_long_is_refused_naming_its_row_and_column() -> None:
    heading = ",".join(header(n) for n in ("plate", "plate_color", "address"))
    text = f"{heading}\n沪A12345,1,{'路' * 1001}\n"
    with pytest.raises(InvalidInputError, match="第 2 行第 C 列内容过长") as refused:
        read_rows("vehicle", text.encode(), "a.csv")
    assert is_chinese(words("file", refused.value.detail))
    book = io.BytesIO()
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["号牌号码 (plate)", "住址 (address)"])
    sheet.append(["沪A12345", "x" * 1001])
    workbook.save(book)
    with pytest.raises(InvalidInputError, match="第 2 行第 B 列内容过长"):
        read_rows("vehicle", book.getvalue(), "a.xlsx")
    huge = f"{heading}\n沪A12345,1,{'x' * 200_000}\n"  # over csv's own field limit
    with pytest.raises(InvalidInputError, match="CSV 文件无法读取") as refused:
        read_rows("vehicle", huge.encode(), "a.csv")
    assert is_chinese(words("file", refused.value.detail))


def _with_results(workbook: bytes, results: Mapping[str, str]) -> bytes:
    """``workbook`` (openpyxl's, whose formulas have no stored result) as a spreadsheet
    program saves it: the cells named in ``results`` (``"C5"``) hold that text result
    (``""``: the formula's result is the empty text, stored as Excel stores it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for cell, value in results.items():
                    found = re.search(rf'<c r="{cell}"><f>(.*?)</f><v></v></c>', text)
                    assert found is not None, cell
                    stored = f'<c r="{cell}" t="str"><f>{found[1]}</f><v>{value}</v></c>'
                    text = text.replace(found[0], stored)
                data = text.encode()
            target.writestr(member, data)
    return out.getvalue()


async def test_a_formula_with_no_stored_result_is_refused_naming_its_sheet_row_and_column(
    two_ledgers: tuple[Filings, Filings],
) -> None:
    """A workbook a script wrote (openpyxl: formulas, no results): a formula cell is not read
    as empty (a required field) nor dropped (an optional one) but refused in its row, in the
    clerk's words naming the sheet, row and column; the other rows are still read (their own
    errors named too), and nothing is imported (an import is all or nothing). Saved by a
    spreadsheet program (results stored, the empty text too) the same formulas import."""
    filings, _ = two_ledgers
    names = ["plate", "plate_color", "vin", "engine_no", "register_date", "emission", "fleet"]
    good = {**TRUCK, "register_date": "2019-05-01"}
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "车辆"
    sheet.append([header(n) for n in names])
    sheet.append([good[n] for n in names])  # row 2: plain values
    sheet.append(["沪A00003", "1", '="LSVAG2180E" & "2100003"', "E3", "2019-05-01", "6", "一车队"])
    sheet.append(["沪A00004", "1", "LSVAG2180E2100004", "E4", "2019-05-01", "6", '="二" & "车队"'])
    sheet.append(["沪A00005", "9", "LSVAG2180E2100005", "E5", "2019-05-01", "6", '=""'])
    written = io.BytesIO()
    workbook.save(written)

    rows = read_rows(Register.VEHICLE, written.getvalue(), "script.xlsx")
    assert [r["_row"] for r in rows] == ["2", "3", "4", "5"]
    assert "vin" not in rows[1]
    assert "fleet" not in rows[2]
    with pytest.raises(ImportRefusedError) as refused:
        await filings.import_rows(CLERK, "vehicle", *rows_without_numbers(rows)[:1],
                                  numbers=rows_without_numbers(rows)[1])  # fmt: skip
    said = {(p.row, p.field): words(p.field, p.reason) for p in refused.value.problems}
    why = "公式没有计算结果，请在 Excel 中打开并保存后再导入"
    assert said[3, "vin"] == f"工作表「车辆」第 3 行 车辆识别代码（C 列）: {why}"
    assert said[4, "fleet"] == f"工作表「车辆」第 4 行 车队名称（G 列）: {why}"
    assert (5, "plate_color") in said  # the other rows are read and checked as ever
    assert sorted(said) == [(3, "vin"), (4, "fleet"), (5, "fleet"), (5, "plate_color")]
    assert await _forms(filings, Register.VEHICLE) == []  # nothing half-imported

    saved = _with_results(written.getvalue(), {"C3": "LSVAG2180E2100003", "G4": "二车队", "G5": ""})
    rows = read_rows(Register.VEHICLE, saved, "saved.xlsx")
    assert (rows[1]["vin"], rows[2]["fleet"], "fleet" in rows[3]) == (
        "LSVAG2180E2100003", "二车队", False
    )  # fmt: skip
    rows[3]["plate_color"] = "1"
    done = await filings.import_rows(CLERK, "vehicle", *rows_without_numbers(rows)[:1])
    assert done.count == 4


def test_a_heading_that_is_a_formula_with_no_result_is_refused() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["号牌号码 (plate)", '="号牌" & "颜色"'])
    sheet.append(["沪A12345", "1"])
    written = io.BytesIO()
    workbook.save(written)
    with pytest.raises(
        InvalidInputError, match="第 1 行 列名（B 列）: 公式没有计算结果"
    ) as refused:
        read_rows(Register.VEHICLE, written.getvalue(), "a.xlsx")
    assert refused.value.key == "file"


def test_a_workbook_with_a_damaged_sheet_is_refused_as_not_a_workbook() -> None:
    written = io.BytesIO()
    Workbook().save(written)
    data = bytearray(written.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        member = archive.getinfo("xl/worksheets/sheet1.xml")
    start = member.header_offset + 30 + len(member.filename.encode()) + len(member.extra)
    data[start : start + member.compress_size] = b"\xff" * member.compress_size
    with pytest.raises(InvalidInputError, match="不是 XLSX 工作簿") as refused:
        read_rows(Register.VEHICLE, bytes(data), "damaged.xlsx")
    assert refused.value.key == "file"


@pytest.mark.parametrize("title", ["运输车辆", "vehicle"], ids=["now", "a template from before"])
def test_the_sheet_to_fill_is_read_whatever_its_name(title: str) -> None:
    """The template's sheet is named in Chinese (as the page's tabs and the errors say it);
    a template downloaded before (its sheet ``vehicle``) still imports; the export's sheet
    has the same Chinese name."""
    book = load_workbook(io.BytesIO(template(Register.VEHICLE)))
    book.worksheets[0].title = title
    book.worksheets[0].append([TRUCK.get(n, "") for n in field_names(Register.VEHICLE)])
    out = io.BytesIO()
    book.save(out)
    (row,) = read_rows(Register.VEHICLE, out.getvalue(), "filled.xlsx")
    assert row["plate"] == TRUCK["plate"]


def test_column_letters_are_openpyxls() -> None:
    """The import's messages name columns as openpyxl (and a spreadsheet) does, without
    loading openpyxl for a CSV file."""
    for column in (*range(1, 800), 16383, 16384):
        assert column_letter(column) == get_column_letter(column)
