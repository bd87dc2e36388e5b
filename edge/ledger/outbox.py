"""The outbox: what the forwarder sends to the platform, in order, and its dead letters
(one part of :class:`edge.ledger.store.Store`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from edge.ledger.database import LedgerPart, json_list
from edge.ledger.rows import (
    OutboxEntry,
    OutboxListing,
    StoredOutboxEntry,
)


class Outbox(LedgerPart):
    """Outbox entries over the shared database; :attr:`outbox_changed` is set whenever
    entries become sendable."""

    #: Pending entries (a partial index holds only those), a pass's photos and corrections
    #: once its record is no longer unsent (sent, or compacted away after it was).
    _DUE = (
        "FROM outbox o WHERE o.state = 'pending' AND (o.kind = 'record' OR NOT EXISTS ("
        "SELECT 1 FROM outbox r WHERE r.pass_id = o.pass_id AND r.kind = 'record' "
        "AND r.state != 'sent'))"
    )

    #: Entries left out (the forwarder's claimed ones): a JSON list, so that the statement's
    #: text is one whatever their number — a text for each number of ``?`` is a statement
    #: prepared and cached for each (sqlite3 keeps 128 a connection, ~20 KB each here: the
    #: daemon's steady RSS grew ~2 MiB with them).
    _SKIP = " AND o.id NOT IN (SELECT value FROM json_each(?))"

    def _due_now(
        self, limit: int, exclude: Sequence[int], now: float
    ) -> tuple[str, tuple[Any, ...]]:
        return (
            "SELECT o.id, o.pass_id, o.kind, o.photo_id, o.attempts, o.correction_id, "
            f"o.weighing_id {self._DUE} "
            f"AND o.next_attempt_at <= ?{self._SKIP} ORDER BY o.id LIMIT ?",
            (now, json_list(exclude), limit),
        )

    @staticmethod
    def _entries(rows: Sequence[sqlite3.Row]) -> list[OutboxEntry]:
        return [
            OutboxEntry(
                r["id"],
                r["pass_id"],
                r["kind"],
                r["photo_id"],
                r["attempts"],
                r["correction_id"],
                r["weighing_id"],
            )
            for r in rows
        ]

    async def due_entries(self, limit: int, exclude: Sequence[int] = ()) -> list[OutboxEntry]:
        """Sendable entries, oldest first; a pass's photos only after its record was sent."""
        return self._entries(await self._fetchall(*self._due_now(limit, exclude, self._clock())))

    async def due_and_next(
        self, limit: int, exclude: Sequence[int] = ()
    ) -> tuple[list[OutboxEntry], float | None]:
        """:meth:`due_entries`, and when the first entry not due yet will be (what
        :meth:`next_due_at` says once the due ones are excluded), in one read: the forwarder
        asks both each round."""
        now = self._clock()
        due, later = await self._fetch_each(
            [
                self._due_now(limit, exclude, now),
                (
                    f"SELECT min(o.next_attempt_at) AS t {self._DUE} "
                    f"AND o.next_attempt_at > ?{self._SKIP}",
                    (now, json_list(exclude)),
                ),
            ]
        )
        value = later[0]["t"]
        return self._entries(due), None if value is None else float(value)

    async def next_due_at(self, exclude: Sequence[int] = ()) -> float | None:
        rows = await self._fetchall(
            f"SELECT min(o.next_attempt_at) AS t {self._DUE}{self._SKIP}", (json_list(exclude),)
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
        """Book a batch the platform acknowledged, in one transaction (one statement,
        whatever its size: see :attr:`_SKIP`)."""
        await self._update_entry(
            "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (self._clock(), json_list(entry_ids)),
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
        if state is None or state == "sent":  # the newest entries, or sent ones: near the end
            where, args = ("" if state is None else "WHERE o.state = ? "), (state,) if state else ()
        else:  # unsent ones, from the partial index that holds only those
            where, args = "WHERE o.state = ? AND o.state != 'sent' ", (state,)
        rows = await self._fetchall(
            "SELECT o.id, o.kind, o.state, o.attempts, o.last_error, o.created_at, o.sent_at, "  # noqa: S608 - fixed clauses
            "p.serial, p.plate, p.lane_id, (SELECT c.plate FROM corrections c "
            "WHERE c.pass_id = p.id ORDER BY c.id DESC LIMIT 1) AS corrected "
            f"FROM outbox o JOIN passes p ON p.id = o.pass_id "
            f"{where}ORDER BY o.id DESC LIMIT ?",
            (*args, limit),
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
        changed = await self._update_entry(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = NULL "  # noqa: S608
            f"WHERE state = 'dead' AND state != 'sent'{only}",
            (self._clock(), *(entry_ids or ())),
        )
        self.outbox_changed.set()
        return changed

    async def backlog(self) -> tuple[dict[str, int], float | None]:
        """Counts of unsent entries by state, and when the oldest one waiting on forwarding
        was created — pending, or held with its pass still open; a goods record held for its
        truck to leave the scale or for a clerk's check waits on neither (from the partial
        index of unsent entries: as cheap as the backlog is short)."""
        rows = await self._fetchall(
            "SELECT state, count(*) AS n, min(created_at) AS oldest FROM outbox "
            "WHERE state != 'sent' GROUP BY state"
        )
        counts = {row["state"]: int(row["n"]) for row in rows}
        oldest = [row["oldest"] for row in rows if row["state"] == "pending"]
        if counts.get("held"):
            held = await self._fetchall(
                "SELECT min(created_at) AS oldest FROM outbox "
                "WHERE state = 'held' AND kind != 'goods'"
            )
            oldest += [row["oldest"] for row in held if row["oldest"] is not None]
        return counts, (min(oldest) if oldest else None)

    async def outbox_counts(self) -> dict[str, int]:
        """Entries by state (tallies kept by the outbox's triggers: no count of the table)."""
        rows = await self._fetchall(
            "SELECT substr(name, 8) AS state, n FROM tallies "
            "WHERE name >= 'outbox:' AND name < 'outbox;' AND n > 0"
        )
        return {row["state"]: int(row["n"]) for row in rows}

    async def compact_sent(self, sent_before: float, batch: int = 2000) -> int:
        """Delete entries sent before ``sent_before`` (unix seconds) of passes that have
        nothing left to send (the pass, its photos and corrections stay; only the record of
        their sending goes), oldest first, one short transaction per ``batch`` rows looked
        at; returns how many were deleted. Stops at the first entry created after
        ``sent_before`` (none after it can have been sent before it)."""
        deleted, after = 0, 0
        while True:
            rows = await self._fetchall(
                "SELECT id, state, sent_at, created_at FROM outbox WHERE id > ? "
                "ORDER BY id LIMIT ?",
                (after, batch),
            )
            old = [r["id"] for r in rows if r["state"] == "sent" and r["sent_at"] < sent_before]
            if old:
                deleted += await self._update_entry(
                    f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(old))}) "  # noqa: S608 - placeholders
                    "AND NOT EXISTS (SELECT 1 FROM outbox u WHERE u.pass_id = outbox.pass_id "
                    "AND u.state != 'sent')",
                    tuple(old),
                )
            if len(rows) < batch or rows[-1]["created_at"] >= sent_before:
                return deleted
            after = rows[-1]["id"]
