"""Migration 17 (issue 15): a ledger file made at schema 15, with entries, images, filings,
the outbox of filings, history and the 待完善 list in it, is upgraded in place: every row kept
with its id and its references, the 注销 entry of a plate no longer blocks a new one (the
UNIQUE constraint became a partial unique index), foreign keys on again, the 待完善 triggers
still at work. A rebuild that would break a reference is rolled back."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from edge.domain.filing import EntryStatus, parse_entry
from edge.ledger import database
from edge.ledger.filings import EntryExistsError
from edge.ledger.schema import MIGRATIONS, REBUILDS
from edge.ledger.store import Store
from tests.test_filing import LOADER, TRUCK

TABLES = ("filing_entries", "filing_images", "filings", "filing_outbox", "filing_history",
          "need_complete")  # fmt: skip
ENTRY = (
    "INSERT INTO filing_entries (id, register, plate, plate_color, vin, engine_no, "
    "register_date, emission, name, code, production_date, status, created_at, created_by, "
    "changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, '王五', 2, '王五')"
)


def _version_15(path: Path) -> None:
    """A ledger at schema 15 with a little of everything the filings keep."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA foreign_keys=ON")
        for name, (arguments, function) in database.FUNCTIONS.items():  # the triggers call them
            db.create_function(name, arguments, function, deterministic=True)
        for number, script in enumerate(MIGRATIONS[:15], start=1):
            db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        db.executemany(ENTRY, [
            (1, "vehicle", "豫A12345", "1", "LZZAELJD5KA123456", "WP10", "2019-05-01", "6",
             "", "", "", "3"),
            (2, "machine", "豫A0001Z", "", "", "", "", "4", "装载机", "LG855", "2021-03-01",
             "1"),
            (3, "inner", "厂内07", "1", "LZZAELJD5KA654321", "WP12", "2018-01-01", "5", "", "",
             "", "2"),
        ])  # fmt: skip
        db.executescript(
            """
            INSERT INTO filing_images (entry_id, kind, path, size, added_at, added_by) VALUES
                (1, 'driving_license', 'filings/a.jpg', 100, 1, '王五'),
                (2, 'nameplate', 'filings/b.jpg', 200, 1, '王五');
            INSERT INTO need_complete (plate, plate_color, level, seen_at, source)
                VALUES ('豫A12345', '1', '2', 1, 'verify'), ('豫B99999', '1', '2', 1, 'verify');
            INSERT INTO filings (entry_id, platform, state, license_pk, method, at) VALUES
                (1, 'province', 'accepted', 'PK00000001', 'VehElecAccountAdd', 3),
                (2, 'province', 'refused', NULL, 'InnerMHYElecAccountAdd', 3);
            INSERT INTO filing_outbox (entry_id, platform, method, state, attempts, created_at,
                                       last_error)
                VALUES (1, 'province', 'VehElecAccountAdd', 'sent', 1, 2, NULL),
                       (2, 'province', 'InnerMHYElecAccountAdd', 'dead', 1, 2, '被拒'),
                       (3, 'province', NULL, 'pending', 0, 2, NULL);
            INSERT INTO filing_history (entry_id, at, actor, action, changes) VALUES
                (1, 1, '王五', 'add', '{}'), (1, 4, '王五', 'status', '{"status": ["1", "3"]}'),
                (2, 1, '王五', 'add', '{}'), (3, 1, '王五', 'add', '{}');
            """
        )


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with closing(sqlite3.connect(path)) as db:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}  # noqa: S608 - constants


async def test_a_version_15_ledger_keeps_every_row_and_reference(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    _version_15(path)
    before = _dump(path)
    assert before["need_complete"][0][-2:] == (3.0, "filing")  # the trigger of migration 15
    store = await Store.open(path, clock=lambda: 10.0)
    try:
        assert await store.schema_version() == len(MIGRATIONS) >= 17
        assert _dump(path) == before
        # the 注销 entry of 豫A12345 no longer blocks a new one, but one in force does
        again = parse_entry("vehicle", {**TRUCK, "vin": "LZZAELJD5KA111111"})
        new_id = await store.add_entry(again, "李四")
        assert new_id == 4
        with pytest.raises(EntryExistsError) as caught:
            await store.add_entry(again, "李四")
        assert caught.value.entry_id == new_id
        with pytest.raises(EntryExistsError):  # the old one cannot come back beside it
            await store.set_status(1, EntryStatus.NORMAL, "李四")
        found = await store.find_entry("vehicle", "豫A12345", "1")
        assert found is not None
        assert found.id == new_id
        await store.set_status(new_id, EntryStatus.CANCELLED, "李四")
        assert await store.set_status(1, EntryStatus.NORMAL, "李四")
        with pytest.raises(EntryExistsError):  # machines too
            await store.add_entry(parse_entry("machine", LOADER), "李四")
        # the history, images and filings of the old entry are still its own
        assert [h.action for h in await store.entry_history(1)] == ["add", "status", "status"]
        assert [i.path for i in await store.images_of(1)] == ["filings/a.jpg"]
        # the 待完善 triggers were rebuilt with the table
        waiting = parse_entry("vehicle", {**TRUCK, "plate": "豫B99999", "vin": "LZZAELJD5KA222222"})
        await store.note_filing(await store.add_entry(waiting, "李四"), "city", "", "share", "李四")
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
            indexes = {r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE tbl_name = 'filing_entries'")}  # fmt: skip
        assert "filing_entries_live" in indexes
        assert not any(name.startswith("sqlite_autoindex") for name in indexes)
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as db:
        done = db.execute("SELECT done_by FROM need_complete WHERE plate = '豫B99999'").fetchone()
    assert done == ("filing",)


async def test_foreign_keys_are_on_again_after_the_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    _version_15(path)
    store = await Store.open(path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            await store.database.transaction(
                lambda: store.database.writer.execute(
                    "INSERT INTO filing_history (entry_id, at, actor, action, changes) "
                    "VALUES (99, 1, 'x', 'add', '{}')"
                )
            )
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ("DELETE FROM filing_entries WHERE id = 2", "breaks references"),
        ("CREATE TABLE filing_history (x)", "already exists"),
    ],
)
async def test_a_rebuild_that_fails_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, error: str
) -> None:
    path = tmp_path / "edge.db"
    _version_15(path)
    before = _dump(path)
    monkeypatch.setattr(database, "MIGRATIONS", [*MIGRATIONS[:15], script])
    monkeypatch.setattr(database, "REBUILDS", REBUILDS | {16})
    with pytest.raises((RuntimeError, sqlite3.OperationalError), match=error):
        await Store.open(path)
    assert _dump(path) == before
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (15,)
