"""The province platform simulator (§4.2): ``POST {base}/{Method}``, replies
``{"result": "success"|"fail", "err": …, "data": …}``, every field checked against the spec.

Records arrive in batches (``list``); each entry is counted under its serial number, so tests
can count losses and duplicates the same way for both APIs. Photos are not uploaded in this
API: records carry relative image URLs, which the simulator notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from edge.sim.platform import PhotoArrival, PlatformSim, SimVehicle
from edge.sim.spec_check import PROVINCE, real_time, serial_agrees, violations
from edge.uplink.platform.province_models import AUTH_TIME_FORMAT, DATE_FORMATS

METHODS = (
    "GetAuthorizationOrg",
    "VehVerifyEx",
    "SendEnterExitDataEx",
    "SendGoodsRecordData",
    "VehElecAccountAdd",
    "VehElecAccountModify",
    "VehElecAccountGain",
    "CheckFeedbackReport",
)


@dataclass
class ProvincePlatformSim(PlatformSim):
    org_secret_code: str = "ORG-4110"  # noqa: S105 - test account
    username: str = "gate01"
    password: str = "sim-password"  # noqa: S105 - the simulator's own test account
    company_secret_code: str = "COMPANY-4110020001"  # noqa: S105 - test account
    #: Gate secret codes the platform knows (VehVerifyEx refuses others).
    gate_secret_codes: frozenset[str] = frozenset({"GATE-01", "GATE-02"})
    date_format: str = "yyMMddHHmmss"
    prefix: str = "/province"

    def __post_init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}  # licensePK → registration
        self.feedback: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post(f"{self.prefix}/{method}", self._handle) for method in METHODS]

    def _fail(self, method: str, reason: str) -> web.Response:
        self.note_rejected(method, reason)
        return web.json_response({"result": "fail", "err": reason, "data": {}})

    @staticmethod
    def _ok(data: Any = None) -> web.Response:
        return web.json_response({"result": "success", "err": "", "data": data or {}})

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.path.rsplit("/", 1)[-1]
        body = await self.read_json(request)
        self.calls[method] += 1
        if method == "GetAuthorizationOrg":
            return self._authorise(body)
        if not isinstance(body, dict) or not self.token_valid(body.get("accessToken")):
            return self._fail(method, "accessToken 授权码无效或已过期")
        if (fault := self.injected(method)) is not None:
            return self.http_fault(fault) or self._fail(method, str(fault.value))
        handler = {
            "VehVerifyEx": self._verify,
            "SendEnterExitDataEx": self._enter_exit,
            "SendGoodsRecordData": self._goods,
            "VehElecAccountAdd": self._account,
            "VehElecAccountModify": self._account,
            "VehElecAccountGain": self._gain,
            "CheckFeedbackReport": self._feedback,
        }[method]
        return await handler(method, body)

    def _authorise(self, body: Any) -> web.Response:
        if problems := violations(body, PROVINCE["GetAuthorizationOrg"]):
            return self._fail("GetAuthorizationOrg", "; ".join(problems))
        given = (body["orgSecretCode"], body["username"], body["pwd"])
        if given != (self.org_secret_code, self.username, self.password):
            return self._fail("GetAuthorizationOrg", "用户名或密码错误")
        now = self.server_now()
        expire = now.timestamp() + self.token_lifetime
        return self._ok(
            {
                "accessToken": self.issue_token(),
                "expire": type(now).fromtimestamp(expire, self.zone).strftime(AUTH_TIME_FORMAT),
                "serverTime": now.strftime(AUTH_TIME_FORMAT),
            }
        )

    async def _verify(self, method: str, body: dict[str, Any]) -> web.Response:
        if problems := violations(body, PROVINCE[method]):
            return self._fail(method, "; ".join(problems))
        if body["companySecretCode"] != self.company_secret_code:
            return self._fail(method, "企业授权号错误")
        if body["gateSecretCode"] not in self.gate_secret_codes:
            return self._fail(method, "道闸授权号错误")
        v = self.vehicles.get(body["license"], SimVehicle())
        unknown_emission = v.need_complete == "1"
        return self._ok(
            {
                "license": body["license"],
                "licenseColor": body["licenseColor"],
                "fuelType": "" if unknown_emission else v.fuel,
                "registerDate": "20200101000000",
                "syxz": "F",
                "vinLast6": "123456",
                "vehType": v.veh_type,
                " GVM": v.gvm,  # the spec's example spells the key with a space
                "emissionStandard": "" if unknown_emission else v.emission,
                "isBlackList": v.blacklist,
                "isExempt": v.exempt,
                "isControl": v.is_control,
                "controlReason": v.reason,
                "isNeedComplete": v.need_complete,
                "licensePK": v.license_pk,
            }
        )

    def _check_list(self, method: str, body: dict[str, Any]) -> list[str]:
        if set(body) != {"accessToken", "list"}:
            return [f"fields must be accessToken and list, got {sorted(body)}"]
        entries = body["list"]
        if not isinstance(entries, list) or not entries:
            return ["list must be a non-empty array"]
        problems = []
        for i, entry in enumerate(entries):
            found = violations(entry, PROVINCE[f"{method}.list"])
            if not found:
                found += [
                    p
                    for p in [
                        serial_agrees(entry["serialNum"], entry["companyCode"], entry["gateCode"])
                    ]
                    if p
                ]
                if (entry.get("islicensePK") == "1") != bool(entry.get("licensePK")):
                    found.append("islicensePK must be 1 exactly when licensePK is given")
                date = entry.get("date")
                if date and not real_time(date, DATE_FORMATS[self.date_format]):
                    found.append(f"date {date!r} is not {self.date_format}")
            problems += [f"list[{i}].{p}" for p in found]
        return problems

    async def _enter_exit(self, method: str, body: dict[str, Any]) -> web.Response:
        if problems := self._check_list(method, body):
            return self._fail(method, "; ".join(problems))
        for entry in body["list"]:
            self.records.setdefault(entry["serialNum"], []).append(entry)
            self.note_arrival("record", entry["serialNum"])
            for number, key in ((1, "imgURL1"), (2, "imgURL2")):
                if entry.get(key):
                    info = {"lsh": entry["serialNum"], "zpbh": str(number), "url": entry[key]}
                    self.photos.setdefault(entry["serialNum"], []).append(
                        PhotoArrival(info, 0, multipart=False)
                    )
        await self.notify()
        return self._ok()

    async def _goods(self, method: str, body: dict[str, Any]) -> web.Response:
        if problems := self._check_list(method, body):
            return self._fail(method, "; ".join(problems))
        for entry in body["list"]:
            self.goods.setdefault(entry["serialNum"], []).append(entry)
            self.note_arrival("goods", entry["serialNum"])
        await self.notify()
        return self._ok()

    async def _account(self, method: str, body: dict[str, Any]) -> web.Response:
        problems = violations(body, PROVINCE[method])
        if not (body.get("drivingLicenseImg") or body.get("drivingLicenseImg2")):
            problems.append("行驶证与随车清单不能同时为空")
        if problems:
            return self._fail(method, "; ".join(problems))
        pk = body.get("licensePK") or f"PK{len(self.accounts) + 1:08d}"
        if method == "VehElecAccountModify" and pk not in self.accounts:
            return self._fail(method, "车辆备案不存在")
        self.accounts[pk] = {k: v for k, v in body.items() if k != "accessToken"}
        data = {"license": body["license"], "licenseColor": body["licenseColor"], "licensePK": pk}
        return self._ok(data)

    async def _gain(self, method: str, body: dict[str, Any]) -> web.Response:
        if problems := violations(body, PROVINCE[method]):
            return self._fail(method, "; ".join(problems))
        for pk, account in self.accounts.items():
            if pk == body.get("licensePK") or account["license"] == body["license"]:
                keep = (
                    "license",
                    "licenseColor",
                    "vin",
                    "engineNo",
                    "onwer",
                    "registerDate",
                    "emissionStandard",
                    "drivingLicenseImg",
                    "drivingLicenseImg2",
                )
                return self._ok({**{k: account.get(k, "") for k in keep}, "licensePK": pk})
        return self._fail(method, "未找到车辆备案信息")

    async def _feedback(self, method: str, body: dict[str, Any]) -> web.Response:
        problems = violations(body, PROVINCE[method])
        if not problems and (
            agreement := serial_agrees(body["serialNum"], body["companyCode"], body["gateCode"])
        ):
            problems.append(agreement)
        if problems:
            return self._fail(method, "; ".join(problems))
        self.feedback.append(body)
        await self.notify()
        return self._ok()
