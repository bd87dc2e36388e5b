"""``edge vehicles|inner-vehicles|machinery ACTION``: the electronic ledger (电子台账) from
the command line (add, edit, status, attach, import, show, export, template, retry),
beside a running daemon (whose filing sender picks a queued filing up within its poll
interval). Options come after the action; bad input names its option or field and exits
2; a list with nothing in it prints "none".
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from datetime import datetime

from edge.actions.filing import EntryRefusedError, Filings, ImportRefusedError
from edge.actions.filing_files import read_rows, rows_without_numbers, template, write_export
from edge.actions.operator import ActionError, Done, NotFoundError
from edge.cli.acting import cli_actor, cli_operator, refused, unwritable
from edge.config.model import Config
from edge.domain.filing import (
    FILING_WORDS,
    IMAGE_WORDS,
    STATUS_WORDS,
    TITLES,
    EntryStatus,
    FilingError,
    FilingState,
    ImageKind,
    Register,
    field_names,
    parse_entry,
)
from edge.domain.filing_words import CODE_LISTS, REGISTER_WORDS, as_codes, refusal_words, words
from edge.ledger.rows import StoredEntry
from edge.ledger.store import Store, ledger_exists

#: The actions on one entry (its id the first argument).
CHANGES = ("edit", "status", "attach")


async def run_filing(cfg: Config, args: argparse.Namespace) -> int:
    register = Register(args.register)
    if args.action in ("template", "export"):
        kinds = (".xlsx",) if args.action == "template" else (".xlsx", ".csv")
        if (code := unwritable(args.output, "--output", kinds)) is not None:
            return code
    if args.action == "template":
        args.output.write_bytes(template(register))
        print(f"template written to {args.output}")
        return 0
    if args.action in ("show", "export") and not ledger_exists(cfg.storage.database):
        print("none")
        return 0
    if args.action in CHANGES and not ledger_exists(cfg.storage.database):
        print(f"no entry {args.id}")
        return 1
    if args.action == "add" and not ledger_exists(cfg.storage.database):
        # no ledger yet: a refused command leaves none (nothing to audit it in); with one,
        # the refusal is audited once as the page's is (Filings.add)
        try:
            parse_entry(
                register, as_codes(_form(register, args)), today=datetime.now(cfg.site.zone).date()
            )
        except FilingError as exc:
            return _refused_fields(exc)
    store = await Store.open_for(cfg)
    try:
        filings = Filings(
            cli_operator(cfg, store),
            cfg.storage.photo_dir,
            platform=cfg.platform.mode,
            zone=cfg.site.zone,
        )
        return await _act(cfg, store, filings, register, args)
    except ImportRefusedError as exc:
        print(f"nothing imported: {len({p.row for p in exc.problems})} bad row(s)", file=sys.stderr)
        for row_problem in exc.problems:  # English with the field key, then the clerk's words
            said = words(row_problem.field, row_problem.reason)
            same = said == row_problem.reason  # said in Chinese already (a formula's cell)
            print(f"  {row_problem}" + ("" if same else f" — {said}"), file=sys.stderr)
        return 2
    except EntryRefusedError as exc:
        return _refused_fields(exc)
    except ActionError as exc:
        return _refused_action(exc)
    finally:
        await store.close()


def _refused_fields(exc: FilingError | EntryRefusedError) -> int:
    for problem in exc.problems:
        _said(problem.field, problem.reason)
    return 2


def _refused_action(exc: ActionError) -> int:
    """An action refused: naming its option and said as the page says it (not found: as
    every command says it)."""
    if isinstance(exc, NotFoundError) or not exc.key:
        return refused(exc)
    return _said(exc.key, exc.detail)


def _said(key: str, reason: str) -> int:
    """A refusal on stderr naming its option, in English then as the page says it (exit 2)."""
    print(f"--{key.replace('_', '-')}: {reason} — {words(key, reason)}", file=sys.stderr)
    return 2


def _images(args: argparse.Namespace) -> dict[str, bytes] | None:
    """The image files the options name (kind → bytes); None when one cannot be read (said,
    naming its option)."""
    images = {}
    for kind in ImageKind:
        path = getattr(args, f"image_{kind}", None)
        if path is not None:
            try:
                images[kind.value] = path.read_bytes()
            except OSError as exc:
                _said(kind.value, exc.strerror or str(exc))
                return None
    return images


def _form(register: Register, args: argparse.Namespace) -> dict[str, str]:
    """The field options given (a code field's word is read by the actions, as the page's
    and the import's: ``1``, ``黄``, ``1 黄``)."""
    return {
        name: value
        for name in field_names(register)
        if (value := getattr(args, f"field_{name}", None)) is not None
    }


async def _act(
    cfg: Config, store: Store, filings: Filings, register: Register, args: argparse.Namespace
) -> int:
    actor = cli_actor()
    images: dict[str, bytes] = {}
    if args.action in ("add", "attach"):
        if (read := _images(args)) is None:
            return 2
        images = read
    if args.action == "add":
        done = await filings.add(actor, register, _form(register, args), images)
        _note(done)
        print(f"entry {done.id}: {done.plate} added")
        return 0
    if args.action in CHANGES:
        return await _change(store, filings, register, args, images)
    if args.action == "import":
        try:
            data = args.file.read_bytes()
        except OSError as exc:
            return _said("file", exc.strerror or str(exc))
        rows, numbers = rows_without_numbers(read_rows(register, data, args.file.name))
        done = await filings.import_rows(actor, register, rows, numbers=numbers)
        print(f"{done.count} {'entry' if done.count == 1 else 'entries'} imported")
        return 0
    if args.action == "export":
        count = await write_export(
            register, store.export_entries(register.value), args.output, cfg.site.zone
        )
        print(f"{count} {'entry' if count == 1 else 'entries'} written to {args.output}")
        return 0
    if args.action == "retry":
        done = await filings.retry(actor, args.ids or None)
        print(f"{done.count} filing(s) queued again" if done.ok else "none")
        return 0 if done.ok else 1
    return await _show(cfg, store, register, args)


async def _change(
    store: Store,
    filings: Filings,
    register: Register,
    args: argparse.Namespace,
    images: dict[str, bytes],
) -> int:
    """``edit``, ``status`` and ``attach``: the page's actions on one entry of this command's
    register (another register's id is "no entry"), queued for the platform as the page's
    are. Nothing to do (no change, the status it had): said, exit 1."""
    found = await store.get_entry(args.id)
    if found is None or found.register != register.value:
        print(f"no entry {args.id}")
        return 1
    actor = cli_actor()
    if args.action == "edit":
        done = await filings.modify(actor, args.id, _form(register, args))
    elif args.action == "status":
        done = await filings.change_status(actor, args.id, args.status)
    else:
        ((kind, data),) = images.items()
        done = await filings.attach_image(actor, args.id, kind, data)
    if not done.ok:
        print(f"entry {args.id}: {done.detail}")
        return 1
    _note(done)
    print(f"entry {args.id}: {done.detail}")
    return 0


def _note(done: Done) -> None:
    """Why an entry is kept 未备案 (not sendable yet, no platform), when it is."""
    if done.note:
        print(f"note: {done.note}")


async def _show(cfg: Config, store: Store, register: Register, args: argparse.Namespace) -> int:
    if args.id is None:
        entries = await store.search_entries(
            register.value, args.search, status=args.status, limit=args.limit
        )
        if not entries:
            print("none")
            return 0
        print(_listed(_LIST_HEADINGS))
        for entry in entries:
            states = {f.platform: f for f in await store.filings_of(entry.id)}
            filed = states.get(cfg.platform.mode)
            word = FILING_WORDS[FilingState(filed.state)] if filed else FILING_WORDS[
                FilingState.UNFILED
            ]  # fmt: skip
            colour = CODE_LISTS["plate_color"].get(entry.plate_color, "")
            status = STATUS_WORDS[EntryStatus(entry.status)]
            print(_listed((str(entry.id), entry.plate or "-",
                           f"{entry.plate_color} {colour}".strip() or "-", status, word,
                           entry.vin or entry.code or "-")))  # fmt: skip
        return 0
    found = await store.get_entry(args.id)
    if found is None or found.register != register.value:
        print(f"no entry {args.id}")
        return 1
    for line in await _one_entry(cfg, store, found):
        print(line)
    return 0


#: ``show --id``'s words for what a technician reads: a filing's platform, its state, an
#: outbox-of-filings row's state and a history line's action.
PLATFORM_NAMES = {"city": "city platform (市级平台)", "province": "province platform (省级平台)"}
STATE_MEANINGS = {
    FilingState.UNFILED: "not filed",
    FilingState.SENT: "sent or queued, not accepted yet",
    FilingState.ACCEPTED: "accepted by the platform",
    FilingState.REFUSED: "refused by the platform",
}
OUTBOX_STATES = {
    "pending": "waiting to be sent",
    "sent": "delivered",
    "dead": "given up (refused or undeliverable; `retry` sends it again)",
}
ACTIONS = {"add": "added", "modify": "changed", "status": "status changed",
           "image": "image attached", "filing": "filing"}  # fmt: skip


async def _one_entry(cfg: Config, store: Store, entry: StoredEntry) -> list[str]:
    """``show --id``: an entry's fields (title, name, value with its code's meaning), its
    document images, its filing with each platform, its queued filings and its history, each
    section headed and each line labelled in words (English with the Chinese term)."""
    kind = Register(entry.register)

    def when(at: float) -> str:
        return datetime.fromtimestamp(at, cfg.site.zone).strftime("%Y-%m-%d %H:%M:%S")

    fields = []
    for name in field_names(kind):
        value = str(getattr(entry, name))
        meaning = CODE_LISTS.get(name, {}).get(value)
        shown = f"{value} {meaning}" if meaning else value or "-"
        fields.append(f"{_pad(f'{TITLES.get(name, name)} ({name})', 30)}{shown}")
    images = [
        f"{_pad(f'{IMAGE_WORDS[ImageKind(i.kind)]} ({i.kind})', 30)}{i.path}, {i.size} bytes, "
        f"added {when(i.added_at)} by {i.added_by}"
        for i in await store.images_of(entry.id)
    ]
    filings = []
    for filing in await store.filings_of(entry.id):
        state = FilingState(filing.state)
        said = f"{PLATFORM_NAMES.get(filing.platform, filing.platform)}: {FILING_WORDS[state]} "
        said += f"({STATE_MEANINGS[state]})" + (f", by {filing.method}" if filing.method else "")
        said += f", licensePK {filing.license_pk}" if filing.license_pk else ""
        filings.append(said + f", {when(filing.at)}")
        if filing.words:
            filings.append(f"  why: {refusal_words(filing.words)}")
    queued = [
        f"#{row.id} to the {PLATFORM_NAMES.get(row.platform, row.platform)}: "
        f"{OUTBOX_STATES.get(row.state, row.state)}, {row.attempts} attempt(s)"
        + (f"; last error: {row.last_error}" if row.last_error else "")
        for row in await store.filing_outbox_of(entry.id)
    ]
    history = []
    for change in await store.entry_history(entry.id):
        what = ", ".join(
            f"{k} {b!r}" if change.action == "add" else f"{k}: {a!r} → {b!r}"
            for k, (a, b) in change.changes.items()
            if change.action != "add" or b
        )
        action = ACTIONS.get(change.action, change.action)
        history.append(f"{when(change.at)} {change.actor} {action}: {what}")
    mode = cfg.platform.mode or "none"
    return [
        f"entry {entry.id}: {entry.plate}, {REGISTER_WORDS[kind.value]} ({kind.value})",
        *_section("fields:", fields),
        *_section(f"document images (under storage.photo_dir, {cfg.storage.photo_dir}):", images),
        *_section(f"filing with the platform (platform.mode: {mode}):", filings, "never queued"),
        *_section("queued filings (the daemon's filing sender):", queued),
        *_section("history (who changed what):", history),
    ]


#: ``show``'s list: each column's heading (English, then the page's Chinese) and width in
#: terminal columns (the last one unpadded).
_LIST_HEADINGS = ("id", "plate 号牌", "colour 颜色", "status 状态", "filing 备案",
                  "VIN or code 车架号/编码")  # fmt: skip
_LIST_WIDTHS = (6, 12, 12, 12, 12)


def _listed(cells: tuple[str, ...]) -> str:
    """One line of ``show``'s list: the id right-aligned, the other cells padded."""
    first, *rest = cells
    padded = [_pad(cell, width) for cell, width in zip(rest, _LIST_WIDTHS[1:], strict=False)]
    return f"{first:>{_LIST_WIDTHS[0]}}  " + "".join(padded) + rest[-1]


def _section(heading: str, lines: list[str], empty: str = "none") -> list[str]:
    return [heading, *(f"  {line}" for line in lines or [empty])]


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - used)
