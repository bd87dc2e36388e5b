"""The ledger's passes: each with its photos and camera reads, how it ended, corrections of
its plate, and the day's figures (one part of :class:`edge.ledger.store.Store`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge.domain.codes import GateSignal
from edge.domain.decision import CachedAnswer
from edge.domain.reports import VerifyAnswer
from edge.ledger.database import LedgerPart
from edge.ledger.rows import (
    _READ_COLUMNS,
    DailyFigureRow,
    NewPass,
    NewPhoto,
    NewRead,
    PassListing,
    RecordedPass,
    StoredCorrection,
    StoredPass,
    StoredPhoto,
    StoredRead,
    decode_answer,
    encode_answer,
)

#: How a pass and what comes with it are written (also by ``bench/ledger.py``, which
#: generates a ledger of months with the very same statements).
INSERT_PASS = (
    "INSERT INTO passes (serial, lane_id, gate_code, direction, plate, plate_color, flag, "  # noqa: S105 - SQL, not a password
    "camera_time, received_at, source, vendor_id, verdict, reason_code, reason, decided_by, "
    "verify_json, raw, operator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_READ = f"INSERT INTO reads ({_READ_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 - a constant
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

        async def write() -> int:
            cur = await self._db.execute(
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
            await self._db.execute(INSERT_RECORD_ENTRY, (pass_id, now))
            for photo in photos:
                cur = await self._db.execute(
                    INSERT_PHOTO,
                    (pass_id, photo.number, photo.kind, photo.path, photo.size, photo.taken_at),
                )
                if forward_photos:
                    await self._db.execute(INSERT_PHOTO_ENTRY, (pass_id, cur.lastrowid, now))
            return pass_id

        return RecordedPass(await self._transaction(write), new.serial)

    async def _insert_read(self, read: NewRead) -> None:
        await self._db.execute(
            INSERT_READ,
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
