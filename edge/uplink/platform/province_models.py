"""Wire messages of the province platform API (spec §4.2), field names and lengths as specified.

Requests are strict: a message that would break the spec fails here, before it is sent.
Replies are lenient about extra fields and number/string types, strict about what the gate
relies on. Codes that may be absent on the wire (no blacklist, no exemption, unknown stage)
travel as "".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from edge.domain.codes import (
    BlacklistType,
    EmissionStage,
    Empty,
    ExemptType,
    FuelType,
    NeedComplete,
)
from edge.domain.plates import PlateColor
from edge.uplink.platform.registration_models import (
    InnerVehicleRegistration,
    MachineRegistration,
    Request,
    VehicleRegistration,
)

#: SendEnterExitDataEx ``date``: the spec gives length 12 and no format; the config chooses.
DATE_FORMATS = {"yyMMddHHmmss": "%y%m%d%H%M%S", "yyyyMMddHHmm": "%Y%m%d%H%M"}
#: GetAuthorizationOrg ``expire`` / ``serverTime`` (length 14).
AUTH_TIME_FORMAT = "%Y%m%d%H%M%S"
FEEDBACK_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SERIAL_PATTERN = r"^\d{12}[AB]\d{12}$"


def _to_str(value: Any) -> Any:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return str(int(value))
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


WireStr = Annotated[str, BeforeValidator(_to_str)]
Flag012 = Literal["0", "1", "2"]


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


class ProvinceReply(_Reply):
    """Common reply: ``result`` success/fail, ``err`` the reason, ``data``."""

    result: Literal["success", "fail"]
    err: WireStr = ""
    data: Any = None


# -- auth ----------------------------------------------------------------------------------


class AuthRequest(Request):
    orgSecretCode: str = Field(min_length=1, max_length=32)
    username: str = Field(min_length=1, max_length=32)
    pwd: str = Field(min_length=1, max_length=32)


class AuthData(_Reply):
    accessToken: WireStr = Field(min_length=1, max_length=64)
    expire: WireStr = ""
    serverTime: WireStr = ""


# -- VehVerifyEx ---------------------------------------------------------------------------


class VerifyRequest(Request):
    accessToken: str = Field(min_length=1, max_length=64)
    companySecretCode: str = Field(min_length=1, max_length=32)
    gateSecretCode: str = Field(min_length=1, max_length=32)
    license: str = Field(min_length=1, max_length=20)
    licenseColor: PlateColor


class VerifyData(_Reply):
    license: WireStr = ""
    licenseColor: WireStr = ""
    fuelType: WireStr = Field(default="", max_length=4)
    registerDate: WireStr = ""
    syxz: WireStr = ""
    vinLast6: WireStr = ""
    vehType: WireStr = ""
    # The spec's example writes the key as " GVM" (with a space); accept both.
    GVM: WireStr = Field(default="", validation_alias=AliasChoices("GVM", " GVM"))
    emissionStandard: WireStr = Field(default="", max_length=1)
    isBlackList: WireStr = ""
    isExempt: WireStr = ""
    isControl: Annotated[Flag012, BeforeValidator(_to_str)]
    controlReason: WireStr = Field(default="", max_length=300)
    isNeedComplete: Annotated[NeedComplete, BeforeValidator(_to_str)] = NeedComplete.NO
    licensePK: WireStr = ""


# -- records -------------------------------------------------------------------------------


#: isControl in records (§4.2.11, §4.2.27): "0" no, "1" yes — never empty, never 2.
Flag01 = Literal["0", "1"]


class _VehicleCodes(Request):
    """Codes copied from the verify answer into records ("" when not known: the platform
    sends them empty itself, and §7.4 / §7.14 have no code for "not listed"); ``isControl`` is
    the gate's resolved answer, required."""

    fuelType: FuelType | Empty = ""
    emissionStandard: EmissionStage | Empty = ""
    isBlackList: BlacklistType | Empty = ""
    isExempt: ExemptType | Empty = ""
    isControl: Flag01


class _PassFields(Request):
    """The fields that identify a pass in every province message about it."""

    serialNum: str = Field(max_length=32, pattern=SERIAL_PATTERN)
    companyCode: str = Field(max_length=32, pattern=r"^\d{10}$")
    gateCode: str = Field(max_length=32, pattern=r"^\d{2}$")
    license: str = Field(min_length=1, max_length=32)
    licenseColor: PlateColor


class EnterExitRecord(_PassFields, _VehicleCodes):
    """One entry of SendEnterExitDataEx ``list`` (§4.2.11)."""

    gateSignal: Literal["0", "1", "2"]
    date: str = Field(min_length=12, max_length=12, pattern=r"^\d{12}$")
    imgURL1: str = Field(default="", max_length=64)
    imgURL2: str = Field(default="", max_length=64)
    islicensePK: Literal["0", "1"]
    licensePK: str = Field(default="", max_length=32)

    @model_validator(mode="after")
    def _pk_flag_matches(self) -> EnterExitRecord:
        if (self.islicensePK == "1") != bool(self.licensePK):
            raise ValueError("islicensePK must be 1 exactly when licensePK is given")
        return self


