"""Platform simulators that speak the spec's wire formats and are as strict as a real platform.

For tests, the demo, and technicians rehearsing a site before the real platform is connected:
``edge sim platform --mode city|province --port 8080 [--vehicles FILE]``. They issue tokens,
answer vehicle checks from a vehicle table, check every field of every message against the
spec's tables (:mod:`edge.sim.spec_check`, independent of our client), count what arrived
(duplicates included), and fail on demand: down, hang, slow, 5xx at a rate, expired tokens.
``GET /sim/stats`` shows what arrived.

This module holds the shared machinery and the city platform; :mod:`edge.sim.province` the
province one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import json
import random
import secrets
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog
from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Handler

from edge.domain.jpeg import is_jpeg
from edge.sim.http_server import SimHttpServer
from edge.sim.spec_check import CITY, filing_problems, real_time, serial_agrees, violations
from edge.uplink.platform.city_models import (
    MAX_PHOTO_BYTES,
    PATH_FILE,
    PATH_GET,
    PATH_PUT,
    TIME_FORMAT,
    TOKEN_LIFETIME_SECONDS,
)

log = structlog.get_logger("edge.sim.platform")

#: When the request being handled was received (monotonic), set by the latency middleware.
_RECEIVED: ContextVar[float] = ContextVar("received")

OK = {"code": "200", "status": "服务器已成功处理了请求"}


@dataclass(frozen=True, slots=True)
class SimVehicle:
    """One row of the simulator's vehicle table (what VehVerifyEx / getCheckVehicle say)."""

    is_control: str = "0"
    fuel: str = "B"
    emission: str = "5"
    reason: str = ""
    blacklist: str = ""
    exempt: str = ""
    need_complete: str = "0"
    license_pk: str = ""
    veh_type: str = "H11"
    gvm: str = "49000"
    #: Province: GetNeedCompleteVehEx lists a vehicle whose ``need_complete`` is 1 or 2 (until
    #: its filing is accepted) with this colour (§7.1) and ``added`` as its addDate ("": when
    #: the simulator started).
    plate_color: str = "1"
    added: str = ""


#: A small table for the demo: some trucks are under control, most are not.
DEMO_VEHICLES: dict[str, SimVehicle] = {
    "豫A12345": SimVehicle("0", "B", "6", license_pk="PK-A12345"),
    "豫A88888": SimVehicle("0", "E", "6"),
    "豫K23456": SimVehicle("0", "B", "5"),
    "豫B6789G": SimVehicle("1", "B", "4", "国四柴油 重污染管控"),
    "晋E55123": SimVehicle("1", "B", "3", "国三柴油 禁止进厂", blacklist="3"),
    "豫AD12345": SimVehicle("0", "C", "D", veh_type="H31", gvm="4500"),
    "冀D77777": SimVehicle("0", "B", "6", exempt="2"),
}


