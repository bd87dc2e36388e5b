"""The enterprise's electronic ledger (电子台账) of vehicles and machines, and the spec's rules
for filing them (车辆备案) — pure, no I/O.

Three registers (:class:`Register`), one frozen dataclass each:

- :class:`TransportVehicle` — 运输车辆 (city ``shareVehInfo`` §4.1.2; province
  ``VehElecAccountAdd`` / ``Modify`` §4.2.15/16);
- :class:`InnerVehicle` — 厂内运输车辆 (``shareInnerVehInfo`` §4.1.7;
  ``InnerVehElecAccountAdd`` / ``Modify`` §4.2.18/19);
- :class:`Machine` — 非道路移动机械 (``shareInnerMHYElec`` §4.1.8;
  ``InnerMHYElecAccountAdd`` / ``Modify`` §4.2.20/21).

Field names are ours (snake case, the same in the page's forms, the import template's header
and the command line's options); :data:`WIRE_NAMES` gives the spec's. Every value is text as a
person types it; :func:`parse_entry` checks a whole form at once and raises ONE
:class:`FilingError` naming every bad field, so the page and the importer show them all.
:func:`check_for_sending` adds the rules that need the entry's document images (行驶证 and
随车清单 not both missing; each image a JPEG of at most :data:`MAX_IMAGE_BYTES`).

Decisions on the spec's ambiguities (research/ledger-and-weighbridge.md §4.5), as README says:

- dates (registerDate, issueDate, mhyProdDate, 14 characters, format unstated): stored and
  sent as ``yyyy-MM-dd`` (§4.5 item 9); typed as ``2020-05-01``, ``20200501`` or ``2020/5/1``;
- vehicleType: the 3-character §7.7 code, although the tables print a length of 2 (item 4);
- an in-plant vehicle or a machine may carry an internal number of up to 32 characters as its
  plate (the 2020 guideline's 登记编码或内部管理号牌); over the spec's 14 it is kept and the
  operator told the platform may refuse it (item 12);
- licensePK kept up to 64 characters (item 5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import date
from enum import StrEnum
from typing import ClassVar

from edge.domain.codes import USE_CHARACTERS, VEHICLE_TYPES, EmissionStage
from edge.domain.jpeg import is_jpeg
from edge.domain.plates import PlateColor, escape_read, normalise_plate
from edge.domain.text import holds_hidden

#: §2.2 "单张照片不超过 1M", read strictly (as the pass photos are).
MAX_IMAGE_BYTES = 1_000_000
#: The spec's length of ``license`` / ``mhyPlate`` in the filing tables.
PLATFORM_PLATE_LENGTH = 14
#: An internal number (in-plant vehicles, machines): the 2020 guideline's 字符(32).
MAX_INTERNAL_NUMBER = 32
#: licensePK as the Modify/Gain tables print it (64; 32 elsewhere; §4.5 item 5).
MAX_LICENSE_PK = 64


class Register(StrEnum):
    """Which of the three ledgers an entry belongs to."""

    VEHICLE = "vehicle"  # 运输车辆
    INNER = "inner"  # 厂内运输车辆
    MACHINE = "machine"  # 非道路移动机械


class EntryStatus(StrEnum):
    """carStatus / mhyStatus (§4.1.7, §4.1.8, §4.2.18–21): the spec's 1, 2, 3."""

    NORMAL = "1"  # 正常
    SEALED = "2"  # 封存
    CANCELLED = "3"  # 注销


STATUS_WORDS: dict[EntryStatus, str] = {
    EntryStatus.NORMAL: "正常",
    EntryStatus.SEALED: "封存",
    EntryStatus.CANCELLED: "注销",
}


class ImageKind(StrEnum):
    """A document image of an entry."""

    DRIVING_LICENSE = "driving_license"  # 行驶证 (drivingLicenseImg)
    EMISSION_LIST = "emission_list"  # 随车清单 (drivingLicenseImg2; a machine's imageInfo)
    NAMEPLATE = "nameplate"  # 发动机铭牌 (a machine's imageInfo)


IMAGE_WORDS: dict[ImageKind, str] = {
    ImageKind.DRIVING_LICENSE: "行驶证",
    ImageKind.EMISSION_LIST: "随车清单",
    ImageKind.NAMEPLATE: "发动机铭牌",
}


class FilingState(StrEnum):
    """An entry's filing with one platform."""

    UNFILED = "unfiled"  # 未备案: never sent (or cannot be sent yet)
    SENT = "sent"  # 待受理: queued or sent, the platform has not accepted it yet
    ACCEPTED = "accepted"  # 已受理: the platform took it (province: with a licensePK)
    REFUSED = "refused"  # 被拒: the platform refused it, in its own words


