"""A Hikvision ANPR camera's ISAPI barrier control, as a double: Digest auth, the
``barrierGate`` command and its status, answered with ``ResponseStatus`` XML as the camera
does (research/anpr_formats.md §2.4)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from defusedxml import ElementTree

from edge.sim.digest import DigestGuard
from edge.sim.http_server import CameraApiSim

_NS = "http://www.hikvision.com/ver20/XMLSchema"


def _status(code: int, sub: str) -> web.Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><ResponseStatus version="2.0" xmlns="{_NS}">'
        f"<statusCode>{code}</statusCode><subStatusCode>{sub}</subStatusCode></ResponseStatus>"
    )
    return web.Response(text=body, content_type="application/xml", status=200 if code == 1 else 400)


@dataclass
class HikvisionIsapiSim(CameraApiSim):
    username: str = "admin"
    password: str = "sim-camera"  # noqa: S105 - the double's own account
    port: int = 0
    commands: list[str] = field(default_factory=list)  # ctrlMode values, in order
    arm_open: bool = False
    supports_parking: bool = True
    guard: DigestGuard = field(init=False)

    def __post_init__(self) -> None:
        self.guard = DigestGuard(self.username, self.password, "DS-TCG405-E")

    async def start(self) -> None:
        app = web.Application()
        base = "/ISAPI/Parking/channels/{channel}/barrierGate"
        app.add_routes(
            [web.put(base, self._command), web.get(base + "/barrierGateStatus", self._state)]
        )
        await self._serve(app)

    async def _command(self, request: web.Request) -> web.Response:
        self.guard.check(request)
        if not self.supports_parking:
            return _status(4, "notSupport")
        try:
            root = ElementTree.fromstring(await request.read())
        except ElementTree.ParseError:
            return _status(6, "badXmlContent")
        mode = next((e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "ctrlMode"), None)
        if mode not in ("open", "close"):
            return _status(6, "badParameters")
        self.commands.append(mode)
        self.arm_open = mode == "open"
        return _status(1, "ok")

    async def _state(self, request: web.Request) -> web.Response:
        self.guard.check(request)
        body = (
            f'<BarrierGateStatus xmlns="{_NS}"><barrierGateStatus>'
            f"{2 if self.arm_open else 1}</barrierGateStatus></BarrierGateStatus>"
        )
        return web.Response(text=body, content_type="application/xml")