def load_vehicles(path: Path) -> dict[str, SimVehicle]:
    """A vehicle table from CSV (header ``plate,is_control,fuel,…``) or TOML (``[plate]``)."""
    names = {f.name for f in fields(SimVehicle)}
    if path.suffix == ".toml":
        table = tomllib.loads(path.read_text("utf-8"))
        rows = {plate: {k: str(v) for k, v in row.items()} for plate, row in table.items()}
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = {row.pop("plate"): row for row in csv.DictReader(fh)}
    return {
        plate: SimVehicle(**{k: v for k, v in row.items() if k in names and v is not None})
        for plate, row in rows.items()
    }


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure for the next business call (tokens are never faulted).

    ``http``: answer with this HTTP status; ``code``: answer HTTP 200 with this code (city) or
    ``result: fail`` with this reason (province); ``garbage``: a body that is not JSON;
    ``lost``: do the call (commit what it brings), then lose the reply — ``value`` "reset"
    closes the connection without a word, an int answers that HTTP status (a proxy's 502,
    504) — as when a link drops or a gateway times out after the platform took the call.
    """

    kind: Literal["http", "code", "garbage", "lost"]
    value: int | str = 500
    ipctype: str | None = None  # only calls of this method; None = any


#: Where a handler leaves a ``lost`` fault for the middleware to apply once the call is done.
_LOST = web.RequestKey("lost reply", Fault)


@dataclass(frozen=True, slots=True)
class PhotoArrival:
    info: dict[str, Any]
    size: int
    multipart: bool


@dataclass
class PlatformSim:
    """What both simulators share: serving, tokens, faults, counts and event-driven waits."""

    vehicles: dict[str, SimVehicle] = field(default_factory=lambda: dict(DEMO_VEHICLES))
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    clock: Callable[[], float] = time.monotonic
    #: Seconds to wait before answering any call (a slow platform).
    delay: float = 0.0
    #: Accept calls and answer none of them while set (a hanging platform); calls held
    #: are answered once it is cleared.
    hang: bool = False
    #: Answer every business call with an HTML page and HTTP 200 (a proxy's error page).
    answer_html: bool = False
    #: Share of business calls answered with HTTP 500 (0..1).
    error_rate: float = 0.0
    #: The platform's clock minus the real one, in seconds (for clock-skew rehearsals).
    clock_skew_seconds: float = 0.0
    token_lifetime: float = TOKEN_LIFETIME_SECONDS

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    photos: dict[str, list[PhotoArrival]] = field(default_factory=dict)
    goods: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Filings of the electronic ledger as received and accepted: (method, fields without
    #: the token), in order.
    filings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: (kind, serial, monotonic time its request was received), in the order things were
    #: taken: "record", "photo" or "goods".
    arrivals: list[tuple[str, str, float]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    tokens: dict[str, float] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    port: int = 0
    seed: int = 1
    _server: SimHttpServer = field(default_factory=SimHttpServer)
    _changed: asyncio.Condition | None = None
    _rng: random.Random = field(default_factory=random.Random)

    prefix: str = ""

    # -- lifecycle -------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving; after :meth:`stop`, start again on the same port to simulate recovery."""
        self._rng.seed(self.seed)
        app = web.Application(client_max_size=4 * 1024 * 1024, middlewares=[self._latency])
        app.add_routes([*self.routes(), web.get("/sim/stats", self._stats)])
        self.port = await self._server.serve(app, host, port or self.port)

    async def stop(self) -> None:
        """Go down: further connections are refused."""
        await self._server.stop()

    @property
    def running(self) -> bool:
        return self._server.running

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (a 401 storm for busy clients)."""
        self.tokens.clear()

    def issue_token(self) -> str:
        token = secrets.token_hex(16).upper()
        self.tokens[token] = self.clock() + self.token_lifetime
        return token

    def token_valid(self, token: Any) -> bool:
        expiry = self.tokens.get(str(token))
        return expiry is not None and self.clock() < expiry

    def server_now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.clock_skew_seconds, self.zone)

    # -- what arrived ----------------------------------------------------------------------

    def duplicates(self) -> int:
        extra_records = sum(len(v) - 1 for v in self.records.values())
        extra_photos = sum(
            n - 1
            for n in Counter(
                (lsh, p.info.get("zpbh")) for lsh, ps in self.photos.items() for p in ps
            ).values()
        )
        return extra_records + extra_photos

    def stats(self) -> dict[str, Any]:
        return {
            "records": len(self.records),
            "photos": sum(len(v) for v in self.photos.values()),
            "duplicates": self.duplicates(),
            "rejected": len(self.rejected),
            "calls": dict(self.calls),
        }

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def filed(self, plate: str, license_pk: str = "") -> None:
        """A transport vehicle's filing accepted: its next verify answer says isNeedComplete
        0 (and, province, gives its licensePK), as a platform's would."""
        known = self.vehicles.get(plate)
        if known is not None and known.need_complete != "0":
            pk = license_pk or known.license_pk
            self.vehicles[plate] = replace(known, need_complete="0", license_pk=pk)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait (event-driven) until ``predicate()`` holds, e.g. a count of records."""
        cond = self._condition()
        async with asyncio.timeout(timeout), cond:
            await cond.wait_for(predicate)

    async def notify(self) -> None:
        cond = self._condition()
        async with cond:
            cond.notify_all()

    # -- shared request handling -----------------------------------------------------------

    @web.middleware
    async def _latency(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer ``delay`` seconds after the request arrived, processing included (or never,
        while ``hang`` is set)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        _RECEIVED.set(time.monotonic())
        # ``hang`` is a plain attribute that tests and the demo set; held calls are answered
        # once it is cleared (a platform that recovers answers what it had received).
        while self.hang and request.path != "/sim/stats":  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        response = await handler(request)
        if (lost := request.get(_LOST)) is not None:  # the call was done; its reply is lost
            response = self.lose_reply(request, lost)
        await asyncio.sleep(max(0.0, self.delay - (loop.time() - started)))
        return response

    def fault_for(self, request: web.Request, method: str) -> web.Response | None:
        """The refusal of an injected fault for this call, or None: the call goes on (also
        when its fault is ``lost``: the reply is lost once the call is done)."""
        fault = self.injected(method)
        if fault is None:
            return None
        if fault.kind == "lost":
            request[_LOST] = fault
            return None
        return self.http_fault(fault) or self.fault_answer(method, fault)

    def fault_answer(self, method: str, fault: Fault) -> web.Response:
        """A ``code`` fault: the platform refuses the call in its own shape."""
        raise NotImplementedError

    def injected(self, method: str) -> Fault | None:
        for i, fault in enumerate(self.faults):
            if fault.ipctype in (None, method):
                del self.faults[i]
                return fault
        if self.answer_html:
            return Fault("garbage")
        if self.error_rate and self._rng.random() < self.error_rate:
            return Fault("http", 500)
        return None

    @staticmethod
    def lose_reply(request: web.Request, fault: Fault) -> web.Response:
        """The reply of a call already done, lost as ``fault`` (kind ``lost``) says: the
        connection closed without a word ("reset"), or an HTTP status from a gateway."""
        if fault.value == "reset" and request.transport is not None:
            request.transport.abort()  # the client reads an end of stream, not a reply
        status = fault.value if isinstance(fault.value, int) else 502
        return web.Response(status=status, text="reply lost")

    @staticmethod
    def http_fault(fault: Fault) -> web.Response | None:
        if fault.kind == "http":
            return web.Response(status=int(fault.value), text="injected failure")
        if fault.kind == "garbage":
            return web.Response(status=200, text="<html>gateway</html>")
        return None

    def note_arrival(self, kind: str, serial: str) -> None:
        """Count a record or photo under its serial, dated when its request was received (a
        request held by a hang is still dated by when it was sent)."""
        self.arrivals.append((kind, serial, _RECEIVED.get(time.monotonic())))

    def note_rejected(self, method: str, reason: str) -> None:
        self.rejected.append((method, reason))
        log.warning("sim platform rejected a call", method=method, reason=reason)

    async def read_json(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self.stats())


@dataclass
class CityPlatformSim(PlatformSim):
    """The city platform (§2, §4.1)."""

    organ: str = "4110020001"
    username: str = "gate01"
    password: str = "sim-password"  # noqa: S105 - the simulator's own test account
    prefix: str = "/ysgk"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(self.prefix + PATH_GET, self._get_data),
            web.post(self.prefix + PATH_PUT, self._put_data),
            web.post(self.prefix + PATH_FILE, self._put_file),
        ]

    def _reject(self, method: str, code: str, reason: str) -> web.Response:
        self.note_rejected(method, reason)
        return web.json_response({"code": code, "status": reason})

    def fault_answer(self, method: str, fault: Fault) -> web.Response:
        return self._reject(method, str(fault.value), "injected")

    def _business_call(
        self, request: web.Request, body: Any, expected: set[str]
    ) -> tuple[str, dict[str, Any]] | web.Response:
        """Check a business call's envelope, token and ``value``; a Response means refused."""
        if not isinstance(body, dict):
            return self._reject("?", "400", "请求格式错误")
        ipctype = str(body.get("ipctype", ""))
        if body.get("organ") != self.organ:
            return self._reject(ipctype, "403", "组织机构编码错误")
        if not self.token_valid(body.get("access_token")):
            return self._reject(ipctype, "401", "身份授权失效")
        self.calls[ipctype] += 1
        if (refused := self.fault_for(request, ipctype)) is not None:
            return refused
        if ipctype not in expected:
            return self._reject(ipctype, "404", "未知业务接口代码")
        if extra := set(body) - {"organ", "ipctype", "access_token", "value"}:
            return self._reject(ipctype, "952", f"格式校验失败: 多余字段 {sorted(extra)}")
        value = body.get("value")
        problems = violations(value, CITY[ipctype])
        if not problems and ipctype in {"shareDrivingRecord", "sharePhotoInfo", "shareGoodsRecord"}:
            assert isinstance(value, dict)
            agreement = serial_agrees(value["lsh"], value["qybh"], value["dzbh"], value.get("tgzt"))
            problems += [agreement] if agreement else []
            for name in ("tgsjq", "tgsjz", "pzsj", "djsj"):
                if name in value and not real_time(value[name], TIME_FORMAT):
                    problems.append(f"{name}: not a real time")
        if problems:
            return self._reject(ipctype, "952", "格式校验失败: " + "; ".join(problems))
        assert isinstance(value, dict)
        return ipctype, value

    async def _get_data(self, request: web.Request) -> web.Response:
        body = await self.read_json(request)
        if isinstance(body, dict) and body.get("ipctype") == "getAccessToken":
            self.calls["getAccessToken"] += 1
            if (body.get("organ"), body.get("username"), body.get("password")) != (
                self.organ,
                self.username,
                self.password,
            ):
                return self._reject("getAccessToken", "401", "账号或密码错误")
            now = self.server_now().strftime(TIME_FORMAT)
            return web.json_response({**OK, "access_token": self.issue_token(), "datetime": now})
        checked = self._business_call(request, body, {"getCheckVehicle"})
        if isinstance(checked, web.Response):
            return checked
        _, value = checked
        vehicle = self.vehicles.get(value["license"], SimVehicle())
        return web.json_response(
            {
                **OK,
                "value": {
                    "license": value["license"],
                    "licenseColor": value["licenseColor"],
                    "isControl": vehicle.is_control,
                    "fuelType": vehicle.fuel,
                    "emissionStandard": vehicle.emission,
                    "controlReason": vehicle.reason,
                    # beyond the city spec, as VehVerifyEx says it (only when not 0)
                    **(
                        {"isNeedComplete": vehicle.need_complete}
                        if vehicle.need_complete != "0"
                        else {}
                    ),
                },
            }
        )

    async def _put_data(self, request: web.Request) -> web.Response:
        body = await self.read_json(request)
        checked = self._business_call(
            request,
            body,
            {
                "shareDrivingRecord",
                "shareGoodsRecord",
                "shareVehInfo",
                "shareInnerVehInfo",
                "shareInnerMHYElec",
            },
        )
        if isinstance(checked, web.Response):
            return checked
        ipctype, value = checked
        if ipctype == "shareDrivingRecord":
            self.records.setdefault(value["lsh"], []).append(value)
            self.note_arrival("record", value["lsh"])
        elif ipctype == "shareGoodsRecord":
            self.goods.setdefault(value["lsh"], []).append(value)
            self.note_arrival("goods", value["lsh"])
        else:  # the filings: the spec's example replies have the province shape
            if problems := filing_problems(value, CITY[ipctype]):
                return self._reject(ipctype, "952", "格式校验失败: " + "; ".join(problems))
            self.filings.append((ipctype, value))
            if ipctype == "shareVehInfo":
                self.filed(value["license"])
            await self.notify()
            return web.json_response({"result": "success", "err": "", "data": {}})
        await self.notify()
        return web.json_response(OK)

    @staticmethod
    async def _photo_parts(request: web.Request) -> tuple[str | None, bytes | None]:
        """The ``info`` JSON text and the ``file`` bytes of a put_file request."""
        if not request.content_type.startswith("multipart/"):
            return await request.text(), None
        info_text: str | None = None
        photo: bytes | None = None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "info":
                info_text = (await part.read()).decode("utf-8")
            elif part.name == "file":
                photo = bytes(await part.read())
        return info_text, photo

    async def _put_file(self, request: web.Request) -> web.Response:
        info_text, photo = await self._photo_parts(request)
        try:
            body = json.loads(info_text) if info_text is not None else None
        except json.JSONDecodeError:
            body = None
        checked = self._business_call(request, body, {"sharePhotoInfo"})
        if isinstance(checked, web.Response):
            return checked
        ipctype, value = checked
        multipart = photo is not None
        if photo is None and value.get("base64Image"):
            try:
                photo = base64.b64decode(value["base64Image"], validate=True)
            except (binascii.Error, ValueError):
                return self._reject(ipctype, "952", "格式校验失败: base64Image")
        if photo is None:
            return self._reject(ipctype, "702", "请求文件不存在")
        if not is_jpeg(photo) or len(photo) >= MAX_PHOTO_BYTES:
            return self._reject(ipctype, "952", "格式校验失败: 照片须为小于1M的JPG")
        stored = {k: v for k, v in value.items() if k != "base64Image"}
        self.photos.setdefault(value["lsh"], []).append(PhotoArrival(stored, len(photo), multipart))
        self.note_arrival("photo", value["lsh"])
        await self.notify()
        return web.json_response(OK)
