"""The daemon's HTTP listeners: camera pushes, the status page, ``/healthz`` and ``/metrics`` on
one; the photos the province platform fetches on another (:mod:`edge.web.photo_listener`).

Every listener is bounded (:class:`Limits`): a connection must deliver its request headers
within ``header_timeout`` of connecting (or of its previous response) and its body within
``body_timeout``; connections beyond ``max_connections`` in total or
``max_connections_per_address`` from one address are closed as they arrive, so slow or many
clients cannot exhaust the process's file descriptors or stop a camera from being answered;
so are an address's new connections beyond ``max_connections_per_address`` a second (in
bursts of as many; the lanes' cameras excepted). The caps and that rate are checked as a
connection is accepted, before a transport or a request exists (:class:`GuardedSite`): a
sender that opens connections as fast as it can — and closes each right after sending, never
waiting for an answer — costs an ``accept`` and a ``close`` each, not a request. A path no
route has is answered 404 after the refusal hold (:data:`edge.ops.refusals.REFUSAL_HOLD_SECONDS`),
not at once. Every response carries ``X-Content-Type-Options: nosniff``.

The listener reads a request's body before its handler runs, except for a handler marked
:func:`edge.ops.bodies.reads_own_body` (the camera pushes), which refuses what it can on the
request line and headers alone and reads the body itself, under the same limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import ipaddress
import logging
import socket
import struct
import termios
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from edge.config.model import WebConfig, address_in
from edge.ops.bodies import (
    BODY_BUDGET,
    BODY_TIMEOUT,
    BodiesInFlightError,
    BodyBudget,
    BodyNotInTimeError,
    handler_reads_own_body,
)
from edge.ops.health import HealthReport
from edge.ops.metrics import CONTENT_TYPE
from edge.ops.refusals import REFUSAL_HOLD_SECONDS, RefusalLog

log = structlog.get_logger("edge.web.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one listener takes (``[web]`` in the config)."""

    max_body_bytes: int = 8 * 1024 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 512
    max_connections_per_address: int = 64
    #: Addresses the total cap does not apply to (only the per-address one): the lanes'
    #: cameras (their ``allow_from``), so that slow connections from many other addresses,
    #: each under the per-address cap, cannot fill ``max_connections`` and lock them out; nor
    #: does the rate of new connections.
    cameras: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @property
    def new_per_second(self) -> float:
        """New connections an address may open a second (in bursts of as many): as many as it
        may hold open. A camera opens one a push, a browser a handful a page."""
        return float(self.max_connections_per_address)

    @property
    def requests_per_second(self) -> float:
        """The request budget of an address that is not a lane's camera, a second (in bursts
        of as many), the requests that are not camera pushes (those have their lanes'
        budgets): a request takes one, and one more for each :data:`BYTES_A_TOKEN` of its
        answer (up to :data:`REQUEST_WAIT_SECONDS`' worth: a 5,000-row ``/api/passes`` page of
        2 MB ~125, a status poll 1 — a token is about a millisecond of the daemon's CPU either
        way); all such addresses together have twice that. A page flood without a login
        cost another lane +4 to +63 ms at p99 (issue 20, M6); a guard's page asks for a
        handful a click. Counted in bytes, not in time: a loaded machine answers slower, and
        its guards would be refused for it."""
        return float(self.max_connections_per_address)

    @property
    def new_per_second_total(self) -> float:
        """New connections all addresses that are not a lane's camera may open a second
        together (in bursts of as many): twice what one may. A sender from many addresses, each
        under its own rate, made a request of each (+120 to +290 ms on another lane's p99 from
        32 or 128 addresses, issue 20): it now shares this with the status page's browsers —
        set ``allow_from`` so that a lane's camera does not."""
        return 2 * self.new_per_second


