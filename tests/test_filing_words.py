"""The electronic ledger's refusals in Chinese (edge/domain/filing_words.py): every rule's
reason for every field of every register, the operator's refusals, the import file's and the
notes after a save, each a Chinese sentence naming what is wrong."""

from __future__ import annotations

import pytest

from edge.domain.filing import FilingError, Register, check_image, field_names, parse_entry
from edge.domain.filing_words import (
    UNKNOWN,
    UPLOAD_KINDS,
    dead_letter_words,
    is_chinese,
    note_words,
    refusal_words,
    title,
    words,
)

BAD = (
    "",
    "x" * 400,
    "??",
    "2020-02-30",
    "2020-13-01",
    "abc",
    "9",
    "国六",
    "ZZZ",
    "<b>",
    "张\x00三",
)


def _said(field: str | None, reason: str) -> str:
    said = words(field, reason)
    assert is_chinese(said), (field, reason, said)
    assert said != UNKNOWN.format(title=title(field or "") or "输入"), (field, reason)
    return said


@pytest.mark.parametrize("register", list(Register))
def test_every_field_refused_is_said_in_chinese(register: Register) -> None:
    reasons = set()
    for name in field_names(register):
        for bad in BAD:
            with pytest.raises(FilingError) as caught:
                parse_entry(register, {name: bad})
            reasons |= {(p.field, p.reason) for p in caught.value.problems}
    for field, reason in reasons:
        said = _said(field, reason)
        assert title(field) in said or "「" in said, said
    assert len(reasons) > 3 * len(field_names(register))


def test_codes_are_listed_with_their_meaning() -> None:
    assert words("emission", "'9' is not a code of §7.6").endswith("D 电动、X 无")
    assert "0 蓝、1 黄" in words("plate_color", "'7' is not §7.1 0-5")
    assert "R 危险品运输" in words("use_character", "'Z' is not a code of §7.8 A-S")
    assert "填写说明" in words("vehicle_type", "'Z99' is not a code of §7.7")
    long = words("emission", "'XXXX…(400 characters)' is not a code of §7.6")
    assert "（共 400 个字符）" in long


@pytest.mark.parametrize(
    ("field", "reason", "part"),
    [
        ("plate", "豫A12345 is in the ledger already (entry 3)", "已在台账中（条目 3）"),
        (
            "vin",
            "16 characters, a VIN has 17 (GB 16735)",
            "车辆识别代码应为 17 位（GB 16735），现为 16 位",
        ),
        (
            "vin",
            "I, Q not used in a VIN (GB 16735: I, O, Q)",
            "不能含字母 I、O、Q（GB 16735），请核对：I, Q",
        ),
        ("register_date", "2027-01-01 is after today (2026-12-01)", "注册日期 2027-01-01 晚于今天"),
        ("plate", "also in row 2", "与第 2 行"),
        ("vin", "VIN also in row 4", "与第 4 行的车辆识别代码重复"),
        (
            "vin",
            "VIN LZZAELJD5KA123456 is on 豫A12345 already (entry 3)",
            "已登记在 豫A12345（条目 3）",
        ),
        ("plate", "plate and colour cannot change: add a new entry, set this one to 注销", "注销"),
        ("status", "'9' is not 1 正常, 2 封存 or 3 注销", "状态「9」"),
        ("id", "no entry 7", "没有编号为 7"),
        ("id", "bad id", "编号无效"),
        (None, "nothing changed", "没有改动"),
        (None, "already 封存", "已经是封存"),
        (None, "not a dead filing", "不在待重发"),
        ("register", "'bus' is not a register", "没有这个台账"),
        (None, "form is not a valid multipart body (Reading after EOF)", "表单无法读取"),
        ("file", "an import is an .xlsx or a .csv file", ".xlsx 或 .csv"),
        ("file", "the file is empty", "空"),
        ("to", "more than 400 days: export in pieces", "一次最多导出 400 天"),
        ("gate", "not a gate code", "道闸编号无效"),
        ("plate", "over 16 characters", "号牌号码超过 16 个字符"),
        ("file", "no column of the register", "导入模板"),
        ("file", "over 50000 rows", "50000 行"),
        ("rows", "more than 20000 rows", "20000 行"),
        ("file", "over 16777216 bytes", "16 MB"),
        ("file", "column 'colour' is not a field of machine", "列「colour」不是非道路移动机械"),
        ("file", "not UTF-8 or GB18030 text", "编码"),
        ("file", "not an XLSX workbook (BadZipFile)", "不是 XLSX"),
        ("image", "'nameplate' is not one of driving_license, emission_list", "行驶证、随车清单"),
        ("driving_license", "1200000 bytes, over the platform's 1000000", "1.2 MB"),
        ("driving_license", "over 40000000 px", "像素"),
        ("emission_list", "not an image (JPEG, PNG, BMP or WebP)", "随车清单不是可识别的图片"),
        (
            "driving_license",
            "not a decodable JPEG (Corrupt JPEG data: premature end of data segment)",
            "行驶证不是可识别的图片",
        ),
        ("nameplate", "over 20000000 bytes", "发动机铭牌图片文件过大"),
        ("image", "platform: timed out", "平台未能处理"),
        ("images", "行驶证与随车清单不能同时为空", "不能同时为空"),
    ],
)
def test_refusals_beyond_the_fields(field: str | None, reason: str, part: str) -> None:
    assert part in _said(field, reason)


