"""Plate text and plate colour: the one plate grammar (GA 36, spec §7.1) and similarity.

Every camera adapter, the list commands and the status page hand their raw plate string to
:func:`normalise_plate`; nothing else in the daemon cleans or judges plate text.

The grammar, in order (each step cheap, the first one bounded):

1. a raw string longer than :data:`MAX_RAW_LENGTH` is *unreadable* at once, before any other
   work (a 100 KB "plate" costs one ``len``);
2. full-width to half-width, separators removed, upper case;
3. "no plate" markers (``无牌车``, ``_无_``, …) give a no-plate read;
4. a colour word before the plate (Hikvision ``蓝苏A8HK52``) is removed only for sources that
   add one (``colour_prefix=True``) and only where the rest is still a whole plate of a known
   pattern, so ``黑AF2793`` (黑 = Heilongjiang) keeps its province;
5. a character outside the plate alphabet, or a length no plate has (outside 6…10), makes the
   read *unreadable*: kept for diagnosis (escaped), never used as a plate;
6. plate characters that fit no known pattern (:data:`PATTERNS`) are used but *unusual*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class PlateColor(StrEnum):
    """Plate colour codes of spec §7.1 (the wire value is the one-character string)."""

    BLUE = "0"
    YELLOW = "1"
    WHITE = "2"
    BLACK = "3"
    NEW_ENERGY = "4"
    OTHER = "5"


#: Chinese colour words as cameras prefix them (Hikvision "蓝苏A8HK52") and as people write them.
COLOR_WORDS: dict[str, PlateColor] = {
    "黄绿": PlateColor.NEW_ENERGY,  # large new-energy plates (NEV trucks); before "黄" on purpose
    "蓝": PlateColor.BLUE,
    "黄": PlateColor.YELLOW,
    "白": PlateColor.WHITE,
    "黑": PlateColor.BLACK,
    "绿": PlateColor.NEW_ENERGY,
}

#: English colour words (configs and integrations).
ENGLISH_COLORS: dict[str, PlateColor] = {
    "blue": PlateColor.BLUE,
    "yellow": PlateColor.YELLOW,
    "white": PlateColor.WHITE,
    "black": PlateColor.BLACK,
    "green": PlateColor.NEW_ENERGY,
    "other": PlateColor.OTHER,
}


def color_from_word(value: str) -> PlateColor | None:
    """The plate colour a spec code ("0"-"5"), an English or a Chinese colour word names, or
    None when it names none."""
    text = value.strip().lower()
    if text in {c.value for c in PlateColor}:
        return PlateColor(text)
    return ENGLISH_COLORS.get(text) or COLOR_WORDS.get(text)


#: Chinese names for the LED and the status page.
COLOR_NAMES: dict[PlateColor, str] = {
    PlateColor.BLUE: "蓝",
    PlateColor.YELLOW: "黄",
    PlateColor.WHITE: "白",
    PlateColor.BLACK: "黑",
    PlateColor.NEW_ENERGY: "绿",
    PlateColor.OTHER: "其他",
}

#: What cameras send when they saw a vehicle but could not read a plate.
NO_PLATE_MARKERS = frozenset(
    {"", "_无_", "无", "无牌", "无牌车", "无车牌", "NOPLATE", "UNKNOWN", "NONE", "NULL", "-", "--"}
)

# Separators people and cameras put inside plates (spaces, middle dots, hyphens) removed,
# and ASCII letters in upper case — only those: str.upper() maps ﬀ to FF, ı to I, ſ to S and
# ß to SS, which made plates of characters no plate has (a fresh verification, session 17).
_SEPARATORS = str.maketrans(
    "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", " \t\r\n\u3000·•・.-_"
)
_FULLWIDTH_FIRST, _FULLWIDTH_LAST, _FULLWIDTH_OFFSET = 0xFF01, 0xFF5E, 0xFEE0

#: The 31 province-level abbreviations (省、自治区、直辖市简称) that begin a civil plate.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
#: Characters that end a plate of a special use (GA 36): trailer, coach, police, Hong Kong,
#: Macau, consulate, test, over-size.
SPECIAL_SUFFIXES = "挂学警港澳领试超"
#: Armed police department characters (WJ plates) and the other characters plates carry.
_WJ_DEPARTMENTS = "消边通森金警电"
_OTHER_CHARACTERS = "使应急民航临"
#: Every character a plate can hold, after normalisation.
PLATE_ALPHABET = frozenset(
    PROVINCES
    + SPECIAL_SUFFIXES
    + _WJ_DEPARTMENTS
    + _OTHER_CHARACTERS
    + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)
#: The lengths a usable read may have: known plates have 7 (standard), 8 (new-energy, WJ,
#: 应急) or 9 (five-character 应急); 6 and 10 are let through as unusual (a partial read, a
#: format we do not know) rather than refuse a truck.
MIN_PLATE_LENGTH, MAX_PLATE_LENGTH = 6, 10
#: A raw read longer than this is unreadable before any other work (separators, colour words
#: and a full-width form fit well inside it).
MAX_RAW_LENGTH = 32
#: How much of an unreadable read is kept (escaped) for diagnosis.
SHOWN_LIMIT = 48

_P = f"[{PROVINCES}]"
#: The known plate patterns, by name (GA 36-2018 and its amendments).
PATTERNS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in {
        # 豫A12345, 豫A1234学, 粤Z1234港, 沪A1234领: province, letter, 5 characters, of which
        # the last may be a special-use character; before a special-use character also 5
        # (豫G88362挂, a fleet's trailer plate as cameras read it and clerks type it).
        "standard": rf"{_P}[A-Z](?:[A-Z0-9]{{4}}[A-Z0-9{SPECIAL_SUFFIXES}]"
        rf"|[A-Z0-9]{{5}}[{SPECIAL_SUFFIXES}])",
        # 豫AD12345 (small, D electric / F hybrid first) and 豫A12345D (large, last).
        "new-energy": rf"{_P}[A-Z](?:[DF][A-Z0-9][0-9]{{4}}|[0-9]{{5}}[DF])",
        # 使014578 and the older 014578使: embassy vehicles.
        "embassy": r"使[0-9]{6}|[0-9]{6}使",
        # WJ豫12345, WJ豫1234消: armed police (the province is absent on headquarters plates).
        "armed-police": rf"WJ{_P}?[0-9]{{4}}[0-9A-Z{_WJ_DEPARTMENTS}]",
        # 豫A1234应急 / 豫A12345应急: emergency rescue.
        "emergency": rf"{_P}[A-Z][A-Z0-9]{{4,5}}应急",
        # 民航12345: civil aviation airside vehicles.
        "civil-aviation": r"民航[A-Z0-9]{5}",
        # KA12345: military (two letters, five digits).
        "military": r"[A-Z]{2}[0-9]{5}",
    }.items()
}
# A colour word is removed only where the rest is one of these (a military plate such as
# "AD12345" is also what "黑AD12345", a Heilongjiang new-energy plate, leaves behind).
_STRIPPABLE = tuple(PATTERNS[name] for name in PATTERNS if name != "military")


class PlateStatus(StrEnum):
    """What a read is, as a plate."""

    OK = "ok"  # fits a known pattern
    UNUSUAL = "unusual"  # plate characters and length, but no known pattern: used, flagged
    NO_PLATE = "no-plate"  # the camera says it saw a vehicle without a plate
    UNREADABLE = "unreadable"  # not a plate: kept for diagnosis, never used as one


@dataclass(frozen=True, slots=True)
class NormalisedPlate:
    """A cleaned plate read. ``text`` is ``None`` unless the read is a usable plate
    (:attr:`status` ``ok`` or ``unusual``); ``shown`` is the raw read escaped (control and
    format characters as ``\\uXXXX``, see :func:`escape_read`) for an unreadable read."""

    text: str | None
    color_hint: PlateColor | None = None
    status: PlateStatus = PlateStatus.OK
    pattern: str | None = None  # the known pattern's name
    shown: str | None = None

    @property
    def no_plate(self) -> bool:
        return self.text is None

    @property
    def unreadable(self) -> str | None:
        """The escaped raw text of a read that is not a plate, else ``None``."""
        return self.shown if self.status is PlateStatus.UNREADABLE else None


def escape_read(raw: str) -> str:
    """``raw`` made safe to log and show: control, format and other unprintable characters
    as ``\\uXXXX``, cut at :data:`SHOWN_LIMIT` characters (the full length said)."""
    out = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in raw[:SHOWN_LIMIT])
    return out if len(raw) <= SHOWN_LIMIT else f"{out}…({len(raw)} characters)"


def plate_pattern(text: str) -> str | None:
    """The name of the known pattern ``text`` (normalised) fits, else ``None``."""
    if not MIN_PLATE_LENGTH <= len(text) <= MAX_PLATE_LENGTH:
        return None
    for name, pattern in PATTERNS.items():
        if pattern.fullmatch(text):
            return name
    return None


def plate_shape(text: str) -> str:
    """The shape of a plate, to group unusual ones: a province as 省, a letter as A, a digit
    as 9, other characters as they are (``豫A1234O`` → ``省A9999A``)."""
    return "".join(
        "省" if ch in PROVINCES
        else "A" if "A" <= ch <= "Z"
        else "9" if "0" <= ch <= "9"
        else ch
        for ch in text
    )  # fmt: skip


def _unreadable(raw: str) -> NormalisedPlate:
    return NormalisedPlate(None, status=PlateStatus.UNREADABLE, shown=escape_read(raw))


def _strip_colour(text: str) -> tuple[str, PlateColor | None]:
    for word, color in COLOR_WORDS.items():
        rest = text[len(word) :]
        if text.startswith(word) and any(pattern.fullmatch(rest) for pattern in _STRIPPABLE):
            return rest, color
    return text, None


def to_halfwidth(text: str) -> str:
    """Map full-width ASCII forms (U+FF01..U+FF5E) and the ideographic space to ASCII."""
    out = []
    for ch in text:
        code = ord(ch)
        if _FULLWIDTH_FIRST <= code <= _FULLWIDTH_LAST:
            out.append(chr(code - _FULLWIDTH_OFFSET))
        elif code == 0x3000:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def plate_text(raw: str) -> str:
    """A plate (or the start of one) as the ledger stores it: full-width forms to ASCII, the
    separators people type (spaces, middle dots, hyphens) removed, upper case: ``豫 a·1`` →
    ``豫A1``."""
    return to_halfwidth(raw).translate(_SEPARATORS)


def normalise_plate(raw: str | None, *, colour_prefix: bool = False) -> NormalisedPlate:
    """Clean and judge a raw plate read (the steps are in the module's docstring).

    ``colour_prefix``: the source may put a colour word before the plate (Hikvision, the
    generic format, serial recognisers, ONVIF, people typing); it is removed and returned as
    :attr:`NormalisedPlate.color_hint` only where the rest is a whole plate.
    """
    if raw is None:
        return NormalisedPlate(None, status=PlateStatus.NO_PLATE)
    if len(raw) > MAX_RAW_LENGTH:  # before any other work
        return _unreadable(raw)
    text = plate_text(raw)
    if text in NO_PLATE_MARKERS or "无" in text:
        return NormalisedPlate(None, status=PlateStatus.NO_PLATE)
    hint: PlateColor | None = None
    if colour_prefix:
        text, hint = _strip_colour(text)
    if not MIN_PLATE_LENGTH <= len(text) <= MAX_PLATE_LENGTH or not PLATE_ALPHABET.issuperset(text):
        return _unreadable(raw)
    pattern = plate_pattern(text)
    status = PlateStatus.OK if pattern is not None else PlateStatus.UNUSUAL
    return NormalisedPlate(text, hint, status, pattern)


#: What a person must type for a plate, in words (errors of the CLI and the status page).
TYPED_PLATE_KINDS = "e.g. 豫A12345, 豫AD12345, 豫A1234挂, 豫A1234学, 使014578, WJ豫12345"


def typed_plate(raw: str) -> str | None:
    """A plate a person typed (a list entry, a correction, a guard's refusal, a clerk's plate
    for a weighing), normalised as :func:`normalise_plate` does with ``colour_prefix``, or
    None unless it fits one of the known patterns (:data:`PATTERNS`). A camera's read of
    plate characters that fits none is used (a format we do not know never refuses a truck);
    typed, it is a typing error (``NOTAPLATE``, ``12345678``) that would be stored as a
    plate and never match a camera's read."""
    read = normalise_plate(raw, colour_prefix=True)
    return read.text if read.status is PlateStatus.OK else None


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one substitution, insertion or deletion.

    Cameras refine a read while the vehicle approaches ("豫A1234S" then "豫A12345"); such
    near-duplicates must count as the same vehicle.
    """
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]
