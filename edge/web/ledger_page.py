"""The electronic ledger (电子台账) on the status page (issue 15): transport vehicles, in-plant
vehicles and machinery — search, add, edit, change status, document images, filing state
with the platform's words, retry a refused or undelivered filing, bulk import from XLSX or
CSV (a template to download, every bad row's every bad field named, nothing half-imported),
and the 行驶证 read by the province platform (DrivingLicenseScanEx) to fill the form.

Everything here needs a login (the ledger holds owners' names and addresses): reads are
refused with 403 without a session; changes go through :class:`edge.actions.filing.Filings`
(authorised and audited once, CSRF-checked by the page's ``_acting``).
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from edge.actions.filing import EntryRefusedError, Filings, ImportRefusedError
from edge.actions.filing_files import read_rows, rows_without_numbers, template
from edge.actions.inspection import stream_register_zip, write_register_workbook
from edge.actions.operator import (
    Action,
    ActionError,
    Actor,
    Done,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    whole_id,
)
from edge.domain.filing import (
    FILING_WORDS,
    IMAGE_WORDS,
    STATUS_WORDS,
    TITLES,
    EntryStatus,
    FilingState,
    Register,
    field_names,
    image_kinds,
    required_fields,
)
from edge.domain.filing_words import (
    PLATFORM_WORDS,
    REGISTER_WORDS,
    note_words,
    refusal_words,
    title,
    words,
)
from edge.ledger.rows import StoredEntry
from edge.web.auth import Guard

T = TypeVar("T")
#: Entries a search page lists.
PAGE = 50
TIME = "%Y-%m-%d %H:%M"
LOG_IN = "请先登录"

_Handler = Callable[["LedgerPage", web.Request, Actor], Awaitable[web.StreamResponse]]


def _acting(action: Action) -> Callable[[_Handler], Any]:
    """A ledger action's handler: the session and CSRF token checked first (403 without);
    the operator's refusals answered 400 with ``detail`` and, for an entry, ``problems``
    (every bad field: field, its title, why)."""

    def wrap(handler: _Handler) -> Callable[[LedgerPage, web.Request], Awaitable[Any]]:
        @functools.wraps(handler)
        async def handle(page: LedgerPage, request: web.Request) -> web.StreamResponse:
            actor = page.actor(request)
            try:
                await page.filings.operator.authorise(actor, action, "?")
                return await handler(page, request, actor)
            except NotAllowedError:
                return web.json_response({"error": LOG_IN}, status=403)
            except ImportRefusedError as exc:
                rows = [{"row": p.row, "field": title(p.field), "reason": words(p.field, p.reason)}
                        for p in exc.problems]  # fmt: skip
                count = len({p.row for p in exc.problems})
                detail = f"文件有错误，未导入任何条目（{count} 行有错）"
                body = {"ok": False, "detail": detail, "rows": rows}
                return web.json_response(body, status=400, dumps=_dumps)
            except EntryRefusedError as exc:
                problems = [
                    {"field": p.field, "title": title(p.field), "reason": words(p.field, p.reason)}
                    for p in exc.problems
                ]
                detail = "；".join(p["reason"] for p in problems)
                body = {"ok": False, "detail": detail, "problems": problems}
                return web.json_response(body, status=400, dumps=_dumps)
            except ActionError as exc:
                body = {"ok": False, "detail": words(exc.key, exc.detail), "key": exc.key}
                return web.json_response(body, status=400, dumps=_dumps)

        return handle

    return wrap


_Reader = Callable[["LedgerPage", web.Request], Awaitable[web.StreamResponse]]


def _reading(handler: _Reader) -> _Reader:
    """A read of the ledger: only with a login (403 without; not audited)."""

    @functools.wraps(handler)
    async def handle(page: LedgerPage, request: web.Request) -> web.StreamResponse:
        if page.actor(request).unauthenticated is not None:
            return web.json_response({"error": LOG_IN}, status=403)
        return await handler(page, request)

    return handle


def _dumps(value: Any) -> str:
    import json  # noqa: PLC0415 - as the status page dumps

    return json.dumps(value, ensure_ascii=False, default=str)


def _done(done: Done) -> web.Response:
    """An action's answer; a refusal and a note in Chinese (the audit keeps the English)."""
    detail = done.detail if done.ok else words(None, done.detail)
    body = {"ok": done.ok, "detail": detail, "id": done.id, "plate": done.plate,
            "note": note_words(done.note)}  # fmt: skip
    return web.json_response(body, status=200 if done.ok else 400, dumps=_dumps)


