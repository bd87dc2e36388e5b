"""The electronic ledger's refusals in the words a guard or a clerk reads (Chinese): ONE mapping
from a field and the reason the rules gave (English, as audited and logged) to a Chinese
sentence, used by the status page's forms, the import report (page and command line) and the
notes shown after a save.

The rules (:mod:`edge.domain.filing`, :mod:`edge.actions.filing`, the import reader) keep
their English reasons: the audit log and the logs stay in one language and tests can name
them. :func:`words` turns one into Chinese; a reason it does not know still gives a Chinese
sentence naming the field (:data:`UNKNOWN`), never English, so a new rule cannot leak
English onto the page (``tests/test_filing_words.py`` feeds every field of every register a
bad value and fails on any reason that falls through).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from edge.domain.codes import (
    EMISSION_NAMES,
    USE_CHARACTER_NAMES,
    VEHICLE_TYPE_NAMES,
)
from edge.domain.filing import (
    FILING_WORDS,
    IMAGE_WORDS,
    MAX_IMAGE_BYTES,
    STATUS_WORDS,
    TITLES,
    WIRE_NAMES,
    FilingState,
    ImageKind,
)
from edge.domain.plates import COLOR_NAMES

#: What a filing platform is called beside a filing (the page, the register's export).
PLATFORM_WORDS = {"city": "市", "province": "省"}

#: What a register is called (page tabs, template sheet names, messages).
REGISTER_WORDS = {"vehicle": "运输车辆", "inner": "厂内运输车辆", "machine": "非道路移动机械"}

#: The closed code lists a field takes, code → Chinese meaning (the template's 填写说明 and its
#: drop-downs, and the refusals list them).
CODE_LISTS: dict[str, dict[str, str]] = {
    "plate_color": {c.value: n for c, n in COLOR_NAMES.items()},
    "emission": dict(EMISSION_NAMES),
    "status": {s.value: w for s, w in STATUS_WORDS.items()},
    "use_character": dict(USE_CHARACTER_NAMES),
    "vehicle_type": dict(VEHICLE_TYPE_NAMES),
}


def _codes_by_word(name: str) -> dict[str, str]:
    """A code field's accepted words → code: ``黄``, ``1 黄`` (the drop-down), ``黄色``."""
    words: dict[str, str] = {}
    for code, meaning in CODE_LISTS.get(name, {}).items():
        words |= {meaning: code, f"{code} {meaning}": code, f"{meaning}色": code}
    return words


_BY_WORD = {name: _codes_by_word(name) for name in CODE_LISTS}


def as_code(name: str, value: str) -> str:
    """A code field's value as a clerk may give it — the code (``1``), its meaning (``黄``,
    ``国六``) or both as the template's drop-downs write them (``1 黄``) — as its code; any
    other value (or field) as it is, for the rules to judge. The one reading of codes for the
    import and the command line."""
    return _BY_WORD.get(name, {}).get(value.strip(), value)


def code_text(name: str, value: str) -> str:
    """A code field's value as an export writes it, the code and its meaning (``F 货运``,
    ``1 黄``: what the template's drop-downs write, so it imports back); any other field's
    value, or a code of no meaning, as it is."""
    meaning = CODE_LISTS.get(name, {}).get(value)
    return f"{value} {meaning}" if meaning else value


def as_codes(form: Mapping[str, str]) -> dict[str, str]:
    """A form (field → text) with each code field read by :func:`as_code`: the ONE reading
    every face goes through (the ledger's actions, :class:`edge.actions.filing.Filings`)."""
    return {name: as_code(name, value) for name, value in form.items()}


#: The spec's field names → ours (a refusal of the wire model names the spec's).
_BY_WIRE = {wire: name for names in WIRE_NAMES.values() for name, wire in names.items()}
#: What is said when a reason is not one this module knows (still names the field).
UNKNOWN = "{title}填写有误，请核对"
#: Code lists longer than this are not spelled out in a refusal (车辆类型: 158 codes).
_SPELLED_OUT = 20

_DATES = frozenset({"register_date", "issue_date", "production_date"})
_OTHER_TITLES = {
    "images": "证件图片",
    "image": "图片",
    "file": "文件",
    "rows": "导入文件",
    "register": "台账",
    "id": "编号",
    "before": "翻页位置",
    "from": "开始日期",
    "to": "结束日期",
    "gate": "道闸编号",
}


def title(field: str) -> str:
    """A field's (or image kind's) Chinese title; the name itself when it has none."""
    if field in TITLES:
        return TITLES[field]
    try:
        return IMAGE_WORDS[ImageKind(field)]
    except ValueError:
        return _OTHER_TITLES.get(field, field)


