"""``edge correct``: a guard corrects a misread plate from the command line."""

from __future__ import annotations

import argparse

from edge.actions.corrections import correct_pass
from edge.actions.operator import ActionError, NotFoundError
from edge.cli.acting import cli_actor, cli_operator, refused
from edge.config.model import Config
from edge.daemon import build_platform
from edge.domain.plates import PlateColor
from edge.gate.weighbridge import scale_pairings
from edge.ledger.store import Store


async def run_correct(cfg: Config, args: argparse.Namespace) -> int:
    """``edge correct SERIAL --plate … --reviewer …`` (beside a running daemon, which sends
    the report within its next poll of the outbox)."""
    store = await Store.open_for(cfg)
    platform = build_platform(cfg)

    async def correct(serial: str, plate: str, color: PlateColor, reviewer: str) -> int:
        return await correct_pass(
            cfg, store, platform, serial, plate=plate, color=color, reviewer=reviewer
        )

    operator = cli_operator(cfg, store, correct, weighbridges=scale_pairings(cfg, store))
    try:
        done = await operator.correct(
            cli_actor(), args.serial, args.plate, args.color, reviewer=args.reviewer
        )
    except NotFoundError:
        print(f"no pass {args.serial}")
        return 1
    except ActionError as exc:
        return refused(exc)
    finally:
        await platform.aclose()
        await store.close()
    if not done.ok:  # already corrected to that plate: a no-op
        print(f"{args.serial}: {done.detail}")
        return 0
    reported = "to be reported (CheckFeedbackReport)" if platform.reports_corrections else "kept"
    print(f"{args.serial}: plate corrected to {done.plate}, {reported}")
    for carried in done.detail.split("; ")[1:]:  # the weighings the correction carried to
        print(f"  {carried}")
    if done.note:  # e.g. a weighing left as it is: a clerk checks it
        print(f"note: {done.note}")
    return 0
