"""The electronic ledger (电子台账) of vehicles and machines, their document images, their
filings with the platforms and the history of every change (one part of
:class:`edge.ledger.store.Store`; tables of migration 13, rebuilt by 17).

An entry in force is keyed by its register, plate and plate colour (a machine has no colour:
""); entries set to 注销 are kept beside a newer one of their plate (a reissued plate);
plate and colour never change (the platform's Modify methods forbid it: 不可修改) — a
vehicle with a new plate is a new entry and the old one is set to 注销. Every write records
who made it in ``filing_history`` in the same transaction, and, when the caller names a
platform to file with (``file_to``), queues the entry in ``filing_outbox`` in that
transaction too (one pending row per entry and platform: the sender sends the entry as it is
when it sends, so a change made before the send is not sent twice).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import fields
from typing import TypeVar

import structlog

from edge.domain.filing import (
    OBSOLETE,
    Entry,
    EntryStatus,
    FilingState,
    entry_form,
    plate_key,
)
from edge.ledger.database import LedgerPart
from edge.ledger.rows import (
    EntryChange,
    FilingOutboxEntry,
    NewFilingImage,
    StoredEntry,
    StoredFiling,
    StoredFilingImage,
)

T = TypeVar("T")
log = structlog.get_logger("edge.ledger.filings")

#: Entries read per statement of an export.
EXPORT_PAGE = 500
#: The last character there is: ``prefix`` ≤ x < ``prefix + _TOP`` is a prefix match an
#: index can walk (a LIKE cannot, with SQLite's default case-insensitive LIKE).
_TOP = "\U0010ffff"
_COLUMNS = tuple(
    f.name for f in fields(StoredEntry) if f.name not in {"id", "created_at", "created_by"}
)


#: Values one ``IN (…)`` takes at most (SQLite's variable limit is 999 before 3.32).
IN_CHUNK = 900


#: A pending filing ``o`` that no older pending filing of its plate (an entry of the same
#: register, plate and colour) holds back on its platform (:meth:`FilingLedger.due_filings`).
#: The entries of the plate are found by its index (``+``: not by the register's, which would
#: walk a register of thousands for each pending filing).
_NOT_HELD = (
    "NOT EXISTS (SELECT 1 FROM filing_entries e JOIN filing_entries pe "
    "ON pe.plate = e.plate AND +pe.register = e.register AND +pe.plate_color = e.plate_color "
    "AND pe.id != e.id JOIN filing_outbox p ON p.entry_id = pe.id AND p.state = 'pending' "
    "AND p.platform = o.platform AND p.id < o.id WHERE e.id = o.entry_id)"
)


class EntryExistsError(ValueError):
    """An entry in force with this register, plate and colour is in the ledger already
    (``entry_id``); ``index`` is the row of an import that has it (None: a single add);
    ``field`` the field it is about."""

    field = "plate"

    def __init__(
        self, entry_id: int, plate: str, index: int | None = None, why: str | None = None
    ) -> None:
        self.entry_id, self.plate, self.index = entry_id, plate, index
        super().__init__(why or f"{plate} is in the ledger already (entry {entry_id})")


class VinInUseError(EntryExistsError):
    """The VIN is on another entry in force of the register (``entry_id``, its ``plate``):
    one vehicle, two plates."""

    field = "vin"

    def __init__(self, entry_id: int, plate: str, vin: str, index: int | None = None) -> None:
        self.vin = vin
        why = f"VIN {vin} is on {plate} already (entry {entry_id})"
        super().__init__(entry_id, plate, index, why)


def _columns(entry: Entry) -> dict[str, str]:
    """The entry's values by column ("" for the columns its register does not have)."""
    values = {name: "" for name in _COLUMNS if name not in {"changed_at", "changed_by"}}
    values.update(entry_form(entry))
    values["register"] = entry.REGISTER.value
    return values