def codes_text(field: str) -> str:
    """A field's codes with their meanings, ``可填：0 蓝、1 黄、…`` (a long list: where to find
    it)."""
    codes = CODE_LISTS.get(field, {})
    if len(codes) > _SPELLED_OUT:
        some = "、".join(f"{c} {n}" for c, n in list(codes.items())[:2])
        return f"代码见导入模板的「填写说明」（如 {some}）"
    return "可填：" + "、".join(f"{c} {n}" for c, n in codes.items())


def _quoted(value: str) -> str:
    """A value as typed, quoted: a long one's English tail (``…(400 characters)``) in Chinese."""
    return re.sub(r"…\((\d+) characters\)$", r"…（共 \1 个字符）", value)


_Say = Callable[[str, re.Match[str]], str]


def _code(field: str, found: re.Match[str]) -> str:
    return f"{title(field)}「{_quoted(found['value'])}」不是规定的代码，{codes_text(field)}"


def _image_size(field: str, found: re.Match[str]) -> str:
    size, limit = int(found["size"]) / 1_000_000, MAX_IMAGE_BYTES // 1_000_000
    return f"{title(field)}图片 {size:.1f} MB，超过平台上限 {limit} MB"


def _kind(_field: str, found: re.Match[str]) -> str:
    allowed = "、".join(title(k.strip()) for k in found["allowed"].split(","))
    return f"「{found['value']}」不是这类条目的证件图片，可上传：{allowed}"


def _column(_field: str, found: re.Match[str]) -> str:
    register = REGISTER_WORDS.get(found["register"], found["register"])
    return f"列「{found['value']}」不是{register}台账的列，请用导入模板的列名"


