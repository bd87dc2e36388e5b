"""The daemon's own HTTP server: camera push endpoints, ``/healthz``, ``/metrics`` (status
page later)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from edge.metrics import CONTENT_TYPE


class WebServer:
    def __init__(
        self,
        host: str,
        port: int,
        max_body_bytes: int,
        routes: Iterable[web.RouteDef],
        health: Callable[[], dict[str, Any]],
        *,
        metrics: Callable[[], bytes] | None = None,
    ) -> None:
        self.host, self.requested_port = host, port
        self.app = web.Application(client_max_size=max_body_bytes)
        self.app.add_routes([*routes, web.get("/healthz", self._healthz)])
        if metrics is not None:
            self.app.add_routes([web.get("/metrics", self._metrics)])
        self._health, self._render_metrics = health, metrics
        self._runner: web.AppRunner | None = None
        self.port = port

    async def _healthz(self, _request: web.Request) -> web.Response:
        report = self._health()
        return web.json_response(report, status=200 if report["ok"] else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        assert self._render_metrics is not None
        return web.Response(body=self._render_metrics(), headers={"Content-Type": CONTENT_TYPE})

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
