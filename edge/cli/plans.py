"""``edge plan start|close|list``: a technician (or the enterprise's environment officer) starts,
schedules and closes a heavy-pollution control plan at the gate. Works beside a running
daemon, which picks a change up within a few seconds (``edge.ledger.books.REFRESH_SECONDS``)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from edge.actions.operator import ActionError, check_plan, check_plan_end
from edge.cli.acting import cli_actor, cli_operator, refused
from edge.config.model import Config
from edge.domain.control_plan import LEVEL_NAMES, STRATEGY_NAMES, ControlPlan
from edge.ledger.books import PlanBook, local_time, plan_from_config
from edge.ledger.store import Store, ledger_exists


def _when(text: str | None, cfg: Config) -> datetime | None:
    return None if text is None else local_time(text, cfg.site.zone)


def _show(ts: float | None, cfg: Config) -> str:
    return datetime.fromtimestamp(ts, cfg.site.zone).strftime("%Y-%m-%d %H:%M") if ts else "—"


def _list_config_plans(cfg: Config) -> int:
    for configured in cfg.control_plans:
        p = plan_from_config(configured, cfg.site.zone)
        print(f"   config  {p.name}: strategy {p.strategy}, from {p.start} to {p.end}")
    return len(cfg.control_plans)


def _new_plan(
    args: argparse.Namespace, cfg: Config, start: datetime | None, end: datetime | None
) -> ControlPlan:
    return ControlPlan(
        name=args.name,
        strategy=args.strategy,
        level=args.level,
        area=args.area,
        start=start or datetime.now(cfg.site.zone),
        end=end,
        baseline_heavy_entries=args.baseline,
    )


def _check(args: argparse.Namespace, plan: ControlPlan | None, end: datetime | None) -> None:
    """What can be refused without the ledger. Raises ``InvalidInputError``."""
    if plan is not None:
        check_plan(plan)
    elif args.action == "change":
        check_plan_end(end.timestamp() if end else None)


async def run_plan(cfg: Config, args: argparse.Namespace) -> int:
    if args.action == "list" and not ledger_exists(cfg.storage.database):
        if not _list_config_plans(cfg):
            print("none")
        return 0
    try:
        start = _when(getattr(args, "start", None), cfg)
        end = _when(getattr(args, "end", None), cfg)
    except ValueError as exc:
        print(f"--start/--end: {exc}", file=sys.stderr)
        return 2
    plan = _new_plan(args, cfg, start, end) if args.action == "start" else None
    try:  # checked before the ledger is opened: a refused command leaves nothing behind
        _check(args, plan, end)
    except ActionError as exc:
        return refused(exc)
    store = await Store.open_for(cfg)
    try:
        operator = cli_operator(cfg, store)
        if plan is not None:
            done = await operator.start_plan(cli_actor(), plan)
            print(f"plan {done.id} 「{plan.name}」: {STRATEGY_NAMES[plan.strategy]}")
        elif args.action == "change":
            changes = {
                key: value
                for key, value in (
                    ("strategy", args.strategy),
                    ("level", args.level),
                    ("area", args.area),
                    ("baseline", args.baseline),
                    ("ends_at", end.timestamp() if end else None),
                )
                if value is not None
            }
            await operator.change_plan(cli_actor(), args.id, **changes)
            print(f"plan {args.id} changed: {', '.join(changes)}")
        elif args.action == "close":
            await operator.close_plan(cli_actor(), args.id)
            print(f"plan {args.id} closed")
        else:
            await _list_plans(store, cfg)
    except ActionError as exc:
        return refused(exc)
    finally:
        await store.close()
    return 0


async def _list_plans(store: Store, cfg: Config) -> None:
    configured = _list_config_plans(cfg)
    now = datetime.now(cfg.site.zone)
    book = PlanBook(store, cfg.control_plans, cfg.site.zone)
    active = await book.active(now)
    if active is not None and active.quota is not None:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        used = await store.count_codes_since("quota", midnight.timestamp(), "in")
        print(f"   quota today: {used} of {active.quota} heavy entries used, "
              f"{max(0, active.quota - used)} left / 今日剩余配额")  # fmt: skip
    rows = await store.plans()
    if not configured and not rows:
        print("none")
    for row in rows:
        state = "closed" if row.closed_at else "open"
        print(
            f"{row.id:>6}  {state:<6}  {row.name}: {LEVEL_NAMES.get(row.level)}"
            f" 策略{row.strategy} {STRATEGY_NAMES[row.strategy]}, "
            f"{_show(row.starts_at, cfg)} → {_show(row.ends_at, cfg)}"
            f" (by {row.created_by})"
        )
