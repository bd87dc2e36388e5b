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


#: §7.8 使用性质: code → name.
USE_CHARACTER_NAMES: dict[str, str] = {
    "A": "非营运",
    "B": "公路客运",
    "C": "公交客运",
    "D": "出租客运",
    "E": "旅游客运",
    "F": "货运",
    "G": "租赁",
    "H": "警用",
    "I": "消防",
    "J": "救护",
    "K": "工程抢险",
    "L": "营转非",
    "M": "出租转非",
    "N": "教练",
    "O": "幼儿校车",
    "P": "小学生校车",
    "Q": "初中生校车",
    "R": "危险品运输",
    "S": "中小学生校车",
}
USE_CHARACTERS = frozenset(USE_CHARACTER_NAMES)

#: §7.7 车辆类型: code → name.
VEHICLE_TYPE_NAMES: dict[str, str] = {
    "B11": "重型普通半挂车",
    "B12": "重型厢式半挂车",
    "B13": "重型罐式半挂车",
    "B14": "重型平板半挂车",
    "B15": "重型集装箱半挂车",
    "B16": "重型自卸半挂车",
    "B17": "重型特殊结构半挂车",
    "B18": "重型仓栅式半挂车",
    "B19": "重型旅居半挂车",
    "B1A": "重型专项作业半挂车",
    "B1B": "重型低平板半挂车",
    "B21": "中型普通半挂车",
    "B22": "中型厢式半挂车",
    "B23": "中型罐式半挂车",
    "B24": "中型平板半挂车",
    "B25": "中型集装箱半挂车",
    "B26": "中型自卸半挂车",
    "B27": "中型特殊结构半挂车",
    "B28": "中型仓栅式半挂车",
    "B29": "中型旅居半挂车",
    "B2A": "中型专项作业半挂车",
    "B2B": "中型低平板半挂车",
    "B31": "轻型普通半挂车",
    "B32": "轻型厢式半挂车",
    "B33": "轻型罐式半挂车",
    "B34": "轻型平板半挂车",
    "B35": "轻型自卸半挂车",
    "B36": "轻型仓栅式半挂车",
    "B37": "轻型旅居半挂车",
    "B38": "轻型专项作业半挂车",
    "B39": "轻型低平板半挂车",
    "D11": "无轨电车",
    "D12": "有轨电车",
    "F01": "自行车",
    "F02": "三轮车",
    "F03": "手推车",
    "F04": "残疾人专用车",
    "F05": "畜力车",
    "F06": "助力自行车",
    "F07": "电动自行车",
    "F09": "其他非机动车",
    "G11": "重型普通全挂车",
    "G12": "重型厢式全挂车",
    "G13": "重型罐式全挂车",
    "G14": "重型平板全挂车",
    "G15": "重型集装箱全挂车",
    "G16": "重型自卸全挂车",
    "G17": "重型仓栅式全挂车",
    "G18": "重型旅居全挂车",
    "G19": "重型专项作业全挂车",
    "G21": "中型普通全挂车",
    "G22": "中型厢式全挂车",
    "G23": "中型罐式全挂车",
    "G24": "中型平板全挂车",
    "G25": "中型集装箱全挂车",
    "G26": "中型自卸全挂车",
    "G27": "中型仓栅式全挂车",
    "G28": "中型旅居全挂车",
    "G29": "中型专项作业全挂车",
    "G31": "轻型普通全挂车",
    "G32": "轻型厢式全挂车",
    "G33": "轻型罐式全挂车",
    "G34": "轻型平板全挂车",
    "G35": "轻型自卸全挂车",
    "G36": "轻型仓栅式全挂车",
    "G37": "轻型旅居全挂车",
    "G38": "轻型专项作业全挂车",
    "H11": "重型普通货车",
    "H12": "重型厢式货车",
    "H13": "重型封闭货车",
    "H14": "重型罐式货车",
    "H15": "重型平板货车",
    "H16": "重型集装厢车",
    "H17": "重型自卸货车",
    "H18": "重型特殊结构货车",
    "H19": "重型仓栅式货车",
    "H21": "中型普通货车",
    "H22": "中型厢式货车",
    "H23": "中型封闭货车",
    "H24": "中型罐式货车",
    "H25": "中型平板货车",
    "H26": "中型集装厢车",
    "H27": "中型自卸货车",
    "H28": "中型特殊结构货车",
    "H29": "中型仓栅式货车",
    "H31": "轻型普通货车",
    "H32": "轻型厢式货车",
    "H33": "轻型封闭货车",
    "H34": "轻型罐式货车",
    "H35": "轻型平板货车",
    "H37": "轻型自卸货车",
    "H38": "轻型特殊结构货车",
    "H39": "轻型仓栅式货车",
    "H41": "微型普通货车",
    "H42": "微型厢式货车",
    "H43": "微型封闭货车",
    "H44": "微型罐式货车",
    "H45": "微型自卸货车",
    "H46": "微型特殊结构货车",
    "H47": "微型仓栅式货车",
    "H51": "普通低速货车",
    "H52": "厢式低速货车",
    "H53": "罐式低速货车",
    "H54": "自卸低速货车",
    "H55": "仓栅式低速货车",
    "J11": "轮式装载机械",
    "J12": "轮式挖掘机械",
    "J13": "轮式平地机械",
    "K11": "大型普通客车",
    "K12": "大型双层客车",
    "K13": "大型卧铺客车",
    "K14": "大型铰接客车",
    "K15": "大型越野客车",
    "K16": "大型轿车",
    "K17": "大型专用客车",
    "K18": "大型专用校车",
    "K21": "中型普通客车",
    "K22": "中型双层客车",
    "K23": "中型卧铺客车",
    "K24": "中型铰接客车",
    "K25": "中型越野客车",
    "K26": "中型轿车",
    "K27": "中型专用客车",
    "K28": "中型专用校车",
    "K31": "小型普通客车",
    "K32": "小型越野客车",
    "K33": "小型轿车",
    "K34": "小型专用客车",
    "K38": "小型专用校车",
    "K41": "微型普通客车",
    "K42": "微型越野客车",
    "K43": "微型轿车",
    "M11": "普通正三轮摩托车",
    "M12": "轻便正三轮摩托车",
    "M13": "正三轮载客摩托车",
    "M14": "正三轮载货摩托车",
    "M15": "侧三轮摩托车",
    "M21": "普通二轮摩托车",
    "M22": "轻便二轮摩托车",
    "N11": "三轮汽车",
    "Q11": "重型半挂牵引车",
    "Q12": "重型全挂牵引车",
    "Q21": "中型半挂牵引车",
    "Q22": "中型全挂牵引车",
    "Q31": "轻型半挂牵引车",
    "Q32": "轻型全挂牵引车",
    "R01": "道路挖掘",
    "R02": "道路占用",
    "T11": "大型轮式拖拉机",
    "T21": "小型轮式拖拉机",
    "T22": "手扶拖拉机",
    "T23": "手扶变形运输机",
    "X99": "其它",
    "Z11": "大型专项作业车",
    "Z21": "中型专项作业车",
    "Z31": "小型专项作业车",
    "Z41": "微型专项作业车",
    "Z51": "重型专项作业车",
}
VEHICLE_TYPES = frozenset(VEHICLE_TYPE_NAMES)

Empty = Literal[""]
