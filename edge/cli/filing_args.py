"""The options of ``edge vehicles|inner-vehicles|machinery`` (light: the command line builds
its parser without importing what the commands run; see :mod:`edge.cli.filing`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from edge.domain.filing import IMAGE_WORDS, Register, field_names, image_kinds

#: Fields ``edit`` does not take: plate and colour identify an entry (add a new one and set
#: the old one to 注销), the status has its own action (``status``).
UNEDITABLE = frozenset({"plate", "plate_color", "status"})

#: The command's name → its register.
COMMANDS = {"vehicles": Register.VEHICLE, "inner-vehicles": Register.INNER,
            "machinery": Register.MACHINE}  # fmt: skip


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    func: Callable[[argparse.Namespace], int],
) -> None:
    """The three commands and their actions, each running ``func``."""
    helps = {
        "vehicles": "the ledger of transport vehicles (运输车辆) and their filings",
        "inner-vehicles": "the ledger of in-plant vehicles (厂内运输车辆)",
        "machinery": "the ledger of non-road mobile machinery (非道路移动机械)",
    }
    for command, register in COMMANDS.items():
        parser = sub.add_parser(command, help=helps[command])
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add an entry (and file it when it may be)")
        for name in field_names(register):
            add.add_argument(f"--{name.replace('_', '-')}", dest=f"field_{name}")
        _image_options(add, register)
        edit = actions.add_parser(
            "edit", help="change an entry's fields (and file it again when it may be)"
        )
        edit.add_argument("id", type=int, help="the entry's id (show lists it)")
        for name in field_names(register):
            if name not in UNEDITABLE:
                edit.add_argument(f"--{name.replace('_', '-')}", dest=f"field_{name}")
        status = actions.add_parser("status", help="set an entry's status: 1 正常, 2 封存, 3 注销")
        status.add_argument("id", type=int, help="the entry's id (show lists it)")
        status.add_argument("status", help="1 正常, 2 封存 or 3 注销 (the code or the word)")
        attach = actions.add_parser(
            "attach", help="attach a document image, replacing the entry's one of that kind"
        )
        attach.add_argument("id", type=int, help="the entry's id (show lists it)")
        _image_options(attach.add_mutually_exclusive_group(required=True), register)
        imp = actions.add_parser("import", help="import an .xlsx or .csv file: all rows or none")
        imp.add_argument("file", type=Path)
        show = actions.add_parser("show", help="entries (newest first), or one with --id")
        show.add_argument("--search", default="", help="plate, VIN, engine number: its start")
        show.add_argument("--status", choices=["1", "2", "3"], help="1 正常, 2 封存, 3 注销")
        show.add_argument("--id", type=int, help="one entry: fields, images, filings, history")
        show.add_argument("--limit", type=int, default=50)
        export = actions.add_parser("export", help="every entry to an .xlsx or .csv file")
        export.add_argument("--output", type=Path, required=True)
        tmpl = actions.add_parser("template", help="write the import template (.xlsx)")
        tmpl.add_argument("--output", type=Path, required=True)
        retry = actions.add_parser("retry", help="send refused or undelivered filings again")
        retry.add_argument("ids", nargs="*", type=int, help="outbox-of-filings ids (default all)")
        for holder in (parser, add, edit, status, attach, imp, show, export, tmpl, retry):
            holder.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                                help="the config file (required)")  # fmt: skip
            holder.set_defaults(needs_config=True, register=register.value, func=func)


def _image_options(parser: argparse._ActionsContainer, register: Register) -> None:
    """The register's document images as options (``--driving-license F``, …)."""
    for kind in image_kinds(register):
        what = f"{IMAGE_WORDS[kind]}: an image file (JPEG, PNG, BMP, WebP)"
        option = f"--{kind.value.replace('_', '-')}"
        parser.add_argument(option, type=Path, dest=f"image_{kind}", help=what)
