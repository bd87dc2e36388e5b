"""What ``edge restore`` asks of a ledger brought back from the replica: is it whole, what does
it hold, and the serial floors that keep a lane from issuing a number twice
(``serial_floors``, read by :meth:`~edge.ledger.passes.PassLedger.last_serial`)."""

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


async def raise_serial_floors(path: Path, floors: Mapping[str, str]) -> None:
    """Set each prefix's floor (never lowering one already there)."""
    store = await Store.open(path)
    try:

        async def write() -> None:
            for prefix, serial in floors.items():
                await store.database.writer.execute(
                    "INSERT INTO serial_floors (prefix, serial) VALUES (?, ?) ON CONFLICT "
                    "(prefix) DO UPDATE SET serial = max(serial, excluded.serial)",
                    (prefix, serial),
                )

        await store.database.transaction(write)
    finally:
        await store.close()
