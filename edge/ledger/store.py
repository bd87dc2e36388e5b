"""The local ledger in SQLite: passes, photos and the outbox that forwards them.

Durability: WAL with ``synchronous=FULL``, so a committed pass survives ``kill -9`` and power
loss (on storage that honours flushes). A gate commits about one pass a second at peak, far
below what one fsync per commit allows. A pass, its read and its record's outbox entry are
written in one transaction, before the barrier moves; its photo rows and their entries with
what the barrier did, before the camera is answered.

The ledger is one :class:`~edge.ledger.database.Database` (connections, write lock,
transactions) and parts over it, one per concern: :class:`~edge.ledger.passes.PassLedger`,
:class:`~edge.ledger.outbox.Outbox`, :class:`~edge.ledger.admin.AdminLedger` (lists and
plans) and :class:`~edge.ledger.admin.AuditLog`. :class:`Store` is all of them at once, for
the daemon, the commands and tests; a consumer that needs one concern is typed with its part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from edge.config.model import Config
from edge.ledger.admin import AdminLedger, AuditLog
from edge.ledger.database import (
    Database,
    LedgerDatabaseError,
    LedgerUnwritableError,
    ledger_exists,
    unwritable_kind,
)
from edge.ledger.filings import FilingLedger
from edge.ledger.inspection import InspectionLedger
from edge.ledger.need_complete import NeedCompleteLedger
from edge.ledger.outbox import Outbox
from edge.ledger.passes import PassLedger
from edge.ledger.rows import LatePhotos, NewPass, NewPhoto, NewRead, OutboxEntry, RecordedPass
from edge.ledger.weighings import WeighingLedger

__all__ = [
    "Database",
    "LatePhotos",
    "LedgerDatabaseError",
    "LedgerUnwritableError",
    "NewPass",
    "NewPhoto",
    "NewRead",
    "OutboxEntry",
    "RecordedPass",
    "Store",
    "ledger_exists",
    "unwritable_kind",
]


class Store(
    PassLedger,
    Outbox,
    AdminLedger,
    AuditLog,
    WeighingLedger,
    FilingLedger,
    NeedCompleteLedger,
    InspectionLedger,
):
    """Every part of the ledger over one database."""

    @classmethod
    async def open(
        cls, path: Path, clock: Callable[[], float] = time.time, *, autocheckpoint: bool = True
    ) -> Store:
        return cls(await Database.open(path, clock, autocheckpoint=autocheckpoint))

    @classmethod
    async def open_for(cls, cfg: Config, clock: Callable[[], float] = time.time) -> Store:
        """The ledger ``cfg`` names, opened as every process that writes it must be: with a
        replica configured, SQLite's automatic checkpoint off, so that Litestream alone
        checkpoints the WAL (docs/replication.md) — the daemon, and each ``edge`` command
        writing the ledger beside it (a list entry, a plan, a correction, an import)."""
        return await cls.open(cfg.storage.database, clock, autocheckpoint=cfg.replica is None)

    async def close(self) -> None:
        await self.database.close()

    def check_file(self) -> str | None:
        """Whether the ledger's file is still the one we write (see :class:`Database`)."""
        return self.database.check_file()

    async def ping(self, timeout: float = 2.0) -> bool:
        """Whether the ledger answers a trivial read in time (for the watchdog)."""
        return await self.database.ping(timeout)

    async def schema_version(self) -> int:
        return await self.database.schema_version()

    @property
    def path(self) -> Path | None:
        return self.database.path

    @property
    def fault(self) -> LedgerUnwritableError | None:
        """Why the ledger cannot be written right now (None: it can)."""
        return self.database.fault

    @property
    def fault_since(self) -> float | None:
        return self.database.fault_since

    @property
    def restored(self) -> int:
        """Ledger files restored after they were deleted while the daemon ran."""
        return self.database.restored
