"""Dictionary codes of the spec's appendix B that the gate shows or reasons about."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal


class Direction(StrEnum):
    IN = "in"
    OUT = "out"

    @property
    def city_code(self) -> str:  # tgzt: 1 in, 2 out (§4.1.4)
        return "1" if self is Direction.IN else "2"

    @property
    def photo_type(self) -> int:  # zplx: 1 entry photo, 2 exit photo (§7.3)
        return 1 if self is Direction.IN else 2


class GateSignal(IntEnum):
    """What happened at the barrier; values are the province API's gateSignal (§4.2.11)."""

    PASSED = 0  # lifted and passed
    NOT_LIFTED = 1
    LIFTED_NOT_PASSED = 2

    @property
    def city_code(self) -> str:
        """City bgzt (§4.1.4) knows only 1 lifted-and-passed and 0 not lifted."""
        return "1" if self is GateSignal.PASSED else "0"


class ControlFlag(IntEnum):
    """isControl: 0 not controlled, 1 controlled, 2 the gate decides (province §4.2.2)."""

    CLEAR = 0
    CONTROLLED = 1
    GATE_DECIDES = 2


EMISSION_NAMES: dict[str, str] = {
    "0": "国零",
    "1": "国一",
    "2": "国二",
    "3": "国三",
    "4": "国四",
    "5": "国五",
    "6": "国六",
    "7": "国七",
    "D": "电动",
    "X": "无",
}

FUEL_NAMES: dict[str, str] = {
    "A": "汽油",
    "B": "柴油",
    "C": "电",
    "D": "混合油",
    "E": "天然气",
    "F": "液化石油气",
    "L": "甲醇",
    "M": "乙醇",
    "N": "太阳能",
    "O": "混合动力",
    "P": "氢",
    "Q": "生物燃料",
    "Y": "无",
    "Z": "其他",
}


class EmissionStage(StrEnum):
    """§7.6 排放阶段."""

    STAGE_0 = "0"
    STAGE_1 = "1"
    STAGE_2 = "2"
    STAGE_3 = "3"
    STAGE_4 = "4"
    STAGE_5 = "5"
    STAGE_6 = "6"
    STAGE_7 = "7"
    ELECTRIC = "D"
    NONE = "X"


class FuelType(StrEnum):
    """§7.12 燃油类型."""

    PETROL = "A"
    DIESEL = "B"
    ELECTRIC = "C"
    MIXED_OIL = "D"
    NATURAL_GAS = "E"
    LPG = "F"
    METHANOL = "L"
    ETHANOL = "M"
    SOLAR = "N"
    HYBRID = "O"
    HYDROGEN = "P"
    BIOFUEL = "Q"
    NONE = "Y"
    OTHER = "Z"


class BlacklistType(StrEnum):
    """§7.4 黑名单类型 (empty on the wire: not on a blacklist)."""

    ROADSIDE_TEST = "1"
    HOUSEHOLD_TEST = "2"
    REMOTE_SENSING = "3"
    OVERDUE_REPAIR = "4"
    REPEATED_FAIL = "5"
    BLACK_SMOKE = "6"
    OTHER = "9"


class ExemptType(StrEnum):
    """§7.14 豁免类型 (empty on the wire: no exemption)."""

    DEEP_RETROFIT = "1"
    KEY_SUPPLIES = "2"


class NeedComplete(StrEnum):
    """VehVerifyEx isNeedComplete: 1 = emission fields empty, not to be trusted;
    2 = the registration record needs completing (VehElecAccountAdd)."""

    NO = "0"
    EMISSION_UNKNOWN = "1"
    REGISTRATION_INCOMPLETE = "2"


class PhotoNumber(IntEnum):
    """§7.2 照片编号."""

    FRONT = 1
    REAR = 2


class PhotoType(IntEnum):
    """§7.3 照片类型."""

    ENTRY = 1
    EXIT = 2
    GATE_CRASH = 3


#: §7.8 使用性质.
USE_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRS")

#: §7.7 车辆类型.
VEHICLE_TYPES = frozenset(
    {
        "B11",
        "B12",
        "B13",
        "B14",
        "B15",
        "B16",
        "B17",
        "B18",
        "B19",
        "B1A",
        "B1B",
        "B21",
        "B22",
        "B23",
        "B24",
        "B25",
        "B26",
        "B27",
        "B28",
        "B29",
        "B2A",
        "B2B",
        "B31",
        "B32",
        "B33",
        "B34",
        "B35",
        "B36",
        "B37",
        "B38",
        "B39",
        "D11",
        "D12",
        "F01",
        "F02",
        "F03",
        "F04",
        "F05",
        "F06",
        "F07",
        "F09",
        "G11",
        "G12",
        "G13",
        "G14",
        "G15",
        "G16",
        "G17",
        "G18",
        "G19",
        "G21",
        "G22",
        "G23",
        "G24",
        "G25",
        "G26",
        "G27",
        "G28",
        "G29",
        "G31",
        "G32",
        "G33",
        "G34",
        "G35",
        "G36",
        "G37",
        "G38",
        "H11",
        "H12",
        "H13",
        "H14",
        "H15",
        "H16",
        "H17",
        "H18",
        "H19",
        "H21",
        "H22",
        "H23",
        "H24",
        "H25",
        "H26",
        "H27",
        "H28",
        "H29",
        "H31",
        "H32",
        "H33",
        "H34",
        "H35",
        "H37",
        "H38",
        "H39",
        "H41",
        "H42",
        "H43",
        "H44",
        "H45",
        "H46",
        "H47",
        "H51",
        "H52",
        "H53",
        "H54",
        "H55",
        "J11",
        "J12",
        "J13",
        "K11",
        "K12",
        "K13",
        "K14",
        "K15",
        "K16",
        "K17",
        "K18",
        "K21",
        "K22",
        "K23",
        "K24",
        "K25",
        "K26",
        "K27",
        "K28",
        "K31",
        "K32",
        "K33",
        "K34",
        "K38",
        "K41",
        "K42",
        "K43",
        "M11",
        "M12",
        "M13",
        "M14",
        "M15",
        "M21",
        "M22",
        "N11",
        "Q11",
        "Q12",
        "Q21",
        "Q22",
        "Q31",
        "Q32",
        "R01",
        "R02",
        "T11",
        "T21",
        "T22",
        "T23",
        "X99",
        "Z11",
        "Z21",
        "Z31",
        "Z41",
        "Z51",
    }
)

Empty = Literal[""]
