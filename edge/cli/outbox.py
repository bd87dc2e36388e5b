"""``edge outbox list|show|retry``: look at what waits to be forwarded, and send dead letters
again. Works beside a running daemon (SQLite WAL); the daemon picks up a retry within
30 seconds."""

from __future__ import annotations

import argparse
from datetime import datetime

from edge.cli.acting import cli_actor, cli_operator
from edge.config.model import Config
from edge.domain.codes import GateSignal
from edge.ledger.store import Store, ledger_exists

#: What each stored code means, in the technician's words (the ledger keeps the codes).
_WORDS: dict[str, dict[object, str]] = {
    "verdict": {"open": "open (放行)", "refuse": "refused (禁止通行)"},
    "gate_signal": {
        GateSignal.PASSED: "lifted and passed (抬杆并通过)",
        GateSignal.NOT_LIFTED: "not lifted (未抬杆)",
        GateSignal.LIFTED_NOT_PASSED: "lifted but not passed (抬杆未通过)",
        None: "not yet confirmed (等待确认)",
    },
    "barrier": {
        "opened": "opened (已抬杆)",
        "failed": "command failed (抬杆失败)",
        "not-commanded": "not commanded (未发抬杆命令)",
        None: "unknown",
    },
    "decided_by": {
        "platform": "the platform's answer",
        "offline": "offline policy (platform not reached)",
        "local": "the gate's lists",
        "guard": "a guard (override)",
        "camera": "the camera itself (decided while cut off, pushed later)",
    },
    "confirmed_by": {
        "detector": "the loop detector",
        "timeout": "no vehicle within the confirmation time",
        "barrier": "the barrier's result (no detector to wait for)",
        "restart": "finalised at restart",
        None: "not yet confirmed",
    },
}


def in_words(key: str, value: object) -> str:
    """A stored value as the technician reads it, with the code kept beside it."""
    words = _WORDS.get(key, {}).get(value)
    if words is None:
        return "-" if value is None else str(value)
    return f"{words} [{value}]" if isinstance(value, int) else words


def _time(value: float | None, cfg: Config) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, cfg.site.zone).strftime("%Y-%m-%d %H:%M:%S")


def _plate(plate: str | None, corrected: str | None) -> str:
    """A pass's plate as listed: a guard's correction with the camera's read beside it."""
    if corrected is None:
        return plate or "无牌车"
    return f"{corrected} (corrected; camera read {plate or '无牌车'})"


async def run_outbox(cfg: Config, args: argparse.Namespace) -> int:
    if args.action in ("list", "show") and not ledger_exists(cfg.storage.database):
        print(f"no ledger at {cfg.storage.database} yet: nothing recorded")
        return 0 if args.action == "list" else 1
    store = await Store.open_for(cfg)
    try:
        if args.action == "list":
            counts = await store.outbox_counts()
            print("outbox:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty")
            filings, oldest = await store.filing_backlog()
            waiting = f", oldest queued {_time(oldest, cfg)}" if oldest is not None else ""
            print(
                "filings:",
                f"pending {filings.get('pending', 0)}, dead {filings.get('dead', 0)}{waiting}",
                "(send again: edge vehicles retry, or the 台账 tab)" if filings.get("dead") else "",
            )
            rows = await store.list_outbox(None if args.state == "all" else args.state, args.limit)
            if not rows:
                print(f"{args.state} entries: none")
            for row in rows:
                plate = _plate(row.plate, row.corrected)
                print(
                    f"{row.id:>7} {row.state:<7} {row.kind:<6} {row.serial} "
                    f"{plate:<10} attempts {row.attempts:<3} {row.last_error or ''}"
                )
        elif args.action == "show":
            found = await store.find_pass(args.serial)
            if found is None:
                print(f"no pass {args.serial}")
                return 1
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
                print(f"{key:>13}: {in_words(key, getattr(found, key))}")
            print(f"{'received':>13}: {_time(found.received_at, cfg)}")
            if (corrected := await store.latest_correction(found.id)) is not None:
                print(
                    f"{'corrected':>13}: {corrected.plate} (colour {corrected.plate_color}, by "
                    f"{corrected.reviewer} at {_time(corrected.reviewed_at, cfg)}; the camera "
                    "read the plate above)"
                )
            if message := await store.camera_message(found.id):
                print(f"{'camera sent':>13}: {message}")
            for entry in await store.outbox_of(args.serial):
                print(
                    f"  outbox {entry.id}: {entry.kind} {entry.state}, attempts "
                    f"{entry.attempts}, sent {_time(entry.sent_at, cfg)} "
                    f"{entry.last_error or ''}"
                )
        else:
            done = await cli_operator(cfg, store).retry(cli_actor(), args.ids or None)
            print(f"{done.count} dead letter(s) queued to be sent again")
    finally:
        await store.close()
    return 0
