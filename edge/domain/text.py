"""What free text typed by a person (a guard's reason, a ledger entry's owner or address) may
not hold: characters that hide, turn the text around or break a line — in the platform's
record, the log, the audit and the page."""

from __future__ import annotations

import unicodedata


def hidden_character(ch: str) -> bool:
    """True for a control, format, surrogate, private-use or unassigned character (Unicode
    categories C*: U+0000, ESC, U+0085, U+200B, U+202E that turns the text around, U+FEFF …)
    or a line or paragraph separator (Zl, Zp: U+2028, U+2029). An ideographic space (U+3000,
    typed with a Chinese IME) is text."""
    category = unicodedata.category(ch)
    return category[0] == "C" or category in ("Zl", "Zp")


def holds_hidden(text: str) -> bool:
    """True when ``text`` holds a :func:`hidden_character` anywhere."""
    return any(hidden_character(ch) for ch in text)
