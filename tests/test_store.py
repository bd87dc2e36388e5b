from __future__ import annotations

import _sqlite3  # the library the sqlite3 module is linked with (its memory count)
import asyncio
import ctypes
import itertools
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.domain.codes import ControlFlag, GateSignal
from edge.domain.decision import Decision
from edge.domain.reports import VerifyAnswer
from edge.domain.serials import next_serial
from edge.ledger.schema import MIGRATIONS
from edge.ledger.store import NewPass, NewPhoto, Store
from tests.processes import Processes

SH = ZoneInfo("Asia/Shanghai")
WHEN = datetime(2026, 11, 21, 8, 0, 0, tzinfo=SH)
OPEN = Decision(
    open=True,
    code="platform-clear",
    reason="未管控",
    source="platform",
    answer=VerifyAnswer(ControlFlag.CLEAR, "", "B", "6"),
)


_serials = itertools.count()


def new_pass(plate: str | None = "豫A12345", when: datetime = WHEN, **kw: object) -> NewPass:
    fields: dict[str, object] = {
        "serial": next_serial("411002000101A", when + timedelta(seconds=next(_serials)), None),
        "lane_id": "in-1",
        "gate_code": "01",
        "direction": "in",
        "plate": plate,
        "plate_color": "1",
        "camera_time": when.timestamp(),
        "received_at": when.timestamp(),
        "source": "test",
        "vendor_id": None,
        "decision": OPEN,
    }
    fields.update(kw)
    return NewPass(**fields)  # type: ignore[arg-type]


PHOTO = NewPhoto(number=1, kind=1, path="2026/11/21/x.jpg", size=10, taken_at=WHEN.timestamp())


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "edge.db", clock=lambda: 1000.0)
    yield s
    await s.close()


async def test_schema_is_migrated_once(tmp_path: Path) -> None:
    s = await Store.open(tmp_path / "edge.db")
    assert await s.schema_version() == len(MIGRATIONS)
    await s.close()
    s = await Store.open(tmp_path / "edge.db")  # reopening applies nothing twice
    assert await s.schema_version() == len(MIGRATIONS)
    await s.close()


async def test_last_serial_per_prefix_survives_reopen(tmp_path: Path) -> None:
    s = await Store.open(tmp_path / "edge.db")
    assert await s.last_serial("411002000101A") is None
    await s.record_pass(new_pass(serial="411002000101A261121080000"), [])
    await s.record_pass(new_pass(serial="411002000101A261121080001"), [])
    await s.record_pass(new_pass(serial="411002000101B261121090000", direction="out"), [])
    await s.close()
    s = await Store.open(tmp_path / "edge.db")
    assert await s.last_serial("411002000101A") == "411002000101A261121080001"
    assert await s.last_serial("411002000101B") == "411002000101B261121090000"
    assert await s.last_serial("411002000102A") is None
    await s.close()


async def test_a_serial_is_never_stored_twice(store: Store) -> None:
    await store.record_pass(new_pass(serial="411002000101A261121080000"), [PHOTO])
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        await store.record_pass(new_pass(serial="411002000101A261121080000"), [PHOTO])
    assert await store.count_passes() == 1
    assert await store.outbox_counts() == {"held": 2}  # the failed one left nothing behind


async def test_outbox_is_held_until_final_and_photos_wait_for_their_record(store: Store) -> None:
    recorded = await store.record_pass(new_pass(), [PHOTO])
    assert await store.outbox_counts() == {"held": 2}
    assert await store.due_entries(10) == []
    await store.finalise(recorded.id, GateSignal.PASSED, 1001.0, "detector")
    assert store.outbox_changed.is_set()
    due = await store.due_entries(10)
    assert [e.kind for e in due] == ["record"]  # the photo waits for its record
    await store.mark_sent(due[0].id)
    due = await store.due_entries(10)
    assert [e.kind for e in due] == ["photo"]
    assert (await store.get_photo(due[0].photo_id or 0)).path == PHOTO.path
    row = await store.get_pass(recorded.id)
    assert (row.state, row.gate_signal, row.confirmed_by) == ("final", 0, "detector")


