"""The HTTP side shared by the simulators (platform, camera APIs): an aiohttp app on a port of
127.0.0.1 that stops at once (a simulated outage must not wait for hanging calls) and can be
started again on the same port to simulate recovery."""

from __future__ import annotations

from aiohttp import web


class SimHttpServer:
    def __init__(self) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def serve(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> int:
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.2
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port or self.port).start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def running(self) -> bool:
        return self._runner is not None


class CameraApiSim:
    """Base of the camera API doubles: serve an app on loopback, stop, and say where."""

    port: int = 0
    _server: SimHttpServer

    async def _serve(self, app: web.Application) -> None:
        self._server = getattr(self, "_server", None) or SimHttpServer()
        self.port = await self._server.serve(app, port=self.port)

    async def stop(self) -> None:
        if getattr(self, "_server", None) is not None:
            await self._server.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
