"""``edge ledger export``: the inspector's ledger (电子台账) of a date range, one gate and one
plate if asked, as XLSX, or as a ZIP holding that workbook and the images it references
(``edge.actions.inspection``); audited like the page's download."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.actions.inspection import (
    ExportSources,
    file_sink,
    ledger_query,
    stream_register_zip,
    stream_zip,
    vehicles_in,
    write_register_workbook,
    write_workbook,
)
from edge.actions.operator import ActionError
from edge.cli.acting import cli_actor, cli_operator, refused, unwritable
from edge.config.model import Config
from edge.domain.filing import Register
from edge.ledger.database import LedgerBusyError
from edge.ledger.store import Store, ledger_exists


async def run_ledger(cfg: Config, args: argparse.Namespace) -> int:
    """``edge ledger export --from D --to D [--gate G] [--plate P] --out F.xlsx|F.zip``."""
    out: Path = args.out
    if (code := unwritable(out, "--out", (".xlsx", ".zip"))) is not None:
        return code
    if args.register:
        return await _export_register(cfg, Register(args.register), out)
    if not (args.first and args.last):
        print("--from and --to: the days of the pass ledger (or --register)", file=sys.stderr)
        return 2
    try:
        query = ledger_query(args.first, args.last, args.gate, args.plate, cfg.site.zone)
    except ActionError as exc:
        return refused(exc)
    if not ledger_exists(cfg.storage.database):
        print(f"no ledger at {cfg.storage.database} yet: no passes recorded")
        return 1
    store = await Store.open_for(cfg)
    root = cfg.storage.photo_dir  # pass photos, and the documents under its filings/
    sources = ExportSources(photo_root=root, document_root=root, vehicles=vehicles_in(store))
    try:
        if out.suffix.lower() == ".xlsx":
            done = await write_workbook(store, query, out, cfg.site.zone, sources)
        else:
            send, close = file_sink(out)
            try:
                done = await stream_zip(store, query, send, cfg.site.zone, sources)
            finally:
                close()
        what = f"{args.first}..{args.last} gate {query.gate or '*'} plate {query.plate or '*'}"
        await cli_operator(cfg, store).export_ledger(
            cli_actor(), f"{what} {out.suffix[1:]}: {done.rows} rows"
        )
    except LedgerBusyError as exc:
        print(f"the ledger could not be read in time ({exc}); try again", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(f"{out}: {done.rows} passes", end="")
    if out.suffix.lower() == ".zip":
        print(f", {done.images} images" + (f", {done.missing} missing" if done.missing else ""))
    else:
        print()
    return 0


async def _export_register(cfg: Config, register: Register, out: Path) -> int:
    """``edge ledger export --register R --out F``: a register's ledger (表4, 表5)."""
    if not ledger_exists(cfg.storage.database):
        print(f"no ledger at {cfg.storage.database} yet")
        return 1
    store = await Store.open_for(cfg)
    try:
        if out.suffix.lower() == ".xlsx":
            done = await write_register_workbook(store, register, out)
        else:
            send, close = file_sink(out)
            try:
                done = await stream_register_zip(
                    store, register, send, cfg.storage.photo_dir, zone=cfg.site.zone
                )
            finally:
                close()
        what = f"{register.value} register {out.suffix[1:]}: {done.rows} entries"
        await cli_operator(cfg, store).export_ledger(cli_actor(), what)
    finally:
        await store.close()
    print(f"{out}: {done.rows} entries" + (f", {done.images} images" if done.images else ""))
    return 0
