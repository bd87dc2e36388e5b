from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge.domain import serials
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


def test_the_allocator_reads_the_time_out_of_a_number_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twice a pass, before the barrier moves (a peek, then the allocation), the time of the
    last number was read back out of it with ``strptime`` (~50 µs each): now once, for a
    number it did not issue itself (the ledger's last at start, one set from outside), and
    the numbers are :func:`next_serial`'s."""
    times = [T0 + timedelta(seconds=offset) for offset in (0, 0, 1, 1, 90, 30, 90, 3600)]
    expected, last = [], "411002000101A261121083010"
    for when in times:
        last = next_serial("411002000101A", when, last)
        expected.append(last)
    allocator = SerialAllocator("411002000101A", "411002000101A261121083010")
    reads: list[str] = []
    original = serials.serial_time

    def counted(serial: str, zone: ZoneInfo) -> datetime:
        reads.append(serial)
        return original(serial, zone)

    monkeypatch.setattr(serials, "serial_time", counted)
    issued = []
    for when, wanted in zip(times, expected, strict=True):
        assert allocator.peek(when) == wanted
        issued.append(allocator.allocate(when))
    assert issued == expected
    assert len(set(issued)) == len(issued)  # never one twice, the clock going back included
    assert reads == ["411002000101A261121083010"]
    allocator.start("411002000101A261121093000")  # as the lane starts it from its journal
    assert allocator.allocate(T0) == "411002000101A261121093001"
    assert reads[1:] == ["411002000101A261121093000"]


def test_the_lead_is_what_passes_faster_than_one_a_second_took() -> None:
    """Passes faster than one a second take the numbers ahead of the clock (the lane refuses
    reads beyond ``max_serial_lead_seconds``); as time passes the lead goes."""
    allocator = SerialAllocator("411002000101A", None)
    assert allocator.lead(T0, 0.0) == 0
    for _ in range(5):
        allocator.allocate(T0, 0.0)
    assert allocator.lead(T0, 0.0) == 5  # the sixth in the same second: 5 s ahead
    assert allocator.lead(T0 + timedelta(seconds=3), 3.0) == 2
    assert allocator.lead(T0 + timedelta(seconds=9), 9.0) == 0


@pytest.mark.parametrize("ahead", [timedelta(minutes=10), timedelta(hours=1), timedelta(days=1)])
def test_a_start_past_the_clock_is_no_lead_while_the_clock_catches_up(ahead: timedelta) -> None:
    """The ledger's last number past the clock — a restore from the replica sets a floor for
    the lost PC's numbers; a clock set back while the daemon was stopped — is not a lead:
    a vehicle every 10 s for an hour is never refused, however far ahead the numbers are.
    (Measured from the starting number, the lane refused every read once 60 had passed,
    until the clock caught up: a fresh verification's finding, session 17.)"""
    allocator = SerialAllocator("411002000101A", None)
    allocator.start(next_serial("411002000101A", T0 + ahead, None))
    leads = []
    for n in range(360):
        when, mono = T0 + timedelta(seconds=10 * n), 100.0 + 10 * n
        leads.append(allocator.lead(when, mono))
        allocator.allocate(when, mono)
    assert max(leads) <= 1
    if ahead >= timedelta(hours=1):
        assert serial_time(allocator.last or "", SH) > when  # the clock has not caught up
    for _ in range(70):  # but a flood still takes them ahead, from there
        allocator.allocate(when, mono)
    assert allocator.lead(when, mono) >= 60
    assert allocator.lead(when + timedelta(seconds=90), mono + 90) <= 1  # and it runs off


def test_a_clock_set_back_while_running_is_no_lead() -> None:
    """NTP or a technician sets the clock back an hour while the daemon runs: the numbers go
    on from the last (never repeated), and the lead is measured by the monotonic clock, so
    the gate goes on; a clock set forward is the clock."""
    allocator = SerialAllocator("411002000101A", None)
    for n in range(100):
        allocator.allocate(T0 + timedelta(seconds=n), float(n))
    back = T0 + timedelta(seconds=100) - timedelta(hours=1)
    assert allocator.lead(back, 100.0) <= 1
    for n in range(100, 400):  # a vehicle every 5 s on the set-back clock
        when, mono = back + timedelta(seconds=5 * (n - 100)), 100.0 + 5 * (n - 100)
        assert allocator.lead(when, mono) <= 1
        allocator.allocate(when, mono)
    forward = T0 + timedelta(days=2)
    assert allocator.lead(forward, 2000.0) == 0
    assert allocator.allocate(forward, 2000.0) == next_serial("411002000101A", forward, None)
