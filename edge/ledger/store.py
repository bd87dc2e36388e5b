"""The local ledger in SQLite: passes, photos and the outbox that forwards them.

Durability: WAL with ``synchronous=FULL``, so a committed pass survives ``kill -9`` and power
loss (on storage that honours flushes). A gate commits about one pass a second at peak, far
below what one fsync per commit allows. A pass, its photo rows and its outbox entries are
written in one transaction, before the barrier moves.

Two connections: writes go through one, under a lock that keeps each transaction's statements
together; reads use a second, read-only one, so they never queue behind another task's commit
(WAL lets readers run beside the writer and shows them every committed transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from edge.domain.codes import GateSignal
from edge.domain.control_plan import ControlPlan
from edge.domain.decision import CachedAnswer, Decision, control_refusal
from edge.domain.reports import VerifyAnswer
from edge.ledger.rows import (
    AuditRow,
    DailyFigureRow,
    OutboxListing,
    PassListing,
    StoredCorrection,
    StoredListEntry,
    StoredOutboxEntry,
    StoredPass,
    StoredPhoto,
    StoredPlan,
    StoredRead,
    decode_answer,
    encode_answer,
)
from edge.ledger.schema import MIGRATIONS

T = TypeVar("T")
log = structlog.get_logger("edge.ledger.store")


@dataclass(frozen=True, slots=True)
class NewPass:
    serial: str
    lane_id: str
    gate_code: str
    direction: str
    plate: str | None
    plate_color: str
    camera_time: float
    received_at: float
    source: str
    vendor_id: str | None
    decision: Decision
    flag: str | None = None
    raw: str | None = None
    #: The pass was made by a camera's read (kept in ``reads`` for idempotent re-pushes);
    #: ``text`` is an unreadable read as it came, escaped.
    camera_read: bool = False
    text: str | None = None


@dataclass(frozen=True, slots=True)
class NewRead:
    """A camera read merged into an earlier pass as a duplicate (kept, never dropped)."""

    pass_id: int
    lane_id: str
    received_at: float
    plate: str | None
    plate_color: str
    text: str | None
    vendor_id: str | None
    source: str
    merged: str  # why: re-push, same-plate, near-plate
    raw: str | None = None


_READ_COLUMNS = (
    "pass_id, lane_id, received_at, plate, plate_color, text, vendor_id, source, merged, raw"
)


@dataclass(frozen=True, slots=True)
class NewPhoto:
    number: int
    kind: int
    path: str
    size: int
    taken_at: float


@dataclass(frozen=True, slots=True)
class RecordedPass:
    id: int
    serial: str


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    pass_id: int
    kind: str
    photo_id: int | None
    attempts: int
    correction_id: int | None = None


class LedgerUnwritableError(Exception):
    """The ledger cannot be written: ``kind`` is ``disk-full``, ``read-only``, ``io-error``,
    ``deleted`` (the file is gone and could not be restored) or ``replaced`` (another file is
    at its path); ``detail`` says what SQLite or the file system said."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind, self.detail = kind, detail
        super().__init__(f"the ledger cannot be written ({kind}): {detail}")

    @property
    def restart_helps(self) -> bool:
        """Only an I/O error on a file that is still there may be the connection's own
        trouble; a full or read-only disk, or a file deleted or replaced, is not mended by a
        restart (a restart would even open an empty ledger in a deleted one's place)."""
        return self.kind == "io-error"


#: SQLite's error names (``sqlite_errorname``, Python 3.11) that mean "cannot write here".
_UNWRITABLE = {
    "SQLITE_FULL": "disk-full",
    "SQLITE_READONLY": "read-only",
    "SQLITE_IOERR": "io-error",
    "SQLITE_CANTOPEN": "io-error",
}


#: What SQLite raises for a file it cannot use as a database (corrupt, or not a ledger): for
#: callers outside the ledger, which never import ``sqlite3`` themselves.
LedgerDatabaseError = sqlite3.DatabaseError