FILING_WORDS: dict[FilingState, str] = {
    FilingState.UNFILED: "未备案",
    FilingState.SENT: "待受理",
    FilingState.ACCEPTED: "已受理",
    FilingState.REFUSED: "被拒",
}


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad field: ``field`` as named by the entry's dataclass (or an image kind), and
    ``reason`` in words a clerk reads."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class FilingError(ValueError):
    """An entry (or its images) that breaks the spec's rules: ``problems`` names EVERY bad
    field, in the order of the entry's fields."""

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p.field for p in self.problems)


@dataclass(frozen=True, kw_only=True, slots=True)
class TransportVehicle:
    """A transport vehicle (运输车辆) as filed: §4.1.2 / §4.2.15 fields, plus the 2020
    guideline's fleet (车队名称, ledger only). Dates ``yyyy-MM-dd``; "" where not given."""

    REGISTER: ClassVar[Register] = Register.VEHICLE

    plate: str  # license, a plate as GA 36 writes it (≤ 14)
    plate_color: PlateColor  # licenseColor §7.1
    vehicle_type: str = ""  # vehicleType §7.7, 3 characters
    vin: str  # 车辆识别代码 (≤ 32; 17 on a road vehicle)
    use_character: str = ""  # useCharacter §7.8, A-S
    engine_no: str  # 发动机号码 (≤ 32)
    owner: str = ""  # onwer (sic) 所有人 (≤ 100)
    address: str = ""  # 住址 (≤ 300)
    model: str = ""  # 品牌型号 (≤ 100)
    register_date: str  # 注册日期
    issue_date: str = ""  # 发证日期
    emission: EmissionStage  # emissionStandard §7.6
    fleet: str = ""  # 车队名称 (≤ 100)
    status: EntryStatus = EntryStatus.NORMAL


@dataclass(frozen=True, kw_only=True, slots=True)
class InnerVehicle(TransportVehicle):
    """A vehicle working inside the plant (厂内运输车辆): the same fields; its plate may be
    an internal number (≤ 32); ``status`` is sent as carStatus."""

    REGISTER: ClassVar[Register] = Register.INNER


@dataclass(frozen=True, kw_only=True, slots=True)
class Machine:
    """Non-road mobile machinery (非道路移动机械): §4.1.8 / §4.2.20 fields."""

    REGISTER: ClassVar[Register] = Register.MACHINE

    plate: str  # mhyPlate 机械环保登记号码 (≤ 14; an internal number ≤ 32)
    name: str  # mhyJXMC 机械名称 (≤ 64)
    emission: EmissionStage  # emissionLevel §7.6
    code: str  # mhyFrameNo 机械环保代号 (≤ 64)
    production_date: str  # mhyProdDate 生产日期
    status: EntryStatus = EntryStatus.NORMAL


Entry = TransportVehicle | InnerVehicle | Machine
KINDS: dict[Register, type[TransportVehicle] | type[Machine]] = {
    Register.VEHICLE: TransportVehicle,
    Register.INNER: InnerVehicle,
    Register.MACHINE: Machine,
}

#: Our field name → the spec's, per register (status is carStatus / mhyStatus where sent).
WIRE_NAMES: dict[Register, dict[str, str]] = {
    Register.VEHICLE: {
        "plate": "license",
        "plate_color": "licenseColor",
        "vehicle_type": "vehicleType",
        "vin": "vin",
        "use_character": "useCharacter",
        "engine_no": "engineNo",
        "owner": "onwer",
        "address": "address",
        "model": "model",
        "register_date": "registerDate",
        "issue_date": "issueDate",
        "emission": "emissionStandard",
    },
    Register.MACHINE: {
        "plate": "mhyPlate",
        "name": "mhyJXMC",
        "emission": "emissionLevel",
        "code": "mhyFrameNo",
        "production_date": "mhyProdDate",
        "status": "mhyStatus",
    },
}
WIRE_NAMES[Register.INNER] = {**WIRE_NAMES[Register.VEHICLE], "status": "carStatus"}

#: The Chinese column titles (import template, export, page), per field.
TITLES: dict[str, str] = {
    "plate": "号牌号码",
    "plate_color": "号牌颜色",
    "vehicle_type": "车辆类型",
    "vin": "车辆识别代码",
    "use_character": "使用性质",
    "engine_no": "发动机号码",
    "owner": "所有人",
    "address": "住址",
    "model": "品牌型号",
    "register_date": "注册日期",
    "issue_date": "发证日期",
    "emission": "排放阶段",
    "fleet": "车队名称",
    "status": "状态",
    "name": "机械名称",
    "code": "机械环保代号",
    "production_date": "生产日期",
}

