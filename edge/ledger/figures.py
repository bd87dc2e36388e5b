"""Daily figures per lane and in total (entries, exits, refused, refused by control, 国三 / 国四
entries and exits — the figures of SendDayDataCity a gate can give), computed from the pass
ledger in SQLite, which keeps every pass (``edge figures``; the status page shows today's)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edge.ledger.passes import PassLedger


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
