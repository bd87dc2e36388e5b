"""Duplicate-read suppression per lane: one vehicle, one pass, at most one opening.

Cameras report the same vehicle several times (several triggers, a refined read, a resend).
A read is a duplicate when, within the window, the lane already took the same plate, a plate
one edit away from it, or the same camera record id.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from edge.plates import within_one_edit


@dataclass(frozen=True, slots=True)
class _Seen:
    at: float
    plate: str | None
    vendor_id: str | None


class Deduplicator:
    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self._seen: deque[_Seen] = deque()

    def _expire(self, now: float) -> None:
        while self._seen and now - self._seen[0].at > self.window:
            self._seen.popleft()

    def is_duplicate(self, plate: str | None, vendor_id: str | None, now: float) -> bool:
        """Check a read at monotonic time ``now``; a new read is remembered, a duplicate not.

        Unreadable plates are only matched by camera record id: two vehicles without plates
        cannot be told apart, and each must leave a row.
        """
        self._expire(now)
        for seen in self._seen:
            if vendor_id is not None and seen.vendor_id == vendor_id:
                return True
            if plate is not None and seen.plate is not None and within_one_edit(plate, seen.plate):
                return True
        self._seen.append(_Seen(now, plate, vendor_id))
        return False
