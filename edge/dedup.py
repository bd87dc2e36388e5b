"""Duplicate-read suppression per lane: one vehicle, one pass, at most one opening.

Cameras report the same vehicle several times (several triggers, a refined read, a resend).
A read is a duplicate when, within the window, the lane already took the same plate, a plate
one edit away from it, or the same camera record id.

Near-duplicates are found through an index of "deletion keys" (the plate and each string made
by deleting one character): two plates within one edit of each other always share a key, so
only plates sharing a key are compared. A check costs the plate's length, not the window's size.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from edge.plates import within_one_edit


def _keys(plate: str) -> set[str]:
    return {plate, *(plate[:i] + plate[i + 1 :] for i in range(len(plate)))}


@dataclass(frozen=True, slots=True)
class _Seen:
    at: float
    plate: str | None
    vendor_id: str | None


class Deduplicator:
    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self._seen: deque[_Seen] = deque()
        self._by_key: defaultdict[str, list[str]] = defaultdict(list)
        self._vendor_ids: defaultdict[str, int] = defaultdict(int)

    def _expire(self, now: float) -> None:
        while self._seen and now - self._seen[0].at > self.window:
            old = self._seen.popleft()
            if old.plate is not None:
                for key in _keys(old.plate):
                    plates = self._by_key[key]
                    plates.remove(old.plate)
                    if not plates:
                        del self._by_key[key]
            if old.vendor_id is not None:
                self._vendor_ids[old.vendor_id] -= 1
                if not self._vendor_ids[old.vendor_id]:
                    del self._vendor_ids[old.vendor_id]

    def _near(self, plate: str) -> bool:
        return any(
            within_one_edit(plate, other)
            for key in _keys(plate)
            for other in self._by_key.get(key, ())
        )

    def is_duplicate(self, plate: str | None, vendor_id: str | None, now: float) -> bool:
        """Check a read at monotonic time ``now``; a new read is remembered, a duplicate not.

        Unreadable plates are only matched by camera record id: two vehicles without plates
        cannot be told apart, and each must leave a row.
        """
        self._expire(now)
        if vendor_id is not None and vendor_id in self._vendor_ids:
            return True
        if plate is not None and self._near(plate):
            return True
        self._seen.append(_Seen(now, plate, vendor_id))
        if plate is not None:
            for key in _keys(plate):
                self._by_key[key].append(plate)
        if vendor_id is not None:
            self._vendor_ids[vendor_id] += 1
        return False
