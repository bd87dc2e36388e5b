"""A ledger of N months at a daily rate, in the project's own schema, and what the daemon's
queries cost on it (issue 19: as fast on day 730 as on day 1).

Generation: the file is created by the ledger itself (:meth:`Store.open`, every migration),
then filled through ``executemany``, one transaction per day: passes and reads with the
ledger's own INSERT statements (``edge.ledger.passes``; its triggers keep the trigram index,
figures and tallies as they would), finalised like the lane does (state, gate signal);
photos and outbox entries written as they stand once forwarded and pruned. Two lanes (in
and out), a fleet of 20,000 vehicles, one photo and one camera read per pass, a record and a
photo entry in the outbox per pass; the last hour still pending, a few dead letters, and the
last week's photos past their retention (the retention catch-up). Every outbox entry and every
camera message of the whole history is kept (the worst case for the queries: a site with
``outbox_sent_keep_days`` and ``diagnosis_keep_days`` at 0).

Bytes a pass: the file as generated, and the pages in use once the daemon's retention has run
on a copy of it with the default settings (what a site's ledger holds: the pages retention
frees go to the file's free list, which SQLite fills before the file grows), per table and
index from SQLite's ``dbstat``.

Measurement: each query the daemon makes, through the daemon's own code (the ledger's
methods; ``/api/status`` from a daemon running on the file), repeated until ``--reps`` runs
or ``--budget`` seconds: the first (cold) call, then p50 and p99 of the others (nearest rank:
the maximum of fewer than 100 runs).

    python -m bench --only ledger                          # small: 13 months at 200 a day
    python -m bench.ledger --months 24 --per-day 5000 --dir /work/tmp/ledger24   # full size
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from bench.common import free_port
from edge.config.model import Config, StorageConfig
from edge.daemon import Daemon
from edge.domain.codes import ControlFlag
from edge.domain.reports import VerifyAnswer
from edge.domain.serials import SerialAllocator
from edge.ledger import passes as pass_sql
from edge.ledger.database import register_functions
from edge.ledger.figures import daily_figures
from edge.ledger.retention import DiskState, Retention
from edge.ledger.rows import HistoryCriteria, encode_answer
from edge.ledger.store import Store
from edge.ops.logsetup import setup_logging

SH = ZoneInfo("Asia/Shanghai")
DAY = 86400.0
MONTH = 30.44 * DAY
FLEET = 20_000
PROVINCES = "豫京冀晋鲁苏皖鄂湘陕"
ALNUM = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LANES = (("in-1", "01", "in"), ("out-1", "02", "out"))
PHOTO_SIZE = 93_000
RETENTION_DAYS = 365.0
CATCH_UP_DAYS = 7  # photos past retention not pruned yet
PENDING_SECONDS = 3600.0  # the last hour not forwarded yet
DEAD_LETTERS = 20
TARGET_QUERY_MS, TARGET_STATUS_MS = 100.0, 50.0
TARGET_BYTES, TARGET_MONTHS = 600, 24  # a pass, in use, in a ledger of 24 months (issue 19)
#: ``make bench``'s ledger: past the photo retention (the catch-up), a day 6 months ago.
MONTHS, PER_DAY = 13, 200


def fleet(rng: random.Random) -> list[str]:
    return [
        rng.choice(PROVINCES) + rng.choice("ABCDEFGH") + "".join(rng.choices(ALNUM, k=5))
        for _ in range(FLEET)
    ]


@dataclass(slots=True)
class Ledger:
    path: Path
    months: int
    per_day: int
    end: float
    plates: list[str]
    passes: int = 0
    seconds: float = 0.0


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")  # generated data: durability is not the point
    db.execute("PRAGMA cache_size=-200000")
    register_functions(db)
    return db


def _answers() -> list[str | None]:
    return [
        encode_answer(VerifyAnswer(ControlFlag.CLEAR, "", "B", emission))
        for emission in ("3", "4", "5", "6")
    ]


#: The outbox entries and photos of generated passes are written as they stand once the lane,
#: the forwarder and retention are done with them (one insert, not insert then updates).
_ENTRY = (
    "INSERT INTO outbox (pass_id, kind, photo_id, state, attempts, next_attempt_at, "
    "created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_PHOTO = (
    "INSERT INTO photos (pass_id, number, kind, path, size, taken_at, pruned_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class _Day:
    passes: list[tuple[Any, ...]] = field(default_factory=list)
    reads: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    photos: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[tuple[Any, ...]] = field(default_factory=list)


def _day_rows(
    rng: random.Random,
    plates: list[str],
    serials: dict[str, SerialAllocator],
    *,
    day_start: float,
    per_day: int,
    first_id: int,
    now: float,
) -> _Day:
    """One day's passes, reads, photos and outbox entries (ids from ``first_id``); today's
    until ``now`` only (they were spread over the whole day: up to 22 h in the future)."""
    answers = _answers()
    day = _Day()
    stamp = datetime.fromtimestamp(day_start, SH).strftime("%Y%m%d")
    kept_from = now - (RETENTION_DAYS + CATCH_UP_DAYS) * DAY
    for n in range(per_day):
        pass_id = first_id + n
        lane, gate, direction = LANES[n % 2]
        when = day_start + (n + rng.random()) * min(DAY, now - day_start) / per_day
        plate = rng.choice(plates)
        roll = rng.random()
        if roll < 0.93:
            verdict, code, reason = "open", "platform-clear", "未管控"
        elif roll < 0.97:
            verdict, code, reason = "refuse", "platform-controlled", "管控车辆"
        elif roll < 0.99:
            verdict, code, reason = "open", "platform-quota", "管控期配额内"
        else:
            verdict, code, reason = "refuse", "quota-full", "今日运输配额已满"
        serial = serials[lane].allocate(datetime.fromtimestamp(when, SH))
        vendor = f"v{pass_id}" if n % 2 else None
        raw = json.dumps(
            {"plate": plate, "color": "yellow", "time": when, "lane": lane, "vendor_id": vendor,
             "picture": "<93000 bytes elided>", "confidence": 0.93},
            ensure_ascii=False,
        )  # fmt: skip
        day.passes.append(
            (serial, lane, gate, direction, plate, "2", None, when, when, "generic-push", vendor,
             verdict, code, reason, "platform", rng.choice(answers), None, None)
        )  # fmt: skip
        day.reads.append((pass_id, lane, when, plate, "2", None, vendor, "generic-push", None))
        day.messages.append((pass_id, raw))  # read id == pass id: one read a pass
        pruned = when + RETENTION_DAYS * DAY if when < kept_from else None
        day.photos.append(
            (pass_id, 1, 1 if direction == "in" else 2, f"{stamp}/{serial}-1.jpg", PHOTO_SIZE,
             when, pruned)
        )  # fmt: skip
        sent = when < now - PENDING_SECONDS
        state, attempts, sent_at = ("sent", 1, when + 2) if sent else ("pending", 0, None)
        day.entries.append((pass_id, "record", None, state, attempts, when, when, sent_at))
        # photo id == pass id: one photo a pass
        day.entries.append((pass_id, "photo", pass_id, state, attempts, when, when, sent_at))
    return day


def generate(path: Path, months: int, per_day: int, seed: int = 19) -> Ledger:
    """Write the ledger (see the module's docstring); returns what was written."""
    started = time.perf_counter()
    asyncio.run(_create(path))
    plates = fleet(random.Random(seed))
    rng = random.Random(seed + 1)
    now = time.time()
    today = datetime.fromtimestamp(now, SH).replace(hour=0, minute=0, second=0, microsecond=0)
    days = round(months * MONTH / DAY)
    first_day = (today - timedelta(days=days - 1)).timestamp()
    db = _connect(path)
    serials = {
        lane: SerialAllocator(f"4110020001{gate}{'A' if direction == 'in' else 'B'}", None)
        for lane, gate, direction in LANES
    }
    pass_id = 1
    for d in range(days):
        day_start = first_day + d * DAY
        per = per_day if day_start + DAY <= now else max(1, int(per_day * (now - day_start) / DAY))
        day = _day_rows(
            rng, plates, serials, day_start=day_start, per_day=per, first_id=pass_id, now=now
        )
        last = pass_id + per - 1
        db.execute("BEGIN")
        db.executemany(pass_sql.INSERT_PASS, day.passes)
        db.executemany(pass_sql.INSERT_READ, day.reads)
        db.executemany(pass_sql.INSERT_MESSAGE, day.messages)
        db.executemany(_PHOTO, day.photos)
        db.executemany(_ENTRY, day.entries)
        # finalised as the lane does it: the vehicle went through
        db.execute(
            "UPDATE passes SET state = 'final', gate_signal = 0, passed_at = received_at + 4, "
            "confirmed_by = 'detector', barrier = 'opened' WHERE id BETWEEN ? AND ?",
            (pass_id, last),
        )
        db.execute("COMMIT")
        pass_id = last + 1
    step = max(1, (pass_id - 1) // DEAD_LETTERS)
    db.execute(
        "UPDATE outbox SET state = 'dead', last_error = 'platform said: 数据格式错误' "
        "WHERE kind = 'record' AND pass_id % ? = 7 AND pass_id < ?",
        (step, pass_id - 1000),
    )
    db.close()
    return Ledger(path, months, per_day, now, plates, pass_id - 1, time.perf_counter() - started)


async def _create(path: Path) -> None:
    store = await Store.open(path)
    await store.close()


# -- measuring ------------------------------------------------------------------------------
@dataclass(slots=True)
class Figure:
    name: str
    times: list[float] = field(default_factory=list)  # ms
    rows: int = 0
    note: str = ""
    target: float = TARGET_QUERY_MS

    def pct(self, q: float) -> float:
        ordered = sorted(self.times[1:] or self.times)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    def line(self) -> str:
        if not self.times:
            return f"  {self.name:<44} {'-':>9} {'-':>9} {'-':>9}  {self.note}"
        p99 = self.pct(99)
        mark = "" if self.target <= 0 else ("ok" if p99 <= self.target else "OVER")
        return (
            f"  {self.name:<44} {self.times[0]:9.1f} {self.pct(50):9.1f} {p99:9.1f} "
            f"{len(self.times):4d} {self.rows:8d}  {mark} {self.note}"
        )


async def timed(
    name: str,
    call: Callable[[], Awaitable[Any]],
    reps: int,
    budget: float,
    target: float = TARGET_QUERY_MS,
) -> Figure:
    figure = Figure(name, target=target)
    spent = time.perf_counter()
    while len(figure.times) < reps and (
        len(figure.times) < 2 or time.perf_counter() - spent < budget
    ):
        started = time.perf_counter()
        result = await call()
        figure.times.append((time.perf_counter() - started) * 1000)
        if isinstance(result, list | dict):
            figure.rows = len(result)
        elif isinstance(result, int):
            figure.rows = result
    return figure


def day_at(ledger: Ledger, months_ago: float) -> float:
    moment = datetime.fromtimestamp(ledger.end - months_ago * MONTH, SH)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _search(store: Store, **criteria: Any) -> Callable[[], Awaitable[Any]]:
    """A history search for ``criteria`` (:class:`HistoryCriteria`'s fields), to be timed."""
    return functools.partial(store.search_passes, HistoryCriteria(**criteria))


async def measure_store(ledger: Ledger, reps: int, budget: float) -> list[Figure]:
    """The ledger's queries, through its own methods."""
    store = await Store.open(ledger.path)
    try:
        plate = (await store.get_pass(ledger.passes // 2)).plate or ""  # a regular's
        today = datetime.fromtimestamp(ledger.end, SH).date()
        midnight = day_at(ledger, 0)
        figures: list[Figure] = []

        async def add(name: str, call: Callable[[], Awaitable[Any]], **kw: Any) -> None:
            figures.append(await timed(name, call, kw.pop("reps", reps), budget, **kw))

        await add("plate search, exact", _search(store, plate=plate))
        await add("plate search, prefix (4 chars)", _search(store, plate=plate[:4]))
        await add("plate search, partial (3 in the middle)", _search(store, plate=plate[3:6]))
        for ago in (6, 23):
            if ago * MONTH < ledger.months * MONTH:
                start = day_at(ledger, ago)
                await add(
                    f"day search, {ago} months ago", _search(store, start=start, end=start + DAY)
                )
        await add("daily figures (today)", lambda: daily_figures(store, today, SH))
        await add("quota count (today, in)",
                  lambda: store.count_codes_since("quota", midnight, "in"))  # fmt: skip
        await add("backlog monitor (backlog)", store.backlog)
        await add("outbox counts", store.outbox_counts)
        await add("dead letters (status page)", lambda: store.list_outbox("dead", 20))
        await add("forwarder: due entries (200)", lambda: store.due_entries(200))
        await add("forwarder: next due", store.next_due_at)
        await add("watchdog ping", store.ping, target=0)
        month = day_at(ledger, 1)
        a_month = HistoryCriteria(start=month, end=month + MONTH)

        async def export_month() -> int:
            return sum([1 async for _ in store.export_passes(a_month)])

        await add("export of one month", export_month, reps=3, target=0)
        # the watchdog's ping while an export runs
        pings: list[float] = []
        exporting = asyncio.create_task(export_month())
        while not exporting.done():
            started = time.perf_counter()
            await store.ping()
            pings.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.05)
        await exporting
        figures.append(Figure("watchdog ping during the export", pings, len(pings), target=0))
        expired = ledger.end - RETENTION_DAYS * DAY
        await add("retention: prunable photos (200)", lambda: store.prunable_photos(expired, 200))
        retention = Retention(
            store,
            ledger.path.parent / "photos",
            retention_days=RETENTION_DAYS,
            budget_mb=0,
            min_free_mb=0,
        )
        started = time.perf_counter()
        state = await retention.prune_once()
        catch_up = Figure(
            "retention catch-up (whole)", [(time.perf_counter() - started) * 1000], target=0
        )
        catch_up.rows, catch_up.note = state.pruned, "photos pruned"
        figures.append(catch_up)
        return figures
    finally:
        await store.close()


async def measure_status(ledger: Ledger, reps: int, budget: float) -> Figure:
    """``/api/status`` from a daemon running on the ledger (platform unreachable)."""
    cfg = Config(
        site={"enterprise_code": "4110020001", "enterprise_name": "基准测试企业"},
        platform={"base_url": f"http://127.0.0.1:{free_port()}/ysgk", "organ": "4110020001",
                  "username": "gate01", "password": "sim-password"},
        lanes=[
            {"id": lane, "gate_code": gate, "direction": direction,
             "camera": {"kind": "generic-push"}, "barrier": {"driver": "virtual"},
             "led": {"driver": "virtual"}}
            for lane, gate, direction in LANES
        ],
        storage={"database": str(ledger.path), "photo_dir": str(ledger.path.parent / "photos"),
                 "photo_retention_days": 3650, "min_free_mb": 0},
        web={"port": 0},
        logging={"level": "error"},
    )  # fmt: skip
    daemon = Daemon(cfg)
    await daemon.start()
    try:
        url = f"http://127.0.0.1:{daemon.web.port}/api/status"
        async with aiohttp.ClientSession() as http:

            async def status() -> int:
                async with http.get(url) as response:
                    assert response.status == 200, response.status
                    return len(await response.read())

            figure = await timed("/api/status (running daemon)", status, reps, budget)
        figure.target, figure.note = TARGET_STATUS_MS, "bytes"
        return figure
    finally:
        await daemon.stop()


def report(ledger: Ledger, figures: list[Figure]) -> None:
    size = ledger.path.stat().st_size
    print(
        f"\nLedger of {ledger.months} months at {ledger.per_day} passes a day: {ledger.passes:,} "
        f"passes, {size / 2**20:,.0f} MiB ({size / max(1, ledger.passes):.0f} bytes a pass)"
        + (f", generated in {ledger.seconds:.0f} s" if ledger.seconds else "")
    )
    print(f"  {'query (ms)':<44} {'first':>9} {'p50':>9} {'p99':>9} {'runs':>4} {'rows':>8}")
    for figure in figures:
        print(figure.line())
    print(
        f"  targets: every status-page and CLI query p99 ≤ {TARGET_QUERY_MS:.0f} ms, "
        f"/api/status ≤ {TARGET_STATUS_MS:.0f} ms (ok / OVER; unmarked: no target)"
    )


# -- bytes a pass --------------------------------------------------------------------------
def footprint(path: Path) -> dict[str, int]:
    """Bytes of the pages each table and index of the ledger at ``path`` holds (SQLite's
    ``dbstat``: pages in use, the free list not counted), largest first."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        return {str(name): int(size) for name, size in rows}
    finally:
        db.close()


async def retained(path: Path, storage: StorageConfig | None = None) -> DiskState:
    """One round of the daemon's retention on the ledger at ``path`` with ``storage``'s
    settings (the defaults when None): photos past their retention pruned (their files, if
    any, deleted), sent outbox entries and camera messages past their keep deleted; what it
    did."""
    storage = storage or StorageConfig()
    store = await Store.open(path)
    try:
        return await Retention(
            store,
            path.parent / "photos",
            retention_days=storage.photo_retention_days,
            budget_mb=0,
            min_free_mb=0,
            outbox=store,
            outbox_sent_keep_days=storage.outbox_sent_keep_days,
            diagnosis_keep_days=storage.diagnosis_keep_days,
        ).prune_once()
    finally:
        await store.close()


@dataclass(slots=True)
class Footprint:
    """Bytes of each table and index: as generated, and kept once retention ran."""

    file: int
    generated: dict[str, int]
    kept: dict[str, int]


async def measure_bytes(ledger: Ledger) -> Footprint:
    """The ledger's pages as generated, and in use after the daemon's retention has run with
    the default settings, on a page-for-page copy (the ledger itself is left as it is)."""
    copy = ledger.path.with_name(f"retained-{ledger.path.name}")

    def backup() -> None:
        source, target = sqlite3.connect(ledger.path), sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()

    try:
        await asyncio.to_thread(backup)
        generated = footprint(copy)
        await retained(copy)
        return Footprint(ledger.path.stat().st_size, generated, footprint(copy))
    finally:
        for path in (copy, copy.with_name(copy.name + "-wal"), copy.with_name(copy.name + "-shm")):
            path.unlink(missing_ok=True)


def report_bytes(ledger: Ledger, found: Footprint) -> None:
    n = max(1, ledger.passes)
    generated, kept = sum(found.generated.values()), sum(found.kept.values())
    storage = StorageConfig()
    print(
        f"\nBytes a pass: {found.file / n:.0f} in the file as generated (every outbox entry and "
        f"camera message kept), {generated / n:.0f} in its pages; {kept / n:.0f} in use once "
        f"retention ran with the defaults (sent entries after {storage.outbox_sent_keep_days:g} "
        f"days, camera messages after {storage.diagnosis_keep_days:g}; freed pages are reused "
        f"before the file grows)  "
        + (
            f"{'ok' if kept / n <= TARGET_BYTES else 'OVER'} (target ≤ {TARGET_BYTES})"
            if ledger.months >= TARGET_MONTHS
            else f"(the target, ≤ {TARGET_BYTES}, is for {TARGET_MONTHS} months: a shorter "
            "ledger holds more of itself in the windows, and fewer passes a day cost more "
            "in the quarter hours' figures)"
        )
    )
    print(f"  {'table or index (bytes a pass)':<44} {'generated':>9} {'retained':>9}")
    for name in sorted(found.generated, key=lambda k: -found.kept.get(k, 0)):
        if max(found.generated[name], found.kept.get(name, 0)) >= n:  # a byte a pass or more
            after = found.kept.get(name, 0) / n
            print(f"  {name:<44} {found.generated[name] / n:9.1f} {after:9.1f}")


async def bench_ledger(
    months: int, per_day: int, directory: Path | None = None, reps: int = 20, budget: float = 10.0
) -> None:
    """Generate a ledger in a temporary directory, measure it, delete it."""
    setup_logging("critical", "json")  # the daemon's forwarder finds no platform: quiet
    with tempfile.TemporaryDirectory(prefix="edge-ledger-", dir=directory) as tmp:
        path = Path(tmp) / "edge.db"
        ledger = await asyncio.to_thread(generate, path, months, per_day)
        await measure(ledger, reps, budget)


async def measure(ledger: Ledger, reps: int, budget: float) -> None:
    started = time.time()
    figures = [await measure_status(ledger, reps, budget)]
    figures += await measure_store(ledger, reps, budget)
    report(ledger, figures)
    db = sqlite3.connect(ledger.path)  # the catch-up undone: the next run prunes the same
    with db:
        db.execute("UPDATE photos SET pruned_at = NULL WHERE pruned_at >= ?", (started,))
    db.close()
    report_bytes(ledger, await measure_bytes(ledger))


def kept(path: Path, months: int, per_day: int) -> Ledger:
    """The ledger at ``path``, generated there first if it is not (``--db``: to measure one
    ledger with several versions of the code; a newer one migrates it when it opens it)."""
    about = path.with_suffix(".json")
    if not about.exists():
        ledger = generate(path, months, per_day)
        meta = {"months": months, "per_day": per_day, "end": ledger.end, "passes": ledger.passes}
        about.write_text(json.dumps(meta))
        return ledger
    meta = json.loads(about.read_text())
    return Ledger(path, meta["months"], meta["per_day"], meta["end"], fleet(random.Random(19)),
                  meta["passes"])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger")
    parser.add_argument("--months", type=int, default=MONTHS)
    parser.add_argument("--per-day", type=int, default=PER_DAY)
    parser.add_argument("--dir", type=Path, help="where the ledger is written (deleted after)")
    parser.add_argument("--db", type=Path, help="a ledger file kept (generated if missing)")
    parser.add_argument("--reps", type=int, default=20, help="runs of each query at most")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per query at most")
    args = parser.parse_args()
    setup_logging("critical", "json")
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.db is not None:
        ledger = kept(args.db, args.months, args.per_day)
        asyncio.run(measure(ledger, args.reps, args.budget))
    else:
        asyncio.run(bench_ledger(args.months, args.per_day, args.dir, args.reps, args.budget))


if __name__ == "__main__":
    main()
