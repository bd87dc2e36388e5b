"""The ERP push API: the plant's ERP posts transport plans (运输计划 / 派车单) — plate, goods,
expected tonnage, validity — that name the goods of a truck's weighing, and, at a lane without
a scale, give the goods record its tonnage (research/ledger-and-weighbridge.md §3.1).

    POST /api/erp/plans
    Authorization: Bearer <[erp] token>
    {"plan_no": "PO-2026-0001", "plate": "豫A12345", "goods": "水泥熟料",
     "expected_tonnes": 32.5, "valid_from": "2026-12-01T08:00+08:00",
     "valid_to": "2026-12-01T20:00+08:00"}
    → 200 {"ok": true, "id": 7} · 400 {"ok": false, "detail": …, "key": …} · 401 · 404 (off)
      · 405 (not a POST) · 413 (a body over 4 KiB) — every answer is such a JSON object
      (401 with ``WWW-Authenticate: Bearer``; any other path under /api/erp/, a trailing
      slash too: 404)
      (a body over ``[web] max_body_bytes`` the server refuses for every path, unread:
      413 ``{"result": "error", "error": …}``)

The scheme ``Bearer`` is matched in any case (``bearer``, ``BEARER``; RFC 7235 §2.1).
Only when ``[erp] token`` is set (the API answers 404 otherwise). Each push is an operator
action of the ERP face (``edge.actions.operator``): authorised, validated and audited once —
an authenticated push whose body is over 4 KiB, not JSON or not an object too (refused, with
the reason and at most the body's first 32 bytes, escaped).
A plan with the same ``plan_no`` replaces the earlier one until it was used (a weighing it
named the goods of completed, or a pass at a lane without a scale reported it): it then
records that serial and a push of the same ``plan_no`` is refused (400, key ``plan_no``).
``plate`` must fit the plate grammar (as every source's), ``plan_no`` have no control
characters, ``valid_from``/``valid_to`` lie after 2000 and at most 366 days ahead. The reply's
``detail`` gives the tonnage as the goods record sends it (``tonnes_text``).
Several valid plans for one plate: the one received last names the goods.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from edge.actions.operator import Action, Actor, Face, InvalidInputError, NotAllowedError, Operator

MAX_BODY = 4096
#: Bytes of a refused body kept in its refusal (the reply and the audit), never more.
HEAD_BYTES = 32


class ErpApi:
    def __init__(self, operator: Operator, token: str | None) -> None:
        self.operator, self.token = operator, token

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/api/erp/plans", self.put_plan),
            web.route("*", "/api/erp/{tail:.*}", self.unknown),
        ]

    async def unknown(self, request: web.Request) -> web.Response:
        """Any other path under /api/erp/ (``/api/erp/plans/`` among them): JSON 404."""
        return _error(404, f"no such path {request.path!r}: POST /api/erp/plans")

    def _actor(self, request: web.Request) -> Actor:
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        try:  # a header that is not UTF-8 (aiohttp keeps its bytes as surrogates) is no token
            given = token.strip(" ").encode()
        except UnicodeEncodeError:
            given = b""
        ok = (
            self.token is not None
            and scheme.lower() == "bearer"
            and bool(given)
            and hmac.compare_digest(given, self.token.encode())
        )
        why = None if ok else "no valid ERP token"
        return Actor("erp", request.remote or "?", Face.ERP, why)

    async def put_plan(self, request: web.Request) -> web.Response:
        if self.token is None:
            return _error(404, "the ERP API is off ([erp] token is not set)")
        if request.method != "POST":
            return _error(405, f"{request.method} is not allowed: POST a plan", Allow="POST")
        actor = self._actor(request)
        try:
            if actor.unauthenticated is not None:  # refused before the body is read
                await self.operator.authorise(actor, Action.PUT_PLAN, "?")
            try:
                body = await _body(request)
            except (_TooLargeError, InvalidInputError) as exc:  # audited too: every push is
                why = exc.detail if isinstance(exc, InvalidInputError) else str(exc)
                await self.operator.refused(actor, Action.PUT_PLAN, "?", why)
                raise
            done = await self.operator.put_plan(actor, body)
        except NotAllowedError as exc:
            return _error(401, exc.detail, **{"WWW-Authenticate": "Bearer"})
        except _TooLargeError as exc:
            return _error(413, str(exc))
        except InvalidInputError as exc:
            return _error(400, exc.detail, exc.key)
        return web.json_response({"ok": True, "id": done.id, "detail": done.detail})


class _TooLargeError(Exception):
    """A body over :data:`MAX_BODY` (answered 413)."""


def _error(status: int, detail: str, key: str | None = None, **headers: str) -> web.Response:
    """Every refusal of the API as one JSON shape: ``{"ok": false, "detail", "key"}``."""
    body = {"ok": False, "detail": detail, "key": key}
    return web.json_response(body, status=status, headers=headers or None)


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object posted. A body over :data:`MAX_BODY` bytes — declared, or streamed
    in chunks — raises :class:`_TooLargeError` (one over ``[web] max_body_bytes`` the
    server refuses unread, 413 ``{"result": "error", "error": …}``)."""
    too_large = f"body over {MAX_BODY} bytes"
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _TooLargeError(too_large)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _TooLargeError(too_large) from None
    if len(raw) > MAX_BODY:
        raise _TooLargeError(too_large)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError(f"body is not JSON (begins {_head(raw)})") from None
    if not isinstance(body, dict):
        raise InvalidInputError(f"body is not a JSON object (begins {_head(raw)})")
    return body


def _head(raw: bytes) -> str:
    """The first :data:`HEAD_BYTES` of a refused body, escaped (a JSON string: no control
    character or line break reaches the audit or the log), "…" when there is more.

    Printable text (Chinese too) stays as it is; every character that is not printable —
    C0 and C1 controls (U+0085, U+009B), U+2028/U+2029, format characters — is written
    ``\\uXXXX`` (a surrogate pair above U+FFFF), as JSON would with ``ensure_ascii``."""
    text = raw[:HEAD_BYTES].decode("utf-8", "replace")
    quoted = json.dumps(text, ensure_ascii=False)
    escaped = "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in quoted)
    return escaped + ("…" if len(raw) > HEAD_BYTES else "")
