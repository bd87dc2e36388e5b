"""The goods record (货物台账): what a truck carried, as the platform takes it (pure).

Spec: shareGoodsRecord (§4.1.6, city) and SendGoodsRecordData (§4.2.14, province) carry
``hwmc`` (货物名称, at most 32 characters) and ``ysl`` (运输量, tonnes, a string of at most 4
characters). Decisions (research/ledger-and-weighbridge.md §4.5 item 2): ``ysl`` is the net
weight in tonnes rounded to 0.1 t, without trailing zeros ("20.5", "35", "0.8"); a net of 0 t
(nothing carried) or above 99.9 t (no truck carries that; it would not fit 4 characters) is
refused with :class:`GoodsError`. The goods record belongs to the pass that completed the
weighing — normally the exit (§4.5 item 3).

Every tonnage a person reads — the status page, the ticket (磅单), ``/api/weighings.csv``,
``edge figures`` — is rounded by :func:`tonnes_text`, the rule ``ysl`` is sent by, so a
weighing shows the same tonnes everywhere. An ERP plan's expected tonnage is checked by
:func:`tonnes` too (one rule for what may be reported).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from edge.domain.text import hidden_character, holds_hidden

#: hwmc 字符 32 (§4.1.6, §4.2.14).
GOODS_NAME_LENGTH = 32
#: The largest tonnage that fits ysl's 4 characters with one decimal.
MAX_TONNES = Decimal("99.9")
#: The net weight (kg) from which the tonnage rounds above :data:`MAX_TONNES` (99.95 t).
OVER_MAX_KG = (MAX_TONNES + Decimal("0.05")) * 1000
_TENTH = Decimal("0.1")


class GoodsError(ValueError):
    """A goods name or tonnage the platform must not be sent; the message says why (English:
    the log, the audit), ``said`` the same in Chinese (the clerk's page, the ticket)."""

    def __init__(self, detail: str, said: str) -> None:
        super().__init__(detail)
        self.said = said


def unfit_for_a_name(ch: str) -> bool:
    """True for a character no goods name may hold: a control, format, surrogate, private or
    unassigned character (Unicode categories C*: U+0000, U+0085, U+200B, U+202E, U+FEFF …), a
    line or paragraph separator (Zl, Zp: U+2028, U+2029) and every space separator but the
    plain space (Zs: U+00A0, U+3000 …): each hides, breaks a line or looks like a space it
    is not, in the platform's record, the log and the clerk's page."""
    return hidden_character(ch) or (unicodedata.category(ch) == "Zs" and ch != " ")


def goods_name(name: str) -> str:
    """``hwmc``: the name trimmed of plain spaces; raises :class:`GoodsError` when empty,
    longer than 32 characters or holding a character :func:`unfit_for_a_name` anywhere (the
    ends too: a trailing U+2028 is refused, not trimmed away)."""
    text = name.strip(" ")
    if not text:
        raise GoodsError("goods name (hwmc) is empty", "货物名称为空")
    if len(text) > GOODS_NAME_LENGTH:
        raise GoodsError(
            f"goods name (hwmc) {text!r} is longer than {GOODS_NAME_LENGTH}",
            f"货物名称超过 {GOODS_NAME_LENGTH} 个字",
        )
    if holds_hidden(text) or any(unfit_for_a_name(ch) for ch in text):
        raise GoodsError(
            f"goods name (hwmc) {text!r} contains control, format or separator characters",
            "货物名称含控制字符或特殊空白",
        )
    return text


#: Tonnes from this many digits on are no weight at all (and 0.1 t steps of them would not
#: fit Decimal's 28-digit precision: quantize raised InvalidOperation, an ERP push answered 500).
_ABSURD_DIGITS = 15


def _rounded(kg: Decimal) -> Decimal:
    """``kg`` in tonnes rounded half up to 0.1 t; raises :class:`GoodsError` for a value no
    scale or plan can mean (≥ 10¹⁵ t)."""
    value = kg / 1000
    if value and value.adjusted() >= _ABSURD_DIGITS:
        raise GoodsError(f"weight {kg} kg is impossible", f"重量 {kg} kg 不可能")
    return value.quantize(_TENTH, rounding=ROUND_HALF_UP)


def _shown(value: Decimal) -> str:
    text = format(value, "f")
    return text[:-2] if text.endswith(".0") else text


def tonnes_text(kg: float | Decimal) -> str:
    """``kg`` in tonnes as people read it: rounded half up to 0.1 t, no trailing zeros
    ("20.5", "35", "0") — the rounding of ``ysl``, without its bounds (a daily sum may pass
    99.9 t). Raises :class:`GoodsError` for a value that is not a finite number."""
    try:
        value = Decimal(str(kg))
    except InvalidOperation:
        raise GoodsError(f"weight {kg!r} is not a number", "重量不是数字") from None
    if not value.is_finite():
        raise GoodsError(f"weight {kg} kg is impossible", f"重量 {kg} kg 不可能")
    return _shown(_rounded(value))


def tonnes(net_kg: float | Decimal) -> str:
    """``ysl``: ``net_kg`` in tonnes, rounded to 0.1 t, no trailing zeros
    (:func:`tonnes_text`).

    Raises :class:`GoodsError` for a non-finite or negative net, for one that rounds to 0 t,
    and for more than 99.9 t (from :data:`OVER_MAX_KG`)."""
    try:
        kg = Decimal(str(net_kg))
    except InvalidOperation:
        raise GoodsError(f"net weight {net_kg!r} is not a number", "净重不是数字") from None
    if not kg.is_finite() or kg < 0:
        raise GoodsError(f"net weight {net_kg} kg is impossible", f"净重 {net_kg} kg 不可能")
    value = _rounded(kg)
    if value == 0:
        raise GoodsError(
            f"net weight {net_kg} kg is 0 t: nothing carried, no goods record",
            f"净重 {net_kg} kg 合 0 吨：未载货，无货物台账",
        )
    if value > MAX_TONNES:
        raise GoodsError(
            f"net weight {value} t is more than a truck carries (> {MAX_TONNES} t)",
            f"净重 {value} 吨超过一辆车的载重（> {MAX_TONNES} 吨）",
        )
    return _shown(value)


@dataclass(frozen=True, slots=True)
class GoodsReport:
    """A goods record as the platform receives it, beside its pass's :class:`PassReport`:
    ``goods`` (hwmc), ``tonnes`` (ysl) and when it was registered (djsj, city)."""

    goods: str
    tonnes: str
    registered_at: datetime
