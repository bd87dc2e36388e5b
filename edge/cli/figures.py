"""``edge figures``: a day's figures per lane, as SendDayDataCity would report them, and the
day's tonnage in and out by goods (weighings)."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from edge.config.model import Config
from edge.ledger.figures import daily_figures, daily_tonnage
from edge.ledger.store import Store, ledger_exists


async def print_figures(cfg: Config, args: argparse.Namespace) -> int:
    """``edge figures [--date D]``."""
    day = date.fromisoformat(args.date) if args.date else datetime.now(cfg.site.zone).date()
    if not ledger_exists(cfg.storage.database):
        print(f"{day}: no ledger at {cfg.storage.database} yet: no passes recorded")
        return 0
    store = await Store.open_for(cfg)
    try:
        figures = await daily_figures(store, day, cfg.site.zone)
        span = cfg.weighing.max_hours_between * 3600
        tonnage = await daily_tonnage(store, day, cfg.site.zone, span)
    finally:
        await store.close()
    print(
        f"{day}  进厂 entries / 出厂 exits / 禁止 refused / 管控 controlled / "
        "国三 in-out / 国四 in-out / 闯岗 crashes / 人工 overrides"
    )
    for lane, f in figures.items():
        print(
            f"{lane:>10}: {f.entries} / {f.exits} / {f.refused} / {f.controlled} / "
            f"{f.stage3_entries}-{f.stage3_exits} / {f.stage4_entries}-{f.stage4_exits} / "
            f"{f.gate_crashes} / {f.overrides}"
        )
    if tonnage:
        print("货物 goods: 进厂 in t / 出厂 out t")
        for t in tonnage:
            print(f"{t.goods or '（未定货物）':>10}: {t.in_t} / {t.out_t}")
    return 0