EnterExitList = list[EnterExitRecord]  # named here: the field "list" hides the builtin below


class EnterExitRequest(Request):
    accessToken: str = Field(min_length=1, max_length=64)
    list: EnterExitList = Field(min_length=1)


class GoodsRecord(_PassFields):
    """One entry of SendGoodsRecordData ``list`` (§4.2.14)."""

    hwmc: str = Field(min_length=1, max_length=32)
    ysl: str = Field(min_length=1, max_length=4, pattern=r"^\d+(\.\d+)?$")
    islicensePK: Literal["0", "1"] = "0"
    licensePK: str = Field(default="", max_length=32)


GoodsList = list[GoodsRecord]


class GoodsRequest(Request):
    accessToken: str = Field(min_length=1, max_length=64)
    list: GoodsList = Field(min_length=1)


# -- vehicle registration (电子备案) ---------------------------------------------------------


class VehAccount(VehicleRegistration):
    """VehElecAccountAdd (§4.2.15); with ``licensePK`` it is VehElecAccountModify (§4.2.16)."""

    accessToken: str = Field(min_length=1, max_length=64)


class VehAccountModify(VehAccount):
    licensePK: str = Field(min_length=1, max_length=64)


class VehAccountGainRequest(Request):
    accessToken: str = Field(min_length=1, max_length=64)
    license: str = Field(min_length=1, max_length=14)
    licenseColor: PlateColor
    licensePK: str = Field(default="", max_length=64)


class VehAccountData(_Reply):
    license: WireStr = ""
    licenseColor: WireStr = ""
    licensePK: WireStr = ""
    vin: WireStr = ""
    engineNo: WireStr = ""
    onwer: WireStr = ""
    registerDate: WireStr = ""
    emissionStandard: WireStr = ""


class VehAccountGainData(VehAccountData):
    """VehElecAccountGain's reply (§4.2.17): the filing with its images (base64)."""

    drivingLicenseImg: WireStr = ""
    drivingLicenseImg2: WireStr = ""


# -- in-plant vehicles and non-road machinery (§4.1.7/4.1.8, §4.2.18–21) --------------------


class InnerVehAccount(InnerVehicleRegistration):
    accessToken: str = Field(min_length=1, max_length=64)


class InnerVehAccountModify(InnerVehAccount):
    """InnerVehElecAccountModify (§4.2.19): licensePK 不能为空，不可修改."""

    licensePK: str = Field(min_length=1, max_length=64)


class MachineAccount(MachineRegistration):
    accessToken: str = Field(min_length=1, max_length=64)


class MachineAccountModify(MachineAccount):
    licensePK: str = Field(min_length=1, max_length=64)


class MachineAccountData(_Reply):
    mhyPlate: WireStr = ""
    licensePK: WireStr = ""


# -- filing helpers: GetNeedCompleteVehEx (§4.2.3), DrivingLicenseScanEx (§4.2.4) ------------


class NeedCompleteRequest(Request):
    accessToken: str = Field(min_length=1, max_length=64)
    companySecretCode: str = Field(max_length=32)


class NeedCompleteVehicle(_Reply):
    license: WireStr = ""
    licenseColor: WireStr = ""
    addDate: WireStr = ""


class LicenseScanRequest(Request):
    accessToken: str = Field(min_length=1, max_length=64)
    companySecretCode: str = Field(max_length=32)
    drivingLicenseImg: str = Field(min_length=1)


class LicenseScanData(_Reply):
    """What DrivingLicenseScanEx recognised on a 行驶证 (every field as the platform wrote
    it; none is trusted before a person checks the form)."""

    license: WireStr = ""
    vehicleType: WireStr = ""
    vin: WireStr = ""
    useCharacter: WireStr = ""
    engineNo: WireStr = ""
    onwer: WireStr = ""
    address: WireStr = ""
    model: WireStr = ""
    registerDate: WireStr = ""
    issueDate: WireStr = ""


# -- CheckFeedbackReport (§4.2.27) -----------------------------------------------------------


class CheckFeedback(_PassFields, _VehicleCodes):
    """A pass corrected after review: the values before, the values after (suffix B)."""

    accessToken: str = Field(min_length=1, max_length=64)
    gateSignal: Literal["0", "1", "2"]
    date: str = Field(min_length=12, max_length=12, pattern=r"^\d{12}$")
    licenseB: str = Field(min_length=1, max_length=32)
    licenseColorB: PlateColor
    fuelTypeB: FuelType | Empty = ""
    emissionStandardB: EmissionStage | Empty = ""
    isBlackListB: BlacklistType | Empty = ""
    isExemptB: ExemptType | Empty = ""
    isControlB: Flag01
    gateSignalB: Literal["0", "1", "2"]
    imgURL1B: str = ""  # base64 driving licence
    imgURL2B: str = ""  # base64 front-45° photo
    dateB: str = Field(max_length=20, pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
    reviewer: str = Field(min_length=1, max_length=20)