#: Maximum lengths (characters) of the free-text fields.
_LENGTHS = {
    "vin": 32,
    "engine_no": 32,
    "owner": 100,
    "address": 300,
    "model": 100,
    "fleet": 100,
    "name": 64,
    "code": 64,
}
_DATES = frozenset({"register_date", "issue_date", "production_date"})
_UPPER = frozenset({"vin", "engine_no", "vehicle_type", "use_character", "emission", "code"})
_DATE_FORMS = (
    re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"(\d{4})\.(\d{1,2})\.(\d{1,2})"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日"),
)
_VIN = re.compile(r"[A-Z0-9]+")
#: GB 16735: a vehicle identification number is 17 characters, the Latin capitals (but I, O
#: and Q, read as 1 and 0) and digits.
VIN_LENGTH = 17
_VIN_LETTERS_NOT_USED = frozenset("IOQ")


def field_names(register: Register) -> tuple[str, ...]:
    """The fields of a register's entries, in the order of the form and the template."""
    return tuple(f.name for f in fields(KINDS[register]))


def required_fields(register: Register) -> frozenset[str]:
    """The fields a form must fill (the others may be "")."""
    return frozenset(
        f.name
        for f in fields(KINDS[register])
        if f.default is MISSING and f.default_factory is MISSING
    )


def parse_date(text: str) -> str:
    """A date as people type it → ``yyyy-MM-dd``; ValueError when it is not a real date."""
    for form in _DATE_FORMS:
        if found := form.fullmatch(text.strip()):
            year, month, day = (int(g) for g in found.groups())
            return date(year, month, day).isoformat()
    raise ValueError(f"{escape_read(text)!r} is not a date (2020-05-01)")


def _parse_plate(register: Register, text: str) -> str:
    if register is Register.VEHICLE:
        read = normalise_plate(text, colour_prefix=True).text
        # a plate a road vehicle carries starts with its province (or 使, 领, WJ…: not Latin)
        if read is None or len(read) > PLATFORM_PLATE_LENGTH or read[0].isascii():
            raise ValueError(f"{escape_read(text)!r} is not a plate (README: plate grammar)")
        return read
    value = text.strip().upper()
    if (
        not value
        or len(value) > MAX_INTERNAL_NUMBER
        or not value.isprintable()
        or holds_hidden(value)
    ):
        why = f"must be a plate or an internal number of 1 to {MAX_INTERNAL_NUMBER} characters"
        raise ValueError(why)
    read = normalise_plate(value, colour_prefix=True).text
    return read or value


def _parse_value(register: Register, name: str, text: str, rules: _NewRules | None) -> object:
    """One field's text → its value; ValueError says why it is not. ``rules``: those only a
    new value must keep (None: as stored, when it may be older than they are)."""
    value = text.strip()
    if name in _UPPER:
        value = value.upper()
    if name == "plate":
        return _parse_plate(register, value)
    if name == "plate_color":
        return PlateColor(value) if value in set(PlateColor) else _bad(value, "§7.1 0-5")
    if name == "emission":
        return EmissionStage(value) if value in set(EmissionStage) else _bad(value, "§7.6")
    if name == "status":
        return EntryStatus(value) if value in set(EntryStatus) else _bad(value, "1, 2 or 3")
    if not value:
        return ""
    if name == "vehicle_type" and value not in VEHICLE_TYPES:
        return _bad(value, "§7.7")
    if name == "use_character" and value not in USE_CHARACTERS:
        return _bad(value, "§7.8 A-S")
    return _parse_text(name, value, rules)


@dataclass(frozen=True, slots=True)
class _NewRules:
    """The rules a value typed now must keep beyond the stored ones: a 17-character VIN and,
    when ``today`` is known, no date after it."""

    today: date | None


def _parse_text(name: str, value: str, rules: _NewRules | None) -> str:
    """A date or a free-text field (not empty) → its value; ValueError says why not."""
    if name in _DATES:
        parsed = parse_date(value)
        if rules is not None and rules.today is not None and parsed > rules.today.isoformat():
            raise ValueError(f"{parsed} is after today ({rules.today.isoformat()})")
        return parsed
    if name == "vin" and not _VIN.fullmatch(value):
        raise ValueError("letters and digits only")
    if name == "vin" and rules is not None:
        _check_vin(value)
    if (limit := _LENGTHS.get(name)) is not None and len(value) > limit:
        raise ValueError(f"longer than {limit} characters")
    if rules is not None and holds_hidden(value):  # (one stored before is read back as it is)
        raise ValueError("holds control or format characters")
    return value


