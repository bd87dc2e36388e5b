"""``edge vehicles|inner-vehicles|machinery``: the template, an import refused whole with every
bad row named, an import, add with an image, show, export (XLSX opened by openpyxl, CSV), retry,
errors naming the option with exit 2, "none" when empty."""

from __future__ import annotations

import asyncio
import csv
import getpass
import io
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from edge.actions.filing import MAX_IMPORT_ROWS, _parse_rows
from edge.actions.filing_files import header, read_rows, rows_without_numbers
from edge.actions.operator import Action, InvalidInputError
from edge.cli.main import main
from edge.domain.filing import Register
from edge.domain.filing_words import CODE_LISTS
from edge.ledger.store import Store
from edge.sim.jpeg import sample_jpeg
from tests.helpers import write_config
from tests.test_filing import LOADER, TRUCK


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_config(tmp_path / "config.toml", "http://127.0.0.1:9", state="state/")


def run(*argv: str | Path) -> int:
    return main([str(a) for a in argv])


def _workbook(path: Path, heading: list[str], rows: list[list[str]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(heading)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_template_import_show_export(  # noqa: PLR0915 - one scenario
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("vehicles", "show", "--config", config) == 0
    assert capsys.readouterr().out == "none\n"
    assert run("vehicles", "template", "--output", tmp_path / "t.xlsx", "--config", config) == 0
    sheet = load_workbook(tmp_path / "t.xlsx").active
    assert sheet is not None
    heading = [str(c.value) for c in next(sheet.iter_rows())]
    assert heading[:2] == ["号牌号码 (plate)", "号牌颜色 (plate_color)"]
    names = [h.split("(")[1].rstrip(")") for h in heading]

    def row(**values: str) -> list[str]:
        vin = f"LZZAELJD5KA{values['plate'][-5:]}0"  # one vehicle, one VIN
        return [{**TRUCK, "vin": vin, **values}.get(n, "") for n in names]

    rows = [row(plate=f"豫A{n:05d}") for n in range(1, 6)]
    rows[1] = row(plate="豫A00002", emission="9")
    rows[3] = row(plate="豫A00004", vin="")
    bad = _workbook(tmp_path / "bad.xlsx", heading, rows)
    assert run("vehicles", "import", bad, "--config", config) == 2
    err = capsys.readouterr().err
    assert "nothing imported: 2 bad row(s)" in err
    assert "row 3, emission" in err
    assert "row 5, vin: required — 车辆识别代码必须填写" in err  # English, then the page's words
    assert run("vehicles", "show", "--config", config) == 0
    assert capsys.readouterr().out == "none\n"
    rows[1], rows[3] = row(plate="豫A00002"), row(plate="豫A00004")
    rows[0] = row(plate="豫A00001", fleet="@SUM(A1)")  # kept as text, exported never a formula
    good = _workbook(tmp_path / "good.xlsx", heading, rows)
    assert run("vehicles", "import", good, "--config", config) == 0
    assert capsys.readouterr().out == "5 entries imported\n"
    assert run("vehicles", "show", "--search", "豫A0000", "--limit", "2", "--config", config) == 0
    title, *listed = capsys.readouterr().out.splitlines()
    assert title.split() == [
        "id", "plate", "号牌", "colour", "颜色", "status", "状态", "filing", "备案", "VIN", "or",
        "code", "车架号/编码",
    ]  # fmt: skip
    assert [line.split()[1] for line in listed] == ["豫A00005", "豫A00004"]
    colour = TRUCK["plate_color"]
    assert listed[0].split()[2:6] == [colour, CODE_LISTS["plate_color"][colour], "正常", "未备案"]
    assert run("vehicles", "export", "--output", tmp_path / "out.xlsx", "--config", config) == 0
    book = load_workbook(tmp_path / "out.xlsx", read_only=True)
    exported = book.active
    assert exported is not None
    table = list(exported.iter_rows(values_only=True))
    book.close()
    assert table[0][:2] == ("号牌号码 (plate)", "号牌颜色 (plate_color)")
    assert len(table) == 6
    assert table[1][0] == "豫A00001"
    assert table[1][names.index("fleet")] == "'@SUM(A1)"
    shown = [table[1][names.index(n)] for n in ("use_character", "vehicle_type", "plate_color")]
    assert shown == ["F 货运", "H11 重型普通货车", "1 黄"]  # every code with its meaning
    back_rows, numbers = rows_without_numbers(
        read_rows(Register.VEHICLE, (tmp_path / "out.xlsx").read_bytes(), "out.xlsx")
    )
    back, _, problems = _parse_rows(Register.VEHICLE, back_rows, numbers, date(2026, 12, 1))
    assert (len(back), problems) == (5, [])  # and it imports back
    assert run("vehicles", "export", "--output", tmp_path / "out.csv", "--config", config) == 0
    text = (tmp_path / "out.csv").read_text("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) == 6
    assert "'@SUM(A1)" in text
    one = _workbook(tmp_path / "one.xlsx", heading, [row(plate="豫A00006")])
    assert run("vehicles", "import", one, "--config", config) == 0
    assert capsys.readouterr().out.endswith("\n1 entry imported\n")
    assert run("machinery", "show", "--config", config) == 0
    assert capsys.readouterr().out.endswith("none\n")


def test_add_show_and_errors(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "mingpai.jpg"
    image.write_bytes(sample_jpeg("铭牌"))
    options = [x for k, v in LOADER.items() for x in (f"--{k.replace('_', '-')}", v)]
    assert run("machinery", "add", *options, "--nameplate", image, "--config", config) == 0
    assert capsys.readouterr().out.strip().endswith("豫A0001Z added")
    assert run("machinery", "show", "--id", "1", "--config", config) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()  # each line labelled in words, the Chinese term beside the name
    assert lines[0] == "entry 1: 豫A0001Z, 非道路移动机械 (machine)"
    assert "  生产日期 (production_date)    2021-03-01" in lines
    assert "  排放阶段 (emission)           4 国四" in lines  # a code with its meaning
    assert any(line.startswith("  发动机铭牌 (nameplate) ") for line in lines)
    assert "filing with the platform (platform.mode: city):" in lines
    assert any(line.startswith("  city platform (市级平台): 待受理 (sent or queued, not accepted")
               for line in lines)  # fmt: skip
    assert "  #1 to the city platform (市级平台): waiting to be sent, 0 attempt(s)" in lines
    assert "filing city" not in out
    assert any(" added: plate '豫A0001Z', name '轮式装载机', emission '4'," in line
               for line in lines)  # fmt: skip
    assert run("machinery", "add", *options[:-2], "--emission", "Q", "--config", config) == 2
    refused = capsys.readouterr().err
    assert refused.startswith("--emission:")
    assert "排放阶段「Q」不是规定的代码" in refused
    assert run("machinery", "add", *options, "--config", config) == 2
    assert "already" in capsys.readouterr().err
    assert run("machinery", "add", *options, "--nameplate", tmp_path / "no.jpg",
               "--config", config) == 2  # fmt: skip
    assert capsys.readouterr().err.startswith("--nameplate:")
    assert run("machinery", "show", "--id", "9", "--config", config) == 1
    assert run("machinery", "retry", "--config", config) == 1
    assert capsys.readouterr().out.endswith("none\n")
    bogus = tmp_path / "x.txt"
    bogus.write_text("hello")
    assert run("inner-vehicles", "import", bogus, "--config", config) == 2
    assert "--file" in capsys.readouterr().err
    long_cell = tmp_path / "long.csv"  # no field is over 1,000 characters
    long_cell.write_text(f"号牌号码,住址\n豫A12345,{'路' * 1001}\n", encoding="utf-8")
    assert run("inner-vehicles", "import", long_cell, "--config", config) == 2
    assert "第 2 行第 B 列内容过长" in capsys.readouterr().err


def test_reading_csv_and_headings() -> None:
    text = "号牌号码,plate_color,车辆识别代码 (vin)\n豫A12345,1,LZZ\n,,\n豫A22222,1,X\n"
    rows = read_rows("vehicle", text.encode("gb18030"), "a.csv")
    assert rows == [
        {"plate": "豫A12345", "plate_color": "1", "vin": "LZZ", "_row": "2"},
        {"plate": "豫A22222", "plate_color": "1", "vin": "X", "_row": "4"},
    ]
    assert header("vin") == "车辆识别代码 (vin)"
    with pytest.raises(InvalidInputError, match="not a field"):
        read_rows("machine", b"vin\nX\n", "a.csv")
    with pytest.raises(InvalidInputError, match="XLSX"):
        read_rows("machine", b"PK not really", "a.xlsx")
    with pytest.raises(InvalidInputError, match="empty"):
        read_rows("machine", b"", "a.csv")


def test_a_workbook_styled_far_out_is_refused_unread_and_blank_headings_are_ignored() -> None:
    """Excel often writes a styled empty cell far down or far right: such a 5 KB workbook
    must be refused (or read) in bounded memory, never expanded to every cell it claims."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["号牌号码", "plate_color", None, "vin"])  # a blank heading cell
    sheet.append(["豫A12345", "1", None, "LZZ"])
    sheet["XFD8"] = "x"  # a cell in the last column: never read
    out = io.BytesIO()
    book.save(out)
    rows = read_rows("vehicle", out.getvalue(), "a.xlsx")
    assert rows == [{"plate": "豫A12345", "plate_color": "1", "vin": "LZZ", "_row": "2"}]
    sheet["A200000"] = "x"  # far down
    out = io.BytesIO()
    book.save(out)
    assert len(out.getvalue()) < 20_000
    with pytest.raises(InvalidInputError, match=f"over {MAX_IMPORT_ROWS} rows"):
        read_rows("vehicle", out.getvalue(), "a.xlsx")
    # one limit: a file of as many rows as an import takes is read, one more is refused
    most = "".join(f"豫A{n:05d},1\n" for n in range(MAX_IMPORT_ROWS))
    assert len(read_rows("vehicle", f"号牌号码,plate_color\n{most}".encode(), "a.csv")) == (
        MAX_IMPORT_ROWS
    )
    with pytest.raises(InvalidInputError, match=f"over {MAX_IMPORT_ROWS} rows"):
        read_rows("vehicle", f"号牌号码,plate_color\n{most}豫B00000,1\n".encode(), "a.csv")
    trailing = "号牌号码,plate_color,\n豫A12345,1,\n".encode()  # Excel's trailing comma
    assert read_rows("vehicle", trailing, "a.csv") == [
        {"plate": "豫A12345", "plate_color": "1", "_row": "2"}
    ]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("vehicles", "template", "--output", "/nonexistent/t.xlsx"), "--output: no directory"),
        (("vehicles", "export", "--output", "/nonexistent/v.csv"), "--output: no directory"),
        (("vehicles", "export", "--output", "v.txt"), "--output: name a .xlsx or .csv file"),
        (("vehicles", "template", "--output", "t.csv"), "--output: name a .xlsx file"),
        (
            (
                "ledger",
                "export",
                "--from",
                "2026-12-01",
                "--to",
                "2026-12-01",
                "--out",
                "/nonexistent/e.xlsx",
            ),
            "--out: no directory",
        ),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_any_work(
    config: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], said: str
) -> None:
    assert run(*argv, "--config", config) == 2
    captured = capsys.readouterr()
    assert said in captured.err
    assert "Traceback" not in captured.err + captured.out


def _ledger(config: Path) -> Path:
    return config.parent / "state" / "edge.db"


def test_edit_status_and_attach_act_on_one_entry_and_queue_its_filing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's actions on one entry from the command line: each authorised as the login
    running it, audited once, and queued for the configured platform as the page queues
    them (an entry becomes sendable once its 行驶证 is attached; each later change files it
    again); nothing to do exits 1; a bad option or field is named with exit 2."""
    assert run("vehicles", "edit", "1", "--fleet", "二车队", "--config", config) == 1
    assert capsys.readouterr().out == "no entry 1\n"
    assert not _ledger(config).exists()  # nothing to edit: no ledger made
    options = [x for k, v in TRUCK.items() for x in (f"--{k.replace('_', '-')}", v)]
    assert run("vehicles", "add", *options, "--config", config) == 0
    assert "未备案" in capsys.readouterr().out  # no image yet: not sendable
    licence = tmp_path / "licence.jpg"
    licence.write_bytes(sample_jpeg("行驶证"))

    assert run("vehicles", "attach", "1", "--driving-license", licence, "--config", config) == 0
    assert capsys.readouterr().out.startswith("entry 1: 豫A12345: driving_license ")
    assert run("vehicles", "edit", "1", "--fleet", "二车队", "--emission", "5",
               "--config", config) == 0  # fmt: skip
    assert capsys.readouterr().out == "entry 1: 豫A12345: changed emission, fleet\n"
    assert run("vehicles", "edit", "1", "--fleet", "二车队", "--config", config) == 1
    assert capsys.readouterr().out == "entry 1: nothing changed\n"
    assert run("vehicles", "status", "1", "封存", "--config", config) == 0
    assert capsys.readouterr().out == (  # a transport vehicle's methods carry no status
        "note: 状态已改：运输车辆备案接口没有状态字段，平台所存内容未变，不报送平台\n"
        "entry 1: 豫A12345: 封存\n"
    )
    assert run("vehicles", "status", "1", "2", "--config", config) == 1
    assert capsys.readouterr().out == "entry 1: already 封存\n"

    async def stored() -> tuple[Any, ...]:
        store = await Store.open(_ledger(config))
        try:
            entry = await store.get_entry(1)
            return (
                entry,
                await store.filing_outbox_of(1),
                await store.filings_of(1),
                await store.entry_history(1),
                await store.audit_log(),
            )
        finally:
            await store.close()

    entry, outbox, filings, history, audit = asyncio.run(stored())
    assert entry is not None
    assert (entry.fleet, entry.emission, entry.status) == ("二车队", "5", "2")
    assert [(o.platform, o.state) for o in outbox] == [("city", "pending")]  # one, sent as it is
    assert [(f.platform, f.state) for f in filings] == [("city", "sent")]
    assert [h.action for h in history] == ["add", "image", "modify", "status"]
    assert {h.actor for h in history} == {getpass.getuser()}
    assert [(a.action, a.result, a.origin, a.actor) for a in reversed(audit)] == [
        (action.value, result, "cli", getpass.getuser())
        for action, result in [
            (Action.ADD_ENTRY, "ok"), (Action.ATTACH_IMAGE, "ok"), (Action.MODIFY_ENTRY, "ok"),
            (Action.MODIFY_ENTRY, "failed"), (Action.ENTRY_STATUS, "ok"),
            (Action.ENTRY_STATUS, "failed"),
        ]
    ]  # fmt: skip


def test_edit_status_and_attach_name_what_is_wrong(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = [x for k, v in TRUCK.items() for x in (f"--{k.replace('_', '-')}", v)]
    assert run("vehicles", "add", *options, "--config", config) == 0
    licence = tmp_path / "licence.jpg"
    licence.write_bytes(sample_jpeg("行驶证"))
    capsys.readouterr()
    assert run("machinery", "status", "1", "注销", "--config", config) == 1  # not a machine
    assert capsys.readouterr().out == "no entry 1\n"
    assert run("vehicles", "status", "1", "停用", "--config", config) == 2
    assert "1 正常, 2 封存 or 3 注销" in capsys.readouterr().err
    assert run("vehicles", "edit", "1", "--vin", "LZZ", "--config", config) == 2
    assert capsys.readouterr().err.startswith("--vin:")
    assert run("vehicles", "attach", "1", "--emission-list", tmp_path / "none.jpg",
               "--config", config) == 2  # fmt: skip
    assert capsys.readouterr().err.startswith("--emission-list:")
    bogus = tmp_path / "x.jpg"
    bogus.write_bytes(b"not an image")
    assert run("vehicles", "attach", "1", "--emission-list", bogus, "--config", config) == 2
    assert "随车清单" in capsys.readouterr().err
    for refused_by_argparse in (
        ["edit", "1", "--plate", "豫A54321"],  # plate and colour identify the entry
        ["attach", "1"],  # one image
        ["attach", "1", "--driving-license", licence, "--emission-list", licence],
        ["attach", "1", "--nameplate", licence],  # a machine's
    ):
        with pytest.raises(SystemExit) as exited:
            run("vehicles", *refused_by_argparse, "--config", config)
        assert exited.value.code == 2
    capsys.readouterr()
    assert run("vehicles", "status", "1", "注销", "--config", config) == 0
    assert run("vehicles", "show", "--id", "1", "--config", config) == 0
    assert "注销" in capsys.readouterr().out


def test_an_import_of_a_formula_with_no_result_names_its_cell_once(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["plate", "plate_color", "vin", "engine_no", "register_date", "emission"]
    row = ["豫A00001", "1", '="LZZAELJD5KA" & "000010"', "E1", "2019-05-01", "6"]
    book = _workbook(tmp_path / "script.xlsx", [header(n) for n in names], [row])
    assert run("vehicles", "import", book, "--config", config) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "nothing imported: 1 bad row(s)",
        "  row 2, vin: 工作表「Sheet」第 2 行 车辆识别代码（C 列）: "
        "公式没有计算结果，请在 Excel 中打开并保存后再导入",
    ]


@pytest.mark.parametrize(("color", "emission"), [("黄", "国六"), ("1 黄", "6 国六"), ("1", "6")])
def test_add_takes_a_code_as_the_import_does(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], color: str, emission: str
) -> None:
    """``--plate-color 黄``, ``--emission 国六``, the drop-down's ``1 黄`` or the code: the
    command line reads a code as the import does (one parser), and stores the code."""
    image = tmp_path / "xingshizheng.jpg"
    image.write_bytes(sample_jpeg("豫A12345"))
    form = {**TRUCK, "plate_color": color, "emission": emission}
    options = [x for k, v in form.items() for x in (f"--{k.replace('_', '-')}", v)]
    assert run("vehicles", "add", *options, "--driving-license", image, "--config", config) == 0
    assert capsys.readouterr().out.strip().endswith("豫A12345 added")
    assert run("vehicles", "edit", "1", "--emission", "国五", "--config", config) == 0
    assert run("vehicles", "show", "--id", "1", "--config", config) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("  号牌颜色 (plate_color)") and line.endswith("1 黄") for line in lines
    )
    assert any(
        line.startswith("  排放阶段 (emission)") and line.endswith("5 国五") for line in lines
    )


def test_a_refused_add_is_audited_once_and_said_in_chinese(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like the page: a command-line add refused for its fields is audited once (with a
    ledger to audit it in); an unreadable file and an import over the row limit are said in
    the clerk's words too, after the English."""
    options = [x for k, v in TRUCK.items() for x in (f"--{k.replace('_', '-')}", v)]
    assert run("vehicles", "add", *options, "--config", config) == 0
    bad: list[str | Path] = [*options[:-4], "--emission", "Q", "--config", config]
    assert run("vehicles", "add", *bad, "--plate", "豫A54321") == 2
    assert "排放阶段「Q」不是规定的代码" in capsys.readouterr().err
    assert run("vehicles", "add", *options, "--driving-license", tmp_path / "no.jpg",
               "--config", config) == 2  # fmt: skip
    assert capsys.readouterr().err == (
        "--driving-license: No such file or directory — 行驶证：找不到这个文件\n"
    )
    assert run("vehicles", "import", tmp_path / "none.csv", "--config", config) == 2
    assert capsys.readouterr().err.endswith(" — 文件：找不到这个文件\n")
    many = tmp_path / "many.csv"
    many.write_text("号牌号码\n" + "豫A12345\n" * (MAX_IMPORT_ROWS + 1), encoding="utf-8")
    assert run("vehicles", "import", many, "--config", config) == 2
    assert capsys.readouterr().err.endswith(f"— 文件超过 {MAX_IMPORT_ROWS} 行，请分开导入\n")

    async def audited() -> list[tuple[str, str]]:
        store = await Store.open(_ledger(config))
        try:
            return [(a.action, a.result) for a in reversed(await store.audit_log())]
        finally:
            await store.close()

    audit = asyncio.run(audited())
    assert [a for a in audit if a[0] == Action.ADD_ENTRY.value] == [
        (Action.ADD_ENTRY.value, "ok"), (Action.ADD_ENTRY.value, "refused"),
    ]  # fmt: skip


@pytest.mark.parametrize("command", [["vehicles", "show"], ["vehicles", "show", "--id", "1"]])
def test_a_list_read_by_a_reader_that_went_away_ends_quietly(
    config: Path, command: list[str]
) -> None:
    """``edge vehicles show … | head -1``: the reader closed the pipe before the list was
    written — no BrokenPipeError traceback, nothing on stderr, SIGPIPE's exit code (141)."""
    options = [x for k, v in TRUCK.items() for x in (f"--{k.replace('_', '-')}", v)]
    assert run("vehicles", "add", *options, "--config", config) == 0
    argv = [sys.executable, "-m", "edge.cli.main", *command, "--config", str(config)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        proc.stdout.close()  # the reader gone before the command writes a line
        try:
            _out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert (proc.returncode, err.decode()) == (141, "")
