"""Province platform client (spec §4.2): GetAuthorizationOrg, VehVerifyEx, SendEnterExitDataEx,
SendGoodsRecordData, VehElecAccountAdd / Modify / Gain, CheckFeedbackReport.

Every method is ``POST {base}/{method}`` with a JSON body by default; the path template is
configurable. Replies are ``{"result": "success"|"fail", "err": …, "data": …}``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel, ValidationError
from typing_extensions import override

from edge.domain.codes import BlacklistType, ControlFlag, EmissionStage, ExemptType, FuelType
from edge.domain.filing import WIRE_NAMES, Entry, ImageKind, Register, TransportVehicle
from edge.domain.goods import GoodsReport
from edge.domain.plates import PlateColor
from edge.domain.reports import Correction, PassReport, PhotoReport, VerifyAnswer
from edge.uplink.platform.base import NO_PLATE_TEXT, FilingReceipt, Platform
from edge.uplink.platform.errors import (
    InvalidMessageError,
    InvalidReplyError,
    PermanentError,
    PlatformAuthError,
    build_message,
)
from edge.uplink.platform.filing_wire import method_for, wire_fields
from edge.uplink.platform.http import TOKEN_REFUSED, PlatformHttp, post_json
from edge.uplink.platform.province_models import (
    AUTH_TIME_FORMAT,
    DATE_FORMATS,
    AuthData,
    AuthRequest,
    CheckFeedback,
    EnterExitRecord,
    EnterExitRequest,
    GoodsRecord,
    GoodsRequest,
    InnerVehAccount,
    InnerVehAccountModify,
    LicenseScanData,
    LicenseScanRequest,
    MachineAccount,
    MachineAccountData,
    MachineAccountModify,
    NeedCompleteRequest,
    NeedCompleteVehicle,
    ProvinceReply,
    VehAccount,
    VehAccountData,
    VehAccountGainData,
    VehAccountGainRequest,
    VehAccountModify,
    VerifyData,
    VerifyRequest,
)
from edge.uplink.platform.token import Grant, TokenClient

log = structlog.get_logger("edge.uplink.platform.province")

R = TypeVar("R", bound=BaseModel)

DEFAULT_TOKEN_SECONDS = 2 * 60 * 60
LICENSE_PK_LENGTH = 32  # §4.2.11 licensePK 字符 32
_PLACEHOLDER = "-"  # stands for the token while a request is validated
#: Words in ``err`` that mean the token was refused (the spec defines no code for it). The
#: spec calls the token 授权码; 授权号 is a company or gate secret code, a different error.
_TOKEN_WORDS = ("token", "授权码", "令牌")


def _token_refused(err: str) -> bool:
    lowered = err.lower()
    return any(word in lowered for word in _TOKEN_WORDS)


def _code(value: str, codes: type[StrEnum], name: str) -> str:
    """A code copied from the platform's answer into a record: kept when it is in the spec's
    dictionary, else left empty (with a warning) — a record is never refused for what the
    platform itself said."""
    if value == "" or value in {c.value for c in codes}:
        return value
    log.warning("platform code outside the spec's dictionary; sent empty", field=name, value=value)
    return ""


def _vehicle_codes(answer: VerifyAnswer | None, suffix: str = "") -> dict[str, str]:
    """fuelType, emissionStandard, isBlackList, isExempt (+ ``suffix``) from an answer."""
    if answer is None:
        values = {"fuelType": "", "emissionStandard": "", "isBlackList": "", "isExempt": ""}
    else:
        values = {
            "fuelType": _code(answer.fuel, FuelType, "fuelType"),
            "emissionStandard": _code(answer.emission, EmissionStage, "emissionStandard"),
            "isBlackList": _code(answer.blacklist, BlacklistType, "isBlackList"),
            "isExempt": _code(answer.exempt, ExemptType, "isExempt"),
        }
    return {name + suffix: value for name, value in values.items()}


def _control_after(after: VerifyAnswer | None, before: str) -> str:
    """isControlB: the platform's 0/1 for the corrected plate; where it answered 2 or nothing,
    the gate's resolution stands (a correction does not change what the gate did)."""
    if after is None or after.control is ControlFlag.GATE_DECIDES:
        return before
    return str(int(after.control))


_FILING_MODELS: dict[str, type[BaseModel]] = {
    "VehElecAccountAdd": VehAccount,
    "VehElecAccountModify": VehAccountModify,
    "InnerVehElecAccountAdd": InnerVehAccount,
    "InnerVehElecAccountModify": InnerVehAccountModify,
    "InnerMHYElecAccountAdd": MachineAccount,
    "InnerMHYElecAccountModify": MachineAccountModify,
}


