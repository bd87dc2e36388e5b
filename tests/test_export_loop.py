"""Exports never hold up the gate (issue 19): the history's CSV export and the inspector's
XLSX are read, made into rows and formatted off the event loop, so the loop serves the lanes,
the watchdog and every other request while a page is being made; the bytes are the same.

On a 24-month ledger a month's CSV export (15,000 rows, made on the loop 500 at a time)
stalled the daemon's loop for 150-400 ms at a time and multiplied plate -> coil p99 by 5-11.
The checks here are event-driven, not timed: while the first cell of an export is being
formatted, a coroutine handed to the loop must complete (it cannot while the loop itself is
the one formatting), and no cell is formatted on the loop's thread.
"""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from bench.ledger import SH, generate
from edge.actions import inspection
from edge.actions.inspection import ledger_query, write_workbook
from edge.ledger.rows import PassListing
from edge.ledger.store import Store
from edge.sim.platform import CityPlatformSim
from edge.web import status_page
from tests.helpers import config_for, running_daemon

#: Passes a day for a month of them: ~1,800, four pages of the CSV export and one of the XLSX's.
PER_DAY = 60


class LoopWatch:
    """Stands in for a module's ``spreadsheet_cell``: records the threads cells are made on
    and, at the first cell, whether the event loop runs a coroutine handed to it meanwhile
    (it cannot if the loop is what is formatting: the wait then ends at its timeout)."""

    def __init__(self, cell: Callable[[object], str]) -> None:
        self.cell = cell
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.threads: set[int] = set()
        self.served: list[bool] = []
        self.cells = 0

    def __call__(self, value: object) -> str:
        self.threads.add(threading.get_ident())
        self.cells += 1
        if not self.served:
            future = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.loop)
            try:
                future.result(timeout=10)
                self.served.append(True)
            except TimeoutError:
                future.cancel()
                self.served.append(False)
        return self.cell(value)

    def assert_off_the_loop(self) -> None:
        assert self.cells > 0
        assert self.served == [True], "the loop did not run while a page was being formatted"
        assert self.loop_thread not in self.threads, "cells were formatted on the event loop"


class Ticker:
    """A task on the loop counting its turns while something else runs."""

    def __init__(self) -> None:
        self.turns = 0
        self._stop = False
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop:
            self.turns += 1
            await asyncio.sleep(0)

    async def stop(self) -> int:
        self._stop = True
        await self._task
        return self.turns


def reference_csv(pages: list[list[PassListing]], zone: Any) -> bytes:
    """The CSV export as it was made before issue 19's change (on the event loop, each row
    through ``asdict``): the bytes the export must still send."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(
        ["流水号", "车道", "方向", "车牌", "车牌颜色", "结果", "原因", "决定方", "时间", "标记",
         "车牌更正"]
    )  # fmt: skip
    cell = inspection.spreadsheet_cell
    for page in pages:
        for row in page:
            p = asdict(row)
            p["received_at"] = datetime.fromtimestamp(row.received_at, zone).isoformat(
                sep=" ", timespec="seconds"
            )
            writer.writerow([cell(v) for v in (
                p["serial"], p["lane_id"], p["direction"],
                row.corrected or row.plate or "无牌车",
                row.corrected_color or row.plate_color, p["verdict"], p["reason"],
                p["decided_by"], p["received_at"], p["flag"] or "",
                status_page.corrected_mark(row),
            )])  # fmt: skip
    return buffer.getvalue().encode("utf-8")


async def test_the_csv_export_is_formatted_while_the_loop_serves_and_sends_the_same_bytes(
    tmp_path: Path, platform_sim: CityPlatformSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config_for(tmp_path, platform_sim)
    await asyncio.to_thread(generate, cfg.storage.database, 1, PER_DAY)
    async with running_daemon(cfg) as daemon, httpx.AsyncClient(timeout=60) as http:
        store = daemon.store
        first, second = await store.search_passes(limit=2)
        # a corrected plate, one a spreadsheet would read as a formula, and an unreadable one
        await store.add_correction(first.id, "=1+1", "2", None, "guard", forward=False)
        await store.add_correction(second.id, "", "5", None, "guard", forward=False)
        expected = reference_csv([page async for page in store.export_passes()], cfg.site.zone)
        watch = LoopWatch(inspection.spreadsheet_cell)
        monkeypatch.setattr(status_page, "spreadsheet_cell", watch)
        ticker = Ticker()
        reply = await http.get(f"http://127.0.0.1:{daemon.web.port}/api/passes.csv")
        turns = await ticker.stop()
        limited = await http.get(
            f"http://127.0.0.1:{daemon.web.port}/api/passes.csv", params={"limit": "777"}
        )
    assert reply.status_code == 200
    watch.assert_off_the_loop()
    rows = expected.count(b"\r\n") - 1
    assert rows > 1500  # several pages
    assert turns > rows // 500  # the loop got control back between the pages too
    assert reply.content == expected
    assert "'=1+1" in reply.content.decode("utf-8-sig")
    assert limited.content == b"\r\n".join(expected.split(b"\r\n")[: 1 + 777]) + b"\r\n"


async def test_the_inspectors_workbook_is_made_while_the_loop_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "edge.db"
    ledger = await asyncio.to_thread(generate, path, 1, PER_DAY)
    store = await Store.open(path)
    try:
        last = datetime.fromtimestamp(ledger.end, SH).date()
        first = last - timedelta(days=30)
        query = ledger_query(first.isoformat(), last.isoformat(), "", "", SH)
        before = await write_workbook(store, query, tmp_path / "before.xlsx", SH)
        watch = LoopWatch(inspection.spreadsheet_cell)
        monkeypatch.setattr(inspection, "spreadsheet_cell", watch)
        ticker = Ticker()
        after = await write_workbook(store, query, tmp_path / "after.xlsx", SH, page=500)
        turns = await ticker.stop()
    finally:
        await store.close()
    watch.assert_off_the_loop()
    assert after.rows == before.rows > 1500
    assert turns > after.rows // 500

    def cells(name: str) -> list[tuple[Any, ...]]:
        book = load_workbook(tmp_path / name, read_only=True)
        try:
            return [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()

    assert cells("after.xlsx") == cells("before.xlsx")
