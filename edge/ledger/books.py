"""The gate's lists as configured, and which control plan is in force: the plans scheduled
in the config and those started at the gate (``edge plan start``, later the status page), kept
in SQLite. When several are in force, the one started last applies. Plans are re-read from the
store every ``REFRESH_SECONDS``, so one started by a command beside the running daemon takes
effect within that time."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from edge.config.model import ControlPlanConfig, ListedPlate, ListsConfig
from edge.domain.control_plan import ControlPlan
from edge.domain.local_lists import ListEntry, ListKind, LocalLists
from edge.ledger.admin import AdminLedger

REFRESH_SECONDS = 5.0


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def local_time(text: str, zone: ZoneInfo) -> datetime:
    """An ISO time typed by a person (command line, status page); without an offset it is the
    site's local time. Raises ValueError for text that is not one."""
    return _aware(datetime.fromisoformat(text), zone)


def build_lists(cfg: ListsConfig, zone: ZoneInfo) -> LocalLists:
    """The lists of the config (the status page will edit them too)."""
    kinds: tuple[tuple[ListKind, list[ListedPlate]], ...] = (
        ("in-plant", cfg.in_plant),
        ("allow", cfg.allow),
        ("deny", cfg.deny),
    )
    return LocalLists(
        ListEntry(e.plate, kind, e.reason, _aware(e.until, zone) if e.until else None)
        for kind, entries in kinds
        for e in entries
    )


def plan_from_config(cfg: ControlPlanConfig, zone: ZoneInfo) -> ControlPlan:
    return ControlPlan(
        name=cfg.name,
        strategy=cfg.strategy,
        level=cfg.level,
        area=cfg.area,
        start=_aware(cfg.start, zone),
        end=_aware(cfg.end, zone) if cfg.end else None,
        baseline_heavy_entries=cfg.baseline_heavy_entries,
    )


class ListBook:
    """The lists in force: the config's and those added at the gate (``edge list add``, later
    the status page), re-read from the store every ``REFRESH_SECONDS``."""

    def __init__(
        self,
        store: AdminLedger,
        configured: ListsConfig,
        zone: ZoneInfo,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.zone, self._mono = store, zone, monotonic
        self._configured = list(build_lists(configured, zone).entries())
        self.lists = LocalLists(self._configured)
        self._read_at: float | None = None

    def reconfigure(self, configured: ListsConfig) -> None:
        """New config entries (SIGHUP); the stored ones are re-read at the next lookup."""
        self._configured = list(build_lists(configured, self.zone).entries())
        self._read_at = None

    async def refresh(self) -> None:
        stored = [
            ListEntry(
                row.plate,
                row.kind,
                row.reason,
                datetime.fromtimestamp(row.expires_at, self.zone) if row.expires_at else None,
            )
            for row in await self.store.list_entries()
        ]
        self.lists = LocalLists([*self._configured, *stored])
        self._read_at = self._mono()

    async def current(self) -> LocalLists:
        if self._read_at is None or self._mono() - self._read_at > REFRESH_SECONDS:
            await self.refresh()
        return self.lists

    async def add(
        self, plate: str, kind: str, reason: str, expires_at: float | None, by: str
    ) -> int:
        """Put a plate on a list at the gate; in force for this daemon at once (another one
        re-reads within ``REFRESH_SECONDS``)."""
        entry = await self.store.add_list_entry(plate, kind, reason, expires_at, by)
        await self.refresh()
        return entry

    async def remove(self, entry_id: int) -> bool:
        removed = await self.store.remove_list_entry(entry_id)
        await self.refresh()
        return removed


class PlanBook:
    def __init__(
        self,
        store: AdminLedger,
        configured: Sequence[ControlPlanConfig],
        zone: ZoneInfo,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.zone, self._mono = store, zone, monotonic
        self.configured = [plan_from_config(p, zone) for p in configured]
        self._stored: list[ControlPlan] = []
        self._read_at: float | None = None

    def reconfigure(self, configured: Sequence[ControlPlanConfig]) -> None:
        self.configured = [plan_from_config(p, self.zone) for p in configured]
        self._read_at = None

    async def refresh(self) -> None:
        plans = []
        for row in await self.store.plans():
            if row.closed_at is not None:
                continue
            plans.append(
                ControlPlan(
                    name=row.name,
                    strategy=row.strategy,
                    level=row.level,
                    area=row.area,
                    start=datetime.fromtimestamp(row.starts_at, self.zone),
                    end=datetime.fromtimestamp(row.ends_at, self.zone) if row.ends_at else None,
                    baseline_heavy_entries=row.baseline,
                )
            )
        self._stored, self._read_at = plans, self._mono()

    async def active(self, when: datetime) -> ControlPlan | None:
        if self._read_at is None or self._mono() - self._read_at > REFRESH_SECONDS:
            await self.refresh()
        in_force = [p for p in (*self.configured, *self._stored) if p.active_at(when)]
        return max(in_force, key=lambda p: p.start or when, default=None)

    async def start(self, plan: ControlPlan, by: str) -> int:
        """Start (or schedule) a plan at the gate; in force for this daemon at once."""
        plan_id = await self.store.add_plan(plan, by)
        await self.refresh()
        return plan_id

    async def change(self, plan_id: int, **changes: object) -> bool:
        """Change an open plan (``Store.change_plan``); in force for this daemon at once."""
        changed = await self.store.change_plan(plan_id, **changes)
        await self.refresh()
        return changed

    async def close(self, plan_id: int) -> bool:
        closed = await self.store.close_plan(plan_id)
        await self.refresh()
        return closed
