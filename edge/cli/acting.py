"""The command line as a face of ``edge.actions.operator``: who acts (the login running the
command), the operator over a ledger opened by the command, and a refusal as an exit code."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

from edge.actions.operator import (
    ActionError,
    Actor,
    Correct,
    Face,
    NotFoundError,
    Operator,
)
from edge.config.model import Config
from edge.gate.weighbridge import ScalePairing
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.store import Store


def cli_actor() -> Actor:
    """The person at the terminal, by their login (authenticated by the system)."""
    return Actor(getpass.getuser(), "cli", Face.CLI)


def cli_operator(
    cfg: Config,
    store: Store,
    correct: Correct | None = None,
    weighbridges: Mapping[str, ScalePairing] | None = None,
) -> Operator:
    """The operator actions over ``store`` with the books a running daemon reads too: a
    change made here reaches its lanes within ``edge.ledger.books.REFRESH_SECONDS``;
    ``weighbridges``: the config's scales, to give a weighing its plate."""
    lists = ListBook(store, cfg.lists, cfg.site.zone)
    plans = PlanBook(store, cfg.control_plans, cfg.site.zone)
    return Operator(
        store, lists, plans, correct=correct, goods_list=cfg.weighing.goods,
        weighbridges=weighbridges,
    )  # fmt: skip


def refused(exc: ActionError, positional: Collection[str] = ()) -> int:
    """An action not carried out, said in one line: not found on stdout with exit code 1;
    bad input (naming its option, or its argument when ``exc.key`` is one of the command's
    ``positional`` arguments) or not allowed on stderr with exit code 2."""
    if isinstance(exc, NotFoundError):
        print(exc.detail)
        return 1
    if exc.key:
        label = exc.key if exc.key in positional else f"--{exc.key}"
        print(f"{label}: {exc.detail}", file=sys.stderr)
    else:
        print(exc.detail, file=sys.stderr)
    return 2


def unwritable(path: Path, option: str, suffixes: tuple[str, ...]) -> int | None:
    """``None`` when a file can be written at ``path`` (its directory exists and may be
    written, its name ends in one of ``suffixes``); else the refusal said on stderr naming
    ``option``, and exit code 2 — checked before any work, so no traceback ends a long export."""
    folder = path.parent
    if path.suffix.lower() not in suffixes:
        problem = f"name a {' or '.join(suffixes)} file"
    elif not folder.is_dir():
        problem = f"no directory {folder}"
    elif not os.access(folder, os.W_OK):
        problem = f"directory {folder} cannot be written"
    else:
        return None
    print(f"{option}: {problem}", file=sys.stderr)
    return 2
