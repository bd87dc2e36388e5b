"""A city platform simulator that speaks the spec's wire format (§2, §4.1).

For tests, the demo, and technicians rehearsing a site before the real platform is connected:
``edge sim platform --port 8080``. It issues 2-hour tokens, answers getCheckVehicle from a small
vehicle table, validates and counts pass records and photos (duplicates included), and can be
made slow or expire its tokens on demand. ``GET /sim/stats`` shows what arrived.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import structlog
from aiohttp import BodyPartReader, web
from pydantic import BaseModel, ValidationError

from edge.photos import is_jpeg
from edge.platform.city_models import (
    MAX_PHOTO_BYTES,
    PATH_FILE,
    PATH_GET,
    PATH_PUT,
    TIME_FORMAT,
    TOKEN_LIFETIME_SECONDS,
    CheckVehicleQuery,
    DrivingRecord,
    PhotoInfo,
)

log = structlog.get_logger("edge.sim.platform")

M = TypeVar("M", bound=BaseModel)

OK = {"code": "200", "status": "服务器已成功处理了请求"}


@dataclass(frozen=True, slots=True)
class SimVehicle:
    is_control: str = "0"
    fuel: str = "B"
    emission: str = "5"
    reason: str = ""


#: A small table for the demo: some trucks are under control, most are not.
DEMO_VEHICLES: dict[str, SimVehicle] = {
    "豫A12345": SimVehicle("0", "B", "6"),
    "豫A88888": SimVehicle("0", "E", "6"),
    "豫K23456": SimVehicle("0", "B", "5"),
    "豫B6789G": SimVehicle("1", "B", "4", "国四柴油 重污染管控"),
    "晋E55123": SimVehicle("1", "B", "3", "国三柴油 禁止进厂"),
    "豫AD12345": SimVehicle("0", "C", "D"),
    "冀D77777": SimVehicle("0", "B", "6"),
}


@dataclass(frozen=True, slots=True)
class PhotoArrival:
    info: dict[str, Any]
    size: int
    multipart: bool


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure for the next business call (tokens are never faulted).

    ``http``: answer with this HTTP status; ``code``: answer HTTP 200 with this JSON code;
    ``garbage``: answer HTTP 200 with a body that is not JSON.
    """

    kind: Literal["http", "code", "garbage"]
    value: int | str = 500
    ipctype: str | None = None  # only calls of this business code; None = any