#: (the fields it is about, or None: any; the reason's pattern; the Chinese sentence: a format
#: with {title} and the pattern's groups, or a function of the title and the match).
_RULES: list[tuple[frozenset[str] | None, re.Pattern[str], str | _Say]] = [
    (None, re.compile(r"required"), "{title}必须填写"),
    (None, re.compile(r"not a field of this register"), "「{title}」不是这个台账的栏目"),
    (
        None,
        re.compile(r"'(?P<value>.*)' is not a plate \(.*\)"),
        "{title}「{value}」不是有效的车牌号（如 豫A12345）",
    ),
    (
        None,
        re.compile(r"over the platform's (?P<n>\d+) characters: it cannot be filed"),
        "{title}超过平台规定的 {n} 个字符，无法备案（请改用至多 {n} 个字符的号牌或编号）",
    ),
    (
        None,
        re.compile(r"must be a plate or an internal number of 1 to (?P<n>\d+) characters"),
        "{title}须为车牌号或 1 至 {n} 个字符的内部编号",
    ),
    (None, re.compile(r"'(?P<value>.*)' is not (?:a code of )?(?:§[\d.]+.*|1, 2 or 3)"), _code),
    (
        None,
        re.compile(r"'(?P<value>.*)' is not a date.*"),
        "{title}「{value}」不是日期，请写成 2020-05-01 这样的年-月-日",
    ),
    (
        _DATES,
        re.compile(r".*(?:out of range|must be in).*"),
        "{title}不是真实存在的日期（月份 1-12，日不超过当月天数），请写成 2020-05-01",
    ),
    (None, re.compile(r"letters and digits only"), "{title}只能由字母和数字组成"),
    (
        None,
        re.compile(r"(?P<n>\d+) characters, a VIN has 17 \(GB 16735\)"),
        "{title}应为 17 位（GB 16735），现为 {n} 位",
    ),
    (
        None,
        re.compile(r"(?P<letters>[A-Z, ]+) not used in a VIN \(GB 16735: I, O, Q\)"),
        "{title}不能含字母 I、O、Q（GB 16735），请核对：{letters}",
    ),
    (
        None,
        re.compile(r"(?P<value>[\d-]+) is after today \((?P<today>[\d-]+)\)"),
        "{title} {value} 晚于今天（{today}），请核对",
    ),
    (
        None,
        re.compile(r"(?P<value>[\d-]+) is before the register date \((?P<date>[\d-]+)\)"),
        "{title} {value} 早于注册日期（{date}），请核对",
    ),
    (None, re.compile(r"longer than (?P<n>\d+) characters"), "{title}超过 {n} 个字符"),
    (
        None,
        re.compile(r"holds control or format characters"),
        "{title}含控制字符或不可见字符（如从别处粘贴带入），请删除后重新填写",
    ),
    (None, re.compile(r"'(?P<value>.*)' is not one of (?P<allowed>.*)"), _kind),
    (None, re.compile(r"(?P<size>\d+) bytes, over the platform's \d+"), _image_size),
    (
        None,
        re.compile(r"over (?P<n>\d+) px|JPEG of .* not decoded|JPEG with impossible .*"),
        "{title}图片像素过多，无法处理，请缩小后重新上传",
    ),
    (
        None,
        re.compile(
            r"(?:not an image|not a decodable (?:image|JPEG)|not a JPEG|truncated JPEG|"
            r"image header unreadable|the photo is not).*"
        ),
        "{title}不是可识别的图片（可用 JPEG、PNG、BMP 或 WebP）",
    ),
    (
        frozenset({"image", "images", *map(str, ImageKind)}),
        re.compile(r"over (?P<n>\d+) bytes"),
        "{title}图片文件过大，请压缩后重新上传",
    ),
    # the entry as a whole
    (
        None,
        re.compile(r"(?P<plate>\S+) is in the ledger already \(entry (?P<id>\d+)\)"),
        "{plate} 已在台账中（条目 {id}），请编辑那一条",
    ),
    (None, re.compile(r"also in row (?P<n>\d+)"), "与第 {n} 行的号牌重复"),
    (None, re.compile(r"VIN also in row (?P<n>\d+)"), "与第 {n} 行的车辆识别代码重复"),
    (
        None,
        re.compile(r"VIN (?P<vin>\w+) is on (?P<plate>\S+) already \(entry (?P<id>\d+)\)"),
        "车辆识别代码「{vin}」已登记在 {plate}（条目 {id}）名下：同一辆车不能有两个在用号牌，"
        "请先把那一条设为注销",
    ),
    (
        None,
        re.compile(r"plate and colour cannot change.*"),
        "号牌号码和号牌颜色不能修改：请新增一条，并把这一条设为注销",
    ),
    (
        None,
        re.compile(r"'(?P<value>.*)' is not 1 正常, 2 封存 or 3 注销"),
        "状态「{value}」无效，可选：1 正常、2 封存、3 注销",
    ),
    (None, re.compile(r"no entry (?P<id>\d+)"), "没有编号为 {id} 的条目"),
    (None, re.compile(r"bad id"), "{title}无效"),
    (None, re.compile(r"nothing changed"), "没有改动"),
    (None, re.compile(r"already (?P<word>正常|封存|注销)"), "已经是{word}状态"),
    (
        None,
        re.compile(r"the status is changed by the status action, not by an edit"),
        "状态（正常、封存、注销）请在列表的状态一栏修改，编辑不改状态",
    ),
    (None, re.compile(r"not a dead filing"), "这条备案不在待重发之列（已受理或正在发送）"),
    (None, re.compile(r"'?(?P<value>.*?)'? is not a register|not a register"), "没有这个台账"),
    (None, re.compile(r"form is not .*"), "提交的表单无法读取，请刷新页面后重试"),
    # an import file
    (None, re.compile(r"an import is an \.xlsx or a \.csv file"), "只能导入 .xlsx 或 .csv 文件"),
    (None, re.compile(r"the file is empty"), "文件是空的"),
    (None, re.compile(r"no column of the register"), "文件第一行没有台账的列名，请用导入模板"),
    (None, re.compile(r"(?:over|more than) (?P<n>\d+) rows"), "文件超过 {n} 行，请分开导入"),
    (
        frozenset({"file"}),
        re.compile(r"over (?P<n>\d+) bytes"),
        "文件过大（超过 16 MB），请分成几个文件导入",
    ),
    (None, re.compile(r"column '(?P<value>.*)' is not a field of (?P<register>\w+)"), _column),
    (None, re.compile(r"not UTF-8 or GB18030 text"), "CSV 文件不是 UTF-8 或 GB18030 编码"),
    (None, re.compile(r"not an XLSX workbook.*"), "不是 XLSX 工作簿（请另存为 .xlsx）"),
    # a file the command line names that cannot be read (OSError.strerror)
    (None, re.compile(r"No such file or directory"), "{title}：找不到这个文件"),
    (None, re.compile(r"Permission denied"), "{title}：没有读取这个文件的权限"),
    (None, re.compile(r"Is a directory"), "{title}：这是一个目录，不是文件"),
    # the inspector's export (from, to, gate, plate)
    (None, re.compile(r"the last day is before the first"), "结束日期早于开始日期"),
    (None, re.compile(r"more than (?P<n>\d+) days.*"), "一次最多导出 {n} 天，请分段导出"),
    (None, re.compile(r"(?:.* is )?not a gate code.*"), "道闸编号无效（两位数字，如 01）"),
    (None, re.compile(r"over (?P<n>\d+) characters"), "{title}超过 {n} 个字符"),
    # notes after a save
    (
        None,
        re.compile(r"no platform configured: kept in the ledger only"),
        "未配置平台：只记入台账，不备案",
    ),
    (
        None,
        re.compile(r"(?P<plate>\S+) is longer than the platform's (?P<n>\d+) characters.*"),
        "{plate} 超过平台规定的 {n} 个字符：已保存，但平台可能拒收",
    ),
    # a platform that could not be asked or read nothing
    (None, re.compile(r"platform: .*"), "平台未能处理（无法连接或未能识别），请稍后重试或手工填写"),
]


