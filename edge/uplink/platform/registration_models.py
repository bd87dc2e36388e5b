"""The registration records (电子备案) both platform modes send (spec §4.1.2, §4.1.7, §4.1.8;
§4.2.15, §4.2.18, §4.2.20): the city API as they are, the province API's messages
(:mod:`edge.uplink.platform.province_models`) with a token. Apart from the province API's other
messages, which a city-mode daemon does not load (issue 19: ~0.5 MiB of models at start).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from edge.domain.codes import USE_CHARACTERS, VEHICLE_TYPES, EmissionStage, Empty
from edge.domain.plates import PlateColor


def _vehicle_type(value: str) -> str:
    if value and value not in VEHICLE_TYPES:
        raise ValueError(f"{value!r} is not a vehicle type code of §7.7")
    return value


def _use_character(value: str) -> str:
    if value and value not in USE_CHARACTERS:
        raise ValueError(f"{value!r} is not a use-character code of §7.8")
    return value


VehicleTypeCode = Annotated[str, Field(max_length=3), BeforeValidator(_vehicle_type)]
UseCharacterCode = Annotated[str, Field(max_length=1), BeforeValidator(_use_character)]


class Request(BaseModel):
    """A request message: strict (a message that would break the spec fails here)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class VehicleRegistration(Request):
    """A vehicle's registration record (电子备案): city shareVehInfo (§4.1.2) sends it as is,
    province VehElecAccountAdd (§4.2.15) with a token."""

    companySecretCode: str = Field(default="", max_length=32)
    license: str = Field(min_length=1, max_length=14)
    licenseColor: PlateColor
    vehicleType: VehicleTypeCode = ""
    vin: str = Field(default="", max_length=32)
    useCharacter: UseCharacterCode = ""
    engineNo: str = Field(default="", max_length=32)
    onwer: str = Field(default="", max_length=100)  # spec spelling
    address: str = Field(default="", max_length=300)
    model: str = Field(default="", max_length=100)
    registerDate: str = Field(default="", max_length=14)
    issueDate: str = Field(default="", max_length=14)
    emissionStandard: EmissionStage | Empty = ""
    drivingLicenseImg: str = ""
    drivingLicenseImg2: str = ""

    @model_validator(mode="after")
    def _one_image(self) -> VehicleRegistration:
        if not (self.drivingLicenseImg or self.drivingLicenseImg2):
            raise ValueError("the driving licence and the vehicle list cannot both be empty")
        return self


Status = Literal["1", "2", "3"]


class InnerVehicleRegistration(VehicleRegistration):
    """An in-plant vehicle (厂内运输车辆): city shareInnerVehInfo (§4.1.7) in the envelope,
    province InnerVehElecAccountAdd (§4.2.18) with a token; ``carStatus`` 1 正常 2 封存 3 注销."""

    companyCode: str = Field(min_length=1, max_length=32)
    carStatus: Status


class MachineRegistration(Request):
    """Non-road mobile machinery (非道路移动机械): city shareInnerMHYElec (§4.1.8), province
    InnerMHYElecAccountAdd (§4.2.20). ``mhyPlate`` is in no request table but in every
    example and reply: sent (§4.5 item 6). ``imageInfo``: 发动机铭牌 or 随车清单, base64."""

    companySecretCode: str = Field(default="", max_length=32)
    companyCode: str = Field(min_length=1, max_length=32)
    mhyPlate: str = Field(min_length=1, max_length=14)
    mhyJXMC: str = Field(min_length=1, max_length=64)
    emissionLevel: EmissionStage
    mhyFrameNo: str = Field(min_length=1, max_length=64)
    mhyProdDate: str = Field(min_length=1, max_length=14)
    imageInfo: str = Field(min_length=1)
    mhyStatus: Status
