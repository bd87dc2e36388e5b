"""The ledger's passes: each with its photos and camera reads, how it ended, corrections of
its plate, and the day's figures (one part of :class:`edge.ledger.store.Store`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import tzinfo
from typing import Any

from edge.domain.codes import GateSignal
from edge.domain.decision import CachedAnswer
from edge.domain.reports import VerifyAnswer
from edge.ledger.database import LedgerPart, json_list
from edge.ledger.history_text import ZoneSpan, csv_page, json_page, zone_spans
from edge.ledger.rows import (
    _READ_COLUMNS,
    EVERY_PASS,
    DailyFigureRow,
    HistoryCriteria,
    LatePhotos,
    NewPass,
    NewPhoto,
    NewRead,
    PageCursor,
    PassListing,
    RecordedPass,
    StoredCorrection,
    StoredPass,
    StoredPhoto,
    StoredRead,
    decode_answer,
    encode_answer,
)
from edge.ledger.schema import BUCKET, FIGURES

#: How a pass and what comes with it are written (also by ``bench/ledger.py``, which
#: generates a ledger of months with the very same statements).
SET_BARRIER = "UPDATE passes SET barrier = ?, barrier_error = ? WHERE id = ?"
FINAL_STATE = (
    "UPDATE passes SET state = 'final', gate_signal = ?, passed_at = ?, confirmed_by = ? "
    "WHERE id = ? AND state = 'open'"
)
#: A finalised pass's held entries become sendable (a goods record held is held for a clerk's
#: check of its weighing, not for the pass: :meth:`WeighingLedger.clear_checks` releases it).
RELEASE_ENTRIES = (
    "UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE pass_id = ? "
    "AND state = 'held' AND kind != 'goods'"
)
INSERT_PASS = (
    "INSERT INTO passes (serial, lane_id, gate_code, direction, plate, plate_color, flag, "  # noqa: S105 - SQL, not a password
    "camera_time, received_at, source, vendor_id, verdict, reason_code, reason, decided_by, "
    "verify_json, raw, operator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_READ = f"INSERT INTO reads ({_READ_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 - a constant
#: What the camera sent for a read, kept once (``passes.raw`` only for a pass without a read).
INSERT_MESSAGE = "INSERT INTO camera_messages (read_id, raw) VALUES (?, ?)"
#: A read's message: its own (``camera_messages``), else where versions before migration 22
#: wrote it — on the read, or (for the read that made the pass) on the pass.
_MESSAGE = "coalesce(m.raw, r.raw, iif(r.merged IS NULL, p.raw, NULL))"
INSERT_RECORD_ENTRY = (
    "INSERT INTO outbox (pass_id, kind, state, created_at) VALUES (?, 'record', 'held', ?)"
)
INSERT_PHOTO = (
    "INSERT INTO photos (pass_id, number, kind, path, size, taken_at) VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_PHOTO_ENTRY = (
    "INSERT INTO outbox (pass_id, kind, photo_id, state, created_at) "
    "VALUES (?, 'photo', ?, 'held', ?)"
)
SET_FLAG = "UPDATE passes SET flag = ? WHERE id = ?"


def _insert_photos(
    db: sqlite3.Connection, pass_id: int, photos: Sequence[NewPhoto], *, forward: bool, now: float
) -> None:
    """The photo rows of a pass and, when the platform takes photos apart, their held
    outbox entries (in the caller's transaction)."""
    for photo in photos:
        photo_id = db.execute(
            INSERT_PHOTO,
            (pass_id, photo.number, photo.kind, photo.path, photo.size, photo.taken_at),
        ).lastrowid
        if forward:
            db.execute(INSERT_PHOTO_ENTRY, (pass_id, photo_id, now))


def _add_late_photos(db: sqlite3.Connection, pass_id: int, late: LatePhotos, now: float) -> None:
    _insert_photos(db, pass_id, late.photos, forward=late.forward, now=now)
    db.execute(SET_FLAG, (late.flag, pass_id))


#: The day's figures as DailyFigureRow names them: from the quarter hours' counts, or
#: counted from the passes themselves (the very terms the triggers add up).
_DAILY = ("passed", "refused", "controlled", "stage3", "stage4", "gate_crashes", "overrides")
_SUMMED = ", ".join(f"coalesce(sum({name}), 0) AS {name}" for name in _DAILY)
_COUNTED = ", ".join(
    f"coalesce(sum({FIGURES[name].format(r='passes')}), 0) AS {name}" for name in _DAILY
)
#: A plate search of this many characters or more uses the trigram index (FTS5).
TRIGRAM = 3
#: What the history view lists of a pass (``p``), before its photos and reads are counted.
_LISTED = (
    "p.id, p.serial, p.lane_id, p.direction, p.plate, p.plate_color, p.verdict, p.reason, "
    "p.decided_by, p.gate_signal, p.received_at, p.flag, p.operator"
)


def _like_escaped(text: str) -> str:
    """``text`` matched literally by ``LIKE ... ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


#: The latest correction of each of a set of passes ({ids}: their ids), by the index of
#: corrections by pass (SQLite gives a bare column the row of the group's ``max``).
_LATEST_CORRECTIONS = (
    "SELECT pass_id, max(id) AS correction, plate AS corrected, plate_color AS corrected_color "
    "FROM corrections WHERE pass_id IN ({ids}) GROUP BY pass_id"
)


def _or_corrected(page: str, order: str, where: Sequence[str]) -> str:
    """The passes of ``page`` (``LIMIT ?`` last) and those whose latest correction's plate
    is ``LIKE`` the next parameter and that meet ``where`` (its parameters, then a limit),
    the newest of both in ``order`` (of ``p``; a limit last): the corrections walked, each
    pass found by its id."""
    corrected = " AND ".join([
        "c.plate LIKE ? ESCAPE '\\'",
        "c.id = (SELECT max(x.id) FROM corrections x WHERE x.pass_id = c.pass_id)",
        *where,
    ])  # fmt: skip
    found = (
        f"SELECT {_LISTED} FROM corrections c CROSS JOIN passes p ON p.id = c.pass_id "  # noqa: S608 - fixed clauses; values are parameters
        f"WHERE {corrected} ORDER BY {order} LIMIT ?"
    )
    return (
        f"SELECT * FROM ({page}) UNION SELECT * FROM ({found}) "  # noqa: S608 - fixed clauses
        f"ORDER BY {order.replace('p.', '')} LIMIT ?"
    )


def _with_counts(page: str, order: str) -> str:
    """The page of passes ``page`` (one statement, ``LIMIT`` last) with how many photos and
    merged reads each has, an unreadable plate's text and its latest correction's plate:
    found for the page's passes only, in three grouped lookups (no subquery per row)."""
    outer = order.replace("f.rowid", "page.id").replace("p.", "page.")
    latest = _LATEST_CORRECTIONS.format(ids="SELECT id FROM page")
    return (
        f"WITH page AS MATERIALIZED ({page}) "  # noqa: S608 - fixed clauses only
        "SELECT page.*, coalesce(ph.n, 0) AS photos, coalesce(r.merged, 0) AS merged_reads, "
        "r.text AS read, c.corrected, c.corrected_color FROM page "
        "LEFT JOIN (SELECT pass_id, count(*) AS n FROM photos "
        "WHERE pass_id IN (SELECT id FROM page) GROUP BY pass_id) ph ON ph.pass_id = page.id "
        "LEFT JOIN (SELECT pass_id, count(merged) AS merged, "
        "max(CASE WHEN merged IS NULL THEN text END) AS text FROM reads "
        "WHERE pass_id IN (SELECT id FROM page) GROUP BY pass_id) r ON r.pass_id = page.id "
        f"LEFT JOIN ({latest}) c ON c.pass_id = page.id "
        f"ORDER BY {outer}"
    )


def _search(
    criteria: HistoryCriteria, limit: int, after: PageCursor | None
) -> tuple[str, tuple[Any, ...], str]:
    """:meth:`PassLedger.search_passes`'s statement for ``criteria`` (the one place a history
    page's WHERE clause is made: :meth:`~PassLedger.search_json` and
    :meth:`~PassLedger.export_csv` page through it too), its parameters and its order (of
    the page's columns, without a table's prefix)."""
    plate, end = criteria.plate, criteria.end
    where, args = list[str](), list[Any]()
    fts = len(plate) >= TRIGRAM
    if plate and not fts:
        where.append("p.plate LIKE ? ESCAPE '\\'")
        args.append(f"%{_like_escaped(plate)}%")
    shared = len(where)  # the conditions after the plate's hold for the corrections too
    if criteria.start is not None:
        where.append("p.received_at >= ?")
        args.append(criteria.start)
    if after is not None and not fts and (end is None or after.received_at < end):
        # the page's upper bound is where the last one ended: the index walk starts there
        # instead of skipping every row of the pages before (as fast on page 300 as on 1)
        where.append("p.received_at <= ?")
        args.append(after.received_at)
    elif end is not None:
        where.append("p.received_at < ?")
        args.append(end)
    if criteria.lane:
        where.append("p.lane_id = ?")
        args.append(criteria.lane)
    if criteria.verdict in ("open", "refuse"):
        where.append("p.verdict = ?")
        args.append(criteria.verdict)
    common, common_args = where[shared:], args[shared:]
    if fts:
        if after is not None:
            where.append("f.rowid < ?")
            args.append(after.id)
            common.append("p.id < ?")
            common_args.append(after.id)
        where.insert(0, "passes_fts MATCH ?")
        args.insert(0, '"' + plate.replace('"', '""') + '"')
        source, order = "passes_fts f CROSS JOIN passes p ON p.id = f.rowid", "f.rowid DESC"
        both = "p.id DESC"
    else:
        if after is not None:
            where.append("(p.received_at, p.id) < (?, ?)")
            args += [after.received_at, after.id]
            common.append("(p.received_at, p.id) < (?, ?)")
            common_args += [after.received_at, after.id]
        source, order = "passes p", "p.received_at DESC, p.id DESC"
        both = order
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    page = f"SELECT {_LISTED} FROM {source} {clause}ORDER BY {order} LIMIT ?"  # noqa: S608 - fixed clauses; values are parameters
    if plate:  # and the passes whose latest correction has it
        page, order = _or_corrected(page, both, common), both
        args += [limit, f"%{_like_escaped(plate)}%", *common_args, limit]
    return (
        _with_counts(page, order),
        (*args, limit),
        order.replace("f.rowid", "id").replace("p.", ""),
    )


def _made_page(rows: list[sqlite3.Row]) -> tuple[int, bytes, PageCursor | None]:
    """A page of the history as :func:`~edge.ledger.history_text.csv_page` or
    :func:`~edge.ledger.history_text.json_page` made it: how many passes, their text encoded,
    and the cursor after the last one."""
    row = rows[0]
    cursor = None if row["last_id"] is None else PageCursor(row["last_at"], row["last_id"])
    # (UTF-8 bytes as SQLite made them: a 5,000-row page's 2 MB decoded and encoded again
    # held the interpreter lock ~5 ms the gate's loop waited for)
    return int(row["n"]), bytes(row["text"]), cursor


class PassLedger(LedgerPart):
    """Passes, their photos and reads, corrections and figures, over the shared database."""

    async def last_serial(self, prefix: str) -> str | None:
        """The highest serial number issued for ``prefix`` (enterprise + gate + direction), or
        its floor after a restore (``edge restore``), whichever is higher."""
        rows = await self._fetchall(
            "SELECT max(s) AS s FROM (SELECT max(serial) AS s FROM passes "
            "WHERE serial > ? AND serial < ? UNION ALL "  # ':' sorts right after the digits
            "SELECT serial FROM serial_floors WHERE prefix = ?)",
            (prefix, prefix + ":", prefix),
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

        def write(db: sqlite3.Connection) -> int:
            pass_id = db.execute(
                INSERT_PASS,
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
                    None if new.camera_read else new.raw,  # a read's message: kept with it
                    decision.operator,
                ),
            ).lastrowid
            assert pass_id is not None
            if new.camera_read:  # in the same transaction: committed with its pass or not at all
                read = (pass_id, new.lane_id, new.received_at, new.plate, new.plate_color,
                        new.text, new.vendor_id, new.source, None)  # fmt: skip
                read_id = db.execute(INSERT_READ, read).lastrowid
                if new.raw is not None:
                    db.execute(INSERT_MESSAGE, (read_id, new.raw))
            db.execute(INSERT_RECORD_ENTRY, (pass_id, now))
            _insert_photos(db, pass_id, photos, forward=forward_photos, now=now)
            return pass_id

        return RecordedPass(await self._transaction_at_once(write), new.serial)

    async def _insert_read(self, read: NewRead) -> None:
        cur = await self._db.execute(
            INSERT_READ,
            (read.pass_id, read.lane_id, read.received_at, read.plate, read.plate_color,
             read.text, read.vendor_id, read.source, read.merged or None),
        )  # fmt: skip
        if read.raw is not None:
            await self._db.execute(INSERT_MESSAGE, (cur.lastrowid, read.raw))

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
        """A lane's passes received since ``since`` (unix seconds), oldest first, to rebuild
        its duplicate filter at start (which learns the camera's reads among them, and when
        the barrier lifted for any)."""
        return await self._passes(
            "SELECT * FROM passes WHERE lane_id = ? AND received_at >= ? ORDER BY received_at, id",
            (lane_id, since),
        )

    async def reads_of(self, pass_id: int) -> list[StoredRead]:
        """Every camera read kept for a pass: the one that made it, then those merged in,
        each with what the camera sent while it is kept."""
        rows = await self._fetchall(
            "SELECT r.id, r.pass_id, r.lane_id, r.received_at, r.plate, r.plate_color, r.text, "  # noqa: S608 - a constant
            f"r.vendor_id, r.source, r.merged, {_MESSAGE} AS raw "
            "FROM reads r JOIN passes p ON p.id = r.pass_id "
            "LEFT JOIN camera_messages m ON m.read_id = r.id WHERE r.pass_id = ? ORDER BY r.id",
            (pass_id,),
        )
        return [StoredRead.from_row(row) for row in rows]

    async def camera_message(self, pass_id: int) -> str | None:
        """What the camera sent for the read that made the pass (images elided), None for a
        pass without one or once retention let it go (``storage.diagnosis_keep_days``)."""
        rows = await self._fetchall(
            f"SELECT {_MESSAGE} AS raw FROM passes p LEFT JOIN reads r ON r.pass_id = p.id "  # noqa: S608 - a constant
            "AND r.merged IS NULL LEFT JOIN camera_messages m ON m.read_id = r.id "
            "WHERE p.id = ? ORDER BY r.id LIMIT 1",
            (pass_id,),
        )
        return rows[0]["raw"] if rows else None

    async def forget_messages(self, received_before: float, batch: int = 2000) -> int:
        """Delete what cameras sent for reads received before ``received_before`` (unix s),
        oldest first, one short transaction per ``batch`` messages looked at; returns how many
        were deleted. Stops at the first read received after it (messages are kept in the
        order their reads came). Messages written before migration 22 (on the pass and the
        read) stay where they are: clearing them in place would free no page."""
        deleted, after = 0, 0
        while True:
            rows = await self._fetchall(
                "SELECT m.read_id, r.received_at FROM camera_messages m "
                "JOIN reads r ON r.id = m.read_id WHERE m.read_id > ? ORDER BY m.read_id LIMIT ?",
                (after, batch),
            )
            old = [r["read_id"] for r in rows if r["received_at"] < received_before]
            if old:
                deleted += await self._update_entry(
                    f"DELETE FROM camera_messages WHERE read_id IN ({','.join('?' * len(old))})",  # noqa: S608 - placeholders
                    tuple(old),
                )
            if len(old) < len(rows) or len(rows) < batch:
                return deleted
            after = rows[-1]["read_id"]

    async def set_barrier(
        self,
        pass_id: int,
        state: str | None,
        error: str | None = None,
        photos: LatePhotos | None = None,
    ) -> None:
        """``state`` None: unknown (a camera's record that does not say what it did).
        ``photos``: the pass's photos, committed with it (:class:`LatePhotos`)."""
        if photos is None:
            await self._update_entry(SET_BARRIER, (state, error, pass_id))
            return
        now = self._clock()

        def write(db: sqlite3.Connection) -> None:
            db.execute(SET_BARRIER, (state, error, pass_id))
            _add_late_photos(db, pass_id, photos, now)

        await self._transaction_at_once(write)

    async def add_photos(self, pass_id: int, photos: LatePhotos) -> None:
        """Commit the photos of a pass recorded without them (:class:`LatePhotos`)."""
        now = self._clock()
        await self._transaction_at_once(lambda db: _add_late_photos(db, pass_id, photos, now))

    async def heal_photos(self, pass_id: int, photos: LatePhotos) -> bool:
        """The photos a camera's re-push of a pass brought, for a pass committed without them
        (flagged ``photo-skipped``, no photo row: the daemon stopped between the pass's
        commit and its photos'): their rows and the flag as it stands with them, and — the
        pass closed meanwhile — their outbox entries released at once. False, nothing
        written: the pass has a photo already or is not so flagged."""
        now = self._clock()

        def write(db: sqlite3.Connection) -> bool:
            found = db.execute(
                "SELECT p.state FROM passes p WHERE p.id = ? AND p.flag = 'photo-skipped' "
                "AND NOT EXISTS (SELECT 1 FROM photos f WHERE f.pass_id = p.id)",
                (pass_id,),
            ).fetchone()
            if found is None:
                return False
            _add_late_photos(db, pass_id, photos, now)
            if found[0] != "open":  # finalised: its entries went out already, these go now
                db.execute(RELEASE_ENTRIES, (now, pass_id))
            return True

        healed = await self._transaction_at_once(write)
        if healed:
            self.outbox_changed.set()
        return healed

    async def finalise(
        self, pass_id: int, signal: GateSignal, passed_at: float, confirmed_by: str
    ) -> None:
        """Record how the pass ended and release its outbox entries for forwarding."""
        await self.close_pass(pass_id, signal, passed_at, confirmed_by)

    async def close_pass(
        self,
        pass_id: int,
        signal: GateSignal,
        passed_at: float,
        confirmed_by: str,
        barrier: tuple[str | None, str | None] | None = None,
        photos: LatePhotos | None = None,
    ) -> None:
        """:meth:`finalise`, with the barrier's state and error (:meth:`set_barrier`) and the
        pass's photos (:class:`LatePhotos`) in the same transaction when given: one commit
        for what the gate did, the photos written meanwhile and how the pass ended, when all
        is known as the commands go out (its photo entries are released with its record)."""
        now = self._clock()

        def write(db: sqlite3.Connection) -> None:
            if barrier is not None:
                db.execute(SET_BARRIER, (*barrier, pass_id))
            if photos is not None:
                _add_late_photos(db, pass_id, photos, now)
            db.execute(FINAL_STATE, (int(signal), passed_at, confirmed_by, pass_id))
            db.execute(RELEASE_ENTRIES, (now, pass_id))

        await self._transaction_at_once(write)
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

    async def pass_and_photos(self, pass_id: int) -> tuple[StoredPass, list[StoredPhoto]]:
        """:meth:`get_pass` and :meth:`photos_of` in one read (the forwarder's, per pass)."""
        passes, photos = await self._fetch_each(
            [
                ("SELECT * FROM passes WHERE id = ?", (pass_id,)),
                ("SELECT * FROM photos WHERE pass_id = ? ORDER BY number", (pass_id,)),
            ]
        )
        if not passes:
            raise KeyError(pass_id)
        return StoredPass.from_row(passes[0]), [StoredPhoto.from_row(row) for row in photos]

    async def passes_and_photos(
        self, pass_ids: Sequence[int]
    ) -> list[tuple[StoredPass, list[StoredPhoto]]]:
        """:meth:`pass_and_photos` of many passes in one read (the forwarder's, for the
        entries a round found); a pass not found is left out."""
        ids = (json_list(pass_ids),)  # one statement whatever their number (Outbox._SKIP)
        passes, photos = await self._fetch_each(
            [
                ("SELECT * FROM passes WHERE id IN (SELECT value FROM json_each(?))", ids),
                (
                    "SELECT * FROM photos WHERE pass_id IN (SELECT value FROM json_each(?)) "
                    "ORDER BY pass_id, number",
                    ids,
                ),
            ]
        )
        of_pass: dict[int, list[StoredPhoto]] = {}
        for row in photos:
            photo = StoredPhoto.from_row(row)
            of_pass.setdefault(photo.pass_id, []).append(photo)
        found = [StoredPass.from_row(row) for row in passes]
        return [(row, of_pass.get(row.id, [])) for row in found]

    async def _passes(self, sql: str, args: tuple[Any, ...] = ()) -> list[StoredPass]:
        return [StoredPass.from_row(row) for row in await self._fetchall(sql, args)]

    async def latest_pass(self, lane_id: str) -> StoredPass | None:
        rows = await self._passes(
            "SELECT * FROM passes WHERE lane_id = ? ORDER BY received_at DESC, id DESC LIMIT 1",
            (lane_id,),
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

    async def _photos_of_history(self, sql: str, args: tuple[Any, ...]) -> list[StoredPhoto]:
        return await self._history_as(sql, args, StoredPhoto.many)

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

    async def search_passes(
        self,
        criteria: HistoryCriteria = EVERY_PASS,
        *,
        limit: int = 200,
        after: PageCursor | None = None,
    ) -> list[PassListing]:
        """Passes for the history view that meet ``criteria`` (:class:`HistoryCriteria`;
        the default: every pass), newest first (the plate matches anywhere in it), at
        most ``limit``; ``after``: the page after the one that ended with that pass
        (:meth:`PageCursor.after`). On the history connection, under its time budget
        (:class:`~edge.ledger.database.LedgerBusyError` past it).

        Plates of three characters or more are found through the trigram index, newest pass
        first; shorter ones, and searches without a plate, walk the time index newest first
        (a day, a lane and a day, or the latest passes: each bounded by its range or by
        ``limit``). A plate is also looked for in the passes' latest corrections (a guard's
        corrected plate finds its pass; the camera's read still does too): a walk of the
        corrections (a guard's hand makes each: few beside the passes), each pass found by its
        id, the page the newest of both.
        """
        sql, args, _ = _search(criteria, limit, after)
        return await self._history_as(sql, args, PassListing.many)

    async def search_json(
        self,
        zone: tzinfo,
        criteria: HistoryCriteria = EVERY_PASS,
        *,
        limit: int = 200,
        after: PageCursor | None = None,
    ) -> tuple[int, bytes, PageCursor | None]:
        """:meth:`search_passes`' page as the history page's JSON, UTF-8: an array of
        :func:`~edge.ledger.history_text.json_item` objects (``zone``: the site's, for the
        time), made by SQLite with the interpreter lock free; how many passes it holds and the
        cursor after the last one. Under the history budget
        (:class:`~edge.ledger.database.LedgerBusyError` past it)."""
        spans = await self._zone_spans(zone, criteria)
        sql, args, order = _search(criteria, limit, after)
        return await self._history_as(json_page(sql, order, spans), args, _made_page)

    async def _zone_spans(self, zone: tzinfo, criteria: HistoryCriteria) -> list[ZoneSpan]:
        """``zone``'s offsets over the passes received from ``criteria``'s ``start`` to its
        ``end`` (None: from the first, to the last), for SQLite to show their times (two index
        lookups)."""
        bounds = ["SELECT received_at FROM passes WHERE 1"]
        args: list[Any] = []
        if criteria.start is not None:
            bounds.append("received_at >= ?")
            args.append(criteria.start)
        if criteria.end is not None:
            bounds.append("received_at < ?")
            args.append(criteria.end)
        where = " AND ".join(bounds)
        now = self._clock()

        def spans(rows: list[sqlite3.Row]) -> list[ZoneSpan]:
            first, last = rows[0][0], rows[0][1]
            return zone_spans(zone, now if first is None else first, now if last is None else last)

        return await self._history_as(
            f"SELECT ({where} ORDER BY received_at LIMIT 1), "
            f"({where} ORDER BY received_at DESC LIMIT 1)",
            (*args, *args),
            spans,
        )

    async def export_passes(
        self, criteria: HistoryCriteria = EVERY_PASS, *, page: int = 500
    ) -> AsyncIterator[list[PassListing]]:
        """Every pass a search for ``criteria`` finds (no cap), newest first, in pages of
        ``page``: each page one statement under the history budget, so that other reads run
        between them."""
        after: PageCursor | None = None
        while True:
            rows = await self.search_passes(criteria, limit=page, after=after)
            if rows:
                yield rows
            if len(rows) < page:
                return
            after = PageCursor.after(rows[-1])

    async def export_csv(
        self,
        zone: tzinfo,
        criteria: HistoryCriteria = EVERY_PASS,
        *,
        limit: int | None = None,
        page: int = 500,
    ) -> AsyncIterator[bytes]:
        """The passes :meth:`export_passes` finds (the first ``limit`` of them if given) as
        the history's CSV lines, UTF-8, a page of ``page`` at a time: each page one
        statement under the history budget that SQLite makes into the page's lines
        (:mod:`edge.ledger.history_text`), so the interpreter lock is free while it runs and
        the event loop is never kept waiting for it. ``zone``: the site's, for the time."""
        found = await self._zone_spans(zone, criteria)
        after: PageCursor | None = None
        left = limit
        while left is None or left > 0:
            size = page if left is None else min(page, left)
            sql, values, order = _search(criteria, size, after)
            count, lines, after = await self._history_as(
                csv_page(sql, order, found), values, _made_page
            )
            if count:
                yield lines
            if left is not None:
                left -= count
            if count < size:
                return

    async def photo_bytes(self) -> int:
        """Bytes of photo files still kept (a tally kept by the photos' triggers)."""
        rows = await self._fetchall("SELECT n FROM tallies WHERE name = 'photo-bytes'")
        return int(rows[0]["n"]) if rows else 0

    async def prunable_photos(self, older_than: float | None, limit: int) -> list[StoredPhoto]:
        """Kept photos, oldest first, whose pass is entirely forwarded (every outbox entry
        of the pass sent: dead letters and unsent data are never pruned); with
        ``older_than``, only photos taken before it."""
        return await self._photos_of_history(
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

    async def latest_correction(self, pass_id: int) -> StoredCorrection | None:
        """The pass's latest correction (the plate it is shown with), None without one."""
        rows = await self._fetchall(
            "SELECT * FROM corrections WHERE pass_id = ? ORDER BY id DESC LIMIT 1", (pass_id,)
        )
        return StoredCorrection.from_row(rows[0]) if rows else None

    async def corrected_plates(self, serials: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The plate and colour of the latest correction of each of these passes (by serial)
        that has one (the live list of recent passes shows them)."""
        if not serials:
            return {}
        marks = ",".join("?" * len(serials))
        ids = f"SELECT id FROM passes WHERE serial IN ({marks})"  # noqa: S608 - placeholders
        rows = await self._fetchall(
            f"SELECT p.serial, c.corrected, c.corrected_color FROM ("  # noqa: S608 - constants
            f"{_LATEST_CORRECTIONS.format(ids=ids)}) c JOIN passes p ON p.id = c.pass_id",
            tuple(serials),
        )
        return {row["serial"]: (row["corrected"], row["corrected_color"]) for row in rows}

    async def count_codes_since(self, suffix: str, since: float, direction: str) -> int:
        """Passes since ``since`` whose reason code ends with ``suffix`` (e.g. quota entries).

        Quota entries since a quarter hour (midnight, say) are read from the counts kept as
        passes are written (``pass_figures``); anything else is counted from the passes."""
        if suffix == "quota" and since % BUCKET == 0:
            rows = await self._fetchall(
                "SELECT coalesce(sum(quota), 0) AS n FROM pass_figures "
                "WHERE bucket >= ? AND direction = ?",
                (int(since // BUCKET), direction),
            )
        else:
            rows = await self._history(
                "SELECT count(*) AS n FROM passes WHERE received_at >= ? AND direction = ? "
                "AND reason_code LIKE ?",
                (since, direction, f"%-{suffix}"),
            )
        return int(rows[0]["n"])

    async def daily_figures(self, start: float, end: float) -> list[DailyFigureRow]:
        """Per lane and direction, the figures of ``start`` … ``end`` (those of
        SendDayDataCity a gate has): vehicles that went through (gate signal passed, gate
        crashes included), refused, refused by control
        (:func:`edge.domain.decision.control_refusal`), and the 国三 / 国四 vehicles that went
        through. Summed from the counts kept per quarter hour as passes are written and
        finalised (``pass_figures``, triggers in the pass's own transaction) when both ends
        are on a quarter hour (a day in any time zone); else counted from the passes."""
        if start % BUCKET == 0 and end % BUCKET == 0:
            rows = await self._fetchall(
                f"SELECT lane_id, direction, {_SUMMED} FROM pass_figures "  # noqa: S608 - constants
                "WHERE bucket >= ? AND bucket < ? "
                "GROUP BY lane_id, direction ORDER BY lane_id, direction",
                (int(start // BUCKET), int(end // BUCKET)),
            )
        else:
            rows = await self._history(
                f"SELECT lane_id, direction, {_COUNTED} FROM passes "  # noqa: S608 - constants
                "WHERE received_at >= ? AND received_at < ? "
                "GROUP BY lane_id, direction ORDER BY lane_id, direction",
                (start, end),
            )
        return [DailyFigureRow.from_row(row) for row in rows]
