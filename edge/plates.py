"""Plate text and plate colour: normalisation to the spec's forms (§7.1) and similarity.

Every camera adapter hands its raw plate string to :func:`normalise_plate`; nothing else in
the daemon cleans plate text.
"""

from __future__ import annotations

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

# Separators people and cameras put inside plates: spaces, middle dots, hyphens.
_SEPARATORS = str.maketrans("", "", " \t\r\n\u3000·•・.-_")
_FULLWIDTH_FIRST, _FULLWIDTH_LAST, _FULLWIDTH_OFFSET = 0xFF01, 0xFF5E, 0xFEE0

#: Shortest plate text we accept as a read (a provincial character plus five characters).
MIN_PLATE_LENGTH = 6


@dataclass(frozen=True, slots=True)
class NormalisedPlate:
    """A cleaned plate read. ``text`` is ``None`` for a vehicle without a readable plate."""

    text: str | None
    color_hint: PlateColor | None = None

    @property
    def no_plate(self) -> bool:
        return self.text is None


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


def normalise_plate(raw: str | None) -> NormalisedPlate:
    """Clean a raw plate string: strip separators, full-width to half-width, upper case.

    A leading colour word (蓝/黄/白/黑/绿/黄绿) is removed and returned as a colour hint.
    Markers for "no plate" and reads too short to be a plate give ``text=None``.
    """
    if raw is None:
        return NormalisedPlate(None)
    text = to_halfwidth(raw).translate(_SEPARATORS).upper()
    if text in NO_PLATE_MARKERS or "无" in text:
        return NormalisedPlate(None)
    hint: PlateColor | None = None
    for word, color in COLOR_WORDS.items():
        if text.startswith(word) and len(text) - len(word) >= MIN_PLATE_LENGTH:
            text, hint = text[len(word) :], color
            break
    if len(text) < MIN_PLATE_LENGTH:
        return NormalisedPlate(None, hint)
    return NormalisedPlate(text, hint)


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
