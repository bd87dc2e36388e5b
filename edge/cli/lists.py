"""``edge list add|remove|show``: the gate's own lists (in-plant vehicles, allow and deny
lists) edited beside a running daemon, which picks a change up within a few seconds. Entries
of the config are shown too; they are changed in the config."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

from edge.config.model import Config
from edge.domain.plates import PlateStatus, escape_read, normalise_plate
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


def _plate_to_add(raw: str) -> str | None:
    """The plate grammar of every source (README, *Plate grammar*); says what is wrong."""
    read = normalise_plate(raw, colour_prefix=True)
    if read.text is None:
        print(f"--plate: {escape_read(raw)!r} is not a plate (README: plate grammar)",
              file=sys.stderr)  # fmt: skip
    elif read.status is PlateStatus.UNUSUAL:
        print(f"note: {read.text} fits no known plate pattern; added as typed")
    return read.text


async def run_list(cfg: Config, args: argparse.Namespace) -> int:
    if args.action == "show" and not ledger_exists(cfg.storage.database):
        if not _show_config_entries(cfg):
            print("none")
        return 0
    if args.action == "add":
        plate = _plate_to_add(args.plate)
        if plate is None:
            return 2
        until = local_time(args.until, cfg.site.zone) if args.until else None
        if until is not None and until <= datetime.now(cfg.site.zone):
            print(f"--until: {args.until} is already past", file=sys.stderr)
            return 2
    store = await Store.open(cfg.storage.database)
    try:
        if args.action == "add":
            assert plate is not None  # checked above
            expires = until.timestamp() if until else None
            entry_id = await store.add_list_entry(
                plate, args.kind, args.reason, expires, getpass.getuser()
            )
            print(f"entry {entry_id}: {plate} on the {args.kind} list")
        elif args.action == "remove":
            if not await store.remove_list_entry(args.id):
                print(f"no entry {args.id}")
                return 1
            print(f"entry {args.id} removed")
        else:
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
                print(
                    f"{row.id:>8}  {row.kind:<8} {row.plate} {row.reason} {expiry}"
                    f" (by {row.added_by})"
                )
    finally:
        await store.close()
    return 0