async def test_finalise_is_idempotent(store: Store) -> None:
    recorded = await store.record_pass(new_pass(), [])
    await store.finalise(recorded.id, GateSignal.PASSED, 1001.0, "detector")
    await store.finalise(recorded.id, GateSignal.NOT_LIFTED, 1002.0, "restart")
    row = await store.get_pass(recorded.id)
    assert (row.gate_signal, row.confirmed_by) == (0, "detector")


async def test_retry_and_dead_letters(store: Store) -> None:
    a = await store.record_pass(new_pass(), [])
    b = await store.record_pass(new_pass("豫B6789G"), [])
    for r in (a, b):
        await store.finalise(r.id, GateSignal.PASSED, 1001.0, "barrier")
    first, second = await store.due_entries(10)
    await store.mark_retry(first.id, 1500.0, "timeout")
    await store.mark_dead(second.id, "952 格式校验失败")
    assert await store.due_entries(10) == []
    assert await store.next_due_at() == 1500.0
    assert await store.next_due_at(exclude=[first.id]) is None
    assert await store.outbox_counts() == {"pending": 1, "dead": 1}


async def test_cached_answer_is_the_latest_platform_answer(store: Store) -> None:
    assert await store.cached_answer("豫A12345") is None
    await store.record_pass(new_pass(), [])
    offline = Decision(open=False, code="offline-deny", reason="平台离线 禁止", source="offline")
    await store.record_pass(new_pass(decision=offline), [])  # not a platform answer
    cached = await store.cached_answer("豫A12345")
    assert cached is not None
    assert cached.answer.control is ControlFlag.CLEAR
    assert cached.answer.emission == "6"
    assert cached.at == WHEN.timestamp()


async def test_missing_rows(store: Store) -> None:
    with pytest.raises(KeyError):
        await store.get_pass(99)
    with pytest.raises(KeyError):
        await store.get_photo(99)
    assert await store.find_pass("nope") is None


async def test_failed_transaction_leaves_nothing(store: Store) -> None:
    bad_photo = NewPhoto(number=1, kind=1, path=None, size=1, taken_at=0)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="NOT NULL"):
        await store.record_pass(new_pass(), [bad_photo])
    assert await store.count_passes() == 0
    assert await store.outbox_counts() == {}
    await store.record_pass(new_pass(), [])  # the connection is usable afterwards
    assert await store.count_passes() == 1


_WRITER = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_store import new_pass
from edge.ledger.store import Store

async def main():
    store = await Store.open(Path({db!r}))
    for i in range(100000):
        r = await store.record_pass(new_pass(f"豫A{{i:05d}}"), [])
        print(r.serial, flush=True)