def words(field: str | None, reason: str) -> str:
    """The Chinese sentence for ``field`` refused for ``reason`` (a
    :class:`~edge.domain.filing.FieldProblem`'s, an operator refusal's ``key`` and
    ``detail``, an import row's problem). A reason already in Chinese is kept, with the
    field's title before it; one not known gives :data:`UNKNOWN`."""
    name = field or ""
    shown = title(name)
    text = reason.strip()
    for fields, pattern, say in _RULES:
        if fields is not None and name not in fields:
            continue
        if (found := pattern.fullmatch(text)) is None:
            continue
        if callable(say):
            return say(name, found)
        groups = {k: _quoted(v) for k, v in found.groupdict().items() if v is not None}
        return say.format(title=shown, **groups)
    if text.startswith("未备案"):  # "未备案: <the problems>" (a note after a save)
        return "未备案：" + "；".join(words(None, p) for p in text[3:].lstrip(":： ").split("; "))
    if is_chinese(text):
        return text
    if (found := re.fullmatch(r"(?P<field>\w+): (?P<reason>.+)", text)) and found["field"] != name:
        return words(found["field"], found["reason"])  # "field: reason" (FilingError's str)
    return UNKNOWN.format(title=shown or "输入")


#: How the filing sender records a filing whose document image file is gone (a dead letter:
#: ``image file missing: <the error>``).
IMAGE_MISSING = "image file missing"


def refusal_words(answer: str) -> str:
    """Why a filing was refused or could not be sent, as the pages show it (beside the
    entry, in the list of failed uploads) — the ledger and the log keep ``answer`` as it
    came: the platform's own words as they came when they are Chinese, else (a simulator's
    field check, an HTTP error's body) a Chinese sentence quoting them; a filing our side
    stopped before sending (``not sent: Model.field: why; …``, the wire model's check) as a
    Chinese sentence naming the field; a document image whose file is gone
    (:data:`IMAGE_MISSING`) as what to do about it."""
    if answer.startswith(IMAGE_MISSING):
        return "证件图片文件已丢失：请在台账中重新上传该条目的证件图片，再重新备案"
    if not answer.startswith("not sent:"):
        if is_chinese(answer):
            return answer
        return _in_quotes("平台拒绝了此备案", answer, "请核对条目后重新备案，或向平台询问")
    said = []
    for part in answer.removeprefix("not sent:").split("; "):
        found = re.fullmatch(r"\s*(?:\w+\.)?(?P<wire>\w+)(?:\.\w+)*: (?P<why>.*)", part)
        if found is None:
            continue
        wire = found["wire"]
        # a field of a pass record (the failed uploads list) has no title here: its wire name
        shown = title(_BY_WIRE[wire]) if wire in _BY_WIRE else f"字段「{wire}」"
        if most := re.search(r"at most (\d+) characters", found["why"]):
            said.append(f"{shown}超过平台规定的 {most[1]} 个字符")
        else:
            said.append(f"{shown}不符合平台的接口规范")
    return "未发送（本地按接口规范检查未通过）：" + ("；".join(said) or "请核对条目")


def _in_quotes(said: str, answer: str, then: str) -> str:
    """A platform's answer that is not Chinese, quoted in a Chinese sentence."""
    return f"{said}，平台答复「{answer.strip()}」：{then}"


#: What a pass's outbox entry carries, as the list of failed uploads names it.
UPLOAD_KINDS = {"record": "通行记录", "photo": "过车照片", "correction": "车牌纠正",
                "goods": "货物台账"}  # fmt: skip
#: How the forwarder records a pass's dead letters (edge.uplink.forwarder): a photo whose
#: file is gone, and a platform's refusal (``str`` of a PermanentError).
PHOTO_MISSING = "photo file missing"
_REJECTED = re.compile(r"platform rejected the message \((?P<code>[^)]*)\): (?P<status>.*)", re.S)


