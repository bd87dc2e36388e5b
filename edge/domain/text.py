"""What free text typed by a person (a guard's reason, a ledger entry's owner or address) may
not hold: characters that hide, turn the text around or break a line — in the platform's
record, the log, the audit and the page."""

from __future__ import annotations

import unicodedata

#: Characters that are letters, symbols or marks to Unicode but show as nothing: the Hangul
#: fillers (U+115F, U+1160, U+3164, U+FFA0), the blank Braille pattern (U+2800), the combining
#: grapheme joiner (U+034F), the Mongolian free variation selectors and the variation
#: selectors (U+FE00–U+FE0F, U+E0100–U+E01EF: "⚠️" is a warning sign and one of them).
_BLANK_LOOKALIKES = frozenset(
    [chr(c) for c in (0x034F, 0x115F, 0x1160, 0x180B, 0x180C, 0x180D, 0x180F, 0x2800)]
    + [chr(c) for c in (0x3164, 0xFFA0)]
    + [chr(c) for c in range(0xFE00, 0xFE10)]
    + [chr(c) for c in range(0xE0100, 0xE01F0)]
)
#: Combining marks one character may carry: Arabic writes two (shadda and a vowel), pinyin
#: typed decomposed one; more is text piled over the lines above and below it ("Zalgo").
MAX_COMBINING_MARKS = 3


def hidden_character(ch: str) -> bool:
    """True for a control, format, surrogate, private-use or unassigned character (Unicode
    categories C*: U+0000, ESC, U+0085, U+200B, U+202E that turns the text around, U+FEFF …),
    a line or paragraph separator (Zl, Zp: U+2028, U+2029) or a character that shows as
    nothing (:data:`_BLANK_LOOKALIKES`: U+3164, U+2800, U+FE0F …). An ideographic space
    (U+3000, typed with a Chinese IME) is text."""
    category = unicodedata.category(ch)
    return category[0] == "C" or category in ("Zl", "Zp") or ch in _BLANK_LOOKALIKES


def holds_hidden(text: str) -> bool:
    """True when ``text`` holds a :func:`hidden_character` anywhere, or a character carrying
    more than :data:`MAX_COMBINING_MARKS` combining marks."""
    marks = 0
    for ch in text:
        if hidden_character(ch):
            return True
        marks = marks + 1 if unicodedata.category(ch) in ("Mn", "Me") else 0
        if marks > MAX_COMBINING_MARKS:
            return True
    return False
