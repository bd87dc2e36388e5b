"""Daily figures per lane and in total (entries, exits, refused, refused by control, 国三 / 国四
entries and exits — the figures of SendDayDataCity a gate can give), computed from the pass
ledger in SQLite, which keeps every pass (``edge figures``; the status page shows today's);
and the day's tonnage in and out by goods, from the weighings."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edge.domain.goods import tonnes_text
from edge.ledger.passes import PassLedger
from edge.ledger.weighings import WeighingLedger


@dataclass(slots=True)
class Figures:
    entries: int = 0
    exits: int = 0
    refused: int = 0
    controlled: int = 0
    stage3_entries: int = 0
    stage3_exits: int = 0
    stage4_entries: int = 0
    stage4_exits: int = 0
    gate_crashes: int = 0
    overrides: int = 0

    def add(self, other: Figures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


async def daily_figures(store: PassLedger, day: date, zone: ZoneInfo) -> dict[str, Figures]:
    """Figures of ``day`` per lane id, and ``"total"``."""
    start = datetime.combine(day, time(0), zone)
    end = start + timedelta(days=1)
    out: dict[str, Figures] = {}
    for row in await store.daily_figures(start.timestamp(), end.timestamp()):
        lane = out.setdefault(row.lane_id, Figures())
        entering = row.direction == "in"
        part = Figures(
            entries=row.passed if entering else 0,
            exits=0 if entering else row.passed,
            refused=row.refused,
            controlled=row.controlled,
            stage3_entries=row.stage3 if entering else 0,
            stage3_exits=0 if entering else row.stage3,
            stage4_entries=row.stage4 if entering else 0,
            stage4_exits=0 if entering else row.stage4,
            gate_crashes=row.gate_crashes,
            overrides=row.overrides,
        )
        lane.add(part)
    total = Figures()
    for figures in out.values():
        total.add(figures)
    out["total"] = total
    return out


@dataclass(frozen=True, slots=True)
class Tonnage:
    """The net tonnage (t) of one goods name a day: delivered in (进厂) and carried out (出厂)."""

    goods: str  # "" : no goods name given yet
    in_t: str = "0"  # tonnes as the goods record rounds them (tonnes_text)
    out_t: str = "0"

    def to_json(self) -> dict[str, object]:
        return {"goods": self.goods, "in_t": self.in_t, "out_t": self.out_t}


async def daily_tonnage(
    store: WeighingLedger, day: date, zone: ZoneInfo, max_between_seconds: float
) -> list[Tonnage]:
    """The tonnage in and out by goods of the weighings completed on ``day`` (the site's
    ``zone``), goods in name order: each sum of net kg in t, rounded as the goods record's
    ``ysl`` (:func:`tonnes_text`, 0.1 t half up)."""
    start = datetime.combine(day, time(0), zone)
    end = start + timedelta(days=1)
    kg: dict[str, dict[str, float]] = {}
    for goods, direction, net in await store.tonnage_between(
        start.timestamp(), end.timestamp(), max_between_seconds
    ):
        kg.setdefault(goods, {})[direction] = net
    return [
        Tonnage(goods, tonnes_text(d.get("in", 0.0)), tonnes_text(d.get("out", 0.0)))
        for goods, d in kg.items()
    ]