def test_an_image_refused_by_the_rules() -> None:
    with pytest.raises(FilingError) as caught:
        check_image(Register.MACHINE, "driving_license", b"\xff\xd8\xff")
    ((problem,),) = [caught.value.problems]
    assert "发动机铭牌、随车清单" in _said(problem.field, problem.reason)


def test_notes_after_a_save() -> None:
    note = (
        "厂内运输车辆编号很长很长很长很长 is longer than the platform's 14 characters; kept, "
        "but the platform may refuse it; 未备案: images: 行驶证与随车清单不能同时为空"
    )
    assert note_words(note) == (
        "厂内运输车辆编号很长很长很长很长 超过平台规定的 14 个字符：已保存，但平台可能拒收；"
        "未备案：行驶证与随车清单不能同时为空"
    )
    assert note_words("no platform configured: kept in the ledger only") == (
        "未配置平台：只记入台账，不备案"
    )
    assert note_words("") == ""


def test_a_filings_refusal_beside_the_entry() -> None:
    assert refusal_words("车辆识别代码与行驶证不符") == "车辆识别代码与行驶证不符"  # the platform's
    local = (
        "not sent: InnerVehElecAccountAddRequest.license: String should have at most 14 "
        "characters; InnerVehElecAccountAddRequest.vin: Value error, x"
    )
    assert refusal_words(local) == (
        "未发送（本地按接口规范检查未通过）：号牌号码超过平台规定的 14 个字符；"
        "车辆识别代码不符合平台的接口规范"
    )
    assert refusal_words("not sent: ?") == "未发送（本地按接口规范检查未通过）：请核对条目"


def test_a_reason_not_known_still_reads_chinese() -> None:
    assert words("vin", "something new") == "车辆识别代码填写有误，请核对"
    assert words(None, "something new") == "输入填写有误，请核对"
    assert words("owner", "所有人不能为空") == "所有人不能为空"  # Chinese already: kept


def test_a_pass_dead_letter_reads_chinese_on_the_status_page() -> None:
    """The failed-uploads list (passes' records, photos, goods records beside the filings):
    the forwarder's reasons as it records them (``str`` of the platform client's errors), said
    in Chinese; the ledger and the log keep them as they came."""
    from edge.uplink.platform.errors import InvalidMessageError, PermanentError

    chinese = str(PermanentError("952", "记录格式校验失败"))
    english = str(PermanentError("400", "injected failure"))
    local = str(InvalidMessageError("DrivingRecord.lsh: String should have at most 32 characters"))
    assert dead_letter_words(chinese) == "平台拒收（952）：记录格式校验失败"
    assert dead_letter_words(english) == (
        "平台拒收了此记录（400），平台答复「injected failure」：请核对后重发，或向平台询问"
    )
    assert dead_letter_words(local).startswith("未发送（本地按接口规范检查未通过）：")
    assert dead_letter_words("photo file missing: [Errno 2] No such file: 'a.jpg'") == (
        "照片文件已丢失，无法上传：通行记录仍在台账中，如需补传请联系维护人员"
    )
    assert dead_letter_words("952 记录格式校验失败") == "952 记录格式校验失败"  # as it came
    assert dead_letter_words("something else") == (
        "上传失败，平台答复「something else」：请联系维护人员"
    )
    for error in (chinese, english, local, "something else"):
        assert is_chinese(dead_letter_words(error)), error
    assert set(UPLOAD_KINDS) == {"record", "photo", "correction", "goods"}
