"""Fitting text to an LED panel of ``lines`` × ``width`` half-width cells (a Chinese character
takes two cells, a letter or digit one: a 16-pixel font on a 128 × 64 panel is 4 × 16).

Too many lines: the extra ones are joined onto the last line. A line too wide is either cut at
a character boundary (``truncate``) or sent whole and marked to scroll (``scroll``) on boards
that can. Text is never cut inside a character, so a GBK byte pair is never split (garbled).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from drivers.base import DisplayLine

Overflow = Literal["scroll", "truncate"]


@dataclass(frozen=True, slots=True)
class Panel:
    lines: int = 4
    width: int = 16
    overflow: Overflow = "scroll"


@dataclass(frozen=True, slots=True)
class FittedLine:
    text: str
    ok: bool = True
    scroll: bool = False  # wider than the panel: the board should scroll it


def cells(text: str) -> int:
    """Half-width cells ``text`` takes on a panel (wide and full-width characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def truncate(text: str, width: int) -> str:
    out, used = [], 0
    for ch in text:
        used += cells(ch)
        if used > width:
            break
        out.append(ch)
    return "".join(out).rstrip()


def fit(lines: Sequence[DisplayLine], panel: Panel) -> list[FittedLine]:
    kept = list(lines[: panel.lines])
    if len(lines) > panel.lines and kept:
        rest = " ".join(line.text for line in lines[panel.lines - 1 :])
        kept[-1] = DisplayLine(rest, kept[-1].ok)
    fitted = []
    for line in kept:
        if cells(line.text) <= panel.width:
            fitted.append(FittedLine(line.text, line.ok))
        elif panel.overflow == "scroll":
            fitted.append(FittedLine(line.text, line.ok, scroll=True))
        else:
            fitted.append(FittedLine(truncate(line.text, panel.width), line.ok))
    return fitted
