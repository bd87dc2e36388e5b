"""Every query the ledger makes, planned by SQLite on a ledger with statistics (issue 19): none
walks the whole of ``passes`` or ``outbox``.

The statements are not listed here: every public method of the ledger's parts is called on a
small generated ledger (``bench.ledger``: 13 months, opened like the daemon opens it, so
``ANALYZE`` has run) and every statement SQLite runs is traced on each connection; the test
fails when a part gains a method this scenario does not call. Each traced statement (with its
values) is then put through ``EXPLAIN QUERY PLAN``: a ``SCAN`` of ``passes`` or ``outbox``
passes only through a partial index (it holds unsent entries only) or as an ordered walk that
stops at a ``LIMIT``.
"""

from __future__ import annotations

import inspect
import re
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bench.ledger import generate
from edge.domain.codes import GateSignal
from edge.domain.control_plan import ControlPlan
from edge.domain.filing import EntryStatus, parse_entry
from edge.ledger import database as ledger_database
from edge.ledger.database import LedgerPart
from edge.ledger.rows import (
    HistoryCriteria,
    NewFilingImage,
    NewRead,
    NewScaleRead,
    NewWeighing,
    PageCursor,
    StoredWeighing,
)
from edge.ledger.store import LatePhotos, NewPhoto, Store
from edge.ledger.weighings import HalfTie
from tests.test_store import new_pass

#: Methods not run while the daemon serves, with why.
NOT_SERVING = {
    "count_passes": "the demo's progress (edge demo), never while serving",
    "count_photos": "the demo's summary (edge demo), never while serving",
}
WATCHED = ("passes", "outbox")
#: The pass the scenario records: after every generated one (no serial in common).
TOMORROW = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)


def _public(cls: type) -> set[str]:
    return {
        name
        for name, member in vars(cls).items()
        if not name.startswith("_")
        and (inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member))
    }


#: Every part the daemon's ledger is made of (Store's bases), so a new part is checked too.
PARTS = tuple(cls for cls in Store.__mro__ if issubclass(cls, LedgerPart) and cls is not LedgerPart
              and cls is not Store)  # fmt: skip
#: Methods of parts this scenario does not call yet (the weighbridge's, issue 16, landed
#: beside this test): their plans are NOT checked; the test fails when the list is stale.
NOT_YET_CALLED = {
    "weigh", "put_plan", "plan_for", "goods_from_plan", "passes_owed_plan_goods", "give_goods",
    "weighing", "open_weighings", "recent_weighings", "assign_plate", "note_scale_read",
    "pending_reads", "set_weighing_photo", "unmatched_weighings", "used_reads",
    "discard_weighing", "weighings_of_pass", "correct_weighing_plate", "correct_scale_reads",
    "drop_read", "drop_stale_reads", "dropped_reads", "reweigh",
}  # fmt: skip


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plans") / "edge.db"
    generate(path, months=13, per_day=12)
    return path


async def _traced(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], set[str]]:
    statements: list[str] = []
    connect = ledger_database.HistoryReader._connect

    def traced_connect(self: ledger_database.HistoryReader) -> sqlite3.Connection:
        connection = connect(self)
        connection.set_trace_callback(statements.append)
        return connection

    monkeypatch.setattr(ledger_database.HistoryReader, "_connect", traced_connect)
    store = await Store.open(path)
    called: set[str] = set()
    try:
        for connection in (store.database.writer, store.database._reader):
            await connection.set_trace_callback(statements.append)
        await _serve(store, called)
    finally:
        await store.close()
    return statements, called


