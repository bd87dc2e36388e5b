"""The daemon's HTTP listeners: camera pushes, the status page, ``/healthz`` and ``/metrics`` on
one; the photos the province platform fetches on another (:mod:`edge.web.photo_listener`).

Every listener is bounded (:class:`Limits`): a connection must deliver its request headers
within ``header_timeout`` of connecting (or of its previous response) and its body within
``body_timeout``; connections beyond ``max_connections`` in total or
``max_connections_per_address`` from one address are closed as they arrive, so slow or many
clients cannot exhaust the process's file descriptors or stop a camera from being answered.
Every response carries ``X-Content-Type-Options: nosniff``.

The listener reads a request's body before its handler runs, except for a handler marked
:func:`edge.ops.bodies.reads_own_body` (the camera pushes), which refuses what it can on the
request line and headers alone and reads the body itself, under the same limits.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from edge.config.model import WebConfig, address_in
from edge.ops.bodies import BODY_TIMEOUT, BodyNotInTimeError, handler_reads_own_body
from edge.ops.health import HealthReport
from edge.ops.metrics import CONTENT_TYPE

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
    #: each under the per-address cap, cannot fill ``max_connections`` and lock them out.
    cameras: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


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
        self._timers: dict[asyncio.Transport, asyncio.TimerHandle] = {}
        self._counted: dict[RequestHandler, tuple[str, asyncio.Transport]] = {}
        self._warned = False

    def install(self, server: Any) -> None:
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
            made(handler, transport)
            self._made(handler, transport)

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            self._lost(handler)
            lost(handler, exc)

        server.connection_made, server.connection_lost = connection_made, connection_lost

    def _made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        address = _peer(transport)
        limits = self.limits
        if (
            self.open >= limits.max_connections and not address_in(address, limits.cameras)
        ) or self.by_address[address] >= limits.max_connections_per_address:
            self.refused += 1
            if not self._warned:  # once per episode: a flood must not flood the log
                self._warned = True
                log.warning(
                    "connection refused: too many open",
                    listener=self.name,
                    peer=address,
                    open=self.open,
                    from_peer=self.by_address[address],
                )
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
        if self._warned and self.open < self.limits.max_connections // 2:
            self._warned = False
            log.info("connections back under the cap", listener=self.name, open=self.open)

    def arm(self, transport: asyncio.Transport | None) -> None:
        """Close ``transport`` unless a request starts within the header timeout."""
        if transport is None or transport.is_closing():
            return
        self.disarm(transport)
        loop = asyncio.get_running_loop()
        self._timers[transport] = loop.call_later(
            self.limits.header_timeout, self._expire, transport
        )

    def disarm(self, transport: asyncio.Transport | None) -> None:
        timer = self._timers.pop(transport, None) if transport is not None else None
        if timer is not None:
            timer.cancel()

    def _expire(self, transport: asyncio.Transport) -> None:
        self._timers.pop(transport, None)
        self.timed_out += 1
        transport.abort()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        self.disarm(transport)
        try:
            if request.body_exists:
                declared = request.content_length
                if declared is not None and declared > self.limits.max_body_bytes:
                    return _too_large(self.limits.max_body_bytes)  # refused unread, at once
                if handler_reads_own_body(request):
                    return await handler(request)  # it reads the body, if it wants it
                try:
                    async with asyncio.timeout(self.limits.body_timeout):
                        if request.content_type == "multipart/form-data":
                            return await handler(request)  # read by the handler, as it goes
                        await request.read()  # kept for the handler
                except TimeoutError:
                    raise BodyNotInTimeError from None
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:  # streamed past the limit
            return _too_large(self.limits.max_body_bytes)
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
        finally:
            self.arm(transport)

    def to_json(self) -> dict[str, int]:
        return {"open": self.open, "refused": self.refused, "timed_out": self.timed_out}


async def _nosniff(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"


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
        self.app.add_routes(list(routes))
        self.app.on_response_prepare.append(_nosniff)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        assert self._runner.server is not None
        self.guard.install(self._runner.server)
        site = web.TCPSite(self._runner, self.host, self.requested_port, backlog=1024)
        await site.start()
        self.port = self._runner.addresses[0][1]

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
