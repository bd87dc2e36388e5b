"""Serial numbers (流水号) exactly as spec §6.4.

Layout (25 characters): enterprise code (10) + gate code (2) + ``A`` in / ``B`` out +
``yyMMddHHmmss`` (12) in the site's time zone.

Uniqueness rule: the time part of a new number is the pass's second, or one second after the
last number issued for the same enterprise, gate and direction, whichever is later. Two passes
in the same second therefore get consecutive seconds; a clock that steps backwards never
makes a number repeat. Each lane owns its prefix (the config refuses two lanes with the same
gate and direction) and a :class:`SerialAllocator` that starts from the last number in the
ledger, so the rule holds across restarts; the ledger's UNIQUE constraint is the backstop.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

SERIAL_LENGTH = 25
_TIME_FORMAT = "%y%m%d%H%M%S"

Direction = Literal["in", "out"]


def serial_prefix(enterprise_code: str, gate_code: str, direction: Direction) -> str:
    if len(enterprise_code) != 10 or not enterprise_code.isdigit():
        raise ValueError(f"enterprise code must be 10 digits, got {enterprise_code!r}")
    if len(gate_code) != 2 or not gate_code.isdigit():
        raise ValueError(f"gate code must be 2 digits, got {gate_code!r}")
    return f"{enterprise_code}{gate_code}{'A' if direction == 'in' else 'B'}"


def serial_time(serial: str, zone: ZoneInfo) -> datetime:
    return datetime.strptime(serial[13:], _TIME_FORMAT).replace(tzinfo=zone)


def next_serial(prefix: str, when: datetime, last: str | None) -> str:
    """The serial number for a pass at ``when`` (aware) given the ``last`` one for ``prefix``."""
    if when.tzinfo is None:
        raise ValueError("pass time must carry a time zone")
    candidate = when.replace(microsecond=0)
    if last is not None:
        if not last.startswith(prefix):
            raise ValueError(f"last serial {last!r} does not belong to {prefix!r}")
        floor = serial_time(last, candidate.tzinfo) + timedelta(seconds=1)  # type: ignore[arg-type]
        candidate = max(candidate, floor)
    return prefix + candidate.strftime(_TIME_FORMAT)


def is_valid_serial(serial: str) -> bool:
    if len(serial) != SERIAL_LENGTH or not serial[:12].isdigit() or serial[12] not in "AB":
        return False
    try:
        datetime.strptime(serial[13:], _TIME_FORMAT)  # noqa: DTZ007 - layout check only
    except ValueError:
        return False
    return True


class SerialAllocator:
    """Issues the serial numbers of one prefix (one lane), starting after ``last``: the
    numbers :func:`next_serial` gives, without reading the time back out of ``last`` for
    each (``strptime``, ~50 µs; twice a pass, a peek and the allocation, before the barrier
    moves) — the earliest time the next may have is kept with the number it follows."""

    def __init__(self, prefix: str, last: str | None) -> None:
        self.prefix, self.last = prefix, last
        #: (last, its time zone, the earliest time of the number after it)
        self._after: tuple[str, tzinfo, datetime] | None = None
        #: Seconds the numbers were taken ahead of the clock by passes faster than one a
        #: second, as of the monotonic time beside it (it runs off at one a second).
        self._lead: tuple[float, float] = (0.0, 0.0)

    def start(self, last: str | None) -> None:
        """Continue after ``last`` (the ledger's or the fallback journal's last number of
        this prefix; ``None``: the first), with no lead. ``last`` may lie past the clock:
        after a restore from the replica on purpose (the lost PC's numbers since its last
        sync, with a margin), or because the clock was set back while the daemon was
        stopped — that is no lead (see :meth:`lead`)."""
        self.last, self._lead = last, (0.0, 0.0)

    def _next(self, when: datetime) -> datetime:
        zone = when.tzinfo
        if zone is None:
            raise ValueError("pass time must carry a time zone")
        candidate = when.replace(microsecond=0)
        last = self.last
        if last is None:
            return candidate
        kept = self._after
        if kept is None or kept[0] != last or kept[1] is not zone:
            if not last.startswith(self.prefix):
                raise ValueError(f"last serial {last!r} does not belong to {self.prefix!r}")
            kept = (last, zone, serial_time(last, zone) + timedelta(seconds=1))  # type: ignore[arg-type]
            self._after = kept
        return max(candidate, kept[2])

    def allocate(self, when: datetime, mono: float | None = None) -> str:
        """The next number, for a pass at ``when`` (aware); with ``mono`` (its monotonic
        seconds) counted in :meth:`lead`."""
        at = self._next(when)
        if mono is not None:
            self._lead = (self._lead_with(at, when, mono), mono)
        self.last = self.prefix + at.strftime(_TIME_FORMAT)
        assert at.tzinfo is not None  # _next refused a time without one
        self._after = (self.last, at.tzinfo, at + timedelta(seconds=1))
        return self.last

    def lead(self, when: datetime, mono: float) -> float:
        """Seconds passes faster than one a second took the numbers ahead, with the number
        :meth:`allocate` would issue for ``when`` (monotonic ``mono``): one for each number
        that had to be a second past the last rather than the pass's own second, running
        off at one a second of the monotonic clock. ~0 at any rate a gate has; a flood of
        distinct plates makes it grow. A clock set back (by hand, by NTP; while running or
        stopped) or a start past it (a restore's floor) is not a lead: the numbers go on a
        second a pass from the last, as fast as the monotonic clock runs off."""
        return self._lead_with(self._next(when), when, mono)

    def _lead_with(self, at: datetime, when: datetime, mono: float) -> float:
        """:meth:`lead` with the number's time ``at`` already found (``_next(when)``)."""
        lead, since = self._lead
        lead = max(0.0, lead - max(0.0, mono - since))
        return lead + 1 if at > when.replace(microsecond=0) else lead

    def peek(self, when: datetime) -> str:
        """The number :meth:`allocate` would issue for ``when`` now, not issued."""
        return self.prefix + self._next(when).strftime(_TIME_FORMAT)
