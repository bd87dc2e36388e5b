"""What free text typed by a person (a guard's reason, a ledger entry's owner or address, a
goods name) may not hold: characters that hide, turn the text around or break a line — in the
platform's record, the log, the audit and the page."""

from __future__ import annotations

import unicodedata

#: Unicode's Default_Ignorable_Code_Point characters that are not of category C* (those are
#: refused as such): letters and marks that render as nothing — the Hangul fillers (U+115F,
#: U+1160, U+3164, U+FFA0), the combining grapheme joiner (U+034F), Khmer's inherent vowels
#: (U+17B4, U+17B5), the Mongolian free variation selectors, the Khitan filler (U+16FE4) and
#: the variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF: "⚠️" is a warning sign and one of
#: them). Source: Unicode 15.1 DerivedCoreProperties.txt. And two symbols that show as
#: nothing: the blank Braille pattern (U+2800) and the null notehead (U+1D159).
_BLANK = frozenset(
    [chr(c) for c in (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F)]
    + [chr(c) for c in (0x2800, 0x3164, 0xFFA0, 0x16FE4, 0x1D159)]
    + [chr(c) for c in range(0xFE00, 0xFE10)]
    + [chr(c) for c in range(0xE0100, 0xE01F0)]
)
#: Combining marks one character may carry: Vietnamese and Arabic write two (ế decomposed,
#: shadda and a vowel); more is text piled over the lines around it ("Zalgo").
MAX_COMBINING_MARKS = 2


def hidden_character(ch: str) -> bool:
    """True for a control, format, surrogate, private-use or unassigned character (Unicode
    categories C*: U+0000, ESC, U+0085, U+200B, U+202E that turns the text around, U+FEFF …),
    a line or paragraph separator (Zl, Zp: U+2028, U+2029) or a character that shows as
    nothing (:data:`_BLANK`: U+3164, U+2800, U+FE0F, U+17B4 …). An ideographic space
    (U+3000, typed with a Chinese IME) is text."""
    category = unicodedata.category(ch)
    return category[0] == "C" or category in ("Zl", "Zp") or ch in _BLANK


def holds_hidden(text: str) -> bool:
    """True when ``text`` holds a :func:`hidden_character` anywhere, a combining mark with no
    character to carry it (first, or after a space) or a character carrying more than
    :data:`MAX_COMBINING_MARKS` of them."""
    marks = 0
    carrier = False  # whether the last character can carry a mark
    for ch in text:
        if hidden_character(ch):
            return True
        category = unicodedata.category(ch)
        if category in ("Mn", "Me"):
            marks += 1
            if not carrier or marks > MAX_COMBINING_MARKS:
                return True
        else:
            marks, carrier = 0, category[0] in "LNPS"
    return False
