"""What ``edge restore`` asks of a ledger brought back from the replica: is it whole, what does
it hold, and the floors that keep a number from being given twice: each lane's serials
(``serial_floors``, read by :meth:`~edge.ledger.passes.PassLedger.last_serial`) and the
weighings' numbers (``sqlite_sequence``: ``weighings`` is AUTOINCREMENT)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from edge.ledger.store import Store


async def check_restored(path: Path) -> tuple[str, int, list[str]]:
    """Open (and migrate) the restored ledger at ``path``: SQLite's ``integrity_check``
    verdict (``ok`` when whole), the number of passes, and the photos it lists as kept
    (paths relative to the photo folder)."""
    store = await Store.open(path)
    try:
        db = store.database
        verdict = "; ".join(str(row[0]) for row in await db.fetchall("PRAGMA integrity_check"))
        passes = int((await db.fetchall("SELECT count(*) FROM passes"))[0][0])
        photos = [
            str(row[0])
            for row in await db.fetchall("SELECT path FROM photos WHERE pruned_at IS NULL")
        ]
    finally:
        await store.close()
    return verdict, passes, photos


async def serial_prefixes(path: Path, configured: Iterable[str]) -> dict[str, str | None]:
    """The last serial (or floor) of every prefix configured or found in the ledger."""
    store = await Store.open(path)
    try:
        rows = await store.database.fetchall("SELECT DISTINCT substr(serial, 1, 13) FROM passes")
        prefixes = set(configured) | {str(row[0]) for row in rows}
        return {prefix: await store.last_serial(prefix) for prefix in sorted(prefixes)}
    finally:
        await store.close()


async def raise_floors(path: Path, floors: Mapping[str, str], weighings_margin: int) -> int:
    """In one transaction: set each serial prefix's floor (never lowering one already there),
    and move the weighings' numbers ``weighings_margin`` past the last one the ledger gave
    (its ``sqlite_sequence`` entry, or its highest id when that is higher or absent), so that
    a weighing the lost PC numbered after the replica's last sync — printed on a ticket (the
    goods record sent to the platform carries no number) — is never numbered again. Returns
    the number the weighings continue after (the next weighing is that plus one)."""
    store = await Store.open(path)
    try:
        db = store.database

        async def write() -> int:
            for prefix, serial in floors.items():
                await db.writer.execute(
                    "INSERT INTO serial_floors (prefix, serial) VALUES (?, ?) ON CONFLICT "
                    "(prefix) DO UPDATE SET serial = max(serial, excluded.serial)",
                    (prefix, serial),
                )
            async with db.writer.execute(
                "SELECT max(coalesce((SELECT max(seq) FROM sqlite_sequence WHERE name = "
                "'weighings'), 0), coalesce((SELECT max(id) FROM weighings), 0))"
            ) as cur:
                row = await cur.fetchone()
            after = (int(row[0]) if row else 0) + weighings_margin
            await db.writer.execute("DELETE FROM sqlite_sequence WHERE name = 'weighings'")
            await db.writer.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('weighings', ?)", (after,)
            )
            return after

        return await db.transaction(write)
    finally:
        await store.close()