asyncio.run(main())
"""


async def test_committed_passes_survive_kill_9(tmp_path: Path, procs: Processes) -> None:
    db = tmp_path / "edge.db"
    script = _WRITER.format(tests=str(Path(__file__).parent), db=str(db))
    proc = await procs.start(sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    acknowledged = [
        (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip() for _ in range(50)
    ]
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    store = await Store.open(db)
    try:
        for serial in acknowledged:
            assert await store.find_pass(serial) is not None, serial
        assert await store.count_passes() >= 50
    finally:
        await store.close()


async def test_reads_never_see_a_snapshot_older_than_a_commit(store: Store) -> None:
    """Concurrent reads on the read connection must not share a read transaction: an entry
    booked as sent must never be due again, however reads interleave."""
    for i in range(60):
        recorded = await store.record_pass(new_pass(f"豫A{i:03d}{i:03d}"), [PHOTO])
        await store.finalise(recorded.id, GateSignal.PASSED, 1001.0, "barrier")
    stop = asyncio.Event()

    async def busy_reader() -> None:
        while not stop.is_set():
            await store.outbox_counts()
            await store.get_pass(1)

    readers = [asyncio.create_task(busy_reader()) for _ in range(3)]
    try:
        while due := await store.due_entries(1):
            await store.mark_sent(due[0].id)
            again = await store.due_entries(50)
            assert due[0].id not in [e.id for e in again]
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert await store.outbox_counts() == {"sent": 120}


async def test_a_cancelled_caller_never_breaks_a_transaction(store: Store) -> None:
    recorded = await store.record_pass(new_pass(), [PHOTO])
    task = asyncio.create_task(store.finalise(recorded.id, GateSignal.PASSED, 1001.0, "barrier"))
    await asyncio.sleep(0)  # the transaction has begun…
    task.cancel()  # …and its caller gives up
    with pytest.raises(asyncio.CancelledError):
        await task
    await store.set_barrier(recorded.id, "opened")  # waits for the shielded transaction
    row = await store.get_pass(recorded.id)
    assert row.state == "final"  # it completed, and nothing was rolled back half-way
    assert await store.outbox_counts() == {"pending": 2}


async def test_an_older_ledger_keeps_its_outbox_through_the_upgrade(tmp_path: Path) -> None:
    """A database of schema 5 (outbox without corrections) upgraded in place keeps its rows."""
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        for number, script in enumerate(MIGRATIONS[:5], start=1):
            db.executescript(f"{script}; PRAGMA user_version = {number};")
        db.execute(
            "INSERT INTO passes (serial, lane_id, gate_code, direction, plate, plate_color, "
            "camera_time, received_at, source, verdict, reason_code, reason, decided_by) "
            "VALUES ('411002000101A261121080000', 'in-1', '01', 'in', '豫A12345', '1', 0, 0, "
            "'generic-push', 'open', 'platform-clear', '未管控', 'platform')"
        )
        db.execute(
            "INSERT INTO outbox (pass_id, kind, state, attempts, created_at) "
            "VALUES (1, 'record', 'dead', 3, 0)"
        )
    s = await Store.open(old)
    try:
        assert await s.schema_version() == len(MIGRATIONS)
        assert await s.outbox_counts() == {"dead": 1}
    finally:
        await s.close()


async def test_figures_count_zero_not_null_for_unconfirmed_passes(tmp_path: Path) -> None:
    """A pass still being confirmed has no gate signal yet: its figures are 0, not NULL."""
    s = await Store.open(tmp_path / "edge.db", clock=lambda: 1000.0)
    try:
        await s.record_pass(new_pass(serial="411002000101A261121080000"), [])
        (row,) = await s.daily_figures(0, 10**10)
        assert (row.passed, row.stage3, row.gate_crashes) == (0, 0, 0)
    finally:
        await s.close()


async def test_the_forwarders_statements_are_one_each_whatever_the_number_of_ids(
    tmp_path: Path,
) -> None:
    """The forwarder's claimed entries, the ones it books and the passes it reads ahead go in
    as one JSON parameter: a statement text with a ``?`` for each was a statement prepared and
    cached for each number of them (sqlite3 keeps 128 a connection) — the daemon's steady RSS
    grew ~2 MiB with back-to-back traffic (issue 19). Measured with SQLite's own count of its
    memory: 40 lengths of each grew it by 1.96 MiB."""
    memory_used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    memory_used.restype = ctypes.c_int64
    store = await Store.open(tmp_path / "edge.db")
    try:
        await store.due_and_next(10, exclude=[1])  # the statements as the first round has them
        await store.next_due_at(exclude=[1])
        await store.mark_sent_many([1])
        await store.passes_and_photos([1])
        before = memory_used()
        for n in range(2, 42):
            ids = list(range(1, n + 1))
            await store.due_and_next(10, exclude=ids)
            await store.next_due_at(exclude=ids)
            await store.mark_sent_many(ids)
            await store.passes_and_photos(ids)
        grown = memory_used() - before
        assert grown < 128 * 1024, f"{grown / 2**20:.2f} MiB"
    finally:
        await store.close()
