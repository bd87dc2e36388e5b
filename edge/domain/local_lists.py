"""The gate's own lists: in-plant vehicles (场内车辆: always allowed, still recorded), a local
allow list and a deny list, each entry with an optional expiry. Pure lookups, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ListKind = Literal["deny", "in-plant", "allow"]
#: When a plate is on several lists, the first kind here wins.
PRECEDENCE: tuple[ListKind, ...] = ("deny", "in-plant", "allow")


@dataclass(frozen=True, slots=True)
class ListEntry:
    plate: str
    kind: ListKind
    reason: str = ""
    expires: datetime | None = None

    def valid_at(self, when: datetime) -> bool:
        return self.expires is None or when < self.expires


class LocalLists:
    def __init__(self, entries: Iterable[ListEntry] = ()) -> None:
        self._by_plate: dict[str, list[ListEntry]] = {}
        for entry in entries:
            self._by_plate.setdefault(entry.plate, []).append(entry)

    def entries(self) -> list[ListEntry]:
        return [entry for entries in self._by_plate.values() for entry in entries]

    def match(self, plate: str | None, when: datetime) -> ListEntry | None:
        """The entry that decides for ``plate`` now, if any (expired entries are ignored)."""
        valid = [e for e in self._by_plate.get(plate or "", []) if e.valid_at(when)]
        return min(valid, key=lambda e: PRECEDENCE.index(e.kind), default=None)