def dead_letter_words(error: str) -> str:
    """A pass's dead letter's reason (a record's, a photo's, a goods record's) as the status
    page's list of failed uploads shows it, in Chinese (the ledger and the log keep it as it
    came): the platform's refusal with its code (its words quoted when not Chinese), a check
    of our own message before sending as :func:`refusal_words` says it, a lost photo file as
    what it means."""
    if error.startswith(PHOTO_MISSING):
        return "照片文件已丢失，无法上传：通行记录仍在台账中，如需补传请联系维护人员"
    found = _REJECTED.fullmatch(error.strip())
    if found is None:
        return error if is_chinese(error) else _in_quotes("上传失败", error, "请联系维护人员")
    code, status = found["code"], found["status"]
    if code == "local":  # stopped before sending: our message broke the spec
        return refusal_words(f"not sent: {status}")
    if is_chinese(status):
        return f"平台拒收（{code}）：{status}"
    return _in_quotes(f"平台拒收了此记录（{code}）", status, "请核对后重发，或向平台询问")


def filing_text(platform: str, state: str, answer: str) -> str:
    """A filing as the register's export shows it: ``市：已受理``, ``省：被拒：<why>`` (Chinese)."""
    where = PLATFORM_WORDS.get(platform, platform)
    said = f"{where}：{FILING_WORDS.get(FilingState(state), state)}"
    return said + (f"：{refusal_words(answer)}" if answer else "")


def note_words(note: str) -> str:
    """A save's note (``; ``-separated, see ``Filings._done``; the 未备案 part last) in
    Chinese."""
    head, unfiled, problems = note.partition("未备案")
    head = head.replace("characters; kept,", "characters, kept,")  # one note, not two
    said = [words(None, part) for part in head.split("; ") if part.strip()]
    if unfiled:
        said.append(words(None, unfiled + problems))
    return "；".join(said)


def is_chinese(text: str) -> bool:
    """Whether ``text`` reads as Chinese: it has Han characters and no English word (letters
    inside codes, plates and units like ``MB`` do not count)."""
    han = any("\u4e00" <= c <= "\u9fff" for c in text)
    bare = _KEPT.sub("", re.sub(r"「[^」]*」", "", text))  # values quoted as typed do not count
    return han and not re.search(r"[A-Za-z]{3,}", bare)


_KEPT = re.compile(r"XLSX|xlsx|CSV|csv|JPEG|PNG|BMP|WebP|UTF|GB18030|VIN|WPS|Excel")


#: What each column of an import takes, for the template's 「填写说明」 sheet: (meaning, format).
#: The code lists come from :data:`CODE_LISTS`; lengths as :mod:`edge.domain.filing` checks them.
FIELD_HELP: dict[str, tuple[str, str]] = {
    "plate": (
        "号牌号码（车辆的唯一标识，与号牌颜色一起）",
        "运输车辆：车牌号，如 豫A12345；厂内车辆和机械：车牌号或内部编号（至多 32 个字符）",
    ),
    "plate_color": ("号牌颜色（规范附录 B7.1）", "填代码，或下拉选择"),
    "vehicle_type": ("车辆类型（行驶证上的车辆类型，规范附录 B7.7）", "3 位代码，如 H11；可空"),
    "vin": ("车辆识别代码（VIN，行驶证上的车架号）", "字母和数字；道路车辆为 17 位"),
    "use_character": ("使用性质（规范附录 B7.8）", "1 个字母代码，如 F 货运；可空"),
    "engine_no": ("发动机号码", "字母和数字，至多 32 个字符"),
    "owner": ("所有人（行驶证上的所有人）", "至多 100 个字符；可空"),
    "address": ("住址（行驶证上的住址）", "至多 300 个字符；可空"),
    "model": ("品牌型号", "至多 100 个字符；可空"),
    "register_date": ("注册日期（行驶证）", "年-月-日，如 2020-05-01（也可写 2020/5/1、20200501）"),
    "issue_date": ("发证日期（行驶证）", "年-月-日，如 2020-05-01；可空"),
    "emission": ("排放阶段（规范附录 B7.6）", "填代码，或下拉选择"),
    "fleet": ("车队名称（只记入台账，不报平台）", "至多 100 个字符；可空"),
    "status": ("状态", "填代码，或下拉选择；空：正常"),
    "name": ("机械名称，如 轮式装载机", "至多 64 个字符"),
    "code": ("机械环保代号（机械铭牌或环保信息标签上的编号）", "至多 64 个字符"),
    "production_date": ("生产日期", "年-月-日，如 2021-03-01"),
}
