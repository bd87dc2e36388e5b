"""``edge outbox list|show|retry``: look at what waits to be forwarded, and send dead letters
again. Works beside a running daemon (SQLite WAL); the daemon picks up a retry within
30 seconds."""

from __future__ import annotations

import argparse
from datetime import datetime

from edge.config import Config
from edge.store import Store


def _time(value: float | None, cfg: Config) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, cfg.site.zone).strftime("%Y-%m-%d %H:%M:%S")


async def run_outbox(cfg: Config, args: argparse.Namespace) -> int:
    store = await Store.open(cfg.storage.database)
    try:
        if args.action == "list":
            counts = await store.outbox_counts()
            print("outbox:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty")
            state = None if args.state == "all" else args.state
            for row in await store.list_outbox(state, args.limit):
                print(
                    f"{row['id']:>7} {row['state']:<7} {row['kind']:<6} {row['serial']} "
                    f"{row['plate'] or '无牌车':<10} attempts {row['attempts']:<3} "
                    f"{row['last_error'] or ''}"
                )
        elif args.action == "show":
            found = await store.find_pass(args.serial)
            if found is None:
                print(f"no pass {args.serial}")
                return 1
            row = found
            for key in (
                "serial",
                "lane_id",
                "plate",
                "verdict",
                "reason",
                "decided_by",
                "barrier",
                "gate_signal",
                "confirmed_by",
                "source",
            ):
                print(f"{key:>13}: {row[key]}")
            print(f"{'received':>13}: {_time(row['received_at'], cfg)}")
            if row["raw"]:
                print(f"{'camera sent':>13}: {row['raw']}")
            for entry in await store.outbox_of(args.serial):
                print(
                    f"  outbox {entry['id']}: {entry['kind']} {entry['state']}, attempts "
                    f"{entry['attempts']}, sent {_time(entry['sent_at'], cfg)} "
                    f"{entry['last_error'] or ''}"
                )
        else:
            count = await store.retry_dead(args.ids or None)
            print(f"{count} dead letter(s) queued to be sent again")
    finally:
        await store.close()
    return 0
