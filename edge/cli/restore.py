"""``edge restore --config …``: the ledger and photos back from the replica, checked, on a new
PC (docs/replication.md). Exit status 0 when the ledger came back whole (the daemon can be
started), 1 when it did not or a tool failed, 2 for a bad option or config."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from edge.config.model import Config
from edge.ledger.books import local_time
from edge.replica.restore import RestoreError, RestoreResult, restore, restore_photos_again
from edge.replica.target import ToolMissingError, describe

#: Missing photos listed by name, at most.
_LISTED = 20


async def run_restore(cfg: Config, args: argparse.Namespace) -> int:
    if args.photos_only and args.at:
        print(
            "--at cannot go with --photos-only: the photos are copied back whole, as the "
            "replica holds them now, never as they stood at a time (--at restores the ledger; "
            "its photos come with it)",
            file=sys.stderr,
        )
        return 2
    at = local_time(args.at, cfg.site.zone) if args.at else None
    if at is not None and at > datetime.now(cfg.site.zone):
        print(f"--at: {args.at!r} is in the future (site time)", file=sys.stderr)
        return 2
    if cfg.replica is not None:
        point = f" as it stood at {at.isoformat(timespec='seconds')}" if at else ""
        what = "the photos" if args.photos_only else "the ledger and photos"
        into = cfg.storage.database.parent
        print(f"restoring {what} from {describe(cfg.replica)}{point} into {into}")
    try:
        if args.photos_only:
            result = await restore_photos_again(cfg)
        else:
            result = await restore(cfg, serial_margin_seconds=args.serial_margin_seconds, at=at)
    except (RestoreError, ToolMissingError) as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return 1
    print(f"ledger: {result.database} — integrity check: {result.integrity}")
    if not result.ok:
        print("the restored ledger is damaged: nothing may start on it", file=sys.stderr)
        if result.damaged_moved_to is not None:
            print(f"it was moved aside to {result.damaged_moved_to}", file=sys.stderr)
        print(
            "restore an earlier point: edge restore --config … --at 'YYYY-MM-DD HH:MM'",
            file=sys.stderr,
        )
        return 1
    print(f"passes: {result.passes}")
    for prefix, floor in sorted(result.floors.items()):
        print(f"serials {prefix}…: continue after {floor}")
    if not args.photos_only:  # (a ledger restored earlier: its floors were printed then)
        print(f"weighings: continue after {result.weighings_after}")
    return _photos_told(result)


def _photos_told(result: RestoreResult) -> int:
    """Print what came of the photos; the exit status (1: they could not be copied back)."""
    print(
        f"photos: {result.photos_restored} of {result.photos_listed} the ledger lists "
        f"came back, {len(result.photos_missing)} missing"
    )
    for rel in result.photos_missing[:_LISTED]:
        print(f"  missing: {rel}")
    if len(result.photos_missing) > _LISTED:
        print(f"  … and {len(result.photos_missing) - _LISTED} more")
    if result.photos_error is not None:
        print(f"the photos could not be copied back: {result.photos_error}", file=sys.stderr)
        print(
            "the ledger is restored and its serials are safe; fix the cause, then copy the "
            "photos again: edge restore --config … --photos-only",
            file=sys.stderr,
        )
        return 1
    print("done: start the daemon (systemctl start edge-gate); forwarding resumes")
    return 0
