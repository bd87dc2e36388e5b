"""Bytes a pass (issue 19): what a camera sent is kept once, in a table of its own, and deleted
by retention after ``storage.diagnosis_keep_days`` — the pages it held are reused by new
passes; the platform's answer is stored without its defaults. Real SQLite files."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from bench.ledger import footprint, generate, measure_bytes
from edge.domain.codes import ControlFlag, GateSignal
from edge.domain.decision import Decision
from edge.domain.reports import VerifyAnswer
from edge.ledger.database import register_functions
from edge.ledger.retention import Retention
from edge.ledger.rows import NewRead, decode_answer, encode_answer
from edge.ledger.schema import MIGRATIONS
from edge.ledger.store import Store
from tests.test_store import new_pass

DAY = 86400.0
#: A camera's message as the ledger keeps it (images elided), here ~1.5 KB like a Hikvision one.
RAW = json.dumps({"plate": "豫A12345", "picture": "<93000 bytes elided>", "pad": "x" * 1500})


def _count(path: Path, sql: str) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute(sql).fetchone()[0])
    finally:
        db.close()


def _copies(path: Path, text: str) -> int:
    """How many times ``text`` is stored, in any column that can hold a camera's message."""
    return sum(
        _count(path, f"SELECT count(*) FROM {table} WHERE instr({column}, '{text}') > 0")  # noqa: S608 - constants
        for table, column in (("passes", "raw"), ("reads", "raw"), ("camera_messages", "raw"))
    )


