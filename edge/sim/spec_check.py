"""The simulators' own check of incoming messages, written from the spec's field tables.

Deliberately independent of the client's pydantic models (``edge.uplink.platform.*_models``): a
contract test then checks our client against the spec as a strict platform reads it, not
against itself. Each rule: maximum length, required or not, and an allowed set or pattern.
Unknown fields are violations too.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.domain.codes import VEHICLE_TYPES

COLORS = frozenset("012345")
STAGES = frozenset("01234567DX")
FUELS = frozenset("ABCDEFLMNOPQYZ")
BLACKLIST = frozenset("1234569")
EXEMPT = frozenset("12")
#: isControl in records (§4.2.11, §4.2.27): 0 no, 1 yes. (2 exists only in VehVerifyEx replies.)
CONTROL = frozenset("01")
SIGNAL = frozenset("012")
USE = frozenset("ABCDEFGHIJKLMNOPQRS")


@dataclass(frozen=True, slots=True)
class Rule:
    length: int | None = None  # maximum length ("按需" = None)
    required: bool = True
    allowed: frozenset[str] | None = None
    pattern: str | None = None
    exact: bool = False  # the length is fixed (F), not a maximum (V)

    def check(self, name: str, value: Any) -> str | None:
        if value is None or value == "":
            return f"{name}: required" if self.required else None
        if not isinstance(value, str):
            return f"{name}: must be a string"
        if self.length is not None and len(value) > self.length:
            return f"{name}: longer than {self.length}"
        if self.exact and self.length is not None and len(value) != self.length:
            return f"{name}: must have {self.length} characters"
        if self.allowed is not None and value not in self.allowed:
            return f"{name}: {value!r} is not a code of the dictionary"
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"{name}: {value!r} has the wrong format"
        return None


def opt(length: int | None = None, allowed: frozenset[str] | None = None) -> Rule:
    return Rule(length, required=False, allowed=allowed)


SERIAL = Rule(32, pattern=r"\d{10}\d{2}[AB]\d{12}")
CITY_TIME = Rule(32, pattern=r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
COLOR = Rule(1, allowed=COLORS)

CITY_PASS = {
    "lsh": SERIAL,
    "qybh": Rule(20, pattern=r"\d{10}"),
    "qymc": Rule(150),
    "dzbh": Rule(2, pattern=r"\d{2}"),
    "cphm": Rule(20),
    "cpys": COLOR,
}

CITY: dict[str, dict[str, Rule]] = {
    "getCheckVehicle": {"license": Rule(20), "licenseColor": COLOR},
    "shareDrivingRecord": {
        **CITY_PASS,
        "tgsjq": CITY_TIME,
        "tgsjz": CITY_TIME,
        "tgzt": Rule(1, allowed=frozenset("12")),
        "bgzt": Rule(1, allowed=frozenset("01")),
    },
    "sharePhotoInfo": {
        **CITY_PASS,
        "zpbh": Rule(1, allowed=frozenset("12")),
        "zplx": Rule(1, allowed=frozenset("123")),
        "pzsj": CITY_TIME,
        "base64Image": opt(),
    },
    "shareGoodsRecord": {
        **CITY_PASS,
        "hwmc": Rule(32),
        "ysl": Rule(4, pattern=r"\d+(\.\d+)?"),
        "djsj": CITY_TIME,
    },
}

_VEHICLE_ACCOUNT = {
    "companySecretCode": opt(32),
    "license": Rule(14),
    "licenseColor": COLOR,
    "vehicleType": opt(3, VEHICLE_TYPES),
    "vin": opt(32),
    "useCharacter": opt(1, USE),
    "engineNo": opt(32),
    "onwer": opt(100),
    "address": opt(300),
    "model": opt(100),
    "registerDate": opt(14),
    "issueDate": opt(14),
    "emissionStandard": opt(1, STAGES),
    "drivingLicenseImg": opt(),
    "drivingLicenseImg2": opt(),
}
CITY["shareVehInfo"] = dict(_VEHICLE_ACCOUNT)
STATUS = Rule(1, allowed=frozenset("123"))  # carStatus / mhyStatus: 1 正常 2 封存 3 注销
#: §4.1.7 / §4.2.18: an in-plant vehicle has the vehicle's fields, the enterprise's code and
#: its status.
_INNER_ACCOUNT = {**_VEHICLE_ACCOUNT, "companyCode": Rule(32), "carStatus": STATUS}
#: §4.1.8 / §4.2.20 (mhyPlate: in every example and reply, in no request table).
_MACHINE_ACCOUNT = {
    "companySecretCode": opt(32),
    "companyCode": Rule(32),
    "mhyPlate": Rule(14),
    "mhyJXMC": Rule(64),
    "emissionLevel": Rule(1, allowed=STAGES),
    "mhyFrameNo": Rule(64),
    "mhyProdDate": Rule(14),
    "imageInfo": Rule(),
    "mhyStatus": STATUS,
}
CITY["shareInnerVehInfo"] = dict(_INNER_ACCOUNT)
CITY["shareInnerMHYElec"] = dict(_MACHINE_ACCOUNT)
#: The fields of a filing that hold dates (format unstated: a real date is required).
FILING_DATES = ("registerDate", "issueDate", "mhyProdDate")
#: The fields of a filing that hold images (base64 JPEG under 1 MB).
FILING_IMAGES = ("drivingLicenseImg", "drivingLicenseImg2", "imageInfo")

_PROVINCE_CODES = {
    "fuelType": opt(4, FUELS),
    "emissionStandard": opt(1, STAGES),
    "isBlackList": opt(1, BLACKLIST),
    "isExempt": opt(1, EXEMPT),
    "isControl": Rule(1, allowed=CONTROL),
}
_TOKEN = {"accessToken": Rule(32)}  # 授权码, 字符 32 in every province table
_PROVINCE_PASS = {
    "serialNum": SERIAL,
    "companyCode": Rule(32, pattern=r"\d{10}"),
    "gateCode": Rule(32, pattern=r"\d{2}"),
    "license": Rule(32),
    "licenseColor": COLOR,
}

PROVINCE: dict[str, dict[str, Rule]] = {
    "GetAuthorizationOrg": {"orgSecretCode": Rule(32), "username": Rule(32), "pwd": Rule(32)},
    "VehVerifyEx": {
        **_TOKEN,
        "companySecretCode": Rule(32),
        "gateSecretCode": Rule(32),
        "license": Rule(20),
        "licenseColor": COLOR,
    },
    "SendEnterExitDataEx.list": {
        **_PROVINCE_PASS,
        **_PROVINCE_CODES,
        "gateSignal": Rule(1, allowed=SIGNAL),
        "date": Rule(12, pattern=r"\d{12}", exact=True),
        "imgURL1": opt(64),
        "imgURL2": opt(64),
        "islicensePK": Rule(1, allowed=frozenset("01")),
        "licensePK": opt(32),
    },
    "SendGoodsRecordData.list": {
        **_PROVINCE_PASS,
        "hwmc": Rule(32),
        "ysl": Rule(4, pattern=r"\d+(\.\d+)?"),
        "islicensePK": Rule(1, allowed=frozenset("01")),
        "licensePK": opt(32),
    },
    "VehElecAccountAdd": {**_TOKEN, **_VEHICLE_ACCOUNT},
    "VehElecAccountModify": {**_TOKEN, **_VEHICLE_ACCOUNT, "licensePK": Rule(64)},
    "VehElecAccountGain": {
        **_TOKEN,
        "license": Rule(14),
        "licenseColor": COLOR,
        "licensePK": opt(64),
    },
    "InnerVehElecAccountAdd": {**_TOKEN, **_INNER_ACCOUNT},
    "InnerVehElecAccountModify": {**_TOKEN, **_INNER_ACCOUNT, "licensePK": Rule(64)},
    "InnerMHYElecAccountAdd": {**_TOKEN, **_MACHINE_ACCOUNT},
    "InnerMHYElecAccountModify": {**_TOKEN, **_MACHINE_ACCOUNT, "licensePK": Rule(64)},
    "GetNeedCompleteVehEx": {**_TOKEN, "companySecretCode": Rule(32)},
    "DrivingLicenseScanEx": {**_TOKEN, "companySecretCode": Rule(32), "drivingLicenseImg": Rule()},
    "CheckFeedbackReport": {
        **_TOKEN,
        **_PROVINCE_PASS,
        **_PROVINCE_CODES,
        "gateSignal": Rule(1, allowed=SIGNAL),
        "date": Rule(12, pattern=r"\d{12}", exact=True),
        "licenseB": Rule(32),
        "licenseColorB": COLOR,
        "fuelTypeB": opt(4, FUELS),
        "emissionStandardB": opt(1, STAGES),
        "isBlackListB": opt(1, BLACKLIST),
        "isExemptB": opt(1, EXEMPT),
        "isControlB": Rule(1, allowed=CONTROL),
        "gateSignalB": Rule(1, allowed=SIGNAL),
        "imgURL1B": opt(),
        "imgURL2B": opt(),
        "dateB": Rule(20, pattern=r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"),
        "reviewer": Rule(20),
    },
}


def violations(message: Any, rules: dict[str, Rule]) -> list[str]:
    """Every way ``message`` breaks ``rules`` (an empty list: it is well formed)."""
    if not isinstance(message, dict):
        return ["the message is not a JSON object"]
    found = [f"{name}: not a field of this message" for name in message if name not in rules]
    for name, rule in rules.items():
        if (problem := rule.check(name, message.get(name))) is not None:
            found.append(problem)
    return found


def filing_problems(message: dict[str, Any], rules: dict[str, Rule]) -> list[str]:
    """Every way a filing breaks its table, its dates (a real date: ``yyyy-MM-dd``,
    ``yyyyMMdd``, ``yyyyMMddHHmmss`` or with a time) and its images (base64 of a JPEG under
    1 MB); the licence and the list (a machine: its one image) not both empty."""
    found = violations(message, rules)
    for name in FILING_DATES:
        value = message.get(name)
        if (
            isinstance(value, str)
            and value
            and not any(
                real_time(value, f)
                for f in ("%Y-%m-%d", "%Y%m%d", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S")
            )
        ):
            found.append(f"{name}: {value!r} is not a date")
    for name in FILING_IMAGES:
        value = message.get(name)
        if isinstance(value, str) and value:
            try:
                image = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                found.append(f"{name}: not base64")
                continue
            if not image.startswith(b"\xff\xd8") or len(image) > 1_000_000:
                found.append(f"{name}: 图片须为小于1M的JPG")
    if "drivingLicenseImg" in rules and not (
        message.get("drivingLicenseImg") or message.get("drivingLicenseImg2")
    ):
        found.append("行驶证与随车清单不能同时为空")
    return found


def serial_agrees(
    serial: str, enterprise: str, gate: str, direction: str | None = None
) -> str | None:
    """The serial number's parts must match the record's enterprise, gate and direction."""
    if serial[:10] != enterprise:
        return "serial number does not start with the enterprise code"
    if serial[10:12] != gate:
        return "serial number does not carry the gate code"
    if direction is not None and serial[12] != {"1": "A", "2": "B"}.get(direction):
        return "serial number's A/B does not match the direction"
    try:
        datetime.strptime(serial[13:], "%y%m%d%H%M%S")  # noqa: DTZ007 - a layout check
    except ValueError:
        return "serial number's time is not a real yyMMddHHmmss"
    return None


def real_time(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)  # noqa: DTZ007 - a layout check
    except ValueError:
        return False
    return True
