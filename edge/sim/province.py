"""The province platform simulator (§4.2): ``POST {base}/{Method}``, replies
``{"result": "success"|"fail", "err": …, "data": …}``, every field checked against the spec.

Records arrive in batches (``list``); each entry is counted under its serial number, so tests
can count losses and duplicates the same way for both APIs. Photos are not uploaded in this
API: records carry relative image URLs, which the simulator notes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from edge.sim.jpeg import jpeg_label
from edge.sim.platform import Fault, PhotoArrival, PlatformSim, SimVehicle
from edge.sim.spec_check import PROVINCE, filing_problems, real_time, serial_agrees, violations
from edge.uplink.platform.province_models import AUTH_TIME_FORMAT, DATE_FORMATS

METHODS = (
    "GetAuthorizationOrg",
    "VehVerifyEx",
    "SendEnterExitDataEx",
    "SendGoodsRecordData",
    "VehElecAccountAdd",
    "VehElecAccountModify",
    "VehElecAccountGain",
    "InnerVehElecAccountAdd",
    "InnerVehElecAccountModify",
    "InnerMHYElecAccountAdd",
    "InnerMHYElecAccountModify",
    "GetNeedCompleteVehEx",
    "DrivingLicenseScanEx",
    "CheckFeedbackReport",
)
#: What each filing method files (the accounts of one kind share their licensePKs).
_FILED = {
    "VehElecAccountAdd": "vehicle",
    "VehElecAccountModify": "vehicle",
    "InnerVehElecAccountAdd": "inner",
    "InnerVehElecAccountModify": "inner",
    "InnerMHYElecAccountAdd": "machine",
    "InnerMHYElecAccountModify": "machine",
}


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
        self.account_kinds: dict[str, str] = {}  # licensePK → vehicle / inner / machine
        self.feedback: list[dict[str, Any]] = []
        #: What GetNeedCompleteVehEx lists besides the vehicle table's rows with
        #: need_complete 1 or 2 (a test sets it): (plate, colour, addDate).
        self.need_complete: list[tuple[str, str, str]] = []
        self.started = self.server_now().strftime("%Y-%m-%d %H:%M:%S")
        #: DrivingLicenseScanEx's answer for a licence image labelled with a plate
        #: (:func:`edge.sim.jpeg.sample_jpeg`); other plates get a plausible default.
        self.licence_scans: dict[str, dict[str, str]] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.post(f"{self.prefix}/{method}", self._handle) for method in METHODS]

    def _fail(self, method: str, reason: str) -> web.Response:
        self.note_rejected(method, reason)
        return web.json_response({"result": "fail", "err": reason, "data": {}})

    def fault_answer(self, method: str, fault: Fault) -> web.Response:
        return self._fail(method, str(fault.value))

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
        if (refused := self.fault_for(request, method)) is not None:
            return refused
        handler = {
            "VehVerifyEx": self._verify,
            "SendEnterExitDataEx": self._enter_exit,
            "SendGoodsRecordData": self._goods,
            "VehElecAccountAdd": self._account,
            "VehElecAccountModify": self._account,
            "VehElecAccountGain": self._gain,
            "InnerVehElecAccountAdd": self._account,
            "InnerVehElecAccountModify": self._account,
            "InnerMHYElecAccountAdd": self._account,
            "InnerMHYElecAccountModify": self._account,
            "GetNeedCompleteVehEx": self._need_complete,
            "DrivingLicenseScanEx": self._scan,
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
        """The six filing methods: every field checked (dates, images, codes); Add gives a
        new licensePK; Modify needs a known one of the same kind, whose plate (machine: its
        mhyPlate) and colour do not change (不可修改)."""
        problems = filing_problems(body, PROVINCE[method])
        if body.get("companySecretCode") not in ("", None, self.company_secret_code):
            problems.append("企业授权号错误")
        if problems:
            return self._fail(method, "; ".join(problems))
        kind = _FILED[method]
        key = ("mhyPlate",) if kind == "machine" else ("license", "licenseColor")
        if method.endswith("Modify"):
            pk = body["licensePK"]
            known = self.accounts.get(pk)
            if known is None or self.account_kinds.get(pk) != kind:
                return self._fail(method, "车辆备案不存在")
            if any(known.get(k) != body.get(k) for k in key):
                return self._fail(method, "号牌号码、号牌颜色不可修改")
        elif (held := self.holding(kind, body)) is not None:
            # one filing per vehicle (machine), never a second licensePK: a transport
            # vehicle's is shared and VehElecAccountGain fetches it, so a second Add is
            # refused; an in-plant vehicle's or machine's has no query, so the Add's reply is
            # the only way to learn it: a second Add is answered with it (and updates it)
            if kind == "vehicle":
                return self._fail(method, "车辆备案已存在，请勿重复新增")
            pk = held
        else:
            pk = f"PK{len(self.accounts) + 1:08d}"
        self.accounts[pk] = {k: v for k, v in body.items() if k != "accessToken"}
        self.account_kinds[pk] = kind
        self.filings.append((method, self.accounts[pk]))
        if kind == "vehicle":
            self.filed(body["license"], pk)
        await self.notify()
        if kind == "machine":
            return self._ok({"mhyPlate": body["mhyPlate"], "licensePK": pk})
        data = {"license": body["license"], "licenseColor": body["licenseColor"], "licensePK": pk}
        return self._ok(data)

    def to_complete(self) -> list[tuple[str, str, str]]:
        """What GetNeedCompleteVehEx lists: :attr:`need_complete`, then the vehicle table's
        rows (``edge sim platform --vehicles``) whose need_complete is 1 or 2 — a filing
        accepted sets it to 0 (:meth:`filed`), so the vehicle leaves the list."""
        listed = list(self.need_complete)
        seen = {(plate, color) for plate, color, _ in listed}
        for plate, vehicle in self.vehicles.items():
            if vehicle.need_complete in ("1", "2") and (plate, vehicle.plate_color) not in seen:
                listed.append((plate, vehicle.plate_color, vehicle.added or self.started))
        return listed

    def holding(self, kind: str, body: dict[str, Any]) -> str | None:
        """The licensePK of the filing of ``kind`` this platform holds for the vehicle (or
        machine) in ``body``: a transport vehicle by plate and colour (its filing is shared
        by every enterprise); an in-plant vehicle by enterprise, plate and colour, a machine
        by enterprise and mhyPlate, unless that filing was set to 注销 (3). None: none."""
        key = {
            "vehicle": ("license", "licenseColor"),
            "inner": ("companyCode", "license", "licenseColor"),
            "machine": ("companyCode", "mhyPlate"),
        }[kind]
        for pk, account in self.accounts.items():
            if self.account_kinds.get(pk) != kind or any(
                account.get(k) != body.get(k) for k in key
            ):
                continue
            if account.get("carStatus", account.get("mhyStatus")) != "3":
                return pk
        return None

    async def _need_complete(self, method: str, body: dict[str, Any]) -> web.Response:
        if problems := violations(body, PROVINCE[method]):
            return self._fail(method, "; ".join(problems))
        if body["companySecretCode"] != self.company_secret_code:
            return self._fail(method, "企业授权号错误")
        listed = [
            {"license": plate, "licenseColor": color, "addDate": added}
            for plate, color, added in self.to_complete()[:20]  # §4.2.3: 20 a call at most
        ]
        return web.json_response({"result": "success", "err": "", "data": listed})

    async def _scan(self, method: str, body: dict[str, Any]) -> web.Response:
        problems = violations(body, PROVINCE[method])
        try:
            image = base64.b64decode(body.get("drivingLicenseImg") or "", validate=True)
        except (binascii.Error, ValueError):
            image = b""
        if not problems and not image.startswith(b"\xff\xd8"):
            problems.append("drivingLicenseImg: 行驶证图片无法识别")
        if problems:
            return self._fail(method, "; ".join(problems))
        plate = jpeg_label(image) or "豫A00000"
        return self._ok(self.licence_scans.get(plate) or _plausible_licence(plate))

    async def _gain(self, method: str, body: dict[str, Any]) -> web.Response:
        if problems := violations(body, PROVINCE[method]):
            return self._fail(method, "; ".join(problems))
        for pk, account in self.accounts.items():
            if self.account_kinds.get(pk) != "vehicle":
                continue
            asked = (body["license"], body["licenseColor"])
            if (
                pk == body.get("licensePK")
                or (account["license"], account["licenseColor"]) == asked
            ):
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
        # nothing found is an answer (in the platform's reply shape), not a refused call
        return web.json_response({"result": "fail", "err": "未找到车辆备案信息", "data": {}})

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


def _plausible_licence(plate: str) -> dict[str, str]:
    """What a recogniser reads on a heavy truck's 行驶证 (the spec's reply fields)."""
    digits = "".join(c for c in plate if c.isdigit()).rjust(6, "0")[-6:]
    return {
        "license": plate,
        "vehicleType": "H11",
        "vin": f"LZZ1CLVB0KA{digits}",
        "useCharacter": "F",
        "engineNo": f"WP10{digits}",
        "onwer": "河南某物流有限公司",
        "address": "河南省郑州市",
        "model": "豪沃牌ZZ4257V324HE1",
        "registerDate": "2019-05-01",
        "issueDate": "2019-05-01",
    }