async def _serve(store: Store, called: set[str]) -> None:  # noqa: PLR0915 - one scenario
    """Call every public method of the ledger's parts, as the daemon would while serving."""

    async def call(name: str, *args: Any, **kwargs: Any) -> Any:
        called.add(name)
        method: Callable[..., Any] = getattr(store, name)
        if inspect.isasyncgenfunction(method):
            return [page async for page in method(*args, **kwargs)]
        return await method(*args, **kwargs)

    now = time.time()
    month_ago = now - 30 * 86400
    some = await call("get_pass", 100)
    assert some.plate is not None
    await call("last_serial", some.serial[:13])
    recorded = await call(
        "record_pass",
        new_pass(plate=some.plate, when=TOMORROW, camera_read=True, vendor_id="cam-1"),
        [NewPhoto(1, 1, "x/1.jpg", 1000, now)],
    )
    await call("add_read", NewRead(recorded.id, "in-1", now, some.plate, "2", None, "cam-1",
                                   "generic-push", "re-push"))  # fmt: skip
    await call("find_read", "in-1", "cam-1", some.plate, "2")
    await call("recent_passes", "in-1", now - 600)
    await call("reads_of", recorded.id)
    await call("camera_message", recorded.id)
    await call("camera_message", some.id)
    late = LatePhotos([NewPhoto(2, 1, "x/2.jpg", 1000, now)], forward=True, flag=None)
    await call("add_photos", recorded.id, late)
    await call("heal_photos", recorded.id, late)
    await call("set_barrier", recorded.id, "opened")
    await call("set_barrier", recorded.id, "opened", None, late)
    await call("finalise", recorded.id, GateSignal.PASSED, now, "detector")
    await call("close_pass", recorded.id, GateSignal.PASSED, now, "detector", ("opened", None))
    await call(
        "close_pass", recorded.id, GateSignal.PASSED, now, "detector", ("opened", None), late
    )
    await call("pass_and_photos", recorded.id)
    await call("passes_and_photos", [recorded.id, 100, 101])
    await call("open_passes")
    await call("cached_answer", some.plate)
    await call("count_passes")
    await call("count_photos")
    await call("latest_pass", "in-1")
    await call("find_pass", some.serial)
    await call("pass_for_plate", some.plate, ["in-1", "out-1"], some.received_at, 300.0)
    photos = await call("photos_of", some.id)
    await call("find_photo", some.serial, 1)
    await call("get_photo", photos[0].id)
    for search in (
        HistoryCriteria(),
        HistoryCriteria(plate=some.plate),
        HistoryCriteria(plate=some.plate[2:5]),
        HistoryCriteria(plate=some.plate[:2]),
        HistoryCriteria(start=month_ago, end=month_ago + 86400),
        HistoryCriteria(start=month_ago, end=month_ago + 86400, lane="in-1", verdict="refuse"),
        HistoryCriteria(lane="out-1"),
        HistoryCriteria(plate=some.plate[2:5], start=now - 400 * 86400, end=now),
    ):
        page = await call("search_passes", search, limit=20)
        if page:
            await call("search_passes", search, limit=20, after=PageCursor.after(page[-1]))
        _, _, last = await call("search_json", ZoneInfo("Asia/Shanghai"), search, limit=20)
        if last is not None:
            await call("search_json", ZoneInfo("Asia/Shanghai"), search, limit=20, after=last)
    days = HistoryCriteria(start=month_ago, end=month_ago + 3 * 86400)
    await call("export_passes", days, page=10)
    zone = ZoneInfo("Europe/Berlin")  # summer time: the export's time as SQLite makes it
    await call("export_csv", zone, days, page=10)
    await call("export_csv", zone, HistoryCriteria(plate=some.plate[2:5]), page=10)
    await call("export_csv", zone, limit=25, page=10)
    await call("photo_bytes")
    pruned = await call("prunable_photos", now - 365 * 86400, 5)
    await call("prunable_photos", None, 5)
    await call("mark_pruned", [p.id for p in pruned])
    correction = await call("add_correction", some.id, some.plate, "2", None, "guard", forward=True)
    await call("get_correction", correction)
    await call("latest_correction", some.id)
    await call("corrected_plates", [some.serial, recorded.serial])
    for plate in (some.plate, some.plate[2:5], some.plate[:2]):  # corrected passes found too
        found = HistoryCriteria(plate=plate)
        page = await call("search_passes", found, limit=20)
        await call("search_passes", found, limit=20, after=PageCursor.after(page[-1]))
    midnight = now - now % 86400
    await call("count_codes_since", "quota", midnight, "in")
    await call("count_codes_since", "quota", now - 1234.5, "in")
    await call("daily_figures", midnight, midnight + 86400)
    await call("daily_figures", midnight + 1, midnight + 86400)
    await _serve_weighings(call, some.serial, recorded.serial, midnight)
    await _serve_checks(store, call, recorded.serial, midnight)
    due = await call("due_entries", 200)
    await call("due_entries", 200, [entry.id for entry in due[:2]])
    await call("next_due_at")
    await call("due_and_next", 200)
    await call("due_and_next", 200, [entry.id for entry in due[:2]])
    await call("next_due_at", [entry.id for entry in due[:2]])
    if due:
        await call("mark_retry", due[0].id, now + 60, "timeout")
        await call("mark_sent", due[0].id)
        await call("mark_sent_many", [entry.id for entry in due[1:3]] or [due[0].id])
        await call("mark_dead", due[-1].id, "refused")
    for state in ("dead", "pending", "held", "sent", None):
        await call("list_outbox", state, 20)
    await call("outbox_of", some.serial)
    await call("retry_dead", [due[-1].id] if due else None)
    await call("retry_dead")
    await call("backlog")
    await call("outbox_counts")
    await call("compact_sent", now - 200 * 86400, 500)
    await call("forget_messages", now - 200 * 86400, 500)
    plan_id = await call("add_plan", ControlPlan("橙色预警", 3), "guard")
    await call("change_plan", plan_id, level=2)
    await call("close_plan", plan_id)
    await call("plans")
    entry = await call("add_list_entry", "豫A99999", "deny", "test", None, "guard")
    await call("remove_list_entry", entry)
    await call("list_entries")
    await call("audit", actor="guard", action="open", target="in-1", origin="test", result="ok")
    await call("audit_log", 20)
    await call("vehicle_facts", [some.plate, "豫A12345"])
    await call("vehicle_facts", [])
    await call("need_complete", 100)
    await call("note_need_complete", some.plate, "2", now)
    await call("need_completed", some.plate, "2")
    await call("ledger_lines", month_ago, month_ago + 3 * 86400, page=10)
    await call("ledger_lines", month_ago, month_ago + 86400, gate="01", plate=some.plate)
    await call("ledger_lines", month_ago, month_ago + 86400 * 30, plate=some.plate[:2], page=10)
    await _serve_filings(call)