class FilingLedger(LedgerPart):
    """Entries, images, filings, the outbox of filings and the history."""

    @property
    def filings_changed(self) -> asyncio.Event:
        """Set whenever filings become sendable; the filing sender waits on it."""
        return self.database.filings_changed

    # -- writes --------------------------------------------------------------------------------
    async def add_entry(
        self,
        entry: Entry,
        by: str,
        images: Sequence[NewFilingImage] = (),
        file_to: str | None = None,
    ) -> int:
        """Store a new entry with its images (files already written) and its history row;
        queue its filing with ``file_to`` (city / province; None: not filed). Returns the
        entry's id; raises :class:`EntryExistsError`."""

        async def write() -> int:
            entry_id = await self._insert_entry(entry, by, None)
            for image in images:
                await self._insert_image(entry_id, image, by)
            await self._queue(entry_id, file_to)
            return entry_id

        return await self._written(write, file_to)

    async def import_entries(
        self, entries: Sequence[Entry], by: str, file_to: str | None = None
    ) -> list[int]:
        """Store every entry or none (one transaction); raises :class:`EntryExistsError` with
        the ``index`` of the first entry already in the ledger (or twice in ``entries``)."""

        async def write() -> list[int]:
            ids = []
            for index, entry in enumerate(entries):
                ids.append(await self._insert_entry(entry, by, index))
                await self._queue(ids[-1], file_to)
            return ids

        return await self._written(write, file_to)

    async def modify_entry(
        self,
        entry_id: int,
        entry: Entry,
        by: str,
        file_to: str | None = None,
        images: Sequence[NewFilingImage] = (),
    ) -> dict[str, tuple[str, str]]:
        """Replace an entry's fields (register, plate and colour must stay: ValueError) and
        attach ``images`` (their files already written; as :meth:`add_image`), all in one
        transaction; returns what changed (field or image kind → (before, after)), {} when
        nothing did (nothing written, nothing queued). Raises KeyError for an unknown entry."""

        async def write() -> dict[str, tuple[str, str]]:
            before = await self._entry_in_transaction(entry_id)
            if (before.register, before.plate, before.plate_color) != (
                entry.REGISTER.value, *plate_key(entry),
            ):  # fmt: skip
                raise ValueError("register, plate and plate colour cannot be changed")
            old = {name: str(getattr(before, name)) for name in entry_form(entry)}
            new = entry_form(entry)
            changed = {k: (old[k], v) for k, v in new.items() if old[k] != v}
            if not changed and not images:
                return {}
            if (
                changed
                and new["status"] != EntryStatus.CANCELLED.value
                and ("vin" in changed or before.status == EntryStatus.CANCELLED.value)
            ):
                await self._check_in_force(
                    before.register, before.plate, before.plate_color, new.get("vin", ""),
                    entry_id,
                )  # fmt: skip
            if changed:
                sets = ", ".join(f"{k} = ?" for k in changed)
                update = f"UPDATE filing_entries SET {sets}, changed_at = ?, changed_by = ? "  # noqa: S608 - our column names
                await self._db.execute(
                    update + "WHERE id = ?",
                    (*(v for _, v in changed.values()), self._clock(), by, entry_id),
                )
                await self._note(entry_id, by, "modify", changed)
            for image in images:  # after the fields: the history reads in that order
                await self._insert_image(entry_id, image, by)
                changed[image.kind] = ("", image.path)
            await self._queue(entry_id, file_to)
            return changed

        return await self._written(write, file_to)

    async def set_status(
        self, entry_id: int, status: EntryStatus, by: str, file_to: str | None = None
    ) -> bool:
        """Set an entry's status (正常 / 封存 / 注销); False when it had it already. Raises
        KeyError for an unknown entry, :class:`EntryExistsError` when a 注销 entry would come
        back while a newer entry of its plate and colour is in force."""

        async def write() -> bool:
            before = await self._entry_in_transaction(entry_id)
            if before.status == status.value:
                return False
            if before.status == EntryStatus.CANCELLED.value:
                await self._check_in_force(
                    before.register, before.plate, before.plate_color, before.vin, entry_id
                )
            await self._db.execute(
                "UPDATE filing_entries SET status = ?, changed_at = ?, changed_by = ? WHERE id = ?",
                (status.value, self._clock(), by, entry_id),
            )
            await self._note(entry_id, by, "status", {"status": (before.status, status)})
            await self._queue(entry_id, file_to)
            return True

        return await self._written(write, file_to)

    async def add_image(
        self, entry_id: int, image: NewFilingImage, by: str, file_to: str | None = None
    ) -> int:
        """Attach a document image (its file already written); the entry's previous image of
        that kind is marked replaced (its file kept). Returns the image's id; KeyError for an
        unknown entry."""

        async def write() -> int:
            await self._entry_in_transaction(entry_id)
            image_id = await self._insert_image(entry_id, image, by)
            await self._queue(entry_id, file_to)
            return image_id

        return await self._written(write, file_to)

    async def queue_filing(self, entry_id: int, platform: str) -> bool:
        """Queue an entry's filing with ``platform`` (again); False when one is pending
        already. KeyError for an unknown entry."""

        async def write() -> bool:
            await self._entry_in_transaction(entry_id)
            return await self._queue(entry_id, platform)

        return await self._written(write, platform)

    async def _written(self, write: Callable[[], Awaitable[T]], file_to: str | None) -> T:
        result = await self._transaction(write)
        if file_to is not None:
            self.filings_changed.set()
        return result

    async def _live_twin(self, register: str, plate: str, color: str, than: int = 0) -> int | None:
        """The id of an entry of the register with this plate and colour that is not 注销
        (other than ``than``); None: none (the partial unique index of migration 17)."""
        async with self._db.execute(
            "SELECT id FROM filing_entries WHERE register = ? AND plate = ? AND plate_color = ? "
            "AND status != '3' AND id != ?",
            (register, plate, color, than),
        ) as cur:
            found = await cur.fetchone()
        return None if found is None else int(found[0])

    async def _vin_twin(self, register: str, vin: str, than: int = 0) -> tuple[int, str] | None:
        """(id, plate) of an entry in force of the register with this VIN, other than
        ``than``; None: none (or no VIN)."""
        if not vin:
            return None
        async with self._db.execute(
            "SELECT id, plate FROM filing_entries WHERE vin = ? AND vin != '' AND register = ? "
            "AND status != '3' AND id != ? LIMIT 1",
            (vin, register, than),
        ) as cur:
            found = await cur.fetchone()
        return None if found is None else (int(found[0]), str(found[1]))

    async def _check_in_force(
        self, register: str, plate: str, color: str, vin: str, than: int = 0,
        index: int | None = None,
    ) -> None:  # fmt: skip
        """Raise when an entry in force other than ``than`` has this plate and colour
        (:class:`EntryExistsError`) or this VIN (:class:`VinInUseError`)."""
        if (twin := await self._live_twin(register, plate, color, than)) is not None:
            raise EntryExistsError(twin, plate, index)
        if (other := await self._vin_twin(register, vin, than)) is not None:
            raise VinInUseError(other[0], other[1], vin, index)

    async def _insert_entry(self, entry: Entry, by: str, index: int | None) -> int:
        values = _columns(entry)
        if entry.status is not EntryStatus.CANCELLED:
            await self._check_in_force(
                entry.REGISTER.value, *plate_key(entry), values["vin"], index=index
            )
        now = self._clock()
        names = [*values, "created_at", "created_by", "changed_at", "changed_by"]
        cur = await self._db.execute(
            f"INSERT INTO filing_entries ({', '.join(names)}) "  # noqa: S608 - our column names
            f"VALUES ({', '.join('?' * len(names))})",
            (*values.values(), now, by, now, by),
        )
        entry_id = int(cur.lastrowid or 0)
        await cur.close()
        await self._note(entry_id, by, "add", {k: ("", v) for k, v in entry_form(entry).items()})
        return entry_id

    async def _insert_image(self, entry_id: int, image: NewFilingImage, by: str) -> int:
        now = self._clock()
        async with self._db.execute(
            "SELECT path FROM filing_images WHERE entry_id = ? AND kind = ? "
            "AND replaced_at IS NULL",
            (entry_id, image.kind),
        ) as cur:
            old = await cur.fetchone()
        await self._db.execute(
            "UPDATE filing_images SET replaced_at = ? WHERE entry_id = ? AND kind = ? "
            "AND replaced_at IS NULL",
            (now, entry_id, image.kind),
        )
        cur = await self._db.execute(
            "INSERT INTO filing_images (entry_id, kind, path, size, added_at, added_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (entry_id, image.kind, image.path, image.size, now, by),
        )
        image_id = int(cur.lastrowid or 0)
        await cur.close()
        before = str(old[0]) if old else ""
        await self._note(entry_id, by, "image", {image.kind: (before, image.path)})
        return image_id

    async def _queue(self, entry_id: int, platform: str | None) -> bool:
        if platform is None:
            return False
        now = self._clock()
        cur = await self._db.execute(
            "INSERT INTO filing_outbox (entry_id, platform, state, created_at) "
            "VALUES (?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
            (entry_id, platform, now),
        )
        queued = cur.rowcount > 0
        await cur.close()
        await self._db.execute(
            "INSERT INTO filings (entry_id, platform, state, at) VALUES (?, ?, 'sent', ?) "
            "ON CONFLICT (entry_id, platform) DO UPDATE SET state = 'sent', at = excluded.at "
            "WHERE state != 'accepted'",
            (entry_id, platform, now),
        )
        return queued

    async def _note(
        self, entry_id: int, by: str, action: str, changes: Mapping[str, tuple[str, str]]
    ) -> None:
        await self._db.execute(
            "INSERT INTO filing_history (entry_id, at, actor, action, changes) "
            "VALUES (?, ?, ?, ?, ?)",
            (entry_id, self._clock(), by, action,
             json.dumps({k: [str(a), str(b)] for k, (a, b) in changes.items()},
                        ensure_ascii=False)),
        )  # fmt: skip

    async def _entry_in_transaction(self, entry_id: int) -> StoredEntry:
        async with self._db.execute(
            "SELECT * FROM filing_entries WHERE id = ?", (entry_id,)
        ) as cur:
            row = await cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is None:
            raise KeyError(entry_id)
        return StoredEntry.from_row(_Named(dict(zip(names, row, strict=True))))

    # -- the outbox of filings (the sender) ---------------------------------------------------
    async def due_filings(self, limit: int) -> list[FilingOutboxEntry]:
        """Pending filings whose time has come, oldest first; a filing held back while an
        older one of its plate (same register, plate and colour: a 注销 entry and the new
        entry of its plate) is pending for that platform — each plate's filings reach the
        platform in the order they were queued, whatever their retries' times (the 注销 of
        an in-plant vehicle or machine must not follow its plate's new filing)."""
        due = "SELECT o.* FROM filing_outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ?"
        rows = await self._fetchall(
            f"{due} AND {_NOT_HELD} ORDER BY o.next_attempt_at, o.id LIMIT ?",
            (self._clock(), limit),
        )
        return [FilingOutboxEntry.from_row(r) for r in rows]

    async def superseded(self, entry_id: int, platform: str) -> bool:
        """Whether the platform's record of this entry's plate belongs to a newer entry now:
        one of the same register, plate and colour, in force, accepted by ``platform`` — in
        province mode under the same licensePK as this entry's (or this entry has none: its
        Add would be answered with the newer one's). A 注销 of this entry sent now would
        cancel the newer one's filing."""
        rows = await self._fetchall(
            "SELECT 1 FROM filing_entries e JOIN filing_entries n ON n.plate = e.plate "
            "AND +n.register = e.register AND +n.plate_color = e.plate_color AND n.id > e.id "
            "AND n.status != '3' JOIN filings f ON f.entry_id = n.id AND f.platform = ? "
            "AND f.state = 'accepted' LEFT JOIN filings mine ON mine.entry_id = e.id "
            "AND mine.platform = f.platform WHERE e.id = ? AND (f.platform = 'city' "
            "OR mine.license_pk IS NULL OR f.license_pk IS NULL "
            "OR f.license_pk = mine.license_pk) LIMIT 1",
            (platform, entry_id),
        )
        return bool(rows)

    async def next_filing_due_at(self) -> float | None:
        """When the next filing :meth:`due_filings` can give is due (None: none pending)."""
        rows = await self._fetchall(
            "SELECT min(o.next_attempt_at) AS t FROM filing_outbox o "  # noqa: S608 - a constant
            f"WHERE o.state = 'pending' AND {_NOT_HELD}"
        )
        value = rows[0]["t"]
        return None if value is None else float(value)

    async def filing_answered(
        self,
        outbox_id: int,
        method: str,
        *,
        accepted: bool,
        answer: str,
        license_pk: str | None = None,
    ) -> None:
        """The platform answered a filing: accepted (with its licensePK, province) or refused
        in its own words (the outbox row becomes a dead letter with that reason: sent again
        only when an operator asks). Recorded in the entry's history as the platform's."""

        async def write() -> None:
            async with self._db.execute(
                "SELECT entry_id, platform FROM filing_outbox WHERE id = ?", (outbox_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return
            entry_id, platform = int(row[0]), str(row[1])
            now = self._clock()
            state = FilingState.ACCEPTED if accepted else FilingState.REFUSED
            await self._db.execute(
                "UPDATE filing_outbox SET state = ?, method = ?, sent_at = ?, last_error = ?, "
                "attempts = attempts + 1 WHERE id = ?",
                ("sent" if accepted else "dead", method, now, None if accepted else answer,
                 outbox_id),
            )  # fmt: skip
            async with self._db.execute(
                "SELECT state, license_pk FROM filings WHERE entry_id = ? AND platform = ?",
                (entry_id, platform),
            ) as cur:
                before = await cur.fetchone()
            old_state, old_pk = (str(before[0]), before[1] or "") if before else ("unfiled", "")
            pk = license_pk or old_pk or None
            await self._db.execute(
                "INSERT INTO filings (entry_id, platform, state, license_pk, words, method, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id, platform) DO UPDATE SET "
                "state = excluded.state, license_pk = excluded.license_pk, "
                "words = excluded.words, method = excluded.method, at = excluded.at",
                (entry_id, platform, state.value, pk, answer, method, now),
            )
            changed = {f"{platform} filing": (old_state, state.value)}
            if (pk or "") != old_pk:
                changed["license_pk"] = (old_pk, pk or "")
            await self._note(entry_id, f"platform:{platform}", "filing", changed)
            if accepted:
                await self._close_obsolete(entry_id, platform, outbox_id)

        await self._transaction(write)

    async def _close_obsolete(self, entry_id: int, platform: str, outbox_id: int) -> None:
        """Close the entry's dead filings older than ``outbox_id`` (just accepted by
        ``platform``): the platform holds the entry as that newer filing sent it, so sending
        an older one again would file stale data — no dead letter, no retry. Each keeps its
        refusal after :data:`~edge.domain.filing.OBSOLETE`; in the history as the daemon's."""
        cur = await self._db.execute(
            "UPDATE filing_outbox SET state = 'sent', last_error = ? || coalesce(last_error, '') "
            "WHERE entry_id = ? AND platform = ? AND state = 'dead' AND id < ?",
            (OBSOLETE, entry_id, platform, outbox_id),
        )
        closed = cur.rowcount
        await cur.close()
        if closed:
            await self._note(
                entry_id, "daemon", "filing", {f"{platform} dead filings": (str(closed), OBSOLETE)}
            )

    async def note_filing(
        self, entry_id: int, platform: str, license_pk: str, method: str, by: str
    ) -> None:
        """An entry's filing known accepted without sending it (VehElecAccountGain: a filing
        another enterprise made, with its licensePK); in the history as ``by``'s."""

        async def write() -> None:
            await self._db.execute(
                "INSERT INTO filings (entry_id, platform, state, license_pk, method, at) "
                "VALUES (?, ?, 'accepted', ?, ?, ?) ON CONFLICT (entry_id, platform) DO UPDATE "
                "SET state = 'accepted', license_pk = excluded.license_pk, "
                "method = excluded.method, at = excluded.at",
                (entry_id, platform, license_pk, method, self._clock()),
            )
            await self._note(entry_id, by, "filing", {f"{platform} {method}": ("", license_pk)})

        await self._transaction(write)

    async def filing_sending(self, outbox_id: int, method: str) -> None:
        """A filing is about to go out by ``method``: noted BEFORE it is sent (``method`` set,
        ``sent_at`` cleared), so a send whose answer never came — a timeout, a reset, a 5xx,
        the daemon killed — is known as such the next time
        (:attr:`edge.ledger.rows.FilingOutboxEntry.unanswered`)."""
        await self._update_entry(
            "UPDATE filing_outbox SET method = ?, sent_at = NULL WHERE id = ?", (method, outbox_id)
        )

    async def filing_withdrawn(self, outbox_id: int, why: str) -> None:
        """A pending filing no longer sent (its entry was set to 注销 before it went out, and
        its methods carry no status): the outbox row closed without a method, ``why`` kept
        as its last_error; the entry's filing back to 已受理 if the platform holds one (a
        licensePK), else 未备案. In the history as the daemon's."""

        async def write() -> None:
            async with self._db.execute(
                "SELECT entry_id, platform FROM filing_outbox WHERE id = ? AND state = 'pending'",
                (outbox_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return
            entry_id, platform = int(row[0]), str(row[1])
            await self._db.execute(
                "UPDATE filing_outbox SET state = 'sent', method = NULL, sent_at = ?, "
                "last_error = ? WHERE id = ?",
                (self._clock(), why, outbox_id),
            )
            await self._db.execute(
                "UPDATE filings SET state = CASE WHEN license_pk IS NULL THEN 'unfiled' "
                "ELSE 'accepted' END WHERE entry_id = ? AND platform = ? AND state = 'sent'",
                (entry_id, platform),
            )
            await self._note(entry_id, "daemon", "filing", {f"{platform} filing": ("sent", why)})

        await self._transaction(write)

    async def filing_failed(self, outbox_id: int, error: str, retry_at: float | None) -> None:
        """A filing not delivered (the platform unreachable, a bad answer): tried again at
        ``retry_at`` (unix s), or a dead letter with ``error`` as its reason (None)."""
        await self._update_entry(
            "UPDATE filing_outbox SET attempts = attempts + 1, last_error = ?, "
            "next_attempt_at = coalesce(?, next_attempt_at), "
            "state = CASE WHEN ? IS NULL THEN 'dead' ELSE state END WHERE id = ?",
            (error, retry_at, retry_at, outbox_id),
        )

    async def retry_dead_filings(self, ids: Sequence[int] | None = None) -> int:
        """Send dead filings again (those given, or all; one that has a newer pending row is
        left dead): how many were queued."""
        where = f" AND id IN ({','.join('?' * len(ids))})" if ids else ""

        async def write() -> int:
            cur = await self._db.execute(
                "UPDATE filing_outbox SET state = 'pending', next_attempt_at = 0 "  # noqa: S608 - placeholders
                f"WHERE state = 'dead'{where} AND NOT EXISTS (SELECT 1 FROM filing_outbox p "
                "WHERE p.entry_id = filing_outbox.entry_id AND p.platform = "
                "filing_outbox.platform AND p.state = 'pending')",
                tuple(ids or ()),
            )
            count = cur.rowcount
            await cur.close()
            return count

        count = await self._transaction(write)
        if count:
            self.filings_changed.set()
        return count

    async def filing_backlog(self) -> tuple[dict[str, int], float | None]:
        """Filings waiting to be sent and dead letters by state (``pending``, ``dead``), and
        when the oldest waiting one was queued (unix s; None: none)."""
        rows = await self._fetchall(
            "SELECT state, count(*) AS n, min(created_at) AS oldest FROM filing_outbox "
            "WHERE state != 'sent' GROUP BY state"
        )
        counts = {str(row["state"]): int(row["n"]) for row in rows}
        oldest = [float(row["oldest"]) for row in rows if row["state"] == "pending"]
        return counts, (oldest[0] if oldest else None)

    async def filing_outbox_of(self, entry_id: int) -> list[FilingOutboxEntry]:
        """An entry's filings sent, pending or dead, oldest first."""
        rows = await self._fetchall(
            "SELECT * FROM filing_outbox WHERE entry_id = ? ORDER BY id", (entry_id,)
        )
        return [FilingOutboxEntry.from_row(r) for r in rows]

    async def dead_filings(self, limit: int = 100) -> list[FilingOutboxEntry]:
        rows = await self._fetchall(
            "SELECT * FROM filing_outbox WHERE state = 'dead' ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [FilingOutboxEntry.from_row(r) for r in rows]

    # -- reads ---------------------------------------------------------------------------------
    async def get_entry(self, entry_id: int) -> StoredEntry | None:
        rows = await self._fetchall("SELECT * FROM filing_entries WHERE id = ?", (entry_id,))
        return StoredEntry.from_row(rows[0]) if rows else None

    async def find_entry(
        self, register: str, plate: str, plate_color: str = ""
    ) -> StoredEntry | None:
        """The entry of a register by its plate and colour ("" for a machine): the one in
        force (not 注销), else the latest 注销 one (a plate may have been reissued)."""
        rows = await self._fetchall(
            "SELECT * FROM filing_entries WHERE register = ? AND plate = ? AND plate_color = ? "
            "ORDER BY status = '3', id DESC LIMIT 1",
            (register, plate, plate_color),
        )
        return StoredEntry.from_row(rows[0]) if rows else None

    async def entries_in_force(
        self, register: str, plates: Sequence[str], vins: Sequence[str] = ()
    ) -> list[StoredEntry]:
        """The entries in force (not 注销) of a register whose plate, or VIN, is one of these:
        one ``IN`` query per :data:`IN_CHUNK` values, on the indexes (an import checks its
        rows with it, not one query a row)."""
        found: dict[int, StoredEntry] = {}
        for column, values in (("plate", sorted(set(plates))), ("vin", sorted(set(vins) - {""}))):
            for start in range(0, len(values), IN_CHUNK):
                chunk = values[start : start + IN_CHUNK]
                rows = await self._fetchall(
                    f"SELECT * FROM filing_entries WHERE {column} IN "  # noqa: S608 - constants
                    f"({','.join('?' * len(chunk))}) AND {column} != '' AND register = ? "
                    "AND status != '3'",
                    (*chunk, register),
                )
                found.update((int(r["id"]), StoredEntry.from_row(r)) for r in rows)
        return [found[k] for k in sorted(found)]

    async def search_entries(
        self,
        register: str | None = None,
        text: str = "",
        *,
        status: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[StoredEntry]:
        """One page of entries, newest first: of a register (None: all), whose plate, VIN,
        engine number or machine code starts with ``text`` (case-insensitive; "" any), of a
        status; ``before``: the id the previous page ended with (keyset, no OFFSET)."""
        where: list[str] = ["1"]
        args: list[object] = []
        if register is not None:
            where.append("register = ?")
            args.append(register)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if before is not None:
            where.append("id < ?")
            args.append(before)
        prefix = text.strip().upper()
        if prefix:
            ranges = " OR ".join(f"({c} >= ? AND {c} < ?)" for c in _PREFIXED)
            where.append(f"({ranges})")
            args += [prefix, prefix + _TOP] * len(_PREFIXED)
        rows = await self._history(
            f"SELECT * FROM filing_entries WHERE {' AND '.join(where)} "  # noqa: S608 - constants
            "ORDER BY id DESC LIMIT ?",
            (*args, limit),
        )
        return [StoredEntry.from_row(r) for r in rows]

    async def export_entries(
        self, register: str | None = None, status: str | None = None
    ) -> AsyncIterator[StoredEntry]:
        """Every entry of a register (None: all), oldest first, read a page at a time on the
        history connection (memory stays flat whatever the ledger's size)."""
        after = 0
        while True:
            where = "id > ?" + (" AND register = ?" if register else "")
            where += " AND status = ?" if status else ""
            args = (after, *([register] if register else []), *([status] if status else []))
            rows = await self._history(
                f"SELECT * FROM filing_entries WHERE {where} ORDER BY id LIMIT ?",  # noqa: S608 - constants
                (*args, EXPORT_PAGE),
            )
            for row in rows:
                yield StoredEntry.from_row(row)
            if len(rows) < EXPORT_PAGE:
                return
            after = int(rows[-1]["id"])

    async def entry_history(self, entry_id: int) -> list[EntryChange]:
        """Every change of an entry, oldest first."""
        rows = await self._fetchall(
            "SELECT * FROM filing_history WHERE entry_id = ? ORDER BY id", (entry_id,)
        )
        return [EntryChange.from_row(r) for r in rows]

    async def images_of(self, entry_id: int, *, replaced: bool = False) -> list[StoredFilingImage]:
        """An entry's current document images (with ``replaced``: those replaced too)."""
        keep = "" if replaced else " AND replaced_at IS NULL"
        rows = await self._fetchall(
            f"SELECT * FROM filing_images WHERE entry_id = ?{keep} ORDER BY id",  # noqa: S608 - constants
            (entry_id,),
        )
        return [StoredFilingImage.from_row(r) for r in rows]

    async def get_image(self, image_id: int) -> StoredFilingImage | None:
        rows = await self._fetchall("SELECT * FROM filing_images WHERE id = ?", (image_id,))
        return StoredFilingImage.from_row(rows[0]) if rows else None

    async def filings_of(self, entry_id: int) -> list[StoredFiling]:
        """An entry's filing with each platform it was sent to (none: 未备案 everywhere)."""
        rows = await self._fetchall(
            "SELECT * FROM filings WHERE entry_id = ? ORDER BY platform", (entry_id,)
        )
        return [StoredFiling.from_row(r) for r in rows]

    async def cancelled_license_pk(self, register: str, plate: str, plate_color: str) -> str:
        """The licensePK the province platform gave the latest 注销 entry of a register with
        this plate and colour ("" none): a reissued plate's new vehicle is filed as a Modify
        of it (the platform holds one filing per plate and has no way to cancel one)."""
        rows = await self._fetchall(
            "SELECT f.license_pk FROM filing_entries e JOIN filings f ON f.entry_id = e.id "
            "WHERE e.register = ? AND e.plate = ? AND e.plate_color = ? AND e.status = '3' "
            "AND f.platform = 'province' AND f.license_pk IS NOT NULL "
            "ORDER BY e.id DESC LIMIT 1",
            (register, plate, plate_color),
        )
        return str(rows[0][0]) if rows else ""

    async def license_pk_of(self, plate: str, plate_color: str) -> str | None:
        """The licensePK the province platform gave this vehicle's filing (a transport or an
        in-plant vehicle in force: not 注销), for its pass and goods records; None: none."""
        rows = await self._fetchall(
            "SELECT f.license_pk FROM filing_entries e JOIN filings f ON f.entry_id = e.id "
            "WHERE e.plate = ? AND e.plate_color = ? AND e.register != 'machine' "
            "AND e.status != '3' AND f.platform = 'province' AND f.state = 'accepted' "
            "AND f.license_pk IS NOT NULL ORDER BY f.at DESC LIMIT 1",
            (plate, plate_color),
        )
        return str(rows[0][0]) if rows else None


#: The columns a search matches by prefix (each has an index).
_PREFIXED = ("plate", "vin", "engine_no", "code")


class _Named(dict[str, object]):
    """A row as a mapping (what :meth:`StoredEntry.from_row` reads)."""

    def keys(self) -> list[str]:  # type: ignore[override]
        return list(super().keys())