@dataclass
class CityPlatformSim:
    organ: str = "4110020001"
    username: str = "gate01"
    password: str = "sim-password"  # noqa: S105 - the simulator's own test account
    vehicles: dict[str, SimVehicle] = field(default_factory=lambda: dict(DEMO_VEHICLES))
    prefix: str = "/ysgk"
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    clock: Callable[[], float] = time.monotonic
    #: Seconds to wait before answering any call (a slow or hanging platform).
    delay: float = 0.0

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    photos: dict[str, list[PhotoArrival]] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    tokens: dict[str, float] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.add_routes(
            [
                web.post(self.prefix + PATH_GET, self._get_data),
                web.post(self.prefix + PATH_PUT, self._put_data),
                web.post(self.prefix + PATH_FILE, self._put_file),
                web.get("/sim/stats", self._stats),
            ]
        )
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving; after :meth:`stop`, start again on the same port to simulate recovery."""
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port or self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Go down: further connections are refused."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def expire_tokens(self) -> None:
        self.tokens.clear()

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

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait (event-driven) until ``predicate()`` holds, e.g. a count of records."""
        cond = self._condition()
        async with asyncio.timeout(timeout), cond:
            await cond.wait_for(predicate)

    async def _notify(self) -> None:
        cond = self._condition()
        async with cond:
            cond.notify_all()

    # -- handlers --------------------------------------------------------------------------

    def _reject(self, ipctype: str, code: str, reason: str) -> web.Response:
        self.rejected.append((ipctype, reason))
        log.warning("sim platform rejected a call", ipctype=ipctype, code=code, reason=reason)
        return web.json_response({"code": code, "status": reason})

    def _fault(self, ipctype: str) -> web.Response | None:
        for i, fault in enumerate(self.faults):
            if fault.ipctype in (None, ipctype):
                del self.faults[i]
                if fault.kind == "http":
                    return web.Response(status=int(fault.value), text="injected failure")
                if fault.kind == "garbage":
                    return web.Response(status=200, text="<html>gateway</html>")
                return web.json_response({"code": str(fault.value), "status": "injected"})
        return None

    def _business_call(
        self, body: Any, expected: str, model: type[M]
    ) -> tuple[M, dict[str, Any]] | web.Response:
        """Check a business call's envelope, token and ``value``; a Response means refused."""
        if not isinstance(body, dict):
            return self._reject("?", "400", "请求格式错误")
        ipctype = str(body.get("ipctype", ""))
        if body.get("organ") != self.organ:
            return self._reject(ipctype, "403", "组织机构编码错误")
        expiry = self.tokens.get(str(body.get("access_token", "")))
        if expiry is None or self.clock() >= expiry:
            return self._reject(ipctype, "401", "身份授权失效")
        self.calls[ipctype] += 1
        if (fault := self._fault(ipctype)) is not None:
            return fault
        if ipctype != expected:
            return self._reject(ipctype, "404", "未知业务接口代码")
        value = body.get("value")
        if not isinstance(value, dict):
            return self._reject(ipctype, "952", "格式校验失败: value")
        try:
            return model.model_validate(value), value
        except ValidationError as exc:
            return self._reject(ipctype, "952", f"格式校验失败: {exc.errors()[0]['loc']}")

    async def _read_json(self, request: web.Request) -> Any:
        await asyncio.sleep(self.delay)
        try:
            return await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    async def _get_data(self, request: web.Request) -> web.Response:
        body = await self._read_json(request)
        if isinstance(body, dict) and body.get("ipctype") == "getAccessToken":
            self.calls["getAccessToken"] += 1
            if (body.get("organ"), body.get("username"), body.get("password")) != (
                self.organ,
                self.username,
                self.password,
            ):
                return self._reject("getAccessToken", "401", "账号或密码错误")
            token = secrets.token_hex(16).upper()
            self.tokens[token] = self.clock() + TOKEN_LIFETIME_SECONDS
            now = datetime.now(self.zone).strftime(TIME_FORMAT)
            return web.json_response({**OK, "access_token": token, "datetime": now})
        checked = self._business_call(body, "getCheckVehicle", CheckVehicleQuery)
        if isinstance(checked, web.Response):
            return checked
        query, _ = checked
        vehicle = self.vehicles.get(query.license, SimVehicle())
        return web.json_response(
            {
                **OK,
                "value": {
                    "license": query.license,
                    "licenseColor": query.licenseColor.value,
                    "isControl": vehicle.is_control,
                    "fuelType": vehicle.fuel,
                    "emissionStandard": vehicle.emission,
                    "controlReason": vehicle.reason,
                },
            }
        )

    async def _put_data(self, request: web.Request) -> web.Response:
        body = await self._read_json(request)
        checked = self._business_call(body, "shareDrivingRecord", DrivingRecord)
        if isinstance(checked, web.Response):
            return checked
        record, value = checked
        self.records.setdefault(record.lsh, []).append(value)
        await self._notify()
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
        await asyncio.sleep(self.delay)
        info_text, photo = await self._photo_parts(request)
        try:
            body = json.loads(info_text) if info_text is not None else None
        except json.JSONDecodeError:
            body = None
        checked = self._business_call(body, "sharePhotoInfo", PhotoInfo)
        if isinstance(checked, web.Response):
            return checked
        info, value = checked
        ipctype = "sharePhotoInfo"
        multipart = photo is not None
        if photo is None and info.base64Image:
            photo = base64.b64decode(info.base64Image)
        if photo is None:
            return self._reject(ipctype, "702", "请求文件不存在")
        if not is_jpeg(photo) or len(photo) >= MAX_PHOTO_BYTES:
            return self._reject(ipctype, "952", "格式校验失败: 照片须为小于1M的JPG")
        stored = {k: v for k, v in value.items() if k != "base64Image"}
        self.photos.setdefault(info.lsh, []).append(PhotoArrival(stored, len(photo), multipart))
        await self._notify()
        return web.json_response(OK)

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self.stats())
