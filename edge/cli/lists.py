"""``edge list add|remove|show``: the gate's own lists (in-plant vehicles, allow and deny
lists) edited beside a running daemon, which picks a change up within a few seconds. Entries
of the config are shown too; they are changed in the config."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from edge.actions.operator import ActionError, check_list_entry
from edge.cli.acting import cli_actor, cli_operator, refused
from edge.config.model import Config
from edge.ledger.books import local_time
from edge.ledger.store import Store, ledger_exists


def _show_config_entries(cfg: Config) -> int:
    shown = 0
    for kind, entries in (
        ("in-plant", cfg.lists.in_plant),
        ("allow", cfg.lists.allow),
        ("deny", cfg.lists.deny),
    ):
        for e in entries:
            print(f"  config  {kind:<8} {e.plate} {e.reason} {e.until or ''}")
            shown += 1
    return shown


async def run_list(cfg: Config, args: argparse.Namespace) -> int:
    if args.action == "show" and not ledger_exists(cfg.storage.database):
        if not _show_config_entries(cfg):
            print("none")
        return 0
    try:
        until = local_time(args.until, cfg.site.zone) if getattr(args, "until", None) else None
    except ValueError:
        print(f"--until: {args.until!r} is not a date and time", file=sys.stderr)
        return 2
    if args.action == "add":
        try:  # before the ledger is opened: a refused command leaves nothing behind
            check_list_entry(args.plate, args.kind, args.reason, until)
        except ActionError as exc:
            return refused(exc)
    store = await Store.open_for(cfg)
    try:
        operator = cli_operator(cfg, store)
        if args.action == "add":
            done = await operator.add_list_entry(
                cli_actor(), args.plate, args.kind, args.reason, until
            )
            if done.note:
                print(f"note: {done.note}")
            print(f"entry {done.id}: {done.plate} on the {args.kind} list")
        elif args.action == "remove":
            await operator.remove_list_entry(cli_actor(), args.id)
            print(f"entry {args.id} removed")
        else:
            await _show(cfg, store)
    except ActionError as exc:
        return refused(exc)
    finally:
        await store.close()
    return 0


async def _show(cfg: Config, store: Store) -> None:
    shown = _show_config_entries(cfg)
    rows = await store.list_entries()
    if not shown and not rows:
        print("none")
    for row in rows:
        expiry = (
            datetime.fromtimestamp(row.expires_at, cfg.site.zone).isoformat()
            if row.expires_at
            else ""
        )
        print(f"{row.id:>8}  {row.kind:<8} {row.plate} {row.reason} {expiry} (by {row.added_by})")