def _check_vin(vin: str) -> None:
    """GB 16735: 17 characters, no I, O or Q (``vin`` upper case, letters and digits)."""
    if not_used := sorted(set(vin) & _VIN_LETTERS_NOT_USED):
        raise ValueError(f"{', '.join(not_used)} not used in a VIN (GB 16735: I, O, Q)")
    if len(vin) != VIN_LENGTH:
        raise ValueError(f"{len(vin)} characters, a VIN has {VIN_LENGTH} (GB 16735)")


def _bad(value: str, table: str) -> object:
    raise ValueError(f"{escape_read(value)!r} is not a code of {table}")


def parse_entry(
    register: Register | str,
    form: Mapping[str, str],
    *,
    today: date | None = None,
    as_stored: bool = False,
) -> Entry:
    """An entry from a form, an import row or command-line options (field name → text; a
    missing or blank optional field is ""). Raises :class:`FilingError` naming every bad
    field: unknown fields, required fields left empty, codes outside their closed list
    (§7.1 colours, §7.6 stages, §7.7 types, §7.8 use, status 1-3), lengths, dates, a VIN
    that is not 17 characters of GB 16735's alphabet, a date after ``today`` (the site's;
    None: not checked). ``as_stored``: an entry read back from the ledger, checked as it was
    when stored (the VIN and date rules were added later: issue 15)."""
    check_new = None if as_stored else _NewRules(today)
    try:
        kind_of = Register(register)
    except ValueError:
        raise FilingError([FieldProblem("register", f"{register!r} is not a register")]) from None
    kind = KINDS[kind_of]
    names = field_names(kind_of)
    required = required_fields(kind_of)
    problems = [FieldProblem(k, "not a field of this register") for k in form if k not in names]
    values: dict[str, object] = {}
    for name in names:
        text = form.get(name, "") or ""
        if not text.strip():
            if name in required:
                problems.append(FieldProblem(name, "required"))
            continue
        try:
            values[name] = _parse_value(kind_of, name, text, check_new)
        except ValueError as exc:
            problems.append(FieldProblem(name, str(exc)))
    issued, registered = values.get("issue_date"), values.get("register_date")
    if check_new is not None and issued and registered and str(issued) < str(registered):
        # a 行驶证 is issued at the registration or later (a reissued one: later)
        why = f"{issued} is before the register date ({registered})"
        problems.append(FieldProblem("issue_date", why))
    if problems:
        raise FilingError(problems)
    return kind(**values)  # type: ignore[arg-type]


def plate_key(entry: Entry) -> tuple[str, str]:
    """What identifies an entry in its register: its plate and plate colour ("" for a
    machine)."""
    color = entry.plate_color.value if isinstance(entry, TransportVehicle) else ""
    return entry.plate, color


def parse_plate(register: Register, plate: str, plate_color: str) -> tuple[str, str]:
    """A plate and colour as typed → :func:`plate_key`'s form; :class:`FilingError` names
    the bad one(s)."""
    problems = []
    try:
        read = _parse_plate(register, plate)
    except ValueError as exc:
        problems.append(FieldProblem("plate", str(exc)))
    color = plate_color.strip()
    if register is not Register.MACHINE and color not in set(PlateColor):
        problems.append(FieldProblem("plate_color", f"{escape_read(color)!r} is not §7.1 0-5"))
    if problems:
        raise FilingError(problems)
    return read, color if register is not Register.MACHINE else ""


def entry_form(entry: Entry) -> dict[str, str]:
    """The entry as form text (the inverse of :func:`parse_entry`)."""
    return {f.name: str(getattr(entry, f.name)) for f in fields(entry)}


def notes_for(entry: Entry) -> list[str]:
    """What the operator should know although the entry is valid (a plate longer than the
    platform's 14 characters may be refused; §4.5 item 12)."""
    notes = []
    if len(entry.plate) > PLATFORM_PLATE_LENGTH:
        notes.append(
            f"{entry.plate} is longer than the platform's {PLATFORM_PLATE_LENGTH} characters; "
            "kept, but the platform may refuse it"
        )
    return notes


def image_kinds(register: Register) -> tuple[ImageKind, ...]:
    """The document images an entry of ``register`` may carry."""
    if register is Register.MACHINE:
        return (ImageKind.NAMEPLATE, ImageKind.EMISSION_LIST)
    return (ImageKind.DRIVING_LICENSE, ImageKind.EMISSION_LIST)


