"""Keep the disk within its budget without losing anything that is not yet forwarded.

- Pass records (the ledger) are never deleted by the daemon (the national guide asks for
  24 months; the spec's §8 for 12 months of supervision data).
- Photos are kept ``photo_retention_days`` and within ``photo_budget_mb``, and the file system
  keeps ``min_free_mb`` free. Pruning removes the oldest photos whose pass is entirely
  forwarded; the row stays, marked pruned.
- With a replica off the box (``[replica]``), a photo is pruned only once it is on the
  replica too: its file was written before ``replicated_before()`` (the last photo round
  that succeeded); until then it counts as unforwarded.
- If only unforwarded photos are left and space is still short, an alarm is raised (logged
  once) and new passes are recorded without their photo (flagged ``photo-skipped``) until
  space is back: recording never stops, unforwarded data is never pruned.
- Outbox entries sent more than ``outbox_sent_keep_days`` ago are deleted (of passes with
  nothing left to send): the outbox holds what is to be sent and recent history, not two
  years of receipts.
- What cameras sent with their reads (kept for diagnosis) is deleted ``diagnosis_keep_days``
  after the read; the passes, their reads and the platform's answers stay.

Each round also refreshes the query planner's statistics.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from edge.ledger.outbox import Outbox
from edge.ledger.passes import PassLedger
from edge.ledger.photos import original_of
from edge.ledger.rows import StoredPhoto

log = structlog.get_logger("edge.ledger.retention")

MB = 1024 * 1024
_BATCH = 200


@dataclass(slots=True)
class DiskState:
    """Shared with the lanes: whether new photos may be stored."""

    accepting_photos: bool = True
    alarm: str | None = None
    photo_bytes: int = 0
    free_bytes: int = 0
    pruned: int = 0
    compacted: int = 0  # sent outbox entries deleted
    forgotten: int = 0  # camera messages deleted (diagnosis_keep_days)


class Retention:
    def __init__(  # noqa: PLR0913 - the [storage] settings, as keywords
        self,
        store: PassLedger,
        photo_dir: Path,
        *,
        retention_days: float,
        budget_mb: float,
        min_free_mb: float,
        interval: float = 3600.0,
        state: DiskState | None = None,
        clock: Callable[[], float] = time.time,
        free_bytes: Callable[[Path], int] | None = None,
        replicated_before: Callable[[], float | None] | None = None,
        outbox: Outbox | None = None,
        outbox_sent_keep_days: float = 0,
        diagnosis_keep_days: float = 0,
    ) -> None:
        self.store, self.photo_dir = store, photo_dir
        #: Sent outbox entries are compacted after this many seconds (None: kept).
        self.outbox, self.sent_keep = (
            outbox,
            (outbox_sent_keep_days * 86400 if outbox_sent_keep_days > 0 else None),
        )
        #: Camera messages are deleted this many seconds after their read (None: kept).
        self.diagnosis_keep = diagnosis_keep_days * 86400 if diagnosis_keep_days > 0 else None
        self.retention_seconds = retention_days * 86400
        self.budget = budget_mb * MB if budget_mb > 0 else None
        self.min_free = min_free_mb * MB
        self.interval, self._clock = interval, clock
        self._free_bytes = free_bytes or (lambda path: shutil.disk_usage(path).free)
        self.state = state or DiskState()
        self.replicated_before = replicated_before

    async def _free(self) -> int:
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        return await asyncio.to_thread(self._free_bytes, self.photo_dir)

    def _delete(self, paths: list[str]) -> None:
        for rel in paths:
            (self.photo_dir / rel).unlink(missing_ok=True)
            original_of(self.photo_dir / rel).unlink(missing_ok=True)

    def _replicated(self, rows: list[StoredPhoto], before: float | None) -> list[StoredPhoto]:
        """The photos among ``rows`` already on the replica (file written before ``before``;
        a file already gone has nothing left to lose)."""
        if before is None:
            return []
        kept = []
        for row in rows:
            try:
                written = (self.photo_dir / row.path).stat().st_mtime
            except FileNotFoundError:
                written = float("-inf")
            if written < before:
                kept.append(row)
        return kept

    async def _prune(self, older_than: float | None, need_bytes: int | None = None) -> int:
        """Prune forwarded photos, oldest first: those older than ``older_than``, or (with
        ``need_bytes``) just enough of them to free that many bytes."""
        rows = await self.store.prunable_photos(older_than, _BATCH)
        if self.replicated_before is not None:
            rows = await asyncio.to_thread(self._replicated, rows, self.replicated_before())
        if need_bytes is not None:
            chosen, freed = [], 0
            for row in rows:
                if freed >= need_bytes:
                    break
                chosen.append(row)
                freed += int(row.size)
            rows = chosen
        if rows:
            await asyncio.to_thread(self._delete, [row.path for row in rows])
            await self.store.mark_pruned([row.id for row in rows])
            self.state.pruned += len(rows)
        return len(rows)

    def _shortfall(self, used: int, free: int) -> int:
        """Bytes to free: over the photo budget, or under the free-space floor."""
        over_budget = used - self.budget if self.budget is not None else 0
        return int(max(over_budget, self.min_free - free, 0))

    async def prune_once(self) -> DiskState:
        """Drop expired photos, then the oldest forwarded ones while space is short."""
        while await self._prune(self._clock() - self.retention_seconds):
            pass
        used, free = await self.store.photo_bytes(), await self._free()
        while (need := self._shortfall(used, free)) and await self._prune(None, need):
            used, free = await self.store.photo_bytes(), await self._free()
        self.state.photo_bytes, self.state.free_bytes = used, free
        short = self._shortfall(used, free) > 0
        if short and self.state.accepting_photos:
            self.state.alarm = (
                f"photos {used // MB} MB (budget {self.budget // MB if self.budget else '-'} MB), "
                f"free {free // MB} MB (floor {self.min_free // MB} MB); only unforwarded "
                "photos are left: new passes are recorded without photos"
            )
            log.error("photo storage full of unforwarded data", detail=self.state.alarm)
        elif not short and not self.state.accepting_photos:
            self.state.alarm = None
            log.info("photo storage has room again; storing photos")
        self.state.accepting_photos = not short
        if self.outbox is not None and self.sent_keep is not None:
            self.state.compacted += await self.outbox.compact_sent(self._clock() - self.sent_keep)
        if self.diagnosis_keep is not None:
            self.state.forgotten += await self.store.forget_messages(
                self._clock() - self.diagnosis_keep
            )
        await self.store.database.optimize()
        return self.state

    async def run(self) -> None:
        while True:
            await self.prune_once()
            await asyncio.sleep(self.interval)
