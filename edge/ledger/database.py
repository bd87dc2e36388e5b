"""The ledger's database: its SQLite file, connections, write lock and transactions, shared
by the parts of :class:`edge.ledger.store.Store` (passes, outbox, admin, audit).

Durability: WAL with ``synchronous=FULL``, so a committed pass survives ``kill -9`` and power
loss (on storage that honours flushes). A gate commits about one pass a second at peak, far
below what one fsync per commit allows. A pass, its read and its record's outbox entry are
written in one transaction, before the barrier moves; its photo rows and their entries with
what the barrier did, before the camera is answered.

Four connections: writes go through one, under a lock that keeps each transaction's
statements together; the daemon's own short reads (the forwarder, the monitors, a lane's
lookups) use a second, read-only one, so they never queue behind another task's commit (WAL
lets readers run beside the writer and shows them every committed transaction); reads that
can touch history (searches, exports, retention) use a third, :class:`HistoryReader`, each
statement under a time budget and stopped when its caller goes away; the watchdog's check
uses a fourth, so that nothing a guard or a clerk asks for can delay it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from edge.domain.decision import control_refusal
from edge.ledger.schema import MIGRATIONS, REBUILDS

T = TypeVar("T")
log = structlog.get_logger("edge.ledger.store")


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


def json_list(ids: Sequence[int]) -> str:
    """``ids`` as one statement parameter, read back with ``json_each(?)``: a statement's text
    then does not depend on how many there are, so it is prepared and cached once (a text
    with one ``?`` each is a statement for each number, up to 128 cached a connection)."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def unwritable_kind(exc: sqlite3.Error) -> str | None:
    """The :class:`LedgerUnwritableError` kind an SQLite error stands for, if any."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    for prefix, kind in _UNWRITABLE.items():
        if name.startswith(prefix):
            return kind
    return None


def _control_refusal(verdict: str, code: str) -> bool:
    return control_refusal(code, refused=verdict == "refuse")


#: The functions the ledger's SQL calls (its figures), by name: (number of arguments, function).
#: Every connection that reads or writes passes registers them.
FUNCTIONS: dict[str, tuple[int, Callable[..., int]]] = {
    "control_refusal": (2, _control_refusal),
}


def register_functions(connection: sqlite3.Connection) -> None:
    """Register :data:`FUNCTIONS` on a plain ``sqlite3`` connection (a tool writing a ledger)."""
    for name, (arguments, function) in FUNCTIONS.items():
        connection.create_function(name, arguments, function, deterministic=True)


async def _connect(
    path: Path, *, autocheckpoint: bool = True
) -> tuple[aiosqlite.Connection, aiosqlite.Connection]:
    """The writer and the reader connection of a ledger file. Without ``autocheckpoint`` the
    writer never checkpoints the WAL: Litestream does, when it replicates the ledger
    (docs/replication.md)."""
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=FULL")
    await db.execute("PRAGMA foreign_keys=ON")
    await db.execute("PRAGMA busy_timeout=5000")
    if not autocheckpoint:
        await db.execute("PRAGMA wal_autocheckpoint=0")
    reader = await aiosqlite.connect(path, isolation_level=None)
    reader.row_factory = sqlite3.Row
    for connection in (db, reader):  # the writer too: the figures' triggers call them
        for name, (arguments, function) in FUNCTIONS.items():
            await connection.create_function(name, arguments, function, deterministic=True)
    await reader.execute("PRAGMA query_only=ON")
    await reader.execute("PRAGMA busy_timeout=5000")
    return db, reader


#: Seconds a statement reading history may run (one page of a search or an export, one batch
#: of retention) before it is stopped with :class:`LedgerBusyError`.
HISTORY_BUDGET = 5.0
#: How much lower the history reader's thread runs than the daemon's others (``nice``).
HISTORY_NICE = 10
#: SQLite virtual-machine steps between two looks at the budget (1-3 ms on this project's
#: 2-core test machine). Each look is a call into Python that takes the interpreter lock: at
#: 1,000 steps (60-300 µs) a history read took it more often than once a row of a CSV
#: export, and the gate's event loop waited for it (issue 19).
_PROGRESS_STEPS = 20_000


def _as_read(rows: list[sqlite3.Row]) -> list[sqlite3.Row]:
    return rows


class LedgerBusyError(Exception):
    """A read of the ledger's history ran past its time budget (``budget`` seconds) and was
    stopped: the caller asks for less (a narrower search) or again later."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        super().__init__(f"the ledger read took longer than {budget:g} s and was stopped")


@dataclass(slots=True)
class _Statement:
    deadline: float
    cancelled: bool = False