def check_image(register: Register, kind: str, data: bytes) -> ImageKind:
    """A document image as it will be stored and sent (after fitting, like pass photos):
    a kind the register has, a JPEG, at most :data:`MAX_IMAGE_BYTES`. Raises
    :class:`FilingError` naming the image kind."""
    allowed = image_kinds(register)
    if kind not in {k.value for k in allowed}:
        words = ", ".join(allowed)
        raise FilingError([FieldProblem("image", f"{escape_read(kind)!r} is not one of {words}")])
    image = ImageKind(kind)
    if not is_jpeg(data):
        raise FilingError([FieldProblem(image, "not a JPEG image")])
    if len(data) > MAX_IMAGE_BYTES:
        why = f"{len(data)} bytes, over the platform's {MAX_IMAGE_BYTES}"
        raise FilingError([FieldProblem(image, why)])
    return image


def check_for_sending(entry: Entry, images: Mapping[ImageKind, int]) -> None:
    """The rules before an entry is sent to the platform, beyond its fields (checked by
    :func:`parse_entry`): 行驶证 and 随车清单 (a machine: 发动机铭牌 and 随车清单) not both
    missing; each image at most :data:`MAX_IMAGE_BYTES` (``images``: kind → size in bytes).
    Raises :class:`FilingError` naming every problem."""
    kinds = image_kinds(entry.REGISTER)
    problems = [
        FieldProblem(kind, f"{size} bytes, over the platform's {MAX_IMAGE_BYTES}")
        for kind, size in images.items()
        if size > MAX_IMAGE_BYTES
    ]
    if not any(images.get(kind) for kind in kinds):
        words = "与".join(IMAGE_WORDS[k] for k in kinds)
        problems.insert(0, FieldProblem("images", f"{words}不能同时为空"))
    if problems:
        raise FilingError(problems)


#: Why a 注销 entry's change is not filed: it describes a vehicle gone, whose plate the
#: platform knows as its vehicle in force (city: shareVehInfo is idempotent by plate).
CANCELLED_NOT_FILED = "已注销：此条目的改动只记入台账，不报送平台"
#: Why an in-plant vehicle's or machine's 注销 still queued is not sent after all: a newer
#: entry of its plate is filed, and the platform's record of the plate is that one's now.
SUPERSEDED = "已注销：同一号牌的新条目已在平台备案，旧条目的注销不再报送（以免注销新条目的备案）"
#: Said before a refused (dead) filing's words once a newer filing of the same entry was
#: accepted by that platform: the older one is closed, not sent again (it would file stale data).
OBSOLETE = "已被此后的备案取代，不再重发（平台已受理该条目更新的备案）；原拒绝："
#: Why a transport vehicle's 注销 is not filed: §4.1.2 / §4.2.15–16 have no status field
#: and the spec has no delete method (README "Electronic ledger").
NO_STATUS_ON_WIRE = "已注销：运输车辆备案接口没有状态字段，注销不报送平台"
#: Why a transport vehicle set to 封存 (or back to 正常) is not filed: its methods carry no
#: status, so nothing the platform holds changed (a modify would send the same content).
STATUS_NOT_ON_WIRE = "状态已改：运输车辆备案接口没有状态字段，平台所存内容未变，不报送平台"


def why_not_filed(entry: Entry, was: EntryStatus | None) -> str:
    """Why a change that leaves ``entry`` as it is now (its status before the change:
    ``was``; None: a new entry) queues no filing; "" when it does. A change to a 注销
    entry (or a new one added 注销) is never filed: the platform's record of the plate
    belongs to the vehicle in force (a reissued plate). Setting an entry to 注销 is filed
    for an in-plant vehicle or a machine (carStatus / mhyStatus 3, §4.2.18–21) but not for a
    transport vehicle, whose methods carry no status: neither is its 封存 nor its return from
    封存 to 正常 (nothing the platform holds changed; a 注销 entry entered back is filed)."""
    if entry.status is not EntryStatus.CANCELLED:
        moved = was is not None and was is not EntryStatus.CANCELLED and was is not entry.status
        return STATUS_NOT_ON_WIRE if moved and entry.REGISTER is Register.VEHICLE else ""
    if was is None or was is EntryStatus.CANCELLED:
        return CANCELLED_NOT_FILED
    return NO_STATUS_ON_WIRE if entry.REGISTER is Register.VEHICLE else ""


def changes(before: Entry, after: Entry) -> dict[str, tuple[str, str]]:
    """The fields that differ (name → (before, after), as text), for the history."""
    old, new = entry_form(before), entry_form(after)
    return {name: (old[name], new[name]) for name in new if old.get(name) != new[name]}
