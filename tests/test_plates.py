from __future__ import annotations

import pytest

from edge.plates import PlateColor, normalise_plate, to_halfwidth, within_one_edit


@pytest.mark.parametrize(
    ("raw", "text", "hint"),
    [
        ("豫A12345", "豫A12345", None),
        (" 豫a 12345 ", "豫A12345", None),  # spaces, lower case
        ("豫Ａ１２３４５", "豫A12345", None),  # full-width letters and digits
        ("豫\u3000A12345", "豫A12345", None),  # ideographic space
        ("豫A·12345", "豫A12345", None),  # middle dot separator
        ("豫A-1234学", "豫A1234学", None),
        ("蓝苏A8HK52", "苏A8HK52", PlateColor.BLUE),  # Hikvision colour prefix
        ("黄绿豫AD12345", "豫AD12345", PlateColor.NEW_ENERGY),
        ("绿豫AD12345", "豫AD12345", PlateColor.NEW_ENERGY),
        ("豫AD12345", "豫AD12345", None),  # 8-character new-energy plate
    ],
)
def test_normalise_plate(raw: str, text: str, hint: PlateColor | None) -> None:
    plate = normalise_plate(raw)
    assert (plate.text, plate.color_hint) == (text, hint)
    assert not plate.no_plate


@pytest.mark.parametrize(
    "raw", [None, "", "  ", "_无_", "无牌车", "noPlate", "UNKNOWN", "unknown", "--", "豫A1"]
)
def test_no_plate_markers(raw: str | None) -> None:
    assert normalise_plate(raw).no_plate


def test_halfwidth_leaves_chinese_alone() -> None:
    assert to_halfwidth("豫Ｂ６７８９Ｇ") == "豫B6789G"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("豫A12345", "豫A12345", True),
        ("豫A12345", "豫A12346", True),  # one substitution
        ("豫A12345", "豫A1234", True),  # one deletion
        ("豫A1234", "豫A12345", True),  # one insertion
        ("豫A12345", "豫A123456", True),
        ("豫A12345", "豫A12366", False),
        ("豫A12345", "豫A123", False),
        ("豫A12345", "晋A12346", False),
    ],
)
def test_within_one_edit(a: str, b: str, same: bool) -> None:
    assert within_one_edit(a, b) is same
