"""City platform client (spec §2, §4.1): token, vehicle check, pass records, photos."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel, ValidationError
from typing_extensions import override

from edge.domain.codes import ControlFlag
from edge.domain.filing import Entry, ImageKind, Register
from edge.domain.goods import GoodsReport
from edge.domain.jpeg import is_jpeg
from edge.domain.plates import PlateColor
from edge.domain.reports import Correction, PassReport, PhotoReport, VerifyAnswer
from edge.uplink.platform.base import NO_PLATE_TEXT, FilingReceipt, Platform
from edge.uplink.platform.city_models import (
    MAX_PHOTO_BYTES,
    PATH_FILE,
    PATH_GET,
    PATH_PUT,
    SUCCESS_CODES,
    TIME_FORMAT,
    TOKEN_LIFETIME_SECONDS,
    CheckVehicleQuery,
    CheckVehicleResult,
    CityReply,
    DrivingRecord,
    Envelope,
    GoodsRecord,
    PhotoInfo,
    TokenReply,
    TokenRequest,
    VehicleInfo,
)
from edge.uplink.platform.errors import (
    InvalidMessageError,
    InvalidReplyError,
    PermanentError,
    PlatformAuthError,
    PlatformServerError,
    build_message,
)
from edge.uplink.platform.filing_wire import method_for, wire_fields
from edge.uplink.platform.http import TOKEN_REFUSED, PlatformHttp, post_json
from edge.uplink.platform.registration_models import InnerVehicleRegistration, MachineRegistration
from edge.uplink.platform.token import Grant, TokenClient

log = structlog.get_logger("edge.uplink.platform.city")

R = TypeVar("R", bound=BaseModel)

_AUTH_CODE = "401"
_SERVER_CODES = frozenset({"500", "502", "503", "504"})


class CityPlatform(TokenClient, Platform):
    """One client per platform; safe for concurrent use by the lanes and the forwarder."""

    mode = "city"

    uploads_photos = True
    max_batch = 1  # shareDrivingRecord carries one record
    reports_corrections = False
    sends_license_pk = False

    def __init__(  # noqa: PLR0913 - the [platform] settings, as keywords
        self,
        *,
        base_url: str,
        organ: str,
        username: str,
        password: str,
        zone: ZoneInfo,
        timeout: float = 10.0,
        refresh_margin: float = 300.0,
        clock_limit: float = 30.0,
        photo_mode: Literal["multipart", "base64"] = "multipart",
        stamp_corrected_time: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            PlatformHttp(base_url=base_url, timeout=timeout),
            self._fetch_token,
            zone=zone,
            refresh_margin=refresh_margin,
            clock_limit=clock_limit,
            stamp_corrected_time=stamp_corrected_time,
            clock=clock,
        )
        self._organ, self._username, self._password = organ, username, password
        self._photo_mode = photo_mode

    # -- transport -------------------------------------------------------------------------

    async def _post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        body = await post_json(self._http, path, **kwargs)
        if body is TOKEN_REFUSED:
            return {"code": _AUTH_CODE, "status": "HTTP 401"}
        if not isinstance(body, dict):
            raise InvalidReplyError(f"{path}: reply is not a JSON object")
        return body

    @staticmethod
    def _parse(model: type[R], body: dict[str, Any]) -> R:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise InvalidReplyError(f"{model.__name__} failed validation: {exc}") from exc

    # -- token -----------------------------------------------------------------------------

    async def _fetch_token(self) -> Grant:
        request = build_message(
            TokenRequest, organ=self._organ, username=self._username, password=self._password
        )
        body = await self._post(PATH_GET, json_body=request.model_dump())
        reply = self._parse(TokenReply, body)
        if reply.code not in SUCCESS_CODES or not reply.access_token:
            if reply.code in _SERVER_CODES:
                raise PlatformServerError(reply.code, reply.status)
            raise PlatformAuthError(f"getAccessToken refused ({reply.code}): {reply.status}")
        return Grant(reply.access_token, TOKEN_LIFETIME_SECONDS, self._server_time(reply.datetime))

    def _server_time(self, text: str | None) -> datetime | None:
        if not text:
            return None
        try:
            return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=self._zone)
        except ValueError:
            log.warning("platform sent an unreadable server time", value=text)
            return None

    # -- calls -----------------------------------------------------------------------------

    async def _call(
        self, path: str, ipctype: str, value: BaseModel, *, photo: bytes | None = None
    ) -> CityReply:
        for attempt in (1, 2):
            token = await self.tokens.token()
            envelope = build_message(
                Envelope,
                organ=self._organ,
                ipctype=ipctype,
                access_token=token,
                value=value.model_dump(exclude_none=True),
            )
            payload = envelope.model_dump(exclude_none=True)
            if photo is None:
                body = await self._post(path, json_body=payload)
            else:
                info = json.dumps(payload, ensure_ascii=False)
                body = await self._post(
                    path,
                    files={"file": ("photo.jpg", photo, "image/jpeg")},
                    data={"info": info},
                )
            reply = self._parse(CityReply, body)
            if reply.code in SUCCESS_CODES:
                return reply
            if reply.code == _AUTH_CODE:
                await self.tokens.drop(token)
                if attempt == 1:
                    continue
                raise PlatformAuthError(f"{ipctype}: token refused after a refresh")
            if reply.code in _SERVER_CODES:
                raise PlatformServerError(reply.code, reply.status)
            raise PermanentError(reply.code, reply.status)
        raise AssertionError("unreachable")  # pragma: no cover

    @override
    async def verify(
        self, plate: str, color: PlateColor, *, gate_secret_code: str = ""
    ) -> VerifyAnswer:
        query = build_message(CheckVehicleQuery, license=plate, licenseColor=color)
        reply = await self._call(PATH_GET, "getCheckVehicle", query)
        result = self._parse(CheckVehicleResult, reply.value or {})
        return VerifyAnswer(
            control=ControlFlag(int(result.isControl)),
            reason=result.controlReason,
            fuel=result.fuelType,
            emission=result.emissionStandard,
            need_complete=result.isNeedComplete if result.isNeedComplete in ("1", "2") else "0",
            raw=result.model_dump(),
        )

    def _fmt(self, when: datetime) -> str:
        return self.local_time(when).strftime(TIME_FORMAT)

    def _common(self, report: PassReport) -> dict[str, str]:
        return {
            "lsh": report.serial,
            "qybh": report.enterprise_code,
            "qymc": report.enterprise_name,
            "dzbh": report.gate_code,
            "cphm": report.plate or NO_PLATE_TEXT,
            "cpys": report.color,
        }

    @override
    async def send_pass(self, report: PassReport) -> None:
        record = build_message(
            DrivingRecord,
            **self._common(report),
            tgsjq=self._fmt(report.time_from),
            tgsjz=self._fmt(report.time_to),
            tgzt=report.direction.city_code,
            bgzt=report.gate_signal.city_code,
        )
        await self._call(PATH_PUT, "shareDrivingRecord", record)

    @override
    async def send_passes(self, reports: Sequence[PassReport]) -> None:
        for report in reports:
            await self.send_pass(report)

    @override
    async def send_correction(self, report: PassReport, correction: Correction) -> None:
        raise InvalidMessageError("the city API has no message for corrected passes")

    @override
    async def send_photo(self, report: PassReport, photo: PhotoReport) -> None:
        if not is_jpeg(photo.data):
            raise InvalidMessageError("sharePhotoInfo: the photo is not a JPEG")
        if len(photo.data) >= MAX_PHOTO_BYTES:
            raise InvalidMessageError(
                f"sharePhotoInfo: the photo has {len(photo.data)} bytes, the limit is 1 MB"
            )
        inline = base64.b64encode(photo.data).decode() if self._photo_mode == "base64" else None
        info = build_message(
            PhotoInfo,
            **self._common(report),
            zpbh=str(photo.number),
            zplx=str(photo.kind),
            pzsj=self._fmt(photo.taken_at),
            base64Image=inline,
        )
        await self._call(PATH_FILE, "sharePhotoInfo", info, photo=None if inline else photo.data)

    async def send_goods_records(self, items: Sequence[tuple[PassReport, GoodsReport]]) -> None:
        """shareGoodsRecord, one call per goods record (the city API takes no lists)."""
        for report, goods in items:
            await self.send_goods(report, goods.goods, goods.tonnes, goods.registered_at)

    async def send_goods(self, report: PassReport, goods: str, tonnes: str, at: datetime) -> None:
        """shareGoodsRecord: what a pass carried (goods name, tonnes, registration time)."""
        record = build_message(
            GoodsRecord, **self._common(report), hwmc=goods, ysl=tonnes, djsj=self._fmt(at)
        )
        await self._call(PATH_PUT, "shareGoodsRecord", record)

    async def file_entry(
        self,
        entry: Entry,
        images: Mapping[ImageKind, bytes],
        *,
        company_code: str,
        license_pk: str = "",
    ) -> FilingReceipt:
        """shareVehInfo / shareInnerVehInfo / shareInnerMHYElec (§4.1.2, 4.1.7, 4.1.8) in the
        common envelope (§4.5 item 1); the city platform returns no licensePK."""
        method = method_for(self.mode, entry, "")
        fields: dict[str, Any] = wire_fields(entry, images)
        if entry.REGISTER is not Register.VEHICLE:
            fields["companyCode"] = company_code
        value: BaseModel
        if entry.REGISTER is Register.MACHINE:
            value = build_message(MachineRegistration, **fields)
        elif entry.REGISTER is Register.INNER:
            value = build_message(InnerVehicleRegistration, **fields)
        else:
            value = build_message(VehicleInfo, **fields)
        await self._call(PATH_PUT, method, value)
        return FilingReceipt(method, license_pk)

    async def held_filing(self, entry: Entry) -> FilingReceipt | None:
        """None: the city's share methods return no licensePK and complete a plate's
        information (完善…信息) rather than add a filing, so sending one again is harmless
        (README "Electronic ledger": idempotent by plate and colour, a machine's mhyPlate)."""
        del entry
        return None

    async def share_vehicle(self, **fields: Any) -> None:
        """shareVehInfo: complete a vehicle's registration (sent in the common envelope)."""
        await self._call(PATH_PUT, "shareVehInfo", build_message(VehicleInfo, **fields))