def _lower_priority(nice: int) -> None:
    """This thread's scheduling priority lowered by ``nice`` (Linux, where a thread has its
    own: its id is a process id to ``setpriority``); best effort."""
    if nice and sys.platform == "linux":
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)


class HistoryReader:
    """A read-only connection in a thread of its own, for reads that may touch history.

    Each statement runs under a time budget (``budget`` seconds, or the one given to
    :meth:`fetchall`) and is stopped at once when its caller is cancelled (SQLite's progress
    handler looks every millisecond or few), so a search over two years never keeps
    the thread busy for longer than its budget, and never waits on, nor holds, the connection
    the forwarder, the monitors or the watchdog use.
    """

    def __init__(
        self, path: Path, budget: float = HISTORY_BUDGET, name: str = "history", nice: int = 0
    ) -> None:
        self.path, self.budget = path, budget
        self._executor = ThreadPoolExecutor(
            1, thread_name_prefix=f"ledger-{name}", initializer=_lower_priority, initargs=(nice,)
        )
        self._current: _Statement | None = None
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        register_functions(connection)
        connection.execute("PRAGMA query_only=ON")
        connection.execute("PRAGMA busy_timeout=5000")
        connection.set_progress_handler(self._progress, _PROGRESS_STEPS)
        return connection

    def _progress(self) -> int:
        statement = self._current
        if statement is None:
            return 0
        return int(statement.cancelled or time.monotonic() > statement.deadline)

    def _run(
        self,
        statement: _Statement,
        sql: str,
        args: tuple[Any, ...],
        shape: Callable[[list[sqlite3.Row]], T],
    ) -> T:
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            self._current = statement
            try:
                rows = self._connection.execute(sql, args).fetchall()
            finally:
                self._current = None
            return shape(rows)

    async def fetchall(
        self, sql: str, args: tuple[Any, ...] = (), budget: float | None = None
    ) -> list[sqlite3.Row]:
        """The rows of one statement; raises :class:`LedgerBusyError` when it runs past its
        budget (measured from when it is asked, so time spent waiting counts too)."""
        return await self.fetch(sql, args, _as_read, budget)

    async def fetch(
        self,
        sql: str,
        args: tuple[Any, ...],
        shape: Callable[[list[sqlite3.Row]], T],
        budget: float | None = None,
    ) -> T:
        """What ``shape`` makes of the rows of one statement, made on this reader's thread:
        a page of thousands of rows turned into objects (or into the lines of an export)
        costs the event loop nothing (issue 19: built on the loop, a month's CSV export
        stalled it for 150-400 ms at a time). As :meth:`fetchall` otherwise."""
        allowed = self.budget if budget is None else budget
        statement = _Statement(time.monotonic() + allowed)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, self._run, statement, sql, args, shape
            )
        except sqlite3.OperationalError as exc:
            if statement.cancelled or time.monotonic() > statement.deadline:
                raise LedgerBusyError(allowed) from exc
            raise
        finally:  # cancelled while waiting or running: the statement stops (or never starts)
            statement.cancelled = True

    def reopen(self) -> None:
        """Read the file at :attr:`path` afresh (after it was restored)."""
        self._executor.submit(self._reopen)

    def _reopen(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
            self._connection = None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._reopen)
        self._executor.shutdown(wait=True)


def ledger_exists(path: Path) -> bool:
    """Whether a ledger was ever created at ``path``: commands that only read say "nothing
    recorded" instead of creating one (:meth:`Store.open` creates it)."""
    return path.exists()