async def _serve_weighings(
    call: Callable[..., Any], first: str, second: str, midnight: float
) -> None:
    """The weighings' reads that touch passes: a weighing's photos, the export's range, the
    day's tonnage."""
    weighing = StoredWeighing(
        1, "豫A12345", "yellow", "complete", "main", 35680.0, midnight, first, "main",
        15200.0, midnight + 600, second, 35680.0, 15200.0, 20480.0, 0, "煤", "20.5", None,
    )  # fmt: skip
    await call("weighing_photos", [weighing])
    await call("weighing_photo_sides", [weighing])
    await call("weighings_between", midnight, midnight + 86400)
    await call("tonnage_between", midnight, midnight + 86400, 86400.0)


async def _serve_checks(
    store: Store, call: Callable[..., Any], serial: str, midnight: float
) -> None:
    """The clerk's checks (请核对车牌 / 请核对重量), on a weighing tied to a plate read (set up
    through methods this scenario does not check yet): they find a weighing's goods record
    by its weighing (outbox)."""
    read = await store.note_scale_read(
        NewScaleRead("main", "豫A12345", "2", serial, "in-1", midnight - 5)
    )
    other = await store.note_scale_read(
        NewScaleRead("main", "豫B54321", "2", serial, "in-1", midnight + 2)
    )
    row = await store.weigh(
        NewWeighing("main", "豫A12345", "2", 35680.0, midnight, serial),
        max_between_seconds=86400.0,
        read_id=read.id,
    )
    await call("superseded_by", other, 5.0)
    await call("reserved_reads", [other.id], midnight - 300)
    await call("reserved_reads", [other.id], midnight - 300, 5.0)
    await call("late_candidate_of", other, 5.0, midnight - 300)
    await call("rival_of", other, midnight - 300)
    await call("check_weight", row, 30000.0, 35680.0)
    await call("weighings_to_check", midnight - 300)
    await call("clear_checks", row.id)
    for kg, at in ((15000.0, midnight - 100), (30000.0, midnight - 50)):  # a pair, then a stop
        pair = await store.weigh(
            NewWeighing("main", "豫C77777", "2", kg, at, serial), max_between_seconds=86400.0
        )
    await store.check_weight(pair, 30000.0, 35680.0)
    taken, _released = await call("take_higher_weight", pair.id)
    assert (taken.second_kg, taken.net_kg) == (35680.0, 20680.0)
    await call("release_left", "main", midnight + 1, row.id)
    await call("holds_goods_on", "main")
    await call("release_other_scales", ["main"])
    await call("release_other_scales", [])
    await call("last_weighing_on", "main", midnight - 300)
    await call("tied_read", row.id, "main", midnight + 1)
    await call("reread_of_used", other, read)
    await call("doubt_tie", read, other)
    await call("add_candidate", row.id, other)
    await _serve_split(store, call, serial, midnight)


async def _serve_split(
    store: Store, call: Callable[..., Any], serial: str, midnight: float
) -> None:
    """A clerk splits a pair of two trucks (a pass's corrected plate): its halves' plates
    are found through their passes, its goods record is withdrawn from the outbox."""
    first = await store.weigh(
        NewWeighing("main", "豫C77777", "2", 30000.0, midnight + 60, serial),
        max_between_seconds=86400.0,
    )
    other = await store.record_pass(new_pass(plate="豫D88888"), [])  # another truck's pass
    await store.weigh(
        NewWeighing("main", "豫C77777", "2", 12000.0, midnight + 900, other.serial),
        max_between_seconds=86400.0,
        goods="煤",
    )
    halves = await call("weighing_halves", first.id)
    ties = [HalfTie(h.plate, h.plate_color, "煤") for h in halves]
    await call("split_weighing", first.id, ties, max_between_seconds=86400.0)


