from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge.domain.serials import (
    SerialAllocator,
    is_valid_serial,
    next_serial,
    serial_prefix,
    serial_time,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 21, 8, 30, 5, 700_000, tzinfo=SH)


def test_layout_matches_spec_6_4() -> None:
    prefix = serial_prefix("4110020001", "01", "in")
    serial = next_serial(prefix, T0, None)
    assert serial == "411002000101A261121083005"
    assert len(serial) == 25
    assert is_valid_serial(serial)
    assert serial_prefix("4110020001", "02", "out") == "411002000102B"


def test_serial_uses_site_time_zone() -> None:
    utc = T0.astimezone(ZoneInfo("UTC"))
    serial = next_serial("411002000101A", utc.astimezone(SH), None)
    assert serial.endswith("261121083005")


def test_same_second_gets_the_next_free_second() -> None:
    prefix = "411002000101A"
    first = next_serial(prefix, T0, None)
    second = next_serial(prefix, T0, first)
    third = next_serial(prefix, T0 + timedelta(milliseconds=100), second)
    assert [s[-6:] for s in (first, second, third)] == ["083005", "083006", "083007"]
    assert len({first, second, third}) == 3


def test_later_pass_keeps_its_own_time() -> None:
    prefix = "411002000101A"
    first = next_serial(prefix, T0, None)
    later = next_serial(prefix, T0 + timedelta(minutes=5), first)
    assert serial_time(later, SH) == (T0 + timedelta(minutes=5)).replace(microsecond=0)


def test_clock_stepping_back_never_reuses_a_number() -> None:
    prefix = "411002000101A"
    last = next_serial(prefix, T0, None)
    earlier = next_serial(prefix, T0 - timedelta(hours=1), last)
    assert earlier > last


def test_rollover_across_midnight_and_year() -> None:
    prefix = "411002000101B"
    last = "411002000101B261231235959"
    nye = datetime(2026, 12, 31, 23, 59, 59, tzinfo=SH)
    assert next_serial(prefix, nye, last) == "411002000101B270101000000"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("41100", "01", "in"), "enterprise code"),
        (("4110020001", "1", "in"), "gate code"),
    ],
)
def test_bad_prefix_parts(args: tuple[str, str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        serial_prefix(*args)  # type: ignore[arg-type]


def test_naive_time_and_foreign_last_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        next_serial("411002000101A", T0.replace(tzinfo=None), None)
    with pytest.raises(ValueError, match="does not belong"):
        next_serial("411002000101A", T0, "411002000102A261121083005")


@pytest.mark.parametrize(
    "serial",
    [
        "411002000101A26112108300",
        "411002000101C261121083005",
        "411002000101A261399083005",
        "x" * 25,
    ],
)
def test_invalid_serials(serial: str) -> None:
    assert not is_valid_serial(serial)


def test_allocator_continues_after_the_last_number() -> None:
    allocator = SerialAllocator("411002000101A", "411002000101A261121083010")
    assert allocator.allocate(T0) == "411002000101A261121083011"  # T0 is earlier: next free
    assert allocator.allocate(T0 + timedelta(minutes=1)) == "411002000101A261121083105"
    assert allocator.last == "411002000101A261121083105"


def test_a_peek_is_what_the_next_allocation_issues() -> None:
    allocator = SerialAllocator("411002000101A", "411002000101A261121083010")
    assert allocator.peek(T0) == "411002000101A261121083011"
    assert allocator.last == "411002000101A261121083010"  # nothing issued
    assert allocator.allocate(T0) == "411002000101A261121083011"