class Database:
    """One ledger file: the writer connection (under a lock) and a read-only reader, the
    fault state when it cannot be written, and the event the forwarder waits on."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        clock: Callable[[], float] = time.time,
        path: Path | None = None,
    ) -> None:
        self.writer, self._reader = db, reader
        self._lock = asyncio.Lock()
        self.clock = clock
        #: Set whenever outbox entries become sendable; the forwarder waits on it.
        self.outbox_changed = asyncio.Event()
        #: Set whenever filings of the electronic ledger become sendable (its sender waits).
        self.filings_changed = asyncio.Event()
        self.path = path
        where = path or Path(":memory:")
        #: Reads that may touch history (searches, exports, retention): see HistoryReader.
        #: Its thread runs at a lower priority: a month's export keeps it busy for seconds
        #: (as long as a client keeps asking), and on a busy machine the gate's event loop
        #: waited for a core behind it (issue 19).
        self.history = HistoryReader(where, nice=HISTORY_NICE)
        #: The watchdog's own connection: its check never waits behind anyone's read.
        self._probe = HistoryReader(where, budget=2.0, name="probe")
        self._identity = self._file_identity()
        self._retired: list[aiosqlite.Connection] = []  # replaced after a restore
        #: Why the ledger cannot be written right now (None: it can), and since when.
        self.fault: LedgerUnwritableError | None = None
        self.fault_since: float | None = None
        #: Ledger files restored after they were deleted while the daemon ran.
        self.restored = 0
        #: False while Litestream replicates the ledger: it alone checkpoints the WAL.
        self.autocheckpoint = True

    @classmethod
    async def open(
        cls, path: Path, clock: Callable[[], float] = time.time, *, autocheckpoint: bool = True
    ) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        db, reader = await _connect(path, autocheckpoint=autocheckpoint)
        database = cls(db, reader, clock, path)
        database.autocheckpoint = autocheckpoint
        try:
            await database._migrate()
        except BaseException:  # a migration refused: nothing is left open behind the error
            for connection in (reader, db):
                await connection.close()
            raise
        await database.optimize()
        return database

    async def optimize(self) -> None:
        """Keep the query planner's statistics current (at open, at close and with each
        retention round): a sampled ``ANALYZE`` when the ledger has none for its passes or
        has more than doubled since (a daemon started on an empty ledger would otherwise plan
        for an empty one for ever; without statistics SQLite may plan the forwarder's query
        as a walk over every outbox row), else ``PRAGMA optimize``. Best effort: a ledger
        that cannot be written keeps the statistics it has."""
        async with self._lock:
            try:
                await self.writer.execute("PRAGMA analysis_limit=1000")
                if await self._statistics_stale():
                    await self.writer.execute("ANALYZE")
                else:
                    await self.writer.execute("PRAGMA optimize")
            except sqlite3.Error as exc:
                log.debug("ledger statistics not refreshed", error=str(exc))

    async def _statistics_stale(self) -> bool:
        found = await self.writer.execute_fetchall("SELECT coalesce(max(id), 0) FROM passes")
        passes = int(next(iter(found))[0])
        found = await self.writer.execute_fetchall(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        )
        if not next(iter(found))[0]:
            return True
        found = await self.writer.execute_fetchall(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'passes' AND stat IS NOT NULL LIMIT 1"
        )
        counted = int(str(row[0]).split()[0]) if (row := next(iter(found), None)) else 0
        return passes > 2 * counted + 100

    async def close(self) -> None:
        await self.optimize()
        await self.history.close()
        await self._probe.close()
        for connection in (self._reader, self.writer, *self._retired):
            await connection.close()

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
            await self.writer.backup(target)
        finally:
            await target.close()
        partial.replace(self.path)
        db, reader = await _connect(self.path, autocheckpoint=self.autocheckpoint)
        self._retired += [self.writer, self._reader]
        self.writer, self._reader = db, reader
        self.history.reopen()
        self._probe.reopen()
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
            self.fault_since = self.clock()
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
                lasted_seconds=round(self.clock() - (self.fault_since or 0), 1),
            )
            self.fault = self.fault_since = None
        return result

    async def _migrate(self) -> None:
        async with self.writer.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            if number in REBUILDS:
                await self._rebuild(number, script)
                continue
            await self.writer.executescript(
                f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;"
            )

    async def _rebuild(self, number: int, script: str) -> None:
        """A migration that rebuilds a table others reference (:data:`REBUILDS`): with foreign
        keys off, every reference checked before it commits (else rolled back: RuntimeError)."""
        db = self.writer
        await db.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: before it
        try:
            broken = await self._rebuilt(script)
            if broken:
                await db.execute("ROLLBACK")
                raise RuntimeError(f"migration {number} breaks references: {broken[:5]}")
            await db.execute(f"PRAGMA user_version = {number}")
            await db.execute("COMMIT")
        finally:
            await db.execute("PRAGMA foreign_keys=ON")

    async def _rebuilt(self, script: str) -> list[Any]:
        """``script`` run in a transaction left open; the references it broke."""
        try:
            await self.writer.executescript(f"BEGIN IMMEDIATE; {script};")
            async with self.writer.execute("PRAGMA foreign_key_check") as cur:
                return list(await cur.fetchall())
        except BaseException:
            if self.writer.in_transaction:
                await self.writer.execute("ROLLBACK")
            raise

    async def schema_version(self) -> int:
        async with self.writer.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def transaction(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run ``body`` in one write transaction that always ends, committed or rolled back,
        even when the caller is cancelled meanwhile (it runs shielded): a cancellation must
        never leave a half-written pass, nor roll back what was already committed."""

        async def transaction() -> T:
            await self.writer.execute("BEGIN IMMEDIATE")
            try:
                result = await body()
                await self.writer.execute("COMMIT")
            except BaseException:
                if self.writer.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        await self.writer.execute("ROLLBACK")
                raise
            return result

        async def run() -> T:
            async with self._lock:
                return await self._guarded(transaction)

        task = asyncio.ensure_future(run())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    async def transaction_at_once(self, body: Callable[[sqlite3.Connection], T]) -> T:
        """Like :meth:`transaction`, for a ``body`` that only executes statements: the whole
        transaction (BEGIN IMMEDIATE, ``body``, COMMIT) runs in one call on the writer's
        thread. One hop between the event loop and that thread instead of one per statement:
        each hop waits for the loop to hand over the GIL, which a busy loop does late (the
        pass committed before the barrier moves is written this way)."""

        def transaction(connection: sqlite3.Connection) -> T:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = body(connection)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                raise
            return result

        async def write() -> T:
            # aiosqlite runs any function on its thread with _execute (what its own execute
            # does); _conn is the sqlite3 connection that thread owns.
            writer = self.writer
            result: T = await writer._execute(transaction, writer._conn)  # type: ignore[no-untyped-call]
            return result

        async def run() -> T:
            async with self._lock:
                return await self._guarded(write)

        task = asyncio.ensure_future(run())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    async def ping(self, timeout: float = 2.0) -> bool:
        """Whether the ledger answers a trivial read in time (for the watchdog), on a
        connection and thread of its own: no search, export or monitor can delay it."""
        try:
            async with asyncio.timeout(timeout):
                await self._probe.fetchall("SELECT 1 FROM tallies LIMIT 1", budget=timeout)
        except (TimeoutError, LedgerBusyError, sqlite3.Error, ValueError):
            return False
        return True

    async def update(self, sql: str, args: tuple[Any, ...]) -> int:
        """One statement under the write lock (not in a transaction of its own); returns how
        many rows it changed."""

        async def write() -> int:
            cur = await self.writer.execute(sql, args)
            return cur.rowcount

        async with self._lock:
            return await self._guarded(write)

    async def fetchall(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        # One thread hop per read: a statement left open across an await (execute, then
        # fetchall) would let a concurrent read join its read transaction and see the
        # database as it was before commits made in between.
        return list(await self._reader.execute_fetchall(sql, args))

    async def fetch_each(
        self, statements: Sequence[tuple[str, tuple[Any, ...]]]
    ) -> list[list[sqlite3.Row]]:
        """The rows of each statement, all read in one hop to the reader's thread and one
        read transaction (so they see the ledger as one commit left it): for reads that go
        together on a busy path, where each hop costs a wake-up of that thread and a hand-over
        of the GIL."""

        def read(connection: sqlite3.Connection) -> list[list[sqlite3.Row]]:
            connection.execute("BEGIN")
            try:
                return [connection.execute(sql, args).fetchall() for sql, args in statements]
            finally:
                connection.execute("COMMIT")

        reader = self._reader
        result: list[list[sqlite3.Row]] = await reader._execute(read, reader._conn)  # type: ignore[no-untyped-call]
        return result


class LedgerPart:
    """A part of the ledger (passes, outbox, admin, audit) over the shared :class:`Database`:
    every part's transactions go through the one write lock, so a pass, its photos and its
    outbox entries still commit in one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def _db(self) -> aiosqlite.Connection:
        return self.database.writer

    @property
    def outbox_changed(self) -> asyncio.Event:
        """Set whenever outbox entries become sendable; the forwarder waits on it."""
        return self.database.outbox_changed

    def _clock(self) -> float:
        return self.database.clock()

    async def _transaction(self, body: Callable[[], Awaitable[T]]) -> T:
        return await self.database.transaction(body)

    async def _transaction_at_once(self, body: Callable[[sqlite3.Connection], T]) -> T:
        return await self.database.transaction_at_once(body)

    async def _fetchall(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return await self.database.fetchall(sql, args)

    async def _fetch_each(
        self, statements: Sequence[tuple[str, tuple[Any, ...]]]
    ) -> list[list[sqlite3.Row]]:
        return await self.database.fetch_each(statements)

    async def _history(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """A read that may touch history: on the history connection, under its budget."""
        return await self.database.history.fetchall(sql, args)

    async def _history_as(
        self, sql: str, args: tuple[Any, ...], shape: Callable[[list[sqlite3.Row]], T]
    ) -> T:
        """As :meth:`_history`, the rows made into what ``shape`` makes on the history
        connection's thread (never on the event loop)."""
        return await self.database.history.fetch(sql, args, shape)

    async def _update_entry(self, sql: str, args: tuple[Any, ...]) -> int:
        return await self.database.update(sql, args)
