from __future__ import annotations

from edge.domain.codes import ControlFlag
from edge.domain.decision import Decision
from edge.domain.led_text import led_lines, unknown_placeholders
from edge.domain.plates import PlateColor
from edge.domain.reports import VerifyAnswer


def test_open_lines_show_plate_emission_and_control() -> None:
    answer = VerifyAnswer(ControlFlag.CLEAR, "", "B", "5")
    decision = Decision(
        open=True, code="platform-clear", reason="未管控", source="platform", answer=answer
    )
    lines = led_lines(
        ["{plate}", "{emission}{fuel} {control}", "请通行"], decision, "豫A12345", PlateColor.YELLOW
    )
    assert [line.text for line in lines] == ["豫A12345", "国五柴油 未管控", "请通行"]
    assert all(line.ok for line in lines)


def test_refuse_offline_and_no_plate() -> None:
    decision = Decision(open=False, code="no-plate", reason="无牌车 请联系门卫", source="local")
    lines = led_lines(
        ["{plate} {color}", "{control}", "{reason}", "{emission}"], decision, None, PlateColor.OTHER
    )
    assert [line.text for line in lines] == ["无牌车 其他", "平台离线", "无牌车 请联系门卫"]
    assert not any(line.ok for line in lines)


def test_placeholder_check() -> None:
    assert unknown_placeholders("{plate} {speed}") == {"speed"}
    assert unknown_placeholders("请通行") == set()
