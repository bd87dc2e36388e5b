"""Heavy-pollution control plans (重污染天气应急管控, spec §4.2.22–24, §7.18–7.21) and what their
strategies forbid. Pure rules, no I/O.

Strategy codes (§7.20):
  1 heavy diesel (and gas) vehicles 国三 and below may not pass;
  2 heavy diesel (and gas) 国四 and below;
  3 heavy diesel 国四 and below, and heavy gas 国五 and below;
  4–6 as 1–3, and transport cut by 50 % (a daily quota of heavy-vehicle entries);
  7 all vehicle transport stops.

Heavy (§7.7): the heavy truck (H1x), heavy tractor (Q1x) and heavy trailer (B1x semi, G1x full)
codes; without a vehicle type, a gross vehicle mass (GVM) of at least ``heavy_gvm_kg``.
Fuel (§7.12): diesel B; gas E (natural gas) and F (LPG). Emission stage (§7.6): 0–7, D
electric, X none.

Decisions where the spec is silent (named in the README): a diesel or gas vehicle whose class
is unknown counts as heavy, and one whose emission stage is unknown (X or empty) counts as
the lowest stage, while a plan is active — the gate cannot show it complies. Plans apply to
entries and exits alike (the truck leaves onto the same roads); the 50 % quota counts
entries only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.domain.codes import EMISSION_NAMES, FUEL_NAMES

HEAVY_TYPE_PREFIXES = ("H1", "Q1", "B1", "G1")
DIESEL = frozenset({"B"})
GAS = frozenset({"E", "F"})
STOP_ALL = 7
LEVEL_NAMES = {1: "黄色", 2: "橙色", 3: "红色", 4: "其他"}
STRATEGY_NAMES = {
    1: "禁行国三及以下重型柴油(燃气)车",
    2: "禁行国四及以下重型柴油(燃气)车",
    3: "禁行国四及以下重型柴油与国五及以下燃气车",
    4: "禁行国三及以下重型柴油(燃气)车 减少50%运输",
    5: "禁行国四及以下重型柴油(燃气)车 减少50%运输",
    6: "禁行国四及以下重型柴油与国五及以下燃气车 减少50%运输",
    7: "停止车辆运输",
}


@dataclass(frozen=True, slots=True)
class ControlPlan:
    """A control plan as the gate applies it (defined locally or from the platform)."""

    name: str
    strategy: int  # §7.20, 1–7
    level: int = 1  # §7.18
    area: int = 1  # §7.19
    start: datetime | None = None  # None: from now on
    end: datetime | None = None  # expected end; None: until closed
    #: Heavy-vehicle entries on a normal day; strategies 4–6 allow half of it per day.
    baseline_heavy_entries: int = 0

    def active_at(self, when: datetime) -> bool:
        return (self.start is None or self.start <= when) and (self.end is None or when < self.end)

    @property
    def quota(self) -> int | None:
        """Heavy-vehicle entries allowed per day, when the strategy cuts transport by 50 %."""
        return self.baseline_heavy_entries // 2 if self.strategy in (4, 5, 6) else None


def is_heavy(vehicle_type: str, gvm: str, heavy_gvm_kg: float) -> bool | None:
    """Whether the vehicle is heavy; None when neither its type nor its mass is known."""
    if vehicle_type:
        return vehicle_type.upper().startswith(HEAVY_TYPE_PREFIXES)
    try:
        return float(gvm) >= heavy_gvm_kg
    except ValueError:
        return None


def _stage(emission: str) -> int | None:
    """The emission stage as a number; None for electric (D); 0 when unknown (X, empty)."""
    if emission == "D":
        return None
    return int(emission) if emission.isdigit() else 0


def vehicle_words(fuel: str, emission: str) -> str:
    """e.g. "国四柴油" for the LED and the recorded reason."""
    fuel_name = FUEL_NAMES.get(fuel, "")
    if emission.isdigit():
        return f"{EMISSION_NAMES.get(emission, '')}{fuel_name}"
    return f"{fuel_name} 排放阶段不明" if fuel_name else "排放阶段不明"


def forbidden(plan: ControlPlan, *, fuel: str, emission: str, heavy: bool | None) -> str | None:
    """Why ``plan`` forbids this vehicle to move, or None when it may."""
    if plan.strategy == STOP_ALL:
        return "停止车辆运输"
    if fuel not in DIESEL | GAS or heavy is False:
        return None
    stage = _stage(emission)
    if stage is None:
        return None
    base = (plan.strategy - 1) % 3 + 1  # 4–6 forbid what 1–3 do
    limit = {1: 3, 2: 4, 3: 4 if fuel in DIESEL else 5}[base]
    if stage > limit:
        return None
    return f"{vehicle_words(fuel, emission)} 重污染管控"