class ProvincePlatform(TokenClient, Platform):
    """One client per platform; safe for concurrent use by the lanes and the forwarder."""

    mode = "province"

    uploads_photos = False
    max_batch = 500  # SendEnterExitDataEx takes a list; the forwarder's batch_size applies
    reports_corrections = True
    sends_license_pk = True

    def __init__(  # noqa: PLR0913 - the [platform] settings, as keywords
        self,
        *,
        base_url: str,
        org_secret_code: str,
        username: str,
        password: str,
        company_secret_code: str,
        zone: ZoneInfo,
        path_template: str = "{base}/{method}",
        date_format: str = "yyMMddHHmmss",
        timeout: float = 10.0,
        refresh_margin: float = 300.0,
        clock_limit: float = 30.0,
        stamp_corrected_time: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            PlatformHttp(timeout=timeout),
            self._fetch_token,
            zone=zone,
            refresh_margin=refresh_margin,
            clock_limit=clock_limit,
            stamp_corrected_time=stamp_corrected_time,
            clock=clock,
        )
        self._base, self._template = base_url.rstrip("/"), path_template
        self._org, self._username, self._password = org_secret_code, username, password
        self._company = company_secret_code
        self._date_format = DATE_FORMATS[date_format]

    # -- transport -------------------------------------------------------------------------

    def url(self, method: str) -> str:
        return self._template.format(base=self._base, method=method)

    async def _post(self, method: str, payload: dict[str, Any]) -> ProvinceReply:
        body = await post_json(self._http, self.url(method), json_body=payload)
        if body is TOKEN_REFUSED:
            return ProvinceReply(result="fail", err="HTTP 401 token")
        try:
            return ProvinceReply.model_validate(body)
        except ValidationError as exc:
            raise InvalidReplyError(f"{method}: unreadable reply {str(body)[:200]!r}") from exc

    @staticmethod
    def _parse(model: type[R], data: Any, method: str) -> R:
        try:
            return model.model_validate(data if data is not None else {})
        except ValidationError as exc:
            raise InvalidReplyError(f"{method}: {model.__name__} failed validation: {exc}") from exc

    async def _fetch_token(self) -> Grant:
        request = build_message(
            AuthRequest, orgSecretCode=self._org, username=self._username, pwd=self._password
        )
        reply = await self._post("GetAuthorizationOrg", request.model_dump())
        if reply.result != "success":
            raise PlatformAuthError(f"GetAuthorizationOrg refused: {reply.err}")
        data = self._parse(AuthData, reply.data, "GetAuthorizationOrg")
        server = self._auth_time(data.serverTime)
        expire = self._auth_time(data.expire)
        lifetime: float = DEFAULT_TOKEN_SECONDS
        if server is not None and expire is not None and expire > server:
            lifetime = (expire - server).total_seconds()
        return Grant(data.accessToken, lifetime, server)

    def _auth_time(self, text: str) -> datetime | None:
        try:
            return datetime.strptime(text, AUTH_TIME_FORMAT).replace(tzinfo=self._zone)
        except ValueError:
            return None

    async def _call(self, method: str, request: BaseModel) -> Any:
        """Send a validated ``request`` with the current token; on a refused token, refresh
        once and retry. (Requests are built with a placeholder token, so a spec violation is
        found before any network traffic, token fetches included.)"""
        for attempt in (1, 2):
            token = await self.tokens.token()
            payload = {**request.model_dump(exclude_none=True), "accessToken": token}
            reply = await self._post(method, payload)
            if reply.result == "success":
                return reply.data
            if _token_refused(reply.err):
                await self.tokens.drop(token)
                if attempt == 1:
                    continue
                raise PlatformAuthError(f"{method}: token refused after a refresh")
            raise PermanentError("fail", reply.err)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- methods ---------------------------------------------------------------------------

    @override
    async def verify(
        self, plate: str, color: PlateColor, *, gate_secret_code: str = ""
    ) -> VerifyAnswer:
        request = build_message(
            VerifyRequest,
            accessToken=_PLACEHOLDER,
            companySecretCode=self._company,
            gateSecretCode=gate_secret_code,
            license=plate,
            licenseColor=color,
        )
        data = await self._call("VehVerifyEx", request)
        result = self._parse(VerifyData, data, "VehVerifyEx")
        return VerifyAnswer(
            control=ControlFlag(int(result.isControl)),
            reason=result.controlReason,
            fuel=result.fuelType,
            emission=result.emissionStandard,
            blacklist=result.isBlackList,
            exempt=result.isExempt,
            need_complete=result.isNeedComplete.value,
            license_pk=result.licensePK,
            vehicle_type=result.vehType,
            gvm=result.GVM,
            raw=result.model_dump(),
        )

    def _date(self, when: datetime) -> str:
        return self.local_time(when).strftime(self._date_format)

    def enter_exit_record(self, report: PassReport) -> EnterExitRecord:
        """The SendEnterExitDataEx entry for a pass; codes copied from the verify answer."""
        answer = report.answer
        pk = report.license_pk or (answer.license_pk if answer else "")
        if len(pk) > LICENSE_PK_LENGTH:
            log.warning("licensePK longer than the spec's 32; sent without it", license_pk=pk)
            pk = ""
        return build_message(
            EnterExitRecord,
            serialNum=report.serial,
            companyCode=report.enterprise_code,
            gateCode=report.gate_code,
            license=report.plate or NO_PLATE_TEXT,
            licenseColor=report.color,
            **_vehicle_codes(answer),
            isControl="1" if report.controlled else "0",
            gateSignal=str(int(report.gate_signal)),
            date=self._date(report.time_to),
            imgURL1=report.photo_urls[0],
            imgURL2=report.photo_urls[1],
            islicensePK="1" if pk else "0",
            licensePK=pk,
        )

    @override
    async def send_passes(self, reports: Sequence[PassReport]) -> None:
        """SendEnterExitDataEx with one ``list`` entry per pass (a batch)."""
        records = [self.enter_exit_record(r) for r in reports]
        request = build_message(EnterExitRequest, accessToken=_PLACEHOLDER, list=records)
        await self._call("SendEnterExitDataEx", request)

    @override
    async def send_pass(self, report: PassReport) -> None:
        await self.send_passes([report])

    @override
    async def send_correction(self, report: PassReport, correction: Correction) -> None:
        """CheckFeedbackReport: the pass as it was reported, and the values after review."""
        before = self.enter_exit_record(report).model_dump()
        for key in ("imgURL1", "imgURL2", "islicensePK", "licensePK"):
            before.pop(key, None)
        after = correction.answer
        await self.check_feedback(
            **before,
            licenseB=correction.plate,
            licenseColorB=correction.color,
            **_vehicle_codes(after, "B"),
            isControlB=_control_after(after, before["isControl"]),
            gateSignalB=str(int(report.gate_signal)),
            dateB=self.local_time(correction.reviewed_at).strftime("%Y-%m-%d %H:%M:%S"),
            reviewer=correction.reviewer,
        )

    @override
    async def send_photo(self, report: PassReport, photo: PhotoReport) -> None:
        raise InvalidMessageError("the province API takes photos as URLs inside the pass record")

    def goods_record(self, report: PassReport, goods: GoodsReport) -> GoodsRecord:
        """The SendGoodsRecordData entry: the pass's serial, gate and plate, hwmc and ysl, and
        ``licensePK`` when the vehicle is filed (from the pass's verify answer)."""
        record = self.enter_exit_record(report)
        return build_message(
            GoodsRecord,
            serialNum=record.serialNum,
            companyCode=record.companyCode,
            gateCode=record.gateCode,
            license=record.license,
            licenseColor=record.licenseColor,
            hwmc=goods.goods,
            ysl=goods.tonnes,
            islicensePK=record.islicensePK,
            licensePK=record.licensePK,
        )

    async def send_goods_records(self, items: Sequence[tuple[PassReport, GoodsReport]]) -> None:
        """SendGoodsRecordData with one ``list`` entry per goods record (a batch)."""
        await self.send_goods([self.goods_record(report, goods) for report, goods in items])

    async def send_goods(self, records: Sequence[GoodsRecord]) -> None:
        request = build_message(GoodsRequest, accessToken=_PLACEHOLDER, list=list(records))
        await self._call("SendGoodsRecordData", request)

    async def add_vehicle(self, **fields: Any) -> VehAccountData:
        """VehElecAccountAdd; returns the platform's ``licensePK``."""
        fields.setdefault("companySecretCode", self._company)
        request = build_message(VehAccount, accessToken=_PLACEHOLDER, **fields)
        data = await self._call("VehElecAccountAdd", request)
        return self._parse(VehAccountData, data, "VehElecAccountAdd")

    async def modify_vehicle(self, **fields: Any) -> VehAccountData:
        fields.setdefault("companySecretCode", self._company)
        request = build_message(VehAccountModify, accessToken=_PLACEHOLDER, **fields)
        data = await self._call("VehElecAccountModify", request)
        return self._parse(VehAccountData, data, "VehElecAccountModify")

    async def gain_vehicle(
        self, plate: str, color: PlateColor, license_pk: str = ""
    ) -> VehAccountGainData:
        """VehElecAccountGain (§4.2.17): a filing made elsewhere, with its images."""
        request = build_message(
            VehAccountGainRequest,
            accessToken=_PLACEHOLDER,
            license=plate,
            licenseColor=color,
            licensePK=license_pk,
        )
        data = await self._call("VehElecAccountGain", request)
        return self._parse(VehAccountGainData, data, "VehElecAccountGain")

    # -- the electronic ledger (issue 15) ------------------------------------------------------

    async def file_entry(
        self,
        entry: Entry,
        images: Mapping[ImageKind, bytes],
        *,
        company_code: str,
        license_pk: str = "",
    ) -> FilingReceipt:
        """VehElecAccountAdd / InnerVehElecAccountAdd / InnerMHYElecAccountAdd, or their
        Modify once ``license_pk`` is known (§4.2.15/16, 4.2.18–21); returns the platform's
        licensePK (the one known when it returns none)."""
        method = method_for(self.mode, entry, license_pk)
        fields: dict[str, Any] = {**wire_fields(entry, images), "companySecretCode": self._company}
        if entry.REGISTER is not Register.VEHICLE:
            fields["companyCode"] = company_code
        if license_pk:
            fields["licensePK"] = license_pk
        request = build_message(_FILING_MODELS[method], accessToken=_PLACEHOLDER, **fields)
        data = await self._call(method, request)
        if entry.REGISTER is Register.MACHINE:
            pk = self._parse(MachineAccountData, data, method).licensePK
        else:
            pk = self._parse(VehAccountData, data, method).licensePK
        return FilingReceipt(method, pk or license_pk)

    async def held_filing(self, entry: Entry) -> FilingReceipt | None:
        """A transport vehicle: VehElecAccountGain (§4.2.17) by plate and colour — the
        licensePK of the filing the platform holds (ours whose reply was lost, or another
        enterprise's), None when it answers fail (it holds none; its words are logged).
        An in-plant vehicle or a machine: None without asking — the spec has no query for
        them (README "Electronic ledger": the Add is sent again)."""
        if not isinstance(entry, TransportVehicle) or entry.REGISTER is not Register.VEHICLE:
            return None
        try:
            held = await self.gain_vehicle(entry.plate, entry.plate_color)
        except PermanentError as exc:
            log.info("platform holds no filing of the vehicle", plate=entry.plate,
                     words=exc.status)  # fmt: skip
            return None
        if not held.licensePK:
            return None
        fields = {k: str(v) for k, v in held.model_dump().items() if k != "licensePK"}
        return FilingReceipt("VehElecAccountGain", held.licensePK, fields)

    async def need_complete(self) -> list[NeedCompleteVehicle]:
        """GetNeedCompleteVehEx (§4.2.3): the vehicles whose filing the platform wants
        completed (at most 20 a call): plate (``license``), ``licenseColor``, ``addDate``."""
        request = build_message(
            NeedCompleteRequest, accessToken=_PLACEHOLDER, companySecretCode=self._company
        )
        data = await self._call("GetNeedCompleteVehEx", request)
        if not isinstance(data, list):
            raise InvalidReplyError("GetNeedCompleteVehEx: data is not a list")
        return [self._parse(NeedCompleteVehicle, item, "GetNeedCompleteVehEx") for item in data]

    async def scan_licence(self, image: bytes) -> dict[str, str]:
        """DrivingLicenseScanEx (§4.2.4): what the platform read on a 行驶证 image (a JPEG),
        as the ledger's form fields (``plate``, ``vehicle_type``, ``vin``, ``use_character``,
        ``engine_no``, ``owner``, ``address``, ``model``, ``register_date``, ``issue_date``;
        only those it returned), to pre-fill a form a person then checks."""
        request = build_message(
            LicenseScanRequest,
            accessToken=_PLACEHOLDER,
            companySecretCode=self._company,
            drivingLicenseImg=base64.b64encode(image).decode(),
        )
        data = await self._call("DrivingLicenseScanEx", request)
        scanned = self._parse(LicenseScanData, data, "DrivingLicenseScanEx").model_dump()
        ours = {wire: name for name, wire in WIRE_NAMES[Register.VEHICLE].items()}
        return {ours[k]: str(v).strip() for k, v in scanned.items() if k in ours and v}

    async def check_feedback(self, **fields: Any) -> None:
        """CheckFeedbackReport: a pass corrected after review (values before and after)."""
        request = build_message(CheckFeedback, accessToken=_PLACEHOLDER, **fields)
        await self._call("CheckFeedbackReport", request)
