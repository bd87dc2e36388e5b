"""The guards' status page (Chinese), served by the daemon: each lane's camera and devices, the
latest passes as they happen (server-sent events, no reloads), the platform link, backlog and
dead letters, the control plan in force and today's figures.

Everything here only reads. Actions that change something (open a barrier, retry, edit lists
and plans) need a login (``edge.web.auth``), checked once by ``_acting``, and are carried out,
authorised and audited by ``edge.actions.operator``. Every value reaches the page through
``textContent``, never as HTML.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import io
import json
import math
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from edge.actions.filing import Filings
from edge.actions.inspection import (
    WORKBOOK_NAME,
    ExportSources,
    LedgerQuery,
    ledger_query,
    spreadsheet_cell,
    stream_zip,
    write_workbook,
)
from edge.actions.operator import (
    MAX_DISCARD_REASON,
    MAX_GUARD_REASON,
    MAX_LIST_REASON,
    MAX_PLAN_NAME,
    Action,
    ActionError,
    Actor,
    Done,
    Face,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    Operator,
)
from edge.domain.control_plan import STRATEGY_NAMES, ControlPlan
from edge.domain.filing_words import UPLOAD_KINDS, dead_letter_words, refusal_words, words
from edge.domain.goods import tonnes_text
from edge.domain.text import holds_hidden
from edge.domain.weighing import Refusal, state_name
from edge.gate.lane import UNUSUAL_SHAPES, Lane
from edge.ledger.books import PlanBook, local_time
from edge.ledger.database import LedgerBusyError
from edge.ledger.figures import daily_figures, daily_tonnage
from edge.ledger.rows import HistoryCriteria, PageCursor, StoredWeighing
from edge.ledger.store import Store
from edge.ledger.weighings import EMPTY_WEIGHING
from edge.ops.health import HealthReport, LedgerReport, ReplicaReport
from edge.ops.refusals import REFUSAL_HOLD_SECONDS, RefusalLog
from edge.uplink.breaker import failure_name
from edge.web.auth import MAX_USER, Guard, Wait
from edge.web.ledger_page import LedgerPage
from edge.web.ticket import ticket_html

if TYPE_CHECKING:  # a scale's module is imported only with [scales.*] (issue 19)
    from edge.gate.weighbridge import Weighbridge

RECENT = 20
#: Plates of the 待完善 list the page shows (newest first).
NEED_COMPLETE_SHOWN = 100
#: An unfinished first weighing stays listed this long after it expired.
UNFINISHED_SHOWN_SECONDS = 7 * 86400
TIME = "%Y-%m-%d %H:%M:%S"
#: The weighings export's header (weights kg; 运输量 as sent, t; photos: URLs).
WEIGHING_COLUMNS = [
    "编号", "车牌", "状态", "磅", "一次过磅时间", "一次重量 kg", "一次流水号", "二次过磅时间",
    "二次重量 kg", "二次流水号", "毛重 kg", "皮重 kg", "净重 kg", "净重 t", "货物", "运输量 t",
    "照片",
]  # fmt: skip
#: Limits on what a form may carry; over them the request is refused with 400.
MAX_FORM_BYTES = 16 * 1024
MAX_PASSWORD = 1024
MAX_QUERY = 64  # each search field
#: Rows a pass search returns: ``limit`` is clamped to this range (default 200).
PAGE_MIN, PAGE_MAX, PAGE_DEFAULT = 1, 5000, 200
#: A history search that ran past the ledger's time budget.
BUSY = "查询范围过大，已超时：请缩小日期范围或输入更完整的车牌"
COOKIE = "edge_session"
#: A browser that logged in before (``edge.web.auth.Guard``): sent with logins only.
DEVICE_COOKIE = "edge_device"
DEVICE_COOKIE_SECONDS = 365 * 86_400
CSRF_HEADER = "X-CSRF-Token"
KEEPALIVE_SECONDS = 15.0
#: Event streams (``/api/events``) kept open at once, from one address and in all: a guard's
#: browser opens one a page; 300 from one sender raised another lane's push p99 19 → 61 ms
#: (issue 20, S1: every pass is written to each).
EVENT_STREAMS_PER_ADDRESS = 8
EVENT_STREAMS = 64
#: Of those, the ones a browser without a login may hold: the rest are the guards' signed in
#: (64 from 8 addresses without a login kept the guards' live stream out, a fresh
#: verification in session 17; their page fell back to polling every 10 s).
EVENT_STREAMS_WITHOUT_LOGIN = 48
#: What a refused event stream's answer says.
TOO_MANY_STREAMS = "打开的页面过多，请关闭不用的页面"


#: What the guards read when the ledger cannot be written, by its fault kind.
LEDGER_FAULTS = {
    "disk-full": "磁盘已满",
    "read-only": "磁盘只读",
    "io-error": "磁盘读写错误",
    "deleted": "记录文件被删除",
    "replaced": "记录文件被替换",
}


def ledger_alarm(ledger: LedgerReport | None) -> str | None:
    """The status page's alarm for a ledger that cannot be written (None: it can)."""
    if ledger is None or ledger.fault is None:
        return None
    why = LEDGER_FAULTS.get(ledger.fault, ledger.fault)
    return f"通行记录无法保存（{why}）：车辆不放行，请联系维护人员；人工开闸仍可用"


def replica_summary(replica: ReplicaReport | None, zone: Any) -> dict[str, Any] | None:
    """The status page's line on replication off the box (None: none configured)."""
    if replica is None:
        return None
    if replica.last_sync_at is None:
        text = f"尚未同步（{round(replica.lag_seconds)} 秒）"
    else:
        at = datetime.fromtimestamp(replica.last_sync_at, zone).strftime("%H:%M:%S")
        text = f"延迟 {replica.lag_seconds:.0f} 秒，上次同步 {at}"
    if replica.other_writer:
        text += (
            f"，备份位置正被另一台工控机写入（{replica.other_writer}），本机已停止备份："
            "每台工控机须使用各自的备份目录"
        )
    elif replica.alarm:
        text += f"，超过 {replica.lag_alarm_seconds:.0f} 秒，请检查备份位置"
    if replica.photos_last_error:
        text += "；照片备份失败"
    return {"text": text, "alarm": replica.alarm}


#: What the reads view shows of each kept read.
_READ_FIELDS = ("received_at", "plate", "plate_color", "text", "vendor_id", "source", "merged")