def unwritable_kind(exc: sqlite3.Error) -> str | None:
    """The :class:`LedgerUnwritableError` kind an SQLite error stands for, if any."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    for prefix, kind in _UNWRITABLE.items():
        if name.startswith(prefix):
            return kind
    return None


async def _connect(path: Path) -> tuple[aiosqlite.Connection, aiosqlite.Connection]:
    """The writer and the reader connection of a ledger file."""
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=FULL")
    await db.execute("PRAGMA foreign_keys=ON")
    await db.execute("PRAGMA busy_timeout=5000")
    reader = await aiosqlite.connect(path, isolation_level=None)
    reader.row_factory = sqlite3.Row
    await reader.create_function("control_refusal", 2, _control_refusal, deterministic=True)
    await reader.execute("PRAGMA query_only=ON")
    await reader.execute("PRAGMA busy_timeout=5000")
    return db, reader


def _control_refusal(verdict: str, code: str) -> bool:
    return control_refusal(code, refused=verdict == "refuse")


def ledger_exists(path: Path) -> bool:
    """Whether a ledger was ever created at ``path``: commands that only read say "nothing
    recorded" instead of creating one (:meth:`Store.open` creates it)."""
    return path.exists()


class Store:
    def __init__(
        self,
        db: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        clock: Callable[[], float] = time.time,
        path: Path | None = None,
    ) -> None:
        self._db, self._reader = db, reader
        self._lock = asyncio.Lock()
        self._clock = clock
        #: Set whenever outbox entries become sendable; the forwarder waits on it.
        self.outbox_changed = asyncio.Event()
        self.path = path
        self._identity = self._file_identity()
        self._retired: list[aiosqlite.Connection] = []  # replaced after a restore
        #: Why the ledger cannot be written right now (None: it can), and since when.
        self.fault: LedgerUnwritableError | None = None
        self.fault_since: float | None = None
        #: Ledger files restored after they were deleted while the daemon ran.
        self.restored = 0

    @classmethod
    async def open(cls, path: Path, clock: Callable[[], float] = time.time) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db, reader = await _connect(path)
        store = cls(db, reader, clock, path)
        await store._migrate()
        return store

    async def close(self) -> None:
        for connection in (self._reader, self._db, *self._retired):
            await connection.close()

    # -- a ledger that cannot be written -----------------------------------------------------

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def check_file(self) -> str | None:
        """Whether the ledger's file is still the one we write: ``deleted``, ``replaced`` or
        None (a stat; cheap enough for every write)."""
        if self._identity is None:
            return None
        now = self._file_identity()
        if now is None:
            return "deleted"
        return None if now == self._identity else "replaced"

    async def _restore(self) -> None:
        """The ledger's file was deleted while we still hold it open: copy the open database
        (every committed pass) back to its path and write there from now on."""
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".restoring")
        target = await aiosqlite.connect(partial)
        try:
            await self._db.backup(target)
        finally:
            await target.close()
        partial.replace(self.path)
        db, reader = await _connect(self.path)
        self._retired += [self._db, self._reader]
        self._db, self._reader = db, reader
        self._identity = self._file_identity()
        self.restored += 1
        log.error(
            "ledger file was deleted while running; restored from the open database",
            path=str(self.path),
        )

    def _failed(self, kind: str, detail: str) -> LedgerUnwritableError:
        fault = LedgerUnwritableError(kind, detail)
        if self.fault is None or self.fault.kind != kind:
            log.error(
                "LEDGER CANNOT BE WRITTEN: passes are not recorded",
                reason=kind,
                detail=detail,
                path=str(self.path),
            )
            self.fault_since = self._clock()
        self.fault = fault
        return fault

    async def _guarded(self, write: Callable[[], Awaitable[T]]) -> T:
        """Run a write (the caller holds the lock): refused at once when the file is no longer
        ours (restored first if it was deleted), and SQLite's "cannot write" errors become a
        :class:`LedgerUnwritableError`; each kind logged once, and once when it clears."""
        problem = self.check_file()
        if problem == "deleted":
            try:
                await self._restore()
            except (OSError, sqlite3.Error) as exc:
                detail = f"{self.path} is gone; restoring failed: {exc}"
                raise self._failed("deleted", detail) from exc
        elif problem == "replaced":
            raise self._failed("replaced", f"another file is at {self.path}")
        try:
            result = await write()
        except sqlite3.Error as exc:
            kind = unwritable_kind(exc)
            if kind is None:
                raise
            raise self._failed(kind, str(exc)) from exc
        if self.fault is not None:
            log.warning(
                "ledger can be written again",
                reason=self.fault.kind,
                lasted_seconds=round(self._clock() - (self.fault_since or 0), 1),
            )
            self.fault = self.fault_since = None
        return result

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await self._db.executescript(
                f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;"
            )

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # -- ledger ----------------------------------------------------------------------------

    async def last_serial(self, prefix: str) -> str | None:
        """The highest serial number issued for ``prefix`` (enterprise + gate + direction)."""
        rows = await self._fetchall(
            "SELECT max(serial) AS s FROM passes WHERE serial > ? AND serial < ?",
            (prefix, prefix + ":"),  # ':' sorts right after the digits
        )
        value = rows[0]["s"]
        return None if value is None else str(value)

    async def record_pass(
        self, new: NewPass, photos: Sequence[NewPhoto], *, forward_photos: bool = True
    ) -> RecordedPass:
        """Commit the pass, its photos and their held outbox entries in one transaction.

        With ``forward_photos`` false (province API: records carry photo URLs) the photos get
        no outbox entries.
        """
        decision = new.decision
        answer = decision.answer
        verify_json = encode_answer(answer)
        now = self._clock()

        async def write() -> int:
            cur = await self._db.execute(
                "INSERT INTO passes (serial, lane_id, gate_code, direction, plate, "
                "plate_color, flag, camera_time, received_at, source, vendor_id, verdict, "
                "reason_code, reason, decided_by, verify_json, raw, operator) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.serial,
                    new.lane_id,
                    new.gate_code,
                    new.direction,
                    new.plate,
                    new.plate_color,
                    new.flag,
                    new.camera_time,
                    new.received_at,
                    new.source,
                    new.vendor_id,
                    decision.verdict,
                    decision.code,
                    decision.reason,
                    decision.source,
                    verify_json,
                    new.raw,
                    decision.operator,
                ),
            )
            pass_id = cur.lastrowid
            assert pass_id is not None
            if new.camera_read:  # in the same transaction: committed with its pass or not at all
                await self._insert_read(
                    NewRead(pass_id, new.lane_id, new.received_at, new.plate, new.plate_color,
                            new.text, new.vendor_id, new.source, "", new.raw)
                )  # fmt: skip
            await self._db.execute(
                "INSERT INTO outbox (pass_id, kind, state, created_at) "
                "VALUES (?, 'record', 'held', ?)",
                (pass_id, now),
            )
            for photo in photos:
                cur = await self._db.execute(
                    "INSERT INTO photos (pass_id, number, kind, path, size, taken_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (pass_id, photo.number, photo.kind, photo.path, photo.size, photo.taken_at),
                )
                if forward_photos:
                    await self._db.execute(
                        "INSERT INTO outbox (pass_id, kind, photo_id, state, created_at) "
                        "VALUES (?, 'photo', ?, 'held', ?)",
                        (pass_id, cur.lastrowid, now),
                    )
            return pass_id

        return RecordedPass(await self._transaction(write), new.serial)

    async def _insert_read(self, read: NewRead) -> None:
        await self._db.execute(
            f"INSERT INTO reads ({_READ_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - a constant
            (read.pass_id, read.lane_id, read.received_at, read.plate, read.plate_color,
             read.text, read.vendor_id, read.source, read.merged or None, read.raw),
        )  # fmt: skip

    async def add_read(self, read: NewRead) -> None:
        """Keep a read merged into an earlier pass."""

        async def write() -> None:
            await self._insert_read(read)

        await self._transaction(write)

    async def find_read(
        self, lane_id: str, vendor_id: str, plate: str | None, plate_color: str
    ) -> StoredPass | None:
        """The pass a read with this camera record id, plate and colour already went into on
        this lane (any time ago)."""
        rows = await self._fetchall(
            "SELECT p.* FROM reads r JOIN passes p ON p.id = r.pass_id "
            "WHERE r.lane_id = ? AND r.vendor_id = ? AND r.plate IS ? AND r.plate_color = ? "
            "ORDER BY r.id LIMIT 1",
            (lane_id, vendor_id, plate, plate_color),
        )
        return StoredPass.from_row(rows[0]) if rows else None

    async def recent_passes(self, lane_id: str, since: float) -> list[StoredPass]:
        """A lane's passes with a plate received since ``since`` (unix seconds), oldest first,
        to rebuild its duplicate filter at start."""
        return await self._passes(
            "SELECT * FROM passes "
            "WHERE lane_id = ? AND received_at >= ? AND plate IS NOT NULL AND source NOT IN "
            "('guard', 'detector') AND coalesce(flag, '') != 'offline-repush' ORDER BY id",
            (lane_id, since),
        )

    async def reads_of(self, pass_id: int) -> list[StoredRead]:
        """Every camera read kept for a pass: the one that made it, then those merged in."""
        rows = await self._fetchall("SELECT * FROM reads WHERE pass_id = ? ORDER BY id", (pass_id,))
        return [StoredRead.from_row(row) for row in rows]

    async def _transaction(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run ``body`` in one write transaction that always ends, committed or rolled back,
        even when the caller is cancelled meanwhile (it runs shielded): a cancellation must
        never leave a half-written pass, nor roll back what was already committed."""

        async def transaction() -> T:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                result = await body()
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        await self._db.execute("ROLLBACK")
                raise
            return result

        async def run() -> T:
            async with self._lock:
                return await self._guarded(transaction)

        task = asyncio.ensure_future(run())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    async def set_barrier(self, pass_id: int, state: str | None, error: str | None = None) -> None:
        """``state`` None: unknown (a camera's record that does not say what it did)."""
        await self._update_entry(
            "UPDATE passes SET barrier = ?, barrier_error = ? WHERE id = ?",
            (state, error, pass_id),
        )

    async def finalise(
        self, pass_id: int, signal: GateSignal, passed_at: float, confirmed_by: str
    ) -> None:
        """Record how the pass ended and release its outbox entries for forwarding."""

        async def write() -> None:
            await self._db.execute(
                "UPDATE passes SET state = 'final', gate_signal = ?, passed_at = ?, "
                "confirmed_by = ? WHERE id = ? AND state = 'open'",
                (int(signal), passed_at, confirmed_by, pass_id),
            )
            await self._db.execute(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ? "
                "WHERE pass_id = ? AND state = 'held'",
                (self._clock(), pass_id),
            )

        await self._transaction(write)
        self.outbox_changed.set()

    async def open_passes(self) -> list[StoredPass]:
        """Passes recorded but never finalised (the daemon stopped while confirming)."""
        return await self._passes("SELECT * FROM passes WHERE state = 'open'")

    async def cached_answer(self, plate: str) -> CachedAnswer | None:
        """The platform's most recent answer for ``plate`` (for the offline ``cache`` policy)."""
        rows = await self._fetchall(
            "SELECT verify_json, received_at FROM passes WHERE plate = ? AND "
            "decided_by = 'platform' AND verify_json IS NOT NULL ORDER BY id DESC LIMIT 1",
            (plate,),
        )
        if not rows:
            return None
        answer = decode_answer(rows[0]["verify_json"])
        assert answer is not None  # verify_json IS NOT NULL
        return CachedAnswer(answer, float(rows[0]["received_at"]))

    async def count_passes(self) -> int:
        rows = await self._fetchall("SELECT count(*) AS n FROM passes")
        return int(rows[0]["n"])

    async def count_photos(self) -> int:
        rows = await self._fetchall("SELECT count(*) AS n FROM photos")
        return int(rows[0]["n"])

    async def get_pass(self, pass_id: int) -> StoredPass:
        rows = await self._passes("SELECT * FROM passes WHERE id = ?", (pass_id,))
        if not rows:
            raise KeyError(pass_id)
        return rows[0]

    async def _passes(self, sql: str, args: tuple[Any, ...] = ()) -> list[StoredPass]:
        return [StoredPass.from_row(row) for row in await self._fetchall(sql, args)]

    # -- control plans -----------------------------------------------------------------------
    async def add_plan(self, plan: ControlPlan, by: str) -> int:
        async def write() -> int:
            cur = await self._db.execute(
                "INSERT INTO control_plans (name, strategy, level, area, starts_at, ends_at, "
                "baseline, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    plan.name,
                    plan.strategy,
                    plan.level,
                    plan.area,
                    plan.start.timestamp() if plan.start else self._clock(),
                    plan.end.timestamp() if plan.end else None,
                    plan.baseline_heavy_entries,
                    by,
                    self._clock(),
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self._transaction(write)

    async def close_plan(self, plan_id: int) -> bool:
        async def write() -> bool:
            cur = await self._db.execute(
                "UPDATE control_plans SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
                (self._clock(), plan_id),
            )
            return cur.rowcount == 1

        return await self._transaction(write)

    async def change_plan(self, plan_id: int, **changes: object) -> bool:
        """Change an open plan's strategy, level, area, expected end or baseline."""
        allowed = {"name", "strategy", "level", "area", "ends_at", "baseline"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        if not changes:
            return False
        columns = ", ".join(f"{key} = ?" for key in changes)

        async def write() -> bool:
            cur = await self._db.execute(
                f"UPDATE control_plans SET {columns} WHERE id = ? AND closed_at IS NULL",  # noqa: S608 - column names from the allow-list
                (*changes.values(), plan_id),
            )
            return cur.rowcount == 1

        return await self._transaction(write)

    async def add_list_entry(
        self, plate: str, kind: str, reason: str, expires_at: float | None, by: str
    ) -> int:
        async def write() -> int:
            cur = await self._db.execute(
                "INSERT INTO list_entries (plate, kind, reason, expires_at, added_by, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (plate, kind, reason, expires_at, by, self._clock()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self._transaction(write)

    async def remove_list_entry(self, entry_id: int) -> bool:
        async def write() -> bool:
            cur = await self._db.execute(
                "UPDATE list_entries SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                (self._clock(), entry_id),
            )
            return cur.rowcount == 1

        return await self._transaction(write)

    async def list_entries(self) -> list[StoredListEntry]:
        rows = await self._fetchall(
            "SELECT * FROM list_entries WHERE removed_at IS NULL ORDER BY kind, plate"
        )
        return [StoredListEntry.from_row(row) for row in rows]

    async def audit(
        self, *, actor: str, action: str, target: str, origin: str, result: str, detail: str = ""
    ) -> None:
        async def write() -> None:
            await self._db.execute(
                "INSERT INTO audit (at, actor, action, target, origin, result, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._clock(), actor, action, target, origin, result, detail),
            )

        await self._transaction(write)

    async def audit_log(self, limit: int = 100) -> list[AuditRow]:
        rows = await self._fetchall("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [AuditRow.from_row(row) for row in rows]

    async def plans(self) -> list[StoredPlan]:
        rows = await self._fetchall("SELECT * FROM control_plans ORDER BY starts_at, id")
        return [StoredPlan.from_row(row) for row in rows]

    async def count_codes_since(self, suffix: str, since: float, direction: str) -> int:
        """Passes since ``since`` whose reason code ends with ``suffix`` (e.g. quota entries)."""
        rows = await self._fetchall(
            "SELECT count(*) AS n FROM passes WHERE received_at >= ? AND direction = ? "
            "AND reason_code LIKE ?",
            (since, direction, f"%-{suffix}"),
        )
        return int(rows[0]["n"])

    async def daily_figures(self, start: float, end: float) -> list[DailyFigureRow]:
        """Per lane and direction, the day's figures (those of SendDayDataCity a gate has):
        vehicles that went through (gate signal passed, gate crashes included), refused,
        refused by control (:func:`edge.domain.decision.control_refusal`), and the
        国三 / 国四 vehicles that went through."""
        rows = await self._fetchall(
            """
            SELECT lane_id, direction,
              COALESCE(SUM(gate_signal = 0), 0) AS passed,
              COALESCE(SUM(verdict = 'refuse'), 0) AS refused,
              COALESCE(SUM(control_refusal(verdict, reason_code)), 0) AS controlled,
              COALESCE(SUM(gate_signal = 0
                  AND json_extract(verify_json, '$.emission') = '3'), 0) AS stage3,
              COALESCE(SUM(gate_signal = 0
                  AND json_extract(verify_json, '$.emission') = '4'), 0) AS stage4,
              COALESCE(SUM(reason_code = 'gate-crash'), 0) AS gate_crashes,
              COALESCE(SUM(decided_by = 'guard'), 0) AS overrides
            FROM passes WHERE received_at >= ? AND received_at < ?
            GROUP BY lane_id, direction ORDER BY lane_id, direction
            """,
            (start, end),
        )
        return [DailyFigureRow.from_row(row) for row in rows]

    # -- misread corrections ------------------------------------------------------------------
    async def add_correction(
        self,
        pass_id: int,
        plate: str,
        color: str,
        answer: VerifyAnswer | None,
        reviewer: str,
        *,
        forward: bool,
    ) -> int:
        """Record a guard's correction of a pass's plate; with ``forward``, queue its report
        (sent after the pass's own record)."""

        async def write() -> int:
            now = self._clock()
            cur = await self._db.execute(
                "INSERT INTO corrections (pass_id, plate, plate_color, verify_json, reviewer, "
                "reviewed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    pass_id,
                    plate,
                    color,
                    encode_answer(answer),
                    reviewer,
                    now,
                ),
            )
            assert cur.lastrowid is not None
            if forward:
                await self._db.execute(
                    "INSERT INTO outbox (pass_id, kind, correction_id, state, created_at) "
                    "VALUES (?, 'correction', ?, 'pending', ?)",
                    (pass_id, cur.lastrowid, now),
                )
            return cur.lastrowid

        correction_id = await self._transaction(write)
        self.outbox_changed.set()
        return correction_id

    async def get_correction(self, correction_id: int) -> StoredCorrection:
        rows = await self._fetchall("SELECT * FROM corrections WHERE id = ?", (correction_id,))
        return StoredCorrection.from_row(rows[0])

    async def search_passes(
        self,
        *,
        plate: str = "",
        start: float | None = None,
        end: float | None = None,
        lane: str = "",
        verdict: str = "",
        limit: int = 200,
    ) -> list[PassListing]:
        """Passes for the history view, newest first (the plate matches anywhere in it)."""
        where, args = ["1 = 1"], list[Any]()
        if plate:
            where.append("plate LIKE ?")
            args.append(f"%{plate}%")
        if start is not None:
            where.append("received_at >= ?")
            args.append(start)
        if end is not None:
            where.append("received_at < ?")
            args.append(end)
        if lane:
            where.append("lane_id = ?")
            args.append(lane)
        if verdict in ("open", "refuse"):
            where.append("verdict = ?")
            args.append(verdict)
        sql = (  # fixed clauses only; every value is a parameter
            "SELECT serial, lane_id, direction, plate, plate_color, verdict, reason, decided_by, "  # noqa: S608
            "gate_signal, received_at, flag, operator, "
            "(SELECT count(*) FROM photos WHERE pass_id = passes.id) AS photos, "
            "(SELECT count(*) FROM reads WHERE pass_id = passes.id AND merged IS NOT NULL) "
            "AS merged_reads, "
            "(SELECT text FROM reads WHERE pass_id = passes.id AND merged IS NULL) AS read "
            f"FROM passes WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
        )
        return [PassListing.from_row(row) for row in await self._fetchall(sql, (*args, limit))]

    async def ping(self, timeout: float = 2.0) -> bool:
        """Whether the ledger answers a trivial read in time (for the watchdog)."""
        try:
            async with asyncio.timeout(timeout):
                await self._fetchall("SELECT 1")
        except (TimeoutError, sqlite3.Error, ValueError):
            return False
        return True

    async def latest_pass(self, lane_id: str) -> StoredPass | None:
        rows = await self._passes(
            "SELECT * FROM passes WHERE lane_id = ? ORDER BY id DESC LIMIT 1", (lane_id,)
        )
        return rows[0] if rows else None

    async def find_pass(self, serial: str) -> StoredPass | None:
        rows = await self._passes("SELECT * FROM passes WHERE serial = ?", (serial,))
        return rows[0] if rows else None

    async def photos_of(self, pass_id: int) -> list[StoredPhoto]:
        return await self._photos(
            "SELECT * FROM photos WHERE pass_id = ? ORDER BY number", (pass_id,)
        )

    async def _photos(self, sql: str, args: tuple[Any, ...] = ()) -> list[StoredPhoto]:
        return [StoredPhoto.from_row(row) for row in await self._fetchall(sql, args)]

    async def find_photo(self, serial: str, number: int) -> StoredPhoto | None:
        rows = await self._photos(
            "SELECT photos.* FROM photos JOIN passes ON passes.id = photos.pass_id "
            "WHERE passes.serial = ? AND photos.number = ?",
            (serial, number),
        )
        return rows[0] if rows else None

    async def get_photo(self, photo_id: int) -> StoredPhoto:
        rows = await self._photos("SELECT * FROM photos WHERE id = ?", (photo_id,))
        if not rows:
            raise KeyError(photo_id)
        return rows[0]

    # -- outbox ----------------------------------------------------------------------------

    _DUE = (
        "FROM outbox o WHERE o.state = 'pending' AND (o.kind = 'record' OR EXISTS ("
        "SELECT 1 FROM outbox r WHERE r.pass_id = o.pass_id AND r.kind = 'record' "
        "AND r.state = 'sent'))"
    )

    async def due_entries(self, limit: int, exclude: Sequence[int] = ()) -> list[OutboxEntry]:
        """Sendable entries, oldest first; a pass's photos only after its record was sent."""
        skip = f" AND o.id NOT IN ({','.join('?' * len(exclude))})" if exclude else ""
        rows = await self._fetchall(
            f"SELECT o.id, o.pass_id, o.kind, o.photo_id, o.attempts, o.correction_id {self._DUE} "
            f"AND o.next_attempt_at <= ?{skip} ORDER BY o.id LIMIT ?",
            (self._clock(), *exclude, limit),
        )
        return [
            OutboxEntry(
                r["id"], r["pass_id"], r["kind"], r["photo_id"], r["attempts"], r["correction_id"]
            )
            for r in rows
        ]

    async def next_due_at(self, exclude: Sequence[int] = ()) -> float | None:
        skip = f" AND o.id NOT IN ({','.join('?' * len(exclude))})" if exclude else ""
        rows = await self._fetchall(
            f"SELECT min(o.next_attempt_at) AS t {self._DUE}{skip}",
            tuple(exclude),
        )
        value = rows[0]["t"]
        return None if value is None else float(value)

    async def mark_sent(self, entry_id: int) -> None:
        await self._update_entry(
            "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?",
            (self._clock(), entry_id),
        )
        self.outbox_changed.set()

    async def mark_sent_many(self, entry_ids: Sequence[int]) -> None:
        """Book a batch the platform acknowledged, in one transaction."""
        marks = ",".join("?" * len(entry_ids))
        await self._update_entry(
            "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 "  # noqa: S608
            f"WHERE id IN ({marks})",
            (self._clock(), *entry_ids),
        )
        self.outbox_changed.set()

    async def mark_retry(self, entry_id: int, next_attempt_at: float, error: str) -> None:
        await self._update_entry(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
            "WHERE id = ?",
            (next_attempt_at, error[:500], entry_id),
        )

    async def mark_dead(self, entry_id: int, error: str) -> None:
        await self._update_entry(
            "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ? "
            "WHERE id = ?",
            (error[:500], entry_id),
        )

    async def list_outbox(
        self, state: str | None = "dead", limit: int = 100
    ) -> list[OutboxListing]:
        """Outbox entries (dead letters by default) with their pass, newest first."""
        rows = await self._fetchall(
            "SELECT o.id, o.kind, o.state, o.attempts, o.last_error, o.created_at, o.sent_at, "
            "p.serial, p.plate, p.lane_id FROM outbox o JOIN passes p ON p.id = o.pass_id "
            "WHERE ? IS NULL OR o.state = ? ORDER BY o.id DESC LIMIT ?",
            (state, state, limit),
        )
        return [OutboxListing.from_row(row) for row in rows]

    async def outbox_of(self, serial: str) -> list[StoredOutboxEntry]:
        rows = await self._fetchall(
            "SELECT o.* FROM outbox o JOIN passes p ON p.id = o.pass_id WHERE p.serial = ? "
            "ORDER BY o.id",
            (serial,),
        )
        return [StoredOutboxEntry.from_row(row) for row in rows]

    async def retry_dead(self, entry_ids: Sequence[int] | None = None) -> int:
        """Send dead letters again (all, or the given ones); returns how many."""
        only = f" AND id IN ({','.join('?' * len(entry_ids))})" if entry_ids else ""
        async with self._lock:

            async def write() -> int:
                cur = await self._db.execute(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = NULL "  # noqa: S608
                    f"WHERE state = 'dead'{only}",
                    (self._clock(), *(entry_ids or ())),
                )
                return cur.rowcount

            changed = await self._guarded(write)
        self.outbox_changed.set()
        return changed

    async def backlog(self) -> tuple[dict[str, int], float | None]:
        """Counts of unsent entries by state, and when the oldest unsent one was created."""
        rows = await self._fetchall(
            "SELECT state, count(*) AS n, min(created_at) AS oldest FROM outbox "
            "WHERE state != 'sent' GROUP BY state"
        )
        counts = {row["state"]: int(row["n"]) for row in rows}
        oldest = [row["oldest"] for row in rows if row["state"] in ("held", "pending")]
        return counts, (min(oldest) if oldest else None)

    async def photo_bytes(self) -> int:
        """Bytes of photo files still kept."""
        rows = await self._fetchall(
            "SELECT coalesce(sum(size), 0) AS n FROM photos WHERE pruned_at IS NULL"
        )
        return int(rows[0]["n"])

    async def prunable_photos(self, older_than: float | None, limit: int) -> list[StoredPhoto]:
        """Kept photos, oldest first, whose pass is entirely forwarded (every outbox entry
        of the pass sent: dead letters and unsent data are never pruned); with
        ``older_than``, only photos taken before it."""
        return await self._photos(
            "SELECT ph.* FROM photos ph WHERE ph.pruned_at IS NULL "
            "AND (? IS NULL OR ph.taken_at < ?) AND NOT EXISTS (SELECT 1 FROM outbox o "
            "WHERE o.pass_id = ph.pass_id AND o.state != 'sent') ORDER BY ph.taken_at LIMIT ?",
            (older_than, older_than, limit),
        )

    async def mark_pruned(self, photo_ids: Sequence[int]) -> None:
        marks = ",".join("?" * len(photo_ids))
        await self._update_entry(
            f"UPDATE photos SET pruned_at = ? WHERE id IN ({marks})",  # noqa: S608
            (self._clock(), *photo_ids),
        )

    async def outbox_counts(self) -> dict[str, int]:
        rows = await self._fetchall("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        return {row["state"]: int(row["n"]) for row in rows}

    async def _update_entry(self, sql: str, args: tuple[Any, ...]) -> None:
        async def write() -> None:
            await self._db.execute(sql, args)

        async with self._lock:
            await self._guarded(write)

    async def _fetchall(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        # One thread hop per read: a statement left open across an await (execute, then
        # fetchall) would let a concurrent read join its read transaction and see the
        # database as it was before commits made in between.
        return list(await self._reader.execute_fetchall(sql, args))