def web_limits(
    cfg: WebConfig, cameras: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()
) -> Limits:
    """The listener's limits from ``[web]``; ``cameras``: the lanes' ``allow_from`` networks."""
    return Limits(
        max_body_bytes=cfg.max_body_bytes,
        header_timeout=cfg.header_timeout_seconds,
        body_timeout=cfg.body_timeout_seconds,
        max_connections=cfg.max_connections,
        max_connections_per_address=cfg.max_connections_per_address,
        cameras=tuple(cameras),
    )


def _nobody(_request: web.Request) -> bool:
    return False


def _no_address(_address: str) -> bool:
    return False


def _peer(transport: asyncio.Transport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "?"


def _too_large(limit: int) -> web.Response:
    """413 for a body over ``[web] max_body_bytes``, in JSON like the 408 (the connection is
    closed: the rest of the body is not read)."""
    refused = web.json_response(
        {"result": "error", "error": f"request body over {limit} bytes"}, status=413
    )
    refused.force_close()
    return refused


def _compressed() -> web.Response:
    """415 for a body with a ``Content-Encoding`` (gzip, deflate, br): no camera compresses
    its pushes nor a browser its forms, and aiohttp inflated such a body on the event loop
    before any check — 64 KB of gzip made 1 GB and held every lane up to 1.2 s, 5.3 s on a
    loaded machine (issue 20). The connection is closed: the body is not read."""
    refused = web.json_response(
        {"result": "error", "error": "compressed request bodies are not accepted"}, status=415
    )
    refused.force_close()
    return refused


class ConnectionGuard:
    """Counts a listener's connections by address, refuses those over the caps, and closes
    those that do not send a request in time. Hooks into aiohttp's low-level server (its
    ``connection_made`` / ``connection_lost`` calls) and a middleware."""

    def __init__(self, limits: Limits, name: str) -> None:
        self.limits, self.name = limits, name
        self.by_address: Counter[str] = Counter()
        self.open = 0
        self.refused = 0
        self.timed_out = 0
        self.refused_requests = 0  # over the request budgets (:meth:`_too_fast`)
        self._timers: dict[asyncio.Transport, asyncio.TimerHandle] = {}
        self._counted: dict[RequestHandler, tuple[str, asyncio.Transport]] = {}
        self._rates: dict[str, tuple[float, float]] = {}  # bucket → (tokens, at)
        self._cameras: dict[str, bool] = {}  # address → whether a lane's camera
        self._refusals = RefusalLog()
        self.hold = REFUSAL_HOLD_SECONDS  # seconds a 404 for no route waits (a test may set it)
        #: Whether a request comes from a signed-in browser (its session cookie is live): such
        #: a request is not counted in all addresses' request budget, only in its address's —
        #: so a flood from many addresses without a login never slows the guards signed in.
        #: (The status page sets it; none on a listener without logins.) A lane's camera's
        #: own requests (pushes, heartbeats, IO inputs, keep-alives: marked
        #: :func:`~edge.ops.bodies.reads_own_body`) have its lane's budgets and skip these;
        #: anything else from a camera's address is counted as anyone's — in both. (Counted
        #: only in its own, a flood of pages from the 16 addresses of a camera network
        #: that ``allow_from`` names took 78 % of a core and held pushes up to 1.6 s.)
        self.signed_in: Callable[[web.Request], bool] = _nobody
        #: Whether an address's requests skip the request budget altogether: on the photo
        #: listener, the platform's (its ``allow`` list, fetching a backlog's photos); none
        #: on the main listener.
        self.unbudgeted: Callable[[str], bool] = _no_address
        #: The bodies this listener reads at once (see :data:`BODIES_IN_FLIGHT`).
        self.bodies = BodyBudget(
            total=BODIES_IN_FLIGHT * limits.max_body_bytes,
            per_address=limits.max_body_bytes,
            is_camera=self.is_camera,
        )

    def install(self, server: Any) -> None:
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
            made(handler, transport)
            self._made(handler, transport)

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            self._lost(handler)
            lost(handler, exc)

        server.connection_made, server.connection_lost = connection_made, connection_lost

    def admits(self, address: str) -> bool:
        """Whether a connection from ``address``, just accepted, may be served: under the caps
        and the address's rate of new connections (:attr:`Limits.new_per_second`), and all
        non-camera addresses' (:attr:`Limits.new_per_second_total`). Refused, it is counted,
        and logged once per address a minute."""
        why = self._over_caps(address)
        if why is None and not self.is_camera(address):
            now, limits = time.monotonic(), self.limits
            if not self._take(address, limits.new_per_second, now):
                why = "new connections too fast from one address"
            elif not self._take(_ALL, limits.new_per_second_total, now):
                why = "new connections too fast from all addresses"
        if why is None:
            return True
        self._refuse(why, address)
        return False

    def _over_caps(self, address: str) -> str | None:
        """Why one more connection from ``address`` is over the caps, or None."""
        limits = self.limits
        if self.by_address[address] >= limits.max_connections_per_address:
            return "too many open from one address"
        if self.open >= limits.max_connections and not self.is_camera(address):
            return "too many open"
        return None

    def _refuse(self, why: str, address: str) -> None:
        self.refused += 1
        refused = self._refusals.refused(why, self.name, address)
        if refused is not None:
            log.warning(
                "connection refused",
                reason=why,
                listener=self.name,
                peer=address,
                open=self.open,
                from_peer=self.by_address[address],
                refused_since=refused,
            )

    def is_camera(self, address: str) -> bool:
        """Whether ``address`` is a lane's camera (in an ``allow_from``)."""
        camera = self._cameras.get(address)
        if camera is None:  # parsed once per address: a flood comes from few
            if len(self._cameras) >= 4096:
                self._cameras.clear()
            camera = self._cameras[address] = address_in(address, self.limits.cameras)
        return camera

    def _take(self, key: str, rate: float, now: float) -> bool:
        """Take one new connection from ``key``'s token bucket (an address, or :data:`_ALL`),
        if it holds one."""
        return self._reserve(key, rate, now) is not None

    def _reserve(self, key: str, rate: float, now: float, within: float = 0.0) -> float | None:
        """Take a token from ``key``'s bucket (``rate`` a second, in bursts of as many): the
        seconds until it is within the bucket (0: now; its place is then kept: the requests
        after it wait longer), when that is at most ``within``, else None (nothing taken).
        At most 4,096 buckets are remembered (the oldest forgotten: a full bucket again)."""
        tokens, at = self._rates.pop(key, (rate, now))
        tokens = min(rate, tokens + (now - at) * rate)
        if len(self._rates) >= 4096:
            del self._rates[next(iter(self._rates))]
        wait = max(0.0, (1 - tokens) / rate)
        taken = wait <= within
        self._rates[key] = (tokens - taken, now)
        return wait if taken else None

    def _charge(self, key: str, rate: float, tokens: float) -> None:
        """Take ``tokens`` more from ``key``'s bucket, down to :data:`DEBT_SECONDS` of debt."""
        if (bucket := self._rates.get(key)) is not None:
            left, at = bucket
            now = time.monotonic()
            left = min(rate, left + (now - at) * rate)
            self._rates[key] = (max(left - tokens, -rate * DEBT_SECONDS), now)

    def _request_wait(self, address: str, *, shared: bool = True) -> float | None:
        """The seconds a request from ``address`` (not a lane's camera, not a push) waits for
        its place in its address's request budget and (``shared``) all addresses' (see
        :attr:`Limits.requests_per_second`), or None when that would be more than
        :data:`REQUEST_WAIT_SECONDS` (refused)."""
        now, rate = time.monotonic(), self.limits.requests_per_second
        own = self._reserve(_REQUESTS + address, rate, now, REQUEST_WAIT_SECONDS)
        if own is None or not shared:
            return own
        everyone = self._reserve(_REQUESTS + _ALL, 2 * rate, now, REQUEST_WAIT_SECONDS)
        return None if everyone is None else max(own, everyone)

    def _charge_request(self, address: str, sent: int, *, shared: bool = True) -> None:
        """A request from ``address`` answered with ``sent`` bytes of body: one more token of
        its budgets for each :data:`BYTES_A_TOKEN` (the loop's and the ledger's work grow with
        the rows sent: a 2 MB page cost ~100 ms of CPU, ``/healthz`` ~1 ms), at most
        :data:`REQUEST_WAIT_SECONDS`' worth. (Capped at half a second's worth, a 2 MB page
        was charged a quarter of its cost: a flood of them took ~40 % of a core.)"""
        rate = self.limits.requests_per_second
        extra = min(sent // BYTES_A_TOKEN, rate * REQUEST_WAIT_SECONDS)
        if extra > 0:
            self._charge(_REQUESTS + address, rate, extra)
            if shared:
                self._charge(_REQUESTS + _ALL, 2 * rate, extra)

    def _made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        address = _peer(transport)
        # (the caps again: the connections accepted in one turn are counted only here)
        if (why := self._over_caps(address)) is not None:
            self._refuse(why, address)
            # After aiohttp has set the connection up (aborting inside its connection_made
            # would leave its request task without a server).
            asyncio.get_running_loop().call_soon(transport.abort)
            return
        self.open += 1
        self.by_address[address] += 1
        self._counted[handler] = (address, transport)
        self.arm(transport)

    def _lost(self, handler: RequestHandler) -> None:
        counted = self._counted.pop(handler, None)
        if counted is None:
            return
        address, transport = counted
        self.disarm(transport)
        self.open -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]

    def arm(self, transport: asyncio.Transport | None) -> None:
        """Close ``transport`` unless a request starts within the header timeout."""
        if transport is None or transport.is_closing():
            return
        self.disarm(transport)
        loop = asyncio.get_running_loop()
        self._timers[transport] = loop.call_later(
            self.limits.header_timeout, self._expire, transport
        )

    def watch_send(self, transport: asyncio.Transport | None) -> None:
        """While a request is answered: close ``transport`` once the bytes queued for it have
        not moved for half the body timeout, twice in a row (a client that asks and never
        reads; a streamed answer — a CSV export, a workbook — waited on it for ever, holding
        its task and buffers: 512 of them took the daemon from 142 to 212 MB, and every
        connection the listener allows). Both queues count: asyncio's and the kernel's (a
        client reading slowly drains the kernel's long before asyncio's moves — the kernel
        wakes a writer only once a third of its buffer is free: readers of 2 KB/s were cut
        at 30 s). :meth:`arm` replaces it once the handler is done."""
        if transport is None or transport.is_closing():
            return
        self.disarm(transport)
        self._timers[transport] = asyncio.get_running_loop().call_later(
            self.limits.body_timeout / 2, self._check_send, transport, (-1, -1)
        )

    def _check_send(self, transport: asyncio.Transport, before: tuple[int, int]) -> None:
        sock = transport.get_extra_info("socket")
        queued = (transport.get_write_buffer_size(), _unsent(sock.fileno()) if sock else 0)
        if queued[0] and queued == before:  # not a byte taken by the client meanwhile
            self._timers.pop(transport, None)
            self.timed_out += 1
            close_now(transport)
            return
        self._timers[transport] = asyncio.get_running_loop().call_later(
            self.limits.body_timeout / 2, self._check_send, transport, queued
        )

    def disarm(self, transport: asyncio.Transport | None) -> None:
        timer = self._timers.pop(transport, None) if transport is not None else None
        if timer is not None:
            timer.cancel()

    def _expire(self, transport: asyncio.Transport) -> None:
        self._timers.pop(transport, None)
        self.timed_out += 1
        close_now(transport)  # an answer may still wait to be read

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        self.disarm(transport)
        try:
            if request.match_info.http_exception is not None:
                # No route (aiohttp's own 404 / 405): held as the push paths' refusals are, so
                # that a sender waiting for its answers cannot make the loop serve them back to
                # back (a request is ~0.3 ms of the loop the lanes share).
                await asyncio.sleep(self.hold)
                return await handler(request)
            address = request.remote or "?"
            if handler_reads_own_body(request) or self.unbudgeted(address):
                return await self._answer(request, handler)  # a camera's: its lane's budgets
            # a guard signed in: never held up by a flood from elsewhere (a lane's camera's
            # own requests were let through above; anything else from its address is anyone's)
            shared = not self.signed_in(request)
            wait = self._request_wait(address, shared=shared)
            if wait is None:
                return await self._too_fast(address)
            if wait:
                await asyncio.sleep(wait)
            self.watch_send(transport)
            response = await self._answer(request, handler)
            sent = response.body_length if response.prepared else response.content_length
            self._charge_request(address, sent or 0, shared=shared)
            return response
        finally:
            self.arm(transport)

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """``handler``'s answer, its request's body read first (unless it reads its own),
        within the body limits."""
        try:
            if request.body_exists:
                if request.headers.get(hdrs.CONTENT_ENCODING, "identity").lower() != "identity":
                    return _compressed()  # refused unread, at once
                declared = request.content_length
                if declared is not None and declared > self.limits.max_body_bytes:
                    return _too_large(self.limits.max_body_bytes)  # refused unread, at once
                if handler_reads_own_body(request):
                    return await handler(request)  # it reads the body, if it wants it
                try:
                    async with asyncio.timeout(self.limits.body_timeout):
                        with self.bodies.body_of(request):
                            if request.content_type == "multipart/form-data":
                                return await handler(request)  # read by it, as it goes
                            await request.read()  # kept for the handler
                except TimeoutError:
                    raise BodyNotInTimeError from None
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:  # streamed past the limit
            return _too_large(self.limits.max_body_bytes)
        except BodiesInFlightError:
            return self._bodies_in_flight(request)
        except BodyNotInTimeError:
            self.timed_out += 1
            late = web.json_response(
                {"result": "error", "error": "request body not received in time"}, status=408
            )
            late.force_close()
            return late
        except ConnectionResetError:
            if request.transport is not None and not request.transport.is_closing():
                raise  # not the client's connection: a real error
            # The client went away before its body was in (a camera rebooting, a flaky link,
            # an attacker): nobody to answer, nothing to record, not an error.
            log.debug("client gone before its request was read", peer=request.remote)
            return web.Response(status=400)

    async def _too_fast(self, address: str) -> web.Response:
        """429 after the refusal hold: ``address`` asks for more than its request budget lets
        it, even after :data:`REQUEST_WAIT_SECONDS`. Logged once per address a minute."""
        refused = self._refusals.refused("requests too fast", self.name, address)
        if refused is not None:
            log.warning("requests refused: too many from one address, or from all",
                        listener=self.name, peer=address, refused_since=refused)  # fmt: skip
        self.refused_requests += 1
        await asyncio.sleep(self.hold)
        busy = web.json_response({"result": "error", "error": TOO_FAST}, status=429)
        busy.headers["Retry-After"] = "1"
        return busy

    def _bodies_in_flight(self, request: web.Request) -> web.Response:
        """503 at once, the body unread and the connection closed: the listener already reads
        as many bodies as it holds (:class:`~edge.ops.bodies.BodyBudget`)."""
        peer = request.remote or "?"
        refused = self._refusals.refused("bodies in flight", self.name, peer)
        if refused is not None:
            log.warning("request refused: too many bodies being read", listener=self.name,
                        peer=peer, refused_since=refused)  # fmt: skip
        busy = web.json_response(
            {"result": "error", "error": "too many requests being read: try again"}, status=503
        )
        busy.headers["Retry-After"] = "1"
        busy.force_close()
        return busy

    def to_json(self) -> dict[str, int]:
        return {
            "open": self.open,
            "refused": self.refused,
            "timed_out": self.timed_out,
            "refused_requests": self.refused_requests,
        }


#: The token bucket of every non-camera address's new connections together (not an address).
_ALL = "*"
#: What names a request budget's bucket (before an address, or :data:`_ALL`).
_REQUESTS = "requests "
#: Bytes of an answer's body that cost its address one more token of its request budget.
BYTES_A_TOKEN = 16 * 1024
#: A request beyond its address's request budget waits up to this long for its place in it
#: (a browser's burst is slowed, not refused; so is a guard's next click after a long export);
#: beyond that it is refused (429, after the refusal hold).
REQUEST_WAIT_SECONDS = 2.0
#: A request budget (an address's, all addresses') is charged what it was sent, down to this
#: much debt. Requests take their places before their answers are charged, so 8 pages in
#: flight at once owe 8 pages: with the debt floored at 3 s (a second past the wait a request
#: may take), such a flood was forgiven most of it — 2.9 2-MB pages a second from one
#: address, 27 % of a core; 3–4 a second from 16 addresses. A guard's browser never owes this
#: much; a flooding address waits it out, and all addresses' budget no longer holds up the
#: guards signed in (see ``ConnectionGuard.signed_in``).
DEBT_SECONDS = 30.0
#: What a refused request's answer says (the status page shows it).
TOO_FAST = "请求过于频繁，请稍后再试"
#: Bodies of the largest size (``max_body_bytes``) a listener reads at once from addresses that
#: are not a lane's camera (:class:`~edge.ops.bodies.BodyBudget`): 32 MiB at the defaults.
BODIES_IN_FLIGHT = 4
#: Seconds a stopping listener waits for the requests it is answering (a camera's push waits
#: at most its reply deadline, 3 s by default) before it cancels them: it waited aiohttp's
#: 60 s, and a SIGTERM under stalled bodies took ~24 s (their body timeout).
SHUTDOWN_SECONDS = 5.0


#: The kernel's send buffer of a connection answered with a stream (SO_SNDBUF; Linux doubles
#: it, so 512 KiB; socket(7)). Left to autotuning it grows to ``net.ipv4.tcp_wmem``'s maximum
#: (4 MiB): a client that asks for a whole-ledger CSV and never reads it had all of the 3 MB
#: export in the kernel — the export finished, nothing seemed stalled — and 128 of them held
#: ~410 MB of the kernel's memory, growing for over a minute (a fresh verification, session
#: 18). Capped, an unread export fills it and waits, is seen not to move and is closed with a
#: reset (see :meth:`ConnectionGuard.watch_send`): at most ~0.6 MB a connection. 512 KiB in
#: flight is ~500 MB/s on a LAN (1 ms), 5 MB/s over a 100 ms link. A whole answer (a page of
#: 5,000 passes, 1.9 MB) keeps the autotuned buffer: capped, what the kernel did not take
#: waited in asyncio's buffer instead — 128 unread pages took the daemon from 102 to 518 MB,
#: 282 MB kept after (glibc does not give such blocks back) — while the kernel's is freed by
#: the reset at the header timeout (:func:`close_now`).
SEND_BUFFER_BYTES = 256 * 1024


def close_now(transport: asyncio.Transport) -> None:
    """Close ``transport`` at once: with a reset (RST) when bytes of an answer are still
    unsent — in asyncio's buffer or the kernel's send queue — so that the kernel drops them,
    else with a FIN. A FIN waits behind unsent bytes: a client that asked for 5,000-row pages
    and never read them, closed at the header timeout, kept ~2.7 MB a socket in FIN-WAIT-1
    (128 of them, 349 MB of the kernel's memory; fresh verifications, sessions 17 and 18).
    An idle connection, its answers read, gets the polite FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None and (transport.get_write_buffer_size() or _unsent(sock.fileno())):
        with contextlib.suppress(OSError):  # already closed: nothing left to drop
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    transport.abort()


def _unsent(fd: int) -> int:
    """Bytes in a TCP socket's send queue not yet acknowledged by the peer (Linux SIOCOUTQ,
    tcp(7)); 0 where it cannot be read."""
    if fd < 0:  # closed
        return 0
    try:
        queued = fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", queued)[0])


class _HttpErrorFilter(logging.Filter):
    """aiohttp's "Error handling request" for a request that is not HTTP (a bad request line,
    header or length: the client's fault) becomes one line, without the traceback, and at most
    one a minute per address (a flood of malformed requests wrote 14,521 records with their
    tracebacks in 15 s, issue 20); so does one whose client went away before its answer was
    sent (a download cancelled, a connection closed for not reading: 1.9 KB of traceback
    each, as an error); an error of ours keeps its traceback."""

    def __init__(self) -> None:
        super().__init__()
        self._refusals = RefusalLog()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        said: tuple[str, ...] = ()
        if isinstance(error, HttpProcessingError):
            what, level = "malformed HTTP", logging.WARNING
            message = "malformed HTTP request from %s: %s (%d since the last line)"
            said = (str(error.message or error).strip(),)
        elif isinstance(error, ConnectionError):
            what, level = "client gone", logging.INFO
            message = "a client at %s went away before its answer was sent (%d since the last line)"
        else:
            return True
        peer = str(record.args[0]) if isinstance(record.args, tuple) and record.args else "?"
        refused = self._refusals.refused(what, "web", peer)
        if refused is None:
            return False
        record.msg, record.args = message, (peer, *said, refused)
        record.levelno, record.levelname = level, logging.getLevelName(level)
        record.exc_info = record.exc_text = None
        return True


#: The logger aiohttp's request handlers log their errors to (see :class:`_HttpErrorFilter`).
HTTP_ERRORS = logging.getLogger("edge.web.http")
HTTP_ERRORS.addFilter(_HttpErrorFilter())

#: Connections accepted in one go when the listening socket is ready (asyncio's own accept
#: takes up to its backlog, 1,024 here: under a connection flood one callback set up as many
#: transports, stalling the loop every lane shares for hundreds of ms).
ACCEPT_BATCH = 16
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset


class GuardedSite(web.BaseSite):
    """aiohttp's TCP site with its own accept: each connection is checked by
    :meth:`ConnectionGuard.admits` as it is accepted and closed at once when refused — no
    transport, no request, no task — and at most :data:`ACCEPT_BATCH` are accepted a turn of
    the event loop. Binds like :class:`aiohttp.web.TCPSite` (each address ``host`` resolves to;
    ``port`` 0: one chosen by the system)."""

    __slots__ = ("_guard", "_host", "_listening", "_loop", "_port", "_serving")

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard
    ) -> None:
        super().__init__(runner, backlog=1024)
        self._host, self._port, self._guard = host, port, guard
        self._listening: list[socket.socket] = []
        self._serving: set[asyncio.Task[object]] = set()
        self._loop = asyncio.get_running_loop()

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The bound port (the first address's)."""
        return int(self._listening[0].getsockname()[1]) if self._listening else self._port

    async def start(self) -> None:
        await super().start()
        infos = await self._loop.getaddrinfo(
            self._host or None, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            listening = socket.socket(family, kind, proto)
            try:
                listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                listening.bind(address)
                listening.listen(self._backlog)
                listening.setblocking(False)  # noqa: FBT003 - socket's API
            except OSError as exc:
                listening.close()
                await self.stop()
                # as asyncio says it: the address named
                raise OSError(exc.errno, f"error while attempting to bind on address "
                              f"{address!r}: {str(exc.strerror).lower()}") from None  # fmt: skip
            self._listening.append(listening)
            self._loop.add_reader(listening.fileno(), self._accept, listening)

    async def stop(self) -> None:
        for listening in self._listening:
            self._loop.remove_reader(listening.fileno())
            listening.close()
        self._listening = []
        await super().stop()

    def _accept(self, listening: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                connection, peer = listening.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    raise
                # Out of descriptors (LimitNOFILE): stop accepting for a second, as asyncio
                # does; the connections wait in the kernel's queue.
                log.warning("cannot accept connections: out of file descriptors",
                            listener=self._guard.name, error=str(exc))  # fmt: skip
                self._loop.remove_reader(listening.fileno())
                self._loop.call_later(1.0, self._resume, listening)
                return
            if not self._guard.admits(str(peer[0])):
                # Reset, not closed: the kernel forgets it at once (no FIN exchange to follow).
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                connection.close()
                continue
            connection.setblocking(False)  # noqa: FBT003 - socket's API
            task = self._loop.create_task(self._serve(connection))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    def _resume(self, listening: socket.socket) -> None:
        if listening in self._listening:
            self._loop.add_reader(listening.fileno(), self._accept, listening)

    async def _serve(self, connection: socket.socket) -> None:
        server = self._runner.server
        assert server is not None
        try:
            await self._loop.connect_accepted_socket(server, connection)
        except OSError:  # gone before its transport was made
            connection.close()


async def _nosniff(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"


async def _streamed_send_buffer(request: web.Request, response: web.StreamResponse) -> None:
    """A streamed answer (a CSV export, a workbook, a file) gets a kernel send buffer of
    :data:`SEND_BUFFER_BYTES` on its connection, set before its first byte."""
    if isinstance(response, web.Response):
        return  # a whole answer: see SEND_BUFFER_BYTES
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        with contextlib.suppress(OSError):  # (gone already: its write fails as it would)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


class Listener:
    """One bounded aiohttp listener."""

    def __init__(
        self, host: str, port: int, routes: Iterable[web.RouteDef], limits: Limits, name: str
    ) -> None:
        self.host, self.requested_port, self.port = host, port, port
        self.guard = ConnectionGuard(limits, name)
        self.app = web.Application(
            client_max_size=limits.max_body_bytes, middlewares=[self.guard.middleware]
        )
        self.app[BODY_TIMEOUT] = limits.body_timeout  # for a handler that reads its own body
        self.app[BODY_BUDGET] = self.guard.bodies  # for a handler that reads its own body
        self.app.add_routes(list(routes))
        self.app.on_response_prepare.extend((_nosniff, _streamed_send_buffer))
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            logger=HTTP_ERRORS,
            shutdown_timeout=SHUTDOWN_SECONDS,
            # a compressed body is refused unread (415), never inflated on the loop
            auto_decompress=False,
        )
        await self._runner.setup()
        assert self._runner.server is not None
        self.guard.install(self._runner.server)
        site = GuardedSite(self._runner, self.host, self.requested_port, self.guard)
        await site.start()
        self.port = site.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class WebServer(Listener):
    def __init__(
        self,
        host: str,
        port: int,
        limits: Limits,
        routes: Iterable[web.RouteDef],
        health: Callable[[], HealthReport],
        *,
        metrics: Callable[[], bytes] | None = None,
    ) -> None:
        extra = [web.get("/healthz", self._healthz)]
        if metrics is not None:
            extra.append(web.get("/metrics", self._metrics))
        super().__init__(host, port, [*routes, *extra], limits, "web")
        self._health, self._render_metrics = health, metrics

    async def _healthz(self, _request: web.Request) -> web.Response:
        report = self._health()
        return web.json_response(report.to_json(), status=200 if report.ok else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        assert self._render_metrics is not None
        return web.Response(body=self._render_metrics(), headers={"Content-Type": CONTENT_TYPE})
