"""``edge correct``: a guard corrects a misread plate from the command line."""

from __future__ import annotations

import argparse

from edge.actions.corrections import correct_pass
from edge.config.model import Config
from edge.daemon import build_platform
from edge.domain.plates import PlateColor
from edge.ledger.store import Store


async def run_correct(cfg: Config, args: argparse.Namespace) -> int:
    """``edge correct SERIAL --plate … --reviewer …`` (beside a running daemon, which sends
    the report within its next poll of the outbox)."""
    store = await Store.open(cfg.storage.database)
    platform = build_platform(cfg)
    try:
        await correct_pass(
            cfg,
            store,
            platform,
            args.serial,
            plate=args.plate,
            color=PlateColor(args.color),
            reviewer=args.reviewer,
        )
    except KeyError:
        print(f"no pass {args.serial}")
        return 1
    except ValueError as exc:
        print(exc)
        return 2
    finally:
        await platform.aclose()
        await store.close()
    reported = "to be reported (CheckFeedbackReport)" if platform.reports_corrections else "kept"
    print(f"{args.serial}: plate corrected to {args.plate}, {reported}")
    return 0
