"""Dictionary codes of the spec's appendix B that the gate shows or reasons about."""

from __future__ import annotations

from enum import IntEnum, StrEnum


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
