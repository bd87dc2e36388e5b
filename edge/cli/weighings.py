"""``edge weighings list|resolve|discard|drop-read|checked|split|same-truck|higher-weight``: the
weighings without their
plate — held as 待确认车牌 (more than one plate read was pending) or unmatched (未识别车牌) —
from the command line, as a clerk resolves them on the status page: give one its plate (one
of its candidate reads, or a typed plate), or discard one that is no truck's load, with a
reason; drop a stray plate read (a car, a truck that skipped the scale) so that it is no
candidate any more; clear the check of a weighing whose plate or weight was in doubt (请核对
车牌 / 请核对重量; its goods record, held meanwhile, then goes out) once a clerk checked it;
split a completed weighing of two trucks (a misread plate paired them), with a reason; say a
weighing is the truck weighed just before it, stopped again (same-truck: 同一车辆), or take the
higher stop of a completed weighing marked 请核对重量 (higher-weight).
Each action goes through ``edge.actions.operator`` as the login running the command (audited
once). Works beside a running daemon (SQLite WAL): the status page shows the change at its
next refresh."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime

from edge.actions.operator import ActionError
from edge.cli.acting import cli_actor, cli_operator, refused
from edge.config.model import Config
from edge.domain.weighing import state_name
from edge.gate.weighbridge import scale_pairings
from edge.ledger.rows import StoredWeighing
from edge.ledger.store import Store, ledger_exists

#: ``list`` shows the weighings without a plate taken in this many seconds (as the page).
LISTED_SECONDS = 7 * 86400.0
LISTED = 50


async def run_weighings(cfg: Config, args: argparse.Namespace) -> int:
    if not ledger_exists(cfg.storage.database):  # nothing weighed yet: no ledger is created
        print(f"no ledger at {cfg.storage.database} yet: no weighings")
        return 0 if args.action == "list" else 1
    store = await Store.open_for(cfg)
    try:
        if args.action == "list":
            await _list(cfg, store)
            return 0
        operator = cli_operator(cfg, store, weighbridges=scale_pairings(cfg, store))
        try:
            if args.action == "resolve":
                done = await operator.assign_plate(
                    cli_actor(), args.id, read=args.read, plate=args.plate or "",
                    color=args.color, returned=args.returned,
                )  # fmt: skip
            elif args.action == "drop-read":
                done = await operator.drop_read(cli_actor(), args.read)
            elif args.action == "checked":
                done = await operator.clear_check(cli_actor(), args.id)
            elif args.action == "split":
                done = await operator.split_weighing(cli_actor(), args.id, args.reason)
            elif args.action == "same-truck":
                done = await operator.same_truck(cli_actor(), args.id)
            elif args.action == "higher-weight":
                done = await operator.take_higher_weight(cli_actor(), args.id)
            else:
                done = await operator.discard_weighing(cli_actor(), args.id, args.reason)
        except ActionError as exc:
            # the command's arguments (resolve's --read is an option)
            return refused(exc, positional=("read",) if args.action == "drop-read" else ("id",))
        print(done.detail)
        return 0
    finally:
        await store.close()


async def _list(cfg: Config, store: Store) -> None:
    """Each weighing without its plate, newest first: id, time, scale, weight, state, and
    the candidate reads a held one may be (``--read`` takes the read's number)."""

    def when(at: float) -> str:
        return datetime.fromtimestamp(at, cfg.site.zone).strftime("%Y-%m-%d %H:%M:%S")

    nobody = await store.unmatched_weighings(time.time() - LISTED_SECONDS, LISTED)
    reads = [r.id for w in nobody for r in w.candidate_reads]
    used, dropped = await store.used_reads(reads), await store.dropped_reads(reads)
    now = time.time()
    for name, scale in cfg.scales.items():  # what the next weighing on each scale would take
        pending = await store.pending_reads(name, now - scale.plate_max_age_seconds)
        print(f"plate reads pending at {scale.name or name}: {len(pending) or 'none'}")
        for read in pending:
            r = read.read
            print(f"        read {read.id}: {r.plate} (lane {r.lane_id}, {when(r.read_at)}, "
                  f"{round(now - r.read_at)} s ago, pass {r.serial})")  # fmt: skip
    checks = await store.weighings_to_check(now - LISTED_SECONDS, LISTED)
    print(f"weighings to check: {len(checks) or 'none'}")
    for w in checks:  # its plate or weight in doubt: `edge weighings checked ID` once checked
        label = cfg.scales[w.first_scale].name if w.first_scale in cfg.scales else ""
        state = state_name("held" if w.held else w.state)
        passes = ", ".join(s for s in (w.first_serial, w.second_serial) if s)
        tied = f", pass {passes} (a wrong plate: edge correct … SERIAL)" if passes else ""
        print(f"{w.id:>7} {when(w.first_at)} {label or w.first_scale} {w.plate or 'no plate'} "
              f"{w.first_kg:g} kg {state}{tied}")  # fmt: skip
        for check in w.checks:
            held = ""
            if check.hold:  # an open first weighing has no goods record yet: its pair's waits
                held = " (goods record held)" if w.ysl else " (its goods record will wait)"
            print(f"        check {check.kind}{held}: {check.why}")
        if _splittable(w):
            print(f"        two trucks? edge weighings split --config … {w.id} --reason …")
        if any(c.kind == "weight" and c.kg for c in w.checks):
            print(f"        the higher stop is its weight? edge weighings higher-weight "
                  f"--config … {w.id}")  # fmt: skip
    print(f"weighings without a plate: {len(nobody) or 'none'}")
    for w in nobody:
        label = cfg.scales[w.first_scale].name if w.first_scale in cfg.scales else ""
        state = state_name("held" if w.held else w.state)
        print(f"{w.id:>7} {when(w.first_at)} {label or w.first_scale} {w.first_kg:g} kg {state}")
        if w.stop_of is not None:  # the truck weighed before it may still have stood there
            how = ("the scale not watched since: stopped again, or left and came back"
                   if w.stop_unwatched else "the platform not emptied since")  # fmt: skip
            print(f"        after weighing {w.stop_of} ({how}): the same truck? edge weighings "
                  f"same-truck --config … {w.id}")  # fmt: skip
        _print_candidates(w, used, dropped, when)


def _print_candidates(
    w: StoredWeighing, used: set[int], dropped: set[int], when: Callable[[float], str]
) -> None:
    """The candidate reads of a weighing without its plate that no other weighing used (the
    ``--read`` numbers), or that none is left."""
    if w.held and all(read.id in used for read in w.candidate_reads):
        print("        no candidate left (other weighings used them): --plate … or discard")
    for read in w.candidate_reads:
        if read.id not in used:  # a read another weighing used is no candidate
            r = read.read
            age = round(abs(w.first_at - r.read_at))
            side = f"{age} s after" if r.read_at > w.first_at else f"{age} s before"
            mark = ", dropped" if read.id in dropped else ""
            print(f"        --read {read.id}: {r.plate} (colour {r.plate_color}, lane "
                  f"{r.lane_id}, {when(r.read_at)}, {side} the weighing, pass "
                  f"{r.serial}{mark})")  # fmt: skip


def _splittable(w: StoredWeighing) -> bool:
    """A completed pair of two weighings whose plate is in doubt and whose goods record was
    not sent (a plate check that holds it): the clerk may split it (``split``)."""
    return (
        w.state == "complete"
        and w.second_at is not None
        and not w.tare_preset
        and any(c.kind == "plate" and c.hold for c in w.checks)
    )
