"""LED wording: the configured templates filled with what is known about the vehicle."""

from __future__ import annotations

import string
from collections.abc import Sequence

from drivers.base import DisplayLine
from edge.domain.codes import EMISSION_NAMES, FUEL_NAMES, ControlFlag
from edge.domain.decision import Decision
from edge.domain.plates import COLOR_NAMES, PlateColor

PLACEHOLDERS = frozenset({"plate", "color", "emission", "fuel", "control", "reason"})

_CONTROL_TEXT = {
    ControlFlag.CLEAR: "未管控",
    ControlFlag.CONTROLLED: "管控车辆",
    ControlFlag.GATE_DECIDES: "道闸判定",
}


def unknown_placeholders(template: str) -> set[str]:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    return names - PLACEHOLDERS


def led_lines(
    templates: Sequence[str], decision: Decision, plate: str | None, color: PlateColor
) -> list[DisplayLine]:
    answer = decision.answer
    values = {
        "plate": plate or "无牌车",
        "color": COLOR_NAMES[color],
        "emission": EMISSION_NAMES.get(answer.emission, "") if answer else "",
        "fuel": FUEL_NAMES.get(answer.fuel, "") if answer else "",
        "control": _CONTROL_TEXT[answer.control] if answer else "平台离线",
        "reason": decision.reason,
    }
    lines = (" ".join(template.format_map(values).split()) for template in templates)
    return [DisplayLine(text, decision.open) for text in lines if text]