class LedgerPage:
    """The ledger's part of the status page over ``filings``; ``actor`` is the status page's
    (who sends a request)."""

    def __init__(
        self,
        filings: Filings,
        actor: Callable[[web.Request], Actor],
        guard: Guard,
        zone: Any,
    ) -> None:
        self.filings, self.actor, self.guard, self.zone = filings, actor, guard, zone

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/ledger/fields", self.fields),
            web.get("/api/entries", self.entries),
            web.get("/api/entries/template.xlsx", self.template),
            web.get("/api/entries/ledger.xlsx", self.register_xlsx),
            web.get("/api/entries/ledger.zip", self.register_zip),
            web.get("/api/entries/{id}", self.entry),
            web.get("/api/entry-images/{id}", self.image),
            web.post("/api/entries", self.add),
            web.post("/api/entries/import", self.import_file),
            web.post("/api/entries/{id}", self.modify),
            web.post("/api/entries/{id}/status", self.change_status),
            web.post("/api/entries/{id}/images/{kind}", self.attach),
            web.post("/api/filings/{id}/retry", self.retry),
            web.post("/api/licence-scan", self.scan_licence),
        ]

    @staticmethod
    async def _by_id(request: web.Request, get: Callable[[int], Awaitable[T | None]]) -> T | None:
        """What ``get`` finds for the URL's ``id`` (None: not a number, or nothing)."""
        try:
            return await get(whole_id(request.match_info["id"]))
        except ActionError:
            return None

    # -- reads (a login, not audited) -----------------------------------------------------------
    @_reading
    async def fields(self, _request: web.Request) -> web.Response:
        """Each register's form: its fields (name, Chinese title, required) and images."""
        return web.json_response(
            {
                register.value: {
                    "title": REGISTER_WORDS[register.value],
                    "fields": [
                        {"name": n, "title": TITLES[n], "required": n in required_fields(register)}
                        for n in field_names(register)
                    ],
                    "images": [
                        {"kind": k.value, "title": IMAGE_WORDS[k]} for k in image_kinds(register)
                    ],
                }
                for register in Register
            }
            | {
                "statuses": {s.value: w for s, w in STATUS_WORDS.items()},
                "scan": self.filings.can_scan,
            },
            dumps=_dumps,
        )

    @_reading
    async def entries(self, request: web.Request) -> web.Response:
        """A page of a register's entries, newest first (``q``: the start of a plate, VIN,
        engine number or machine code; ``status``; ``before``: the ``next`` of the page
        before), each with its filing state and images: ``{"entries": [...], "next": the
        id to ask the following page ``before`` (null: this is the last page)}``. Keyset
        pages (the ledger's search, no OFFSET); the page keeps the way back."""
        q = request.query
        register = q.get("register", "") or None
        if register is not None and register not in {r.value for r in Register}:
            return web.json_response({"error": words("register", "not a register")}, status=400)
        status = q.get("status", "") or None
        before = q.get("before", "")
        try:
            before_id = whole_id(before, "before") if before else None
        except ActionError:
            return web.json_response({"error": words("before", "bad id")}, status=400)
        found = await self.filings.store.search_entries(
            register, q.get("q", "")[:32], status=status, before=before_id, limit=PAGE + 1
        )
        shown = found[:PAGE]
        following = shown[-1].id if len(found) > PAGE else None
        listed = [await self._listed(e) for e in shown]
        return web.json_response({"entries": listed, "next": following}, dumps=_dumps)

    async def _listed(self, stored: StoredEntry) -> dict[str, Any]:
        store = self.filings.store
        filings = await store.filings_of(stored.id)
        dead = [f for f in await store.filing_outbox_of(stored.id) if f.state == "dead"]
        return {
            "id": stored.id,
            "register": stored.register,
            "plate": stored.plate,
            "plate_color": stored.plate_color,
            "fields": {n: getattr(stored, n) for n in field_names(Register(stored.register))},
            "status": STATUS_WORDS.get(EntryStatus(stored.status), stored.status),
            "changed": self._when(stored.changed_at),
            "changed_by": stored.changed_by,
            "filings": [
                {
                    "platform": f.platform,
                    "platform_title": PLATFORM_WORDS.get(f.platform, f.platform),
                    "state": FILING_WORDS.get(FilingState(f.state), f.state),
                    "code": f.state,
                    "license_pk": f.license_pk,
                    "words": refusal_words(f.words) if f.words else "",
                    "at": self._when(f.at),
                }
                for f in filings
            ],
            "dead": [{"id": d.id, "error": refusal_words(d.last_error or "")} for d in dead],
            "images": [
                {
                    "id": i.id,
                    "kind": i.kind,
                    "title": title(i.kind),
                    "url": f"/api/entry-images/{i.id}",
                }
                for i in await store.images_of(stored.id)
            ],
        }

    def _when(self, at: float | None) -> str:
        return "" if at is None else datetime.fromtimestamp(at, self.zone).strftime(TIME)

    @_reading
    async def entry(self, request: web.Request) -> web.Response:
        """One entry, its filings and images, and its history (who changed what, when)."""
        stored = await self._by_id(request, self.filings.store.get_entry)
        if stored is None:
            return web.json_response({"error": "没有这个条目"}, status=404)
        item = await self._listed(stored)
        item["history"] = [
            {"at": self._when(c.at), "actor": c.actor, "action": c.action,
             "changes": {title(k): v for k, v in c.changes.items()}}
            for c in await self.filings.store.entry_history(stored.id)
        ]  # fmt: skip
        return web.json_response(item, dumps=_dumps)

    @_reading
    async def image(self, request: web.Request) -> web.StreamResponse:
        image = await self._by_id(request, self.filings.store.get_image)
        if image is None:
            return web.json_response({"error": "没有这张图片"}, status=404)
        try:
            data = await self.filings.photos.read(image.path)
        except FileNotFoundError:
            return web.json_response({"error": "图片文件已丢失"}, status=404)
        return web.Response(body=data, content_type="image/jpeg",
                            headers={"Cache-Control": "private, max-age=86400"})  # fmt: skip

    @_reading
    async def template(self, request: web.Request) -> web.Response:
        try:
            register = Register(request.query.get("register", "vehicle"))
        except ValueError:
            return web.json_response({"error": words("register", "not a register")}, status=400)
        data = await asyncio.to_thread(template, register)
        name = f"template-{register.value}.xlsx"
        return web.Response(
            body=data,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -- a register's ledger for the inspector (表4 in-plant vehicles, 表5 machinery) -----------
    def _register(self, request: web.Request) -> Register:
        try:
            return Register(request.query.get("register", ""))
        except ValueError:
            raise InvalidInputError("not a register", "register") from None

    @_acting(Action.EXPORT_LEDGER)
    async def register_xlsx(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """A register's ledger as XLSX (``register``), audited."""
        register = self._register(request)
        with tempfile.TemporaryDirectory(prefix="edge-register-") as scratch:
            path = Path(scratch) / "ledger.xlsx"
            done = await write_register_workbook(self.filings.store, register, path)
            await self.filings.operator.export_ledger(
                actor, f"{register.value} register xlsx: {done.rows} entries"
            )
            data = await asyncio.to_thread(path.read_bytes)  # hundreds to thousands of rows
        return web.Response(
            body=data,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{register.value}.xlsx"'},
        )

    @_acting(Action.EXPORT_LEDGER)
    async def register_zip(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """The same with every document image, streamed as it is written."""
        register = self._register(request)
        response = web.StreamResponse(headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{register.value}.zip"',
        })  # fmt: skip

        async def send(data: bytes) -> None:
            if not response.prepared:
                await self.filings.operator.export_ledger(actor, f"{register.value} register zip")
                await response.prepare(request)
            if data:
                await response.write(data)

        await stream_register_zip(
            self.filings.store, register, send, self.filings.photos.root, zone=self.filings.zone
        )
        await response.write_eof()
        return response

    # -- changes (audited) -------------------------------------------------------------------
    @_acting(Action.ADD_ENTRY)
    async def add(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """A new entry from a multipart form: ``register``, the fields, and image files named
        by their kind (driving_license, emission_list, nameplate)."""
        register, form, images = await _multipart(request)
        return _done(await self.filings.add(actor, register, form, images))

    @_acting(Action.MODIFY_ENTRY)
    async def modify(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """Changed fields (multipart or JSON; plate and colour stay) and any image files: all
        or nothing (a refused image leaves the fields as they were, nothing queued)."""
        _register, form, images = await _multipart(request)
        form = {k: v for k, v in form.items() if k not in ("plate", "plate_color")}
        return _done(await self.filings.modify(actor, request.match_info["id"], form, images))

    @_acting(Action.ENTRY_STATUS)
    async def change_status(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        _register, form, _images = await _multipart(request)
        return _done(
            await self.filings.change_status(
                actor, request.match_info["id"], form.get("status", "")
            )
        )

    @_acting(Action.ATTACH_IMAGE)
    async def attach(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """One document image, the request's body (an image file)."""
        data = await request.read()
        entry_id, kind = request.match_info["id"], request.match_info["kind"]
        return _done(await self.filings.attach_image(actor, entry_id, kind, data))

    @_acting(Action.IMPORT_ENTRIES)
    async def import_file(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """An XLSX or CSV file (the body; ``name``: its file name) into ``register``: all its
        rows or none; refused with every bad row's every bad field (``rows``: row, field,
        reason)."""
        register = request.query.get("register", "")
        data = await request.read()
        try:
            kind = Register(register)
            read = await asyncio.to_thread(read_rows, kind, data, request.query.get("name", ""))
        except (ValueError, InvalidInputError) as exc:
            detail = exc.detail if isinstance(exc, InvalidInputError) else "not a register"
            await self.filings.operator.audit(
                actor, Action.IMPORT_ENTRIES.value, register, "refused", detail
            )
            body = {"ok": False, "detail": words("file", detail)}
            return web.json_response(body, status=400, dumps=_dumps)
        rows, numbers = rows_without_numbers(read)
        done = await self.filings.import_rows(actor, kind, rows, numbers=numbers)
        return web.json_response({"ok": True, "count": done.count, "detail": done.detail})

    @_acting(Action.RETRY_FILING)
    async def retry(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """Send a dead (refused or undelivered) filing again."""
        return _done(await self.filings.retry(actor, [request.match_info["id"]]))

    @_acting(Action.SCAN_LICENCE)
    async def scan_licence(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """A 行驶证 image (the body; JPEG, PNG, BMP or WebP: fitted and re-encoded first) read by
        the province platform: the form's fields it recognised. 400 when there is no such
        platform, the image is refused or the platform could not read it."""
        data = await request.read()
        try:
            fields = await self.filings.scan_licence(actor, data)
        except NotAllowedError:
            return web.json_response({"ok": False, "detail": "仅省级平台可识别行驶证"}, status=400)
        except EntryRefusedError as exc:
            why = "；".join(words(p.field, p.reason) for p in exc.problems)
            return web.json_response({"ok": False, "detail": f"识别失败：{why}"}, status=400)
        except NotFoundError as exc:
            why = words(exc.key, exc.detail)
            return web.json_response({"ok": False, "detail": f"识别失败：{why}"}, status=400)
        return web.json_response({"ok": True, "fields": fields}, dumps=_dumps)


async def _multipart(request: web.Request) -> tuple[str, dict[str, str], dict[str, bytes]]:
    """A form's ``register``, its text fields and its image files (kind → bytes)."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise InvalidInputError("form is not a JSON object")
        typed = {str(k): str(v) for k, v in body.items() if isinstance(v, str | int)}
        return typed.pop("register", ""), typed, {}
    try:
        form = await request.post()
    except ValueError as exc:  # a cut or malformed multipart body (aiohttp: "Reading after EOF")
        raise InvalidInputError(f"form is not a valid multipart body ({exc})") from None
    text: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for key, value in form.items():
        if isinstance(value, str):
            text[key] = value
        elif isinstance(value, web.FileField) and value.filename:
            files[key] = value.file.read()
    return text.pop("register", ""), text, {k: v for k, v in files.items() if v}