LOG_IN = "请先登录"
#: A logged-in request without its CSRF token (a page loaded before a restart or a new login).
STALE_CSRF = "no valid CSRF token for the session"
STALE_PAGE = "页面已过期，请刷新"

_Handler = Callable[["StatusPage", web.Request, Actor], Awaitable[web.StreamResponse]]


def _acting(
    action: Action, key: str | None = None, *, refusals: Literal["detail", "error"] = "detail"
) -> Callable[[_Handler], Any]:
    """An operator action's handler (``edge.actions.operator``): the session and its CSRF token
    checked once, before anything else (403 and an audited refusal without them; ``key`` names
    the URL part that is the target); a form that does not validate (not JSON, not a JSON
    object, a field of the wrong type or length) answered 400 with its one-line reason,
    audited, in the shape of the action's other refusals — ``refusals="detail"``
    ``{"ok": false, "detail": …}`` as :func:`_answer` and the operator's refusals answer,
    ``"error"`` ``{"error": …}`` for an action with answers of its own (开闸, a retry, the
    ledger export); an action the operator refused answered 400 with its detail, one on a
    target that does not exist 404."""

    def wrap(
        handler: _Handler,
    ) -> Callable[[StatusPage, web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def handle(page: StatusPage, request: web.Request) -> web.StreamResponse:
            actor = page._actor(request)
            target = request.match_info[key] if key else "?"
            try:
                await page.operator.authorise(actor, action, target)
                return await handler(page, request, actor)
            except NotAllowedError:
                said = STALE_PAGE if actor.unauthenticated == STALE_CSRF else LOG_IN
                return web.json_response({"error": said}, status=403)
            except FormError as exc:
                await page.operator.refused(actor, action, target, str(exc))
                shaped: dict[str, object] = (
                    {"error": exc.said}
                    if refusals == "error"
                    else {"ok": False, "detail": exc.said}
                )
                return web.json_response(shaped, status=400, dumps=_dumps)
            except NotFoundError as exc:  # an unknown target (pass, weighing, lane, entry)
                return web.json_response({"ok": False, "detail": exc.said}, status=404)
            except ActionError as exc:  # in Chinese where the operator says it so
                return web.json_response({"ok": False, "detail": exc.said}, status=400)

        return handle

    return wrap


def _answer(done: Done) -> web.Response:
    """An action's answer; ``note``: what the operator should know although it worked."""
    body: dict[str, object] = {"ok": done.ok, "detail": done.detail}
    if done.note:
        body["note"] = done.note
    return web.json_response(body, status=200 if done.ok else 400)


@functools.cache
def _page_html() -> str:
    """The page itself (read once: it is part of the installed package)."""
    return resources.files("edge.web.assets").joinpath("status.html").read_text("utf-8")


class StatusPage:
    def __init__(  # noqa: PLR0913 - the page's collaborators, the optional ones as keywords
        self,
        lanes: Mapping[str, Lane],
        store: Store,
        plans: PlanBook,
        health: Callable[[], HealthReport],
        zone: Any,
        *,
        guard: Guard,
        operator: Operator,
        weighbridges: Mapping[str, Weighbridge] | None = None,
        sources: ExportSources | None = None,
        filings: Filings | None = None,
        enterprise: str = "",
    ) -> None:
        self.lanes, self.store, self.plans, self.health, self.zone = (
            lanes, store, plans, health, zone,
        )  # fmt: skip
        self.guard, self.operator = guard, operator
        #: A login refused unchecked is answered this long after it came (a test may set it).
        self.hold = REFUSAL_HOLD_SECONDS
        #: Logins refused unchecked, audited once per address and minute.
        self.login_refusals = RefusalLog(interval=60.0)
        #: The enterprise's name, at the head of a weighing ticket (磅单).
        self.enterprise = enterprise
        self.recent: list[dict[str, Any]] = []
        #: The open event streams' queues (an event's bytes; None: the daemon is stopping),
        #: and how many each address holds.
        self._listeners: set[asyncio.Queue[bytes | None]] = set()
        self._streams_from: Counter[str] = Counter()
        for lane in lanes.values():
            lane.pass_listeners.append(self._pass)
            lane.merged_listeners.append(self._pass)
        self.weighbridges = dict(weighbridges or {})
        #: Where the inspector's export finds pass photos, vehicle documents and the vehicle
        #: ledger's facts for its columns.
        self.sources = sources or ExportSources()
        #: The electronic ledger's forms and lists (None: not kept by this daemon).
        self.ledger = None if filings is None else LedgerPage(filings, self._actor, guard, zone)
        for bridge in self.weighbridges.values():
            bridge.weighing_listeners.append(self._weighed)
            bridge.refusal_listeners.append(self._weight_refused)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.page),
            web.get("/api/status", self.status),
            web.get("/api/events", self.events),
            web.post("/api/login", self.login),
            web.post("/api/logout", self.logout),
            web.post("/api/lanes/{lane}/open", self.open_barrier),
            web.post("/api/lanes/{lane}/refuse", self.refuse_vehicle),
            web.post("/api/passes/{serial}/correct", self.correct_plate),
            web.get("/api/passes", self.passes),
            web.get("/api/passes.csv", self.passes_csv),
            web.get("/api/passes/{serial}/reads", self.reads),
            web.get("/api/ledger.xlsx", self.ledger_xlsx),
            web.get("/api/ledger.zip", self.ledger_zip),
            web.post("/api/outbox/{id}/retry", self.retry),
            web.post("/api/lists", self.add_list_entry),
            web.post("/api/lists/{id}/remove", self.remove_list_entry),
            web.post("/api/plans", self.start_plan),
            web.post("/api/plans/{id}/close", self.close_plan),
            web.post("/api/weighings/{id}/goods", self.set_goods),
            web.post("/api/weighings/{id}/plate", self.assign_plate),
            web.post("/api/weighings/{id}/discard", self.discard_weighing),
            web.post("/api/weighings/{id}/checked", self.clear_check),
            web.post("/api/weighings/{id}/split", self.split_weighing),
            web.post("/api/weighings/{id}/same-truck", self.same_truck),
            web.post("/api/weighings/{id}/higher-weight", self.take_higher_weight),
            web.post("/api/reads/{id}/drop", self.drop_read),
            *(self.ledger.routes() if self.ledger else []),
            web.get("/api/weighings.csv", self.weighings_csv),
            web.get("/weighings/{id}/ticket", self.ticket),
        ]

    def _actor(self, request: web.Request) -> Actor:
        """Who sends the request: the session's user, or nobody (no valid session or CSRF
        token), at the client's address."""
        cookie = request.cookies.get(COOKIE)
        session = self.guard.check(cookie, request.headers.get(CSRF_HEADER))
        origin = request.remote or "?"
        if session is None:
            if self.guard.session(cookie) is not None:  # logged in, the page's token stale
                return Actor("?", origin, Face.PAGE, STALE_CSRF)
            return Actor("?", origin, Face.PAGE, "no valid session or CSRF token")
        return Actor(session.user, origin, Face.PAGE)

    @_acting(Action.ADD_LIST)
    async def add_list_entry(self, request: web.Request, actor: Actor) -> web.Response:
        body = await _json(request)
        plate = _text(body, "plate", 32)
        kind = _text(body, "kind", 16)
        reason = _text(body, "reason", MAX_LIST_REASON)
        until = _time(body, "until", self.zone)
        moment = datetime.fromtimestamp(until, self.zone) if until else None
        return _answer(await self.operator.add_list_entry(actor, plate, kind, reason, moment))

    @_acting(Action.REMOVE_LIST, "id")
    async def remove_list_entry(self, request: web.Request, actor: Actor) -> web.Response:
        return _answer(await self.operator.remove_list_entry(actor, request.match_info["id"]))

    @_acting(Action.START_PLAN)
    async def start_plan(self, request: web.Request, actor: Actor) -> web.Response:
        body = await _json(request)
        name = _text(body, "name", MAX_PLAN_NAME).strip()
        strategy = _whole(body, "strategy", 1, 7, default=0)
        level = _whole(body, "level", 1, 4, default=1)  # §7.18: 1 yellow … 4 other
        baseline = _whole(body, "baseline", 0, 1_000_000, default=0)
        end = _time(body, "end", self.zone)
        plan = ControlPlan(
            name, strategy, level=level,
            end=datetime.fromtimestamp(end, self.zone) if end else None,
            start=datetime.now(self.zone), baseline_heavy_entries=baseline,
        )  # fmt: skip
        return _answer(await self.operator.start_plan(actor, plan))

    @_acting(Action.CLOSE_PLAN, "id")
    async def close_plan(self, request: web.Request, actor: Actor) -> web.Response:
        return _answer(await self.operator.close_plan(actor, request.match_info["id"]))

    def signed_in(self, request: web.Request) -> bool:
        """Whether ``request`` carries a live session cookie (a dict lookup: the listener asks
        it of every request that is not a push, see ``ConnectionGuard.signed_in``)."""
        return self.guard.session(request.cookies.get(COOKIE)) is not None

    # -- history ----------------------------------------------------------------------------
    def _criteria(self, request: web.Request) -> HistoryCriteria:
        """A history search's criteria from the query string (400 for one that is not: a
        ``from`` / ``to`` that is neither empty nor a day or time, ``YYYY-MM-DD[THH:MM]``,
        site time; ``to``'s whole day is in it)."""
        q = request.query

        def day(key: str, shift: int = 0) -> float | None:
            text = q.get(key, "").strip()
            if not text:
                return None
            moment = _aware(text, self.zone)
            if moment is None:
                raise _bad(f"{key}: {text!r} is not a date (YYYY-MM-DD)")
            return moment + shift

        for key in ("plate", "lane", "verdict", "from", "to"):
            if len(q.get(key, "")) > MAX_QUERY:
                raise _bad(f"{key} is over {MAX_QUERY} characters")
        start, end = day("from"), day("to", 86400)  # the whole last day
        if start is not None and end is not None and end <= start:
            first, last = q["from"].strip(), q["to"].strip()
            raise _bad(
                f"to: {last!r} is before from: {first!r}",
                f"结束日期（to）{last} 早于开始日期（from）{first}，请改正后再查询",
            )
        return HistoryCriteria(
            plate=q.get("plate", "").strip().upper(),
            start=start,
            end=end,
            lane=q.get("lane", ""),
            verdict=q.get("verdict", ""),
        )

    async def passes(self, request: web.Request) -> web.Response:
        """A page of the history, newest first. ``after`` (the ``X-Next-Page`` header of the
        previous page) asks for the page after it; 503 when the search runs past the
        ledger's time budget (a narrower one answers)."""
        criteria = self._criteria(request)
        try:
            limit = _limit(request.query.get("limit", ""))
            after = _cursor(request.query.get("after", ""))
        except FormError as exc:
            raise _bad(str(exc), exc.said if exc.said != str(exc) else "") from None
        try:
            count, listing, last = await self.store.search_json(
                self.zone, criteria, limit=limit, after=after
            )
        except LedgerBusyError:
            return web.json_response({"error": BUSY}, status=503)
        headers = {}
        if count == limit and last is not None:
            headers["X-Next-Page"] = last.to_text()
        return web.Response(body=listing, content_type="application/json", headers=headers)

    async def passes_csv(self, request: web.Request) -> web.StreamResponse:
        """Every pass the search finds as CSV (UTF-8 with a BOM, so that Excel reads the
        Chinese), or the first ``limit`` if one is asked for, streamed page by page: no cap
        of its own (it was cut at 5,000 rows), and the daemon never holds a month of passes
        in memory. A page that runs past the ledger's time budget ends the file with
        a line saying so (the rows before it are sent; nothing is cut silently). SQLite
        makes each page's lines (:meth:`~edge.ledger.passes.PassLedger.export_csv`): the
        event loop only hands over one chunk a page (~60 KB), and no thread of the daemon
        holds the interpreter lock meanwhile."""
        criteria = self._criteria(request)
        try:
            cap = _export_limit(request.query.get("limit", ""))
        except FormError as exc:
            raise _bad(str(exc), exc.said if exc.said != str(exc) else "") from None
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="passes.csv"',
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(
            ["流水号", "车道", "方向", "车牌", "车牌颜色", "结果", "原因", "决定方", "时间", "标记",
             "车牌更正"]
        )  # fmt: skip
        head = buffer.getvalue().encode("utf-8")  # sent with the first page
        buffer.seek(0)
        buffer.truncate()
        try:
            async for lines in self.store.export_csv(self.zone, criteria, limit=cap):
                await response.write(head + lines)
                head = b""
        except LedgerBusyError:
            writer.writerow([BUSY])
        await response.write(head + buffer.getvalue().encode("utf-8"))
        await response.write_eof()
        return response

    # -- the inspector's export (电子台账) -----------------------------------------------------
    def _ledger_query(self, request: web.Request) -> LedgerQuery:
        q = request.query
        try:
            return ledger_query(
                q.get("from", "")[:MAX_QUERY], q.get("to", "")[:MAX_QUERY],
                q.get("gate", "")[:MAX_QUERY], q.get("plate", "")[:MAX_QUERY], self.zone,
            )  # fmt: skip
        except InvalidInputError as exc:
            raise FormError(f"{exc.key}: {exc.detail}", words(exc.key, exc.detail)) from None

    def _exported_as(self, query: LedgerQuery) -> str:
        first = datetime.fromtimestamp(query.start, self.zone).date()
        last = datetime.fromtimestamp(query.end - 1, self.zone).date()
        return f"{first}..{last} gate {query.gate or '*'} plate {query.plate or '*'}"

    @_acting(Action.EXPORT_LEDGER, refusals="error")
    async def ledger_xlsx(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """The inspector's ledger (``from``, ``to`` days, ``gate``, ``plate``) as XLSX, for a
        logged-in user (audited); 503 when the ledger could not be read in time."""
        query = self._ledger_query(request)
        with tempfile.TemporaryDirectory(prefix="edge-ledger-") as scratch:
            path = Path(scratch) / WORKBOOK_NAME
            try:
                done = await write_workbook(self.store, query, path, self.zone, self.sources)
            except LedgerBusyError:
                return web.json_response({"error": BUSY}, status=503)
            what = f"{self._exported_as(query)} xlsx: {done.rows} rows"
            await self.operator.export_ledger(actor, what)
            response = web.StreamResponse(headers={
                "Content-Type":
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "Content-Disposition": _attachment(f"ledger-{query.gate or 'all'}.xlsx"),
            })  # fmt: skip
            await response.prepare(request)
            with path.open("rb") as workbook:
                while chunk := await asyncio.to_thread(workbook.read, 1 << 16):
                    await response.write(chunk)
            await response.write_eof()
            return response

    @_acting(Action.EXPORT_LEDGER, refusals="error")
    async def ledger_zip(self, request: web.Request, actor: Actor) -> web.StreamResponse:
        """The same ledger as a ZIP: the workbook and every photo and document it references,
        streamed as it is written (audited before the first byte)."""
        query = self._ledger_query(request)
        response = web.StreamResponse(headers={
            "Content-Type": "application/zip",
            "Content-Disposition": _attachment(f"ledger-{query.gate or 'all'}.zip"),
        })  # fmt: skip

        async def send(data: bytes) -> None:
            if not response.prepared:
                await self.operator.export_ledger(actor, f"{self._exported_as(query)} zip")
                await response.prepare(request)
            if data:
                await response.write(data)

        try:
            await stream_zip(self.store, query, send, self.zone, self.sources)
        except LedgerBusyError:
            if not response.prepared:
                return web.json_response({"error": BUSY}, status=503)
            raise  # the download breaks off: never a ZIP that looks whole
        await response.write_eof()
        return response

    async def weighings_csv(self, request: web.Request) -> web.Response:
        """The weighings whose first weighing is in the search's days (``from``/``to``, as the
        pass history's; 400 with a JSON reason for one that is not a date), oldest first, as
        CSV (UTF-8 with a BOM): the state as the page shows it (Chinese), weights in kg, the
        net also in t (:func:`tonnes_text`, the goods record's rounding), the goods record's
        tonnage, and the photos kept with each weighing (URLs on this listener, separated by
        spaces)."""
        criteria = self._criteria(request)
        rows = await self.store.weighings_between(criteria.start, criteria.end)
        photos = await self.store.weighing_photos(rows)

        def when(at: float | None) -> str:
            return "" if at is None else datetime.fromtimestamp(at, self.zone).strftime(TIME)

        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer)
        writer.writerow(WEIGHING_COLUMNS)
        for w in rows:
            writer.writerow([spreadsheet_cell(v) for v in (
                w.id, w.plate or "未识别车牌", state_name("held" if w.held else w.state),
                w.first_scale, when(w.first_at),
                w.first_kg, w.first_serial or "", when(w.second_at),
                "" if w.second_kg is None else w.second_kg, w.second_serial or "",
                "" if w.gross_kg is None else w.gross_kg,
                "" if w.tare_kg is None else w.tare_kg,
                "" if w.net_kg is None else w.net_kg,
                "" if w.net_kg is None else tonnes_text(w.net_kg),
                w.goods or "", w.ysl or "", " ".join(photos[w.id]),
            )])  # fmt: skip
        return web.Response(
            body=buffer.getvalue().encode("utf-8"),
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="weighings.csv"',
            },
        )

    async def ticket(self, request: web.Request) -> web.Response:
        """A completed weighing's ticket (磅单), printable, for a logged-in user (the session
        cookie; 403 without one, 404 for a weighing that is not complete)."""
        session = self.guard.session(request.cookies.get(COOKIE))
        if session is None:
            return web.Response(text=LOG_IN, status=403)
        try:
            weighing = await self.store.weighing(int(request.match_info["id"]))
        except (KeyError, ValueError):
            weighing = None
        if weighing is None or weighing.state != "complete":
            return web.Response(text="没有这张磅单（过磅未完成）", status=404)
        photos = (await self.store.weighing_photo_sides([weighing]))[weighing.id]
        return web.Response(
            text=ticket_html(
                weighing, self.enterprise, session.user, self.zone, self._scale_names(), photos
            ),
            content_type="text/html",
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "script-src 'unsafe-inline'; img-src 'self'",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def reads(self, request: web.Request) -> web.Response:
        """Every camera read kept for a pass: the one that made it, then the duplicates merged
        into it (``merged``: re-push, same-plate, near-plate, plateless)."""
        row = await self.store.find_pass(request.match_info["serial"])
        if row is None:
            return web.json_response({"error": "没有这条记录"}, status=404)
        out = []
        for read in await self.store.reads_of(row.id):
            item: dict[str, object] = {name: getattr(read, name) for name in _READ_FIELDS}
            item["received_at"] = datetime.fromtimestamp(read.received_at, self.zone).isoformat(
                sep=" ", timespec="seconds"
            )
            out.append(item)
        return web.json_response(out, dumps=_dumps)

    @_acting(Action.RETRY, "id", refusals="error")
    async def retry(self, request: web.Request, actor: Actor) -> web.Response:
        """Send a dead letter again (after the cause was fixed)."""
        try:
            done = await self.operator.retry(actor, [request.match_info["id"]])
        except InvalidInputError:  # not an id: answered as a request without a session
            return web.json_response({"error": LOG_IN}, status=403)
        return web.json_response({"retried": done.count})

    # -- actions: a session, its CSRF token, and an audit entry each --------------------------
    async def login(self, request: web.Request) -> web.Response:
        """A login (``edge.web.auth.Guard``). A try refused unchecked — the account waits after
        failures, or another try's check is running — is answered 429 with ``Retry-After``,
        held :attr:`hold` seconds first as the pushes' refusals are (a sleeping task, no lock:
        a flood on keep-alive connections is slowed to one try a second per connection), and
        audited once per address and minute with how many were refused, not once each."""
        form = await request.post()
        user, password = str(form.get("user", "")), str(form.get("password", ""))
        if len(user) > MAX_USER or len(password) > MAX_PASSWORD:
            raise _bad("user name or password too long")
        if holds_hidden(user):  # audited, and a correction's reviewer sent to the platform
            raise _bad("user name holds control or format characters", "用户名含控制字符")
        address = request.remote or "?"
        if not self.guard.enabled:
            return web.json_response(
                {"error": "未设置密码，操作已禁用：请在终端运行 edge set-password"}, status=403
            )
        actor = Actor(user[:MAX_USER] or "?", address, Face.PAGE)
        session = await self.guard.login(user, password, request.cookies.get(DEVICE_COOKIE))
        if isinstance(session, Wait):
            if (refused := self.login_refusals.refused("waiting", "", address)) is not None:
                await self.operator.audit(
                    actor, "login", "", "refused",
                    f"account waiting {session.seconds:.0f} s after failures; refused unchecked "
                    f"from this address since its last such row: {refused}",
                )  # fmt: skip
            await asyncio.sleep(self.hold)
            wait = max(session.seconds, 1.0)
            return web.json_response(
                {"error": f"登录失败次数过多，请 {math.ceil(wait)} 秒后再试"},
                status=429,
                headers={"Retry-After": str(math.ceil(wait))},
            )
        await self.operator.audit(actor, "login", "", "ok" if session else "refused", "")
        if session is None:
            return web.json_response({"error": "用户名或密码错误"}, status=401)
        response = web.json_response({"user": session.user, "csrf": session.csrf})
        response.set_cookie(
            COOKIE, self.guard.token_of(session), httponly=True, samesite="Strict", path="/"
        )
        response.set_cookie(  # this browser logged in: the account's lock-out does not hold it
            DEVICE_COOKIE, session.device, httponly=True, samesite="Strict", path="/api/login",
            max_age=DEVICE_COOKIE_SECONDS,
        )  # fmt: skip
        return response

    async def logout(self, request: web.Request) -> web.Response:
        self.guard.logout(request.cookies.get(COOKIE))
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path="/")
        return response

    @_acting(Action.OPEN, "lane", refusals="error")
    async def open_barrier(self, request: web.Request, actor: Actor) -> web.Response:
        reason = _text(await _json(request), "reason", MAX_GUARD_REASON)
        try:
            done = await self.operator.open_barrier(actor, request.match_info["lane"], reason)
        except (NotFoundError, InvalidInputError):
            return web.json_response({"error": "车道不存在或未填写原因"}, status=400)
        return web.json_response({"opened": done.ok, "serial": done.serial})

    @_acting(Action.REFUSE, "lane")
    async def refuse_vehicle(self, request: web.Request, actor: Actor) -> web.Response:
        """A guard refuses the vehicle at a lane (its plate, a mandatory reason): a pass of its
        own, decided by the guard, barrier not moved, the LED told."""
        body = await _json(request)  # (a reason or plate that is not text: 400, as to open)
        reason = _text(body, "reason", MAX_GUARD_REASON).strip()[:64]
        plate = _text(body, "plate", MAX_GUARD_REASON)
        lane = request.match_info["lane"]
        return _answer(await self.operator.refuse_vehicle(actor, lane, plate, reason))

    @_acting(Action.CORRECT, "serial")
    async def correct_plate(self, request: web.Request, actor: Actor) -> web.Response:
        """A guard corrects a misread plate of a recorded pass (kept beside the pass, reported
        in province mode; ``edge.actions.corrections``)."""
        body = await _json(request)
        plate, color = _text(body, "plate", MAX_GUARD_REASON), _text(body, "color", 8) or "1"
        serial = request.match_info["serial"]
        done = await self.operator.correct(actor, serial, plate, color)
        if not done.ok:  # already corrected so: nothing stored, said in Chinese
            return web.json_response({"ok": False, "detail": done.note}, status=409)
        return _answer(done)

    @_acting(Action.SET_GOODS, "id")
    async def set_goods(self, request: web.Request, actor: Actor) -> web.Response:
        """The clerk's goods for a completed weighing (its goods record is then sent)."""
        body = await _json(request)
        goods = _text(body, "goods", 64)
        return _answer(await self.operator.set_goods(actor, request.match_info["id"], goods))

    @_acting(Action.ASSIGN_PLATE, "id")
    async def assign_plate(self, request: web.Request, actor: Actor) -> web.Response:
        """The clerk's plate for a weighing without one (unmatched, or 待确认车牌): one of its
        candidate reads (``read``) or a typed ``plate`` and ``color``."""
        body = await _json(request)
        return _answer(
            await self.operator.assign_plate(
                actor,
                request.match_info["id"],
                read=_text(body, "read", 20) or None,
                plate=_text(body, "plate", 32),
                color=_text(body, "color", 4),
                returned=body.get("returned") is True,
            )
        )

    @_acting(Action.SAME_TRUCK, "id")
    async def same_truck(self, request: web.Request, actor: Actor) -> web.Response:
        """The clerk says a weighing without its plate is the truck weighed just before it,
        stopped again (同一车辆; as ``edge weighings same-truck``)."""
        return _answer(await self.operator.same_truck(actor, request.match_info["id"]))

    @_acting(Action.TAKE_HIGHER, "id")
    async def take_higher_weight(self, request: web.Request, actor: Actor) -> web.Response:
        """The clerk takes the higher stop of a weighing marked 请核对重量 (取较高重量; as
        ``edge weighings higher-weight``)."""
        return _answer(await self.operator.take_higher_weight(actor, request.match_info["id"]))

    @_acting(Action.DISCARD_WEIGHING, "id")
    async def discard_weighing(self, request: web.Request, actor: Actor) -> web.Response:
        """The clerk sets aside a weighing without a plate that is no truck's load, with a
        ``reason`` (作废; as ``edge weighings discard``)."""
        body = await _json(request)
        reason = _text(body, "reason", 4 * MAX_DISCARD_REASON)  # the operator says it in Chinese
        done = await self.operator.discard_weighing(actor, request.match_info["id"], reason)
        if done.id is not None:  # every open page re-reads the status
            self._weighed(await self.store.weighing(done.id))
        return _answer(done)

    @_acting(Action.CLEAR_CHECK, "id")
    async def clear_check(self, request: web.Request, actor: Actor) -> web.Response:
        """The clerk checked a weighing marked 请核对车牌 / 请核对重量 (as ``edge weighings
        checked``): the mark is cleared and its goods record held meanwhile goes out."""
        done = await self.operator.clear_check(actor, request.match_info["id"])
        if done.id is not None:  # every open page re-reads the status
            self._weighed(await self.store.weighing(done.id))
        return _answer(done)

    @_acting(Action.SPLIT_WEIGHING, "id")
    async def split_weighing(self, request: web.Request, actor: Actor) -> web.Response:
        """The clerk splits a completed weighing of two trucks, with a ``reason`` (拆分; as
        ``edge weighings split``): its goods record, not sent, is withdrawn and each weighing
        is tied again to its pass's plate."""
        body = await _json(request)
        reason = _text(body, "reason", 4 * MAX_DISCARD_REASON)  # the operator says it in Chinese
        # the scale tells every open page (its weighing listeners)
        return _answer(await self.operator.split_weighing(actor, request.match_info["id"], reason))

    @_acting(Action.DROP_READ, "id")
    async def drop_read(self, request: web.Request, actor: Actor) -> web.Response:
        """The clerk drops a stray plate read pending at a scale (as ``edge weighings
        drop-read``): no candidate of any weighing from now on."""
        return _answer(await self.operator.drop_read(actor, request.match_info["id"]))

    def _pass(self, message: dict[str, Any]) -> None:
        self.recent = [message, *self.recent][:RECENT]
        self._broadcast("pass", message)

    def _weighed(self, weighing: StoredWeighing) -> None:
        """A weighing recorded: the page re-reads the status (event ``weighing``)."""
        self._broadcast("weighing", {"weighing": weighing.id, "state": weighing.state})

    def _weight_refused(self, _refusal: Refusal) -> None:
        """A stable weight refused (over a scale's capacity): the page re-reads the status."""
        self._broadcast("weighing", {"weighing": None, "state": "refused"})

    def _broadcast(self, kind: str, message: dict[str, Any]) -> None:
        """``message`` as event ``kind`` to every open event stream (made once for all)."""
        if self._listeners:
            event = f"event: {kind}\ndata: {_dumps(message)}\n\n".encode()
            for queue in self._listeners:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(event)

    def _scale(self, live: dict[str, Any]) -> dict[str, Any]:
        """A scale's live view, its last refused weight's time in site time."""
        refused = live.get("refused")
        if refused:
            at = datetime.fromtimestamp(refused["at"], self.zone).strftime(TIME)
            live = {**live, "refused": {**refused, "at": at}}
        return live

    def _scale_names(self) -> dict[str, str]:
        """Each scale's name as guards read it (``[scales.*] name``), by its key."""
        return {key: bridge.label for key, bridge in (self.weighbridges or {}).items()}

    async def _weighings(self) -> dict[str, Any]:
        """Open (and lately expired) first weighings — one past the maximum time between
        weighings shows as expired at once —, the weighings without a plate (unmatched, and
        held as 待确认车牌 with their candidates), and the latest completed ones."""
        if not self.weighbridges:
            return {"open": [], "unmatched": [], "complete": [], "to_check": [], "goods_list": []}

        def when(at: float | None) -> str:
            return "" if at is None else datetime.fromtimestamp(at, self.zone).strftime(TIME)

        now = time.time()
        since = now - UNFINISHED_SHOWN_SECONDS
        span = max(b.max_between for b in self.weighbridges.values())
        opened = await self.store.open_weighings(since, expired_before=now - span)
        nobody = await self.store.unmatched_weighings(since, RECENT)
        done = [w for w in await self.store.recent_weighings(RECENT) if w.state == "complete"]
        doubted = await self.store.weighings_to_check(since, RECENT)
        photos = await self.store.weighing_photos([*opened, *nobody, *done])
        names = self._scale_names()
        reads = [r.id for w in nobody for r in w.candidate_reads]
        before = await self._stopped_before(nobody)
        used = await self.store.used_reads(reads)
        dropped = await self.store.dropped_reads(reads)
        unfinished = [
            {
                "id": w.id,
                "plate": w.plate,
                "state": w.state,
                "state_name": state_name(w.state),
                "first_kg": w.first_kg,
                "first_at": when(w.first_at),
                "first_scale": names.get(w.first_scale, w.first_scale),
                "photos": photos[w.id],
            }
            for w in opened
        ]
        unmatched = [
            {
                "id": w.id,
                "held": w.held,
                "kg": w.first_kg,
                "at": when(w.first_at),
                "scale": names.get(w.first_scale, w.first_scale),
                "candidates": [
                    {
                        "read": r.id,
                        "plate": r.read.plate,
                        "color": r.read.plate_color,
                        "lane": r.read.lane_id,
                        "at": when(r.read.read_at),
                        # how long before the weighing the read was heard (s; with
                        # ``after``: after it, while the truck stood): a read much older than
                        # the others is likely a stray one
                        "age_seconds": round(abs(w.first_at - r.read.read_at)),
                        "after": r.read.read_at > w.first_at,
                        "dropped": r.id in dropped,
                    }
                    for r in w.candidate_reads
                    if r.id not in used  # a read another weighing used is no candidate
                ],
                # the truck weighed just before it may still have stood there: 同一车辆
                "stop_of": before.get(w.id),
                "photos": photos[w.id],
            }
            for w in nobody
        ]
        complete = [
            {
                "id": w.id,
                "plate": w.plate,
                "at": when(w.second_at or w.first_at),
                "gross_kg": w.gross_kg,
                "tare_kg": w.tare_kg,
                "tare_preset": bool(w.tare_preset),
                "net_t": tonnes_text(w.net_kg or 0),
                "goods": w.goods,
                "ysl": w.ysl,
                "goods_error": w.goods_error,
                "note": EMPTY_WEIGHING if w.tare_preset and w.net_kg == 0 else "",
                "photos": photos[w.id],
            }
            for w in done
        ]
        to_check = [  # 请核对车牌 / 请核对重量: its plate or weight in doubt
            {
                "id": w.id,
                "plate": w.plate,
                "state_name": state_name("held" if w.held else w.state),
                "kg": w.first_kg,
                "net_t": None if w.net_kg is None else tonnes_text(w.net_kg),
                "at": when(w.first_at),
                "scale": names.get(w.first_scale, w.first_scale),
                "checks": [{"kind": c.kind, "said": c.said, "hold": c.hold} for c in w.checks],
                # a truck that stopped twice after its pair completed: 取较高重量 (kg)
                "higher_kg": next((c.kg for c in w.checks if c.kind == "weight" and c.kg), None)
                if w.state == "complete"
                else None,
                # a pair whose plate is in doubt, its goods record held: 拆分 (two trucks)
                "split": w.state == "complete"
                and w.second_at is not None
                and not w.tare_preset
                and any(c.kind == "plate" and c.hold for c in w.checks),
            }
            for w in doubted
        ]
        return {
            "open": unfinished,
            "unmatched": unmatched,
            "complete": complete,
            "to_check": to_check,
            "goods_list": list(self.operator.goods_list),
        }

    async def _stopped_before(self, nobody: list[StoredWeighing]) -> dict[int, dict[str, Any]]:
        """For each weighing without its plate that may be the truck weighed just before it
        after a second stop (its scale's :meth:`~edge.gate.weighbridge.ScalePairing.
        stopped_before`): that weighing's id, plate, the weight (kg) of the stop it may follow
        and whether the scale was watched in between (``unwatched``: a restart, a silent
        indicator)."""
        found: dict[int, dict[str, Any]] = {}
        for w in nobody:
            bridge = (self.weighbridges or {}).get(w.first_scale)
            link = None if bridge is None else await bridge.stopped_before(w)
            if link is not None:
                earlier, _at, kg = link
                found[w.id] = {"id": earlier.id, "plate": earlier.plate, "kg": kg,
                               "unwatched": bool(w.stop_unwatched)}  # fmt: skip
        return found

    async def page(self, _request: web.Request) -> web.Response:
        return web.Response(
            text=_page_html(),
            content_type="text/html",
            headers={
                "Content-Security-Policy": "default-src 'self'; img-src 'self'; "
                "script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def _dead_filings(self) -> list[dict[str, Any]]:
        """The electronic ledger's dead filings (refused, or undeliverable), newest first."""
        listed = []
        for row in await self.store.dead_filings(20):
            entry = await self.store.get_entry(row.entry_id)
            listed.append({
                "id": row.id,
                "entry": row.entry_id,
                "plate": "" if entry is None else entry.plate,
                "platform": row.platform,
                "error": refusal_words(row.last_error) if row.last_error else "",
            })  # fmt: skip
        return listed

    async def _recent(self) -> list[dict[str, Any]]:
        """The live list of recent passes, each with its latest correction's plate and
        colour (``corrected``, ``corrected_color``; made here or by ``edge correct``) beside
        the camera's ``plate``."""
        serials = [m["serial"] for m in self.recent if "serial" in m]
        corrected = await self.store.corrected_plates(serials)
        shown = []
        for message in self.recent:
            found = corrected.get(message.get("serial", ""))
            extra = {} if found is None else {"corrected": found[0], "corrected_color": found[1]}
            shown.append({**message, **extra} if extra else message)
        return shown

    async def snapshot(self) -> dict[str, Any]:
        report = self.health()
        now = datetime.now(self.zone)
        plan = await self.plans.active(now)
        figures = await daily_figures(self.store, now.date(), self.zone)
        span = max((b.max_between for b in self.weighbridges.values()), default=0.0)
        tonnage = await daily_tonnage(self.store, now.date(), self.zone, span)
        dead = await self.store.list_outbox("dead", 20)
        return {
            "lanes": [
                {
                    "id": lane.id,
                    "name": lane.cfg.name or lane.id,
                    "direction": lane.cfg.direction,
                    "camera": report.cameras[lane.id].to_json(),
                    "devices": report.devices[lane.id].to_json(),
                }
                for lane in self.lanes.values()
            ],
            "link": report.link,
            "link_reason": failure_name(report.link_reason),
            "ledger_alarm": ledger_alarm(report.ledger),
            "replica": replica_summary(report.replica, self.zone),
            "clock_offset_seconds": report.clock_offset_seconds,
            "outbox": report.outbox.to_json(),
            "dead": [
                {
                    "id": r.id,
                    "serial": r.serial,
                    "kind": UPLOAD_KINDS.get(r.kind, r.kind),
                    "error": dead_letter_words(r.last_error or ""),
                }
                for r in dead
            ],
            "dead_filings": await self._dead_filings(),
            "plan": None
            if plan is None
            else {
                "name": plan.name,
                "strategy": STRATEGY_NAMES[plan.strategy],
                "quota": plan.quota,
            },
            "figures": {lane: f.to_json() for lane, f in figures.items()},
            "tonnage": [t.to_json() for t in tonnage],
            "list_entries": [
                {"id": r.id, "plate": r.plate, "kind": r.kind, "reason": r.reason}
                for r in await self.store.list_entries()
            ],
            "plans": [
                {"id": r.id, "name": r.name, "strategy": STRATEGY_NAMES[r.strategy]}
                for r in await self.store.plans()
                if r.closed_at is None
            ],
            "recent": await self._recent(),
            "need_complete": [
                {
                    "plate": n.plate,
                    "color": n.plate_color,
                    "level": n.level,
                    "source": n.source,
                    "serial": n.serial,
                    "lane": n.lane_id,
                    "seen_at": datetime.fromtimestamp(n.seen_at, self.zone).strftime(TIME),
                }
                for n in await self.store.need_complete(NEED_COMPLETE_SHOWN)
            ],
            "scales": [self._scale(bridge.live()) for bridge in self.weighbridges.values()],
            "weighings": await self._weighings(),
            "timezone": str(self.zone),
            "unusual_plates": dict(UNUSUAL_SHAPES),
        }

    async def status(self, _request: web.Request) -> web.Response:
        return web.json_response(await self.snapshot(), dumps=_dumps)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: ``pass`` for each pass, ``weighing`` for a weighing, a comment
        line to keep proxies open. At most :data:`EVENT_STREAMS_PER_ADDRESS` open from one
        address and :data:`EVENT_STREAMS` in all, of which :data:`EVENT_STREAMS_WITHOUT_LOGIN`
        without a login: beyond that 503 (the page's ``EventSource`` tries again by
        itself)."""
        address = request.remote or "?"
        room = EVENT_STREAMS if self.signed_in(request) else EVENT_STREAMS_WITHOUT_LOGIN
        if len(self._listeners) >= room or self._streams_from[address] >= EVENT_STREAMS_PER_ADDRESS:
            refused = web.json_response({"error": TOO_MANY_STREAMS}, status=503, dumps=_dumps)
            refused.headers["Retry-After"] = "10"
            return refused
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=100)
        self._listeners.add(queue)
        self._streams_from[address] += 1
        try:
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            quiet = 0.0
            while request.transport is not None and not request.transport.is_closing():
                try:  # (looking each second whether the browser went away: its place is freed)
                    event = await asyncio.wait_for(queue.get(), 1.0)
                except TimeoutError:
                    quiet += 1.0
                    if quiet >= KEEPALIVE_SECONDS:
                        await response.write(b": keep-alive\n\n")
                        quiet = 0.0
                    continue
                if event is None:  # the daemon is stopping
                    break
                await response.write(event)
                quiet = 0.0
        except ConnectionResetError:
            pass  # the browser went away
        finally:
            self._listeners.discard(queue)
            self._streams_from[address] -= 1
            if self._streams_from[address] <= 0:
                del self._streams_from[address]
        return response

    def close(self) -> None:
        """End the event streams (before the web server stops)."""
        for queue in self._listeners:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)


class FormError(ValueError):
    """A form field that does not validate; the message is the one-line reason (audited),
    ``said`` what the page shows (the ledger export's in Chinese; else the reason)."""

    def __init__(self, reason: str, said: str = "") -> None:
        super().__init__(reason)
        self.said = said or reason


def _bad(reason: str, said: str = "") -> web.HTTPBadRequest:
    """A 400 whose body is one line of JSON saying what was wrong (``error``, naming the
    parameter) and, given ``said``, the same in Chinese for the page (``said``)."""
    body = {"error": reason} | ({"said": said} if said else {})
    return web.HTTPBadRequest(
        text=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


async def _json(request: web.Request) -> dict[str, Any]:
    """A form sent as a JSON object (at most ``MAX_FORM_BYTES``); 400 if it is something else."""
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise FormError(
            f"form over {MAX_FORM_BYTES} bytes", f"表单过大（超过 {MAX_FORM_BYTES} 字节）"
        )
    raw = await request.read()
    if len(raw) > MAX_FORM_BYTES:
        raise FormError(
            f"form over {MAX_FORM_BYTES} bytes", f"表单过大（超过 {MAX_FORM_BYTES} 字节）"
        )
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FormError("form is not JSON", "表单格式错误（不是 JSON）") from None
    if not isinstance(body, dict):
        raise FormError("form is not a JSON object", "表单格式错误（不是 JSON 对象）")
    return body


def _text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise FormError(f"{key} must be text", f"{key} 须为文字")
    text = str(value)
    if len(text) > limit:
        raise FormError(f"{key} is over {limit} characters", f"{key} 超过 {limit} 个字符")
    if holds_hidden(text):  # NUL, U+202E, U+200B, a line separator …
        raise FormError(f"{key} holds control or format characters", f"{key} 含控制字符")
    return text


def _whole(body: dict[str, Any], key: str, low: int, high: int, *, default: int | None) -> Any:
    """A whole number in ``low``…``high`` (400 otherwise); ``default`` when absent or empty."""
    whole = f"{key} 须为 {low} 至 {high} 的整数"
    value = body.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str) or len(str(value)) > 12:
        raise FormError(f"{key} must be a whole number from {low} to {high}", whole)
    try:
        number = int(value)
    except ValueError:
        raise FormError(f"{key} must be a whole number from {low} to {high}", whole) from None
    if not low <= number <= high:
        raise FormError(f"{key} must be a whole number from {low} to {high}", whole)
    return number


def _time(body: dict[str, Any], key: str, zone: Any) -> float | None:
    """A typed local time (unix seconds), None when empty; 400 when it is not a time."""
    text = _text(body, key, 32).strip()
    if not text:
        return None
    moment = _aware(text, zone)
    if moment is None:
        raise FormError(f"{key} is not a date and time", f"{key} 不是日期时间")
    return moment


def _cursor(text: str) -> PageCursor | None:
    """A search's ``after`` (the previous page's ``X-Next-Page``); 400 if it is not one."""
    if not text:
        return None
    try:
        return PageCursor.from_text(text[:64])
    except ValueError:
        raise FormError(
            "after is not a page from this search", "翻页参数无效，请重新查询"
        ) from None


def _export_limit(text: str) -> int | None:
    """An export's ``limit``: None (every row) unless given; 400 if not a whole number."""
    if not text.strip():
        return None
    return max(PAGE_MIN, _whole_number(text))


def _whole_number(text: str) -> int:
    try:
        number = int(text) if len(text) <= 12 else None
    except ValueError:
        number = None
    if number is None:
        raise FormError("limit must be a whole number", "limit 须为整数")
    return number


def _limit(text: str) -> int:
    """The ``limit`` of a search: clamped to PAGE_MIN…PAGE_MAX; 400 if not a whole number."""
    if not text.strip():
        return PAGE_DEFAULT
    return max(PAGE_MIN, min(_whole_number(text), PAGE_MAX))


def _aware(text: str, zone: Any) -> float | None:
    """A typed local time as unix seconds, or None when the field is empty or not a time."""
    try:
        return local_time(text, zone).timestamp()
    except ValueError:
        return None


def _attachment(name: str) -> str:
    return f'attachment; filename="{name}"'


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