async def _serve_filings(call: Callable[..., Any]) -> None:
    """The electronic ledger's methods (issue 15): its own tables, called so that none is
    missed when it touches passes or outbox."""
    form = {"plate": "豫A12345", "plate_color": "1", "vin": "LFV2A21K3D4000003", "engine_no": "E1",
            "register_date": "2020-01-01", "emission": "6"}  # fmt: skip
    truck = parse_entry("vehicle", form)
    image = NewFilingImage("driving_license", "filings/x.jpg", 10)
    entry_id = await call("add_entry", truck, "clerk", [image], "province")
    (imported,) = await call("import_entries", [parse_entry("machine", {
        "plate": "豫A0001Z", "name": "装载机", "emission": "4", "code": "C1",
        "production_date": "2021-01-01"})], "clerk", "city")  # fmt: skip
    await call("modify_entry", entry_id, parse_entry("vehicle", {**form, "owner": "x"}), "clerk",
               "province")  # fmt: skip
    await call("set_status", imported, EntryStatus.SEALED, "clerk", "city")
    await call("add_image", imported, NewFilingImage("nameplate", "filings/y.jpg", 9), "clerk")
    await call("queue_filing", imported, "city")
    due = await call("due_filings", 10)
    await call("next_filing_due_at")
    await call("filing_sending", due[0].id, "VehElecAccountAdd")
    await call("filing_answered", due[0].id, "VehElecAccountAdd", accepted=True, answer="",
               license_pk="PK1")  # fmt: skip
    await call("filing_failed", due[1].id, "timeout", None)
    await call("note_filing", imported, "province", "PK2", "VehElecAccountGain", "clerk")
    await call("retry_dead_filings", [due[1].id])
    await call("filing_outbox_of", entry_id)
    await call("filing_backlog")
    await call("cancelled_license_pk", "vehicle", "豫A12345", "1")
    await call("superseded", entry_id, "province")
    await call("queue_filing", entry_id, "city")
    pending = await call("due_filings", 10)
    await call("filing_withdrawn", pending[0].id, "注销: nothing to send")
    await call("dead_filings")
    await call("get_entry", entry_id)
    await call("find_entry", "vehicle", "豫A12345", "1")
    await call("entries_in_force", "vehicle", ["豫A12345", "豫B1"], ["LFV2A21K3D4000003"])
    await call("search_entries", "vehicle", "豫A", status="1", before=entry_id + 1)
    await call("export_entries", "vehicle", "1")
    await call("entry_history", entry_id)
    images = await call("images_of", entry_id, replaced=True)
    await call("get_image", images[0].id)
    await call("filings_of", entry_id)
    await call("license_pk_of", "豫A12345", "1")


def _aliases(sql: str) -> dict[str, str]:
    """Names a statement gives the watched tables (``outbox o`` → ``o``: ``outbox``)."""
    names = {table: table for table in WATCHED}
    for table, alias in re.findall(r"\b(?:FROM|JOIN|UPDATE)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", sql):
        if table in WATCHED and alias and alias.upper() not in {"WHERE", "ON", "SET", "JOIN"}:
            names[alias] = table
    return names


def _full_scans(db: sqlite3.Connection, sql: str, partial: set[str]) -> list[str]:
    plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    names = _aliases(sql)
    bad = []
    for line in plan:
        found = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", line)
        if not found or found.group(1) not in names:
            continue
        index = found.group(2)
        if index in partial or re.search(r"\bLIMIT\b", sql):
            continue
        bad.append(line)
    return bad


async def test_no_query_walks_the_whole_of_passes_or_outbox(
    ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements, called = await _traced(ledger, monkeypatch)
    every = set().union(*(_public(part) for part in PARTS))
    assert every - called == NOT_YET_CALLED, "methods the scenario does not call: add them"
    assert set(NOT_SERVING) <= every, "an exemption names a method that is gone"
    db = sqlite3.connect(ledger)
    ledger_database.register_functions(db)
    partial = {
        name
        for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
        if sql and " WHERE " in sql.upper()
    }
    queries = {
        sql
        for sql in statements
        if re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)\b", sql, re.IGNORECASE)
    }
    assert len(queries) > 40
    exempt = {"SELECT count(*) AS n FROM passes", "SELECT count(*) AS n FROM photos"}
    scans = {sql: bad for sql in queries - exempt if (bad := _full_scans(db, sql, partial))}
    db.close()
    assert scans == {}


async def test_a_full_scan_is_caught(ledger: Path) -> None:
    """The check itself: an unindexed filter on each watched table is reported."""
    db = sqlite3.connect(ledger)
    assert _full_scans(db, "SELECT * FROM passes WHERE reason LIKE '%x%'", set())
    assert _full_scans(db, "SELECT o.id FROM outbox o WHERE o.last_error = 'x'", set())
    assert not _full_scans(db, "SELECT * FROM passes WHERE id = 5", set())
    db.close()
