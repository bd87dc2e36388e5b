"""Wire messages of the city platform API (spec §2, §4.1): field names and lengths as specified.

Requests are strict (``extra="forbid"``, lengths, codes): a message that would break the spec
fails here, before it is sent. Replies are lenient about extra fields and about numbers sent
as strings or strings sent as numbers, and strict about what the gate relies on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from edge.domain.plates import PlateColor
from edge.uplink.platform.registration_models import VehicleRegistration

PATH_GET = "/restapi/transportControl/get_data"
PATH_PUT = "/restapi/transportControl/put_data"
PATH_FILE = "/restapi/transportControl/put_file"

SUCCESS_CODES = frozenset({"200", "201"})
TOKEN_LIFETIME_SECONDS = 2 * 60 * 60
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
SERIAL_PATTERN = r"^\d{12}[AB]\d{12}$"
#: §2.2 "单张照片不超过 1M"; read strictly as 1,000,000 bytes so both readings hold.
MAX_PHOTO_BYTES = 1_000_000


def _to_str(value: Any) -> Any:
    if isinstance(value, int | float):
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    return value


WireStr = Annotated[str, BeforeValidator(_to_str)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class TokenRequest(_Request):
    organ: str = Field(min_length=1, max_length=32)
    ipctype: Literal["getAccessToken"] = "getAccessToken"
    username: str = Field(min_length=1, max_length=20)
    password: str = Field(min_length=1, max_length=30)


class TokenReply(_Reply):
    code: WireStr
    status: WireStr = ""
    access_token: WireStr | None = Field(default=None, max_length=50)
    datetime: WireStr | None = None


class CheckVehicleQuery(_Request):
    license: str = Field(min_length=1, max_length=20)
    licenseColor: PlateColor


class CheckVehicleResult(_Reply):
    license: WireStr = ""
    licenseColor: WireStr = ""
    # The city spec knows 0/1; 2 ("the gate decides") is accepted as the province API defines it.
    isControl: Annotated[Literal["0", "1", "2"], BeforeValidator(_to_str)]
    fuelType: WireStr = Field(default="", max_length=4)
    emissionStandard: WireStr = Field(default="", max_length=1)
    controlReason: WireStr = Field(default="", max_length=300)
    # Not in the city spec's table (§4.1.1): a city platform that also says whether the
    # vehicle's filing must be completed says it as VehVerifyEx does (0, 1, 2; issue 15);
    # any other value is taken as 0.
    isNeedComplete: WireStr = Field(default="0", max_length=4)


class _PassFields(_Request):
    """The fields that identify a pass in every city message about it (§4.1.4–4.1.6)."""

    lsh: str = Field(max_length=32, pattern=SERIAL_PATTERN)
    qybh: str = Field(max_length=20, pattern=r"^\d{10}$")
    qymc: str = Field(min_length=1, max_length=150)
    dzbh: str = Field(pattern=r"^\d{2}$")
    cphm: str = Field(min_length=1, max_length=20)
    cpys: PlateColor


class DrivingRecord(_PassFields):
    """shareDrivingRecord (§4.1.4)."""

    tgsjq: str = Field(max_length=32, pattern=TIME_PATTERN)
    tgsjz: str = Field(max_length=32, pattern=TIME_PATTERN)
    tgzt: Literal["1", "2"]
    bgzt: Literal["0", "1"]


class PhotoInfo(_PassFields):
    """sharePhotoInfo (§4.1.5); ``base64Image`` only when photos travel inside the JSON."""

    zpbh: Literal["1", "2"]
    zplx: Literal["1", "2", "3"]
    pzsj: str = Field(max_length=32, pattern=TIME_PATTERN)
    base64Image: str | None = None


class GoodsRecord(_PassFields):
    """shareGoodsRecord (§4.1.6)."""

    hwmc: str = Field(min_length=1, max_length=32)
    ysl: str = Field(min_length=1, max_length=4, pattern=r"^\d+(\.\d+)?$")
    djsj: str = Field(max_length=32, pattern=TIME_PATTERN)


#: shareVehInfo (§4.1.2) sends the same registration record as the province API.
VehicleInfo = VehicleRegistration


class Envelope(_Request):
    """Common request structure (§2.4)."""

    organ: str = Field(min_length=1, max_length=32)
    ipctype: str = Field(min_length=1, max_length=64)
    access_token: str = Field(min_length=1, max_length=50)
    value: dict[str, Any]


class CityReply(_Reply):
    """Common reply structure (§2.5); ``value`` present on getCheckVehicle.

    shareVehInfo's example answers in the province shape (``result``/``err``/``data``); such a
    reply is read as code 200 for "success" and 952 with ``err`` for "fail".
    """

    code: WireStr
    status: WireStr = ""
    value: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _province_shape(cls, data: Any) -> Any:
        if isinstance(data, dict) and "code" not in data and "result" in data:
            ok = data["result"] == "success"
            return {"code": "200" if ok else "952", "status": data.get("err", "")}
        return data