async def test_a_reads_message_is_stored_once_and_shown_with_the_read(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        made = await store.record_pass(new_pass(camera_read=True, raw=RAW + "made"), [])
        await store.add_read(NewRead(made.id, "in-1", 1.0, "豫A12345", "1", None, "cam-9",
                                     "test", "re-push", RAW + "merged"))  # fmt: skip
        reads = await store.reads_of(made.id)
        assert [(r.merged, r.raw) for r in reads] == [
            (None, RAW + "made"),
            ("re-push", RAW + "merged"),
        ]
        assert await store.camera_message(made.id) == RAW + "made"
        guard = await store.record_pass(new_pass(source="guard"), [])
        assert await store.camera_message(guard.id) is None
    finally:
        await store.close()
    assert _copies(path, "made") == 1  # it was on the pass and on its read
    assert _copies(path, "merged") == 1


async def test_retention_deletes_messages_after_diagnosis_keep_days(tmp_path: Path) -> None:
    """Messages of reads older than diagnosis_keep_days go; the passes, their reads and the
    platform's answers stay; newer messages stay."""
    now = [100 * DAY]
    store = await Store.open(tmp_path / "edge.db", clock=lambda: now[0])
    answer = VerifyAnswer(ControlFlag.CLEAR, fuel="B", emission="4")
    decision = Decision(open=True, code="platform-clear", reason="未管控", source="platform",
                        answer=answer)  # fmt: skip
    try:
        ids = []
        for days_ago in (95, 91, 89, 1):
            when = now[0] - days_ago * DAY
            recorded = await store.record_pass(
                new_pass(camera_read=True, raw=f"{RAW}{days_ago}", received_at=when,
                         decision=decision),
                [],
            )  # fmt: skip
            ids.append(recorded.id)
        retention = Retention(store, tmp_path / "photos", retention_days=365, budget_mb=0,
                              min_free_mb=0, clock=lambda: now[0],
                              diagnosis_keep_days=90)  # fmt: skip
        state = await retention.prune_once()
        assert state.forgotten == 2
        assert [await store.camera_message(i) for i in ids] == [None, None, f"{RAW}89", f"{RAW}1"]
        for pass_id in ids:
            (read,) = await store.reads_of(pass_id)
            assert read.plate == "豫A12345"
            assert (await store.get_pass(pass_id)).answer == answer
        now[0] += 2 * DAY
        assert (await retention.prune_once()).forgotten == 3
        kept = Retention(store, tmp_path / "photos", retention_days=365, budget_mb=0,
                         min_free_mb=0, clock=lambda: now[0], diagnosis_keep_days=0)  # fmt: skip
        now[0] += 100 * DAY
        await kept.prune_once()  # 0: every message kept
        assert await store.camera_message(ids[-1]) == f"{RAW}1"
    finally:
        await store.close()


async def test_pages_freed_by_deleted_messages_are_reused_by_new_passes(tmp_path: Path) -> None:
    """Deleting old messages frees whole pages (the file's free list), and the next passes
    are written into them: the file grows by what the passes take without their messages."""
    path = tmp_path / "edge.db"
    now = [100 * DAY]
    store = await Store.open(path, clock=lambda: now[0])

    def pages() -> tuple[int, int]:
        return _count(path, "PRAGMA page_count"), _count(path, "PRAGMA freelist_count")

    async def passes(n: int, when: float) -> None:
        for _ in range(n):
            await store.record_pass(new_pass(camera_read=True, raw=RAW, received_at=when), [])

    try:
        empty, _ = pages()
        await passes(150, now[0] - 95 * DAY)
        first, _ = pages()
        grown = first - empty
        await store.forget_messages(now[0] - 90 * DAY)
        total, free = pages()
        message_pages = 150 * len(RAW) / 4096
        assert free >= 0.8 * message_pages  # whole pages freed
        await passes(150, now[0])  # as many passes again, each with its message
        after, free_after = pages()
        assert free_after < free  # the free pages were used…
        assert after - total <= grown - 0.8 * message_pages  # …before the file grew
    finally:
        await store.close()


async def test_a_ledger_written_before_messages_had_their_table_shows_them(
    tmp_path: Path,
) -> None:
    """A ledger of schema 21 (the message on the pass and on its read, or — reads made by
    migration 9 — on the pass only) upgraded in place: every read still shows its message,
    new ones are kept once, and the index no query uses (passes by reason code) is gone."""
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        register_functions(db)
        for number, script in enumerate(MIGRATIONS[:21], start=1):
            db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        for pass_id, raw in ((1, "both"), (2, "pass-only")):
            db.execute(
                "INSERT INTO passes (serial, lane_id, gate_code, direction, plate, plate_color, "
                "camera_time, received_at, source, verdict, reason_code, reason, decided_by, "
                "raw) VALUES (?, 'in-1', '01', 'in', '豫A12345', '1', 0, 0, 'generic-push', "
                "'open', 'platform-clear', '未管控', 'platform', ?)",
                (f"411002000101A26112108000{pass_id}", raw),
            )
        read = (
            "INSERT INTO reads (pass_id, lane_id, received_at, plate, plate_color, source, "
            "merged, raw) VALUES (?, 'in-1', 0, '豫A12345', '1', 'generic-push', ?, ?)"
        )
        db.execute(read, (1, None, "both"))  # what record_pass wrote: the message twice
        db.execute(read, (1, "re-push", "merged-old"))
        db.execute(read, (2, None, None))  # migration 9's read of an older pass
    store = await Store.open(old)
    try:
        assert await store.schema_version() == len(MIGRATIONS)
        assert [r.raw for r in await store.reads_of(1)] == ["both", "merged-old"]
        assert [r.raw for r in await store.reads_of(2)] == ["pass-only"]
        assert [await store.camera_message(i) for i in (1, 2)] == ["both", "pass-only"]
        await store.add_read(NewRead(2, "in-1", 1.0, "豫A12345", "1", None, None, "test",
                                     "same-plate", "merged-new"))  # fmt: skip
        assert [r.raw for r in await store.reads_of(2)] == ["pass-only", "merged-new"]
        recorded = await store.record_pass(new_pass(camera_read=True, raw="new"), [])
        assert await store.camera_message(recorded.id) == "new"
        assert await store.forget_messages(10**10) == 2  # the new ones; the old stay put
        assert await store.camera_message(1) == "both"
    finally:
        await store.close()
    assert _copies(old, "new") == 0
    assert _count(old, "SELECT count(*) FROM sqlite_schema WHERE name = 'passes_code'") == 0


def test_the_platforms_answer_is_stored_without_its_defaults() -> None:
    city = VerifyAnswer(ControlFlag.CLEAR, fuel="B", emission="4")
    stored = encode_answer(city)
    assert stored == '{"fuel":"B","emission":"4"}'
    assert decode_answer(stored) == city
    assert decode_answer(encode_answer(VerifyAnswer(ControlFlag.CLEAR))) == VerifyAnswer(
        ControlFlag.CLEAR
    )
    province = VerifyAnswer(ControlFlag.CONTROLLED, "管控", "A", "3", "1", "2", "1", "PK9",
                            "H01", "49000")  # fmt: skip
    assert decode_answer(encode_answer(province)) == province


async def test_figures_and_the_need_complete_list_read_the_compact_answer(
    tmp_path: Path,
) -> None:
    """The ledger's triggers read the stored answer: a 国三 vehicle's pass counts as stage 3,
    need_complete 1 puts its plate on the 待完善 list, a pass without an answer leaves it
    there, and a later 0 (stored as nothing) takes it off."""
    store = await Store.open(tmp_path / "edge.db")
    try:
        for level in ("1", None, "0"):
            if level is None:
                local = Decision(open=True, code="offline-open", reason="离线放行",
                                 source="offline")  # fmt: skip
                await store.record_pass(new_pass(decision=local), [])  # no answer
                assert [n.plate for n in await store.need_complete()] == ["豫A12345"]
                continue
            answer = VerifyAnswer(ControlFlag.CLEAR, fuel="B", emission="3", need_complete=level)
            decision = Decision(open=True, code="platform-clear", reason="未管控",
                                source="platform", answer=answer)  # fmt: skip
            recorded = await store.record_pass(new_pass(decision=decision), [])
            await store.finalise(recorded.id, GateSignal.PASSED, 1.0, "detector")
            if level == "1":
                assert [n.plate for n in await store.need_complete()] == ["豫A12345"]
        assert await store.need_complete() == []
        (row,) = await store.daily_figures(0, 10**10)
        assert (row.passed, row.stage3) == (2, 2)
    finally:
        await store.close()


async def test_the_benchmark_measures_the_ledger_as_retention_leaves_it(tmp_path: Path) -> None:
    """``bench.ledger``'s bytes a pass: the generated ledger keeps every outbox entry and
    message; a copy after the daemon's retention (the defaults) keeps a month of sent entries
    and 90 days of messages, and the ledger itself is left as it was."""
    ledger = await asyncio.to_thread(generate, tmp_path / "edge.db", 13, 12)
    before = footprint(ledger.path)
    found = await measure_bytes(ledger)
    assert footprint(ledger.path) == before == found.generated
    assert not list(tmp_path.glob("retained-*"))  # noqa: ASYNC240 - a test
    for name, kept in (("camera_messages", 90 / 396), ("outbox", 30 / 396)):
        assert found.kept[name] < (kept + 0.05) * found.generated[name], name
    assert found.kept["passes"] >= found.generated["passes"]
