"""A ledger that cannot be written (issue 12): the data directory on a full file system (a
small tmpfs where the test may mount one, else a store whose writes fail as SQLite's do on a
full disk), and the ledger file deleted or replaced while the daemon runs. One alarm, a
/healthz that says so, the LED's wording, the barrier shut for vehicles, a guard's override
carried out and journalled, nothing committed lost."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
from structlog.testing import capture_logs

from drivers.virtual import VirtualBarrier, VirtualDisplay
from edge.daemon import Daemon
from edge.ledger.store import Store
from edge.sim.platform import CityPlatformSim
from tests.helpers import config_for, eventually, running_daemon

RESTORED = "ledger file was deleted while running; restored from the open database"
ALARM = "LEDGER CANNOT BE WRITTEN: passes are not recorded"


@contextlib.contextmanager
def small_filesystem(where: Path) -> Iterator[bool]:
    """A 4 MB tmpfs at ``where`` if this process may mount one (yields True), else a plain
    directory (False: the test injects the full disk's errors instead)."""
    where.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(where: Path) -> Path:
    """Fill the file system at ``where`` to the last byte."""
    filler = where / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as fh:  # closing may fail too
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    with contextlib.suppress(OSError), filler.open("ab") as fh:  # the last partial blocks
        while True:
            fh.write(b"\0" * 512)
            fh.flush()
    return filler


class _FullDisk:
    """Injected instead of a real full disk: every write of the ledger fails as SQLite's do
    when the disk is full (SQLITE_FULL), until :meth:`free` is called."""

    def __init__(self, store: Store) -> None:
        # The fault is injected under the store: its writer connection's execute, and the
        # sqlite3 connection a transaction run at once on the writer's thread is given.
        self.db = cast(Any, store._db)
        self.real, self.real_at_once = self.db.execute, self.db._execute
        self.db.execute, self.db._execute = self.execute, self.execute_at_once

    @staticmethod
    def _check(sql: str) -> None:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "COMMIT")):
            error = sqlite3.OperationalError("database or disk is full")
            error.sqlite_errorname = "SQLITE_FULL"
            raise error

    async def execute(self, sql: str, *args: Any) -> Any:
        self._check(sql)
        return await self.real(sql, *args)

    async def execute_at_once(self, fn: Any, *args: Any) -> Any:
        if args and isinstance(args[0], sqlite3.Connection):
            args = (_FullConnection(args[0], self._check), *args[1:])
        return await self.real_at_once(fn, *args)

    def free(self) -> None:
        self.db.execute, self.db._execute = self.real, self.real_at_once


class _FullConnection:
    """A sqlite3 connection whose writes fail as :class:`_FullDisk` says."""

    def __init__(self, real: sqlite3.Connection, check: Any) -> None:
        self.real, self.check = real, check

    @property
    def in_transaction(self) -> bool:
        return self.real.in_transaction

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.check(sql)
        return self.real.execute(sql, *args)


def _read(plate: str) -> dict[str, Any]:
    return {"plate": plate, "id": f"read-{uuid.uuid4()}"}


async def _post(daemon: Daemon, read: dict[str, Any]) -> httpx.Response:
    """A camera's generic push of ``read`` to lane in-1."""
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(f"http://127.0.0.1:{daemon.web.port}/push/in-1", json=read)


async def _healthz(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        reply = await http.get(f"http://127.0.0.1:{daemon.web.port}/healthz")
    return reply.status_code, reply.json()


async def test_a_full_disk_refuses_vehicles_loudly_and_loses_nothing(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    with small_filesystem(tmp_path / "data") as mounted:
        data = tmp_path / "data"
        cfg = config_for(
            tmp_path,
            platform_sim,
            storage={
                "database": str(data / "edge.db"),
                "photo_dir": str(data / "photos"),
                "fallback_journal": str(tmp_path / "run" / "fallback.jsonl"),
                "min_free_mb": 0,
            },
        )
        with capture_logs() as logs:
            async with running_daemon(cfg) as daemon:
                await _full_disk_run(daemon, data, mounted=mounted)
        alarms = [e for e in logs if e["event"] == ALARM]
        assert len(alarms) == 1
        assert alarms[0]["reason"] == "disk-full"
        assert [e["event"] for e in logs].count("ledger can be written again") == 1


async def _alarm_shown(daemon: Daemon, *, mounted: bool) -> None:
    """The full disk on /healthz, /metrics and the status page."""
    status, health = await _healthz(daemon)
    assert status == 503
    assert health["ok"] is False
    assert health["ledger"]["fault"] == "disk-full"
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{daemon.web.port}/metrics")).text
        status_page = (await http.get(f"http://127.0.0.1:{daemon.web.port}/api/status")).json()
    assert "edge_ledger_writable 0.0" in metrics
    assert "磁盘已满" in status_page["ledger_alarm"]
    if mounted:
        assert health["storage"]["free_mb"] == 0  # measured, not a cached figure
    assert not await daemon.healthy() or not health["ledger"]["writable"]


async def _full_disk_run(daemon: Daemon, data: Path, *, mounted: bool) -> None:
    """The full-disk scenario; whether a read not committed was reported duplicate."""
    lane = daemon.lanes["in-1"]
    barrier, display = lane.devices.barrier, lane.devices.display
    assert isinstance(barrier, VirtualBarrier)
    assert isinstance(display, VirtualDisplay)
    first = await _post(daemon, _read("豫A12345"))
    assert first.status_code == 200
    filler = _fill(data) if mounted else None
    injected = None if mounted else _FullDisk(daemon.store)
    committed = 1
    for number in range(1000):  # the ledger's WAL has room for a few more passes
        read = _read(f"豫B{number:03d}{number:03d}")
        if (await _post(daemon, read)).status_code != 200:
            break
        committed += 1
    opened = len(barrier.openings)
    for _ in range(3):  # the camera's retries of one read: never "duplicate", never opened
        refused = await _post(daemon, read)
        assert not refused.json().get("duplicate"), "a read not committed was reported duplicate"
        assert refused.status_code == 500
    assert len(barrier.openings) == opened  # the barrier stayed shut
    assert display.shown[-1] == ["系统故障 无法记录", "请联系门卫"]
    await _alarm_shown(daemon, mounted=mounted)

    override = await lane.override("豫K23456", open_barrier=True, reason="送货", operator="张三")
    assert override.barrier == "opened"  # a guard can still open
    assert len(barrier.openings) == opened + 1
    assert daemon.journal.entries()[0]["serial"] == override.serial

    if filler is not None:
        filler.unlink()
    if injected is not None:
        injected.free()
    await eventually(lambda: daemon.store.fault is None and not daemon.journal.entries(), 15)
    assert (await daemon.store.find_pass(str(override.serial))) is not None  # merged
    retried = await _post(daemon, read)  # the camera's next retry is recorded at last
    assert retried.status_code == 200
    assert retried.json()["serial"]
    assert await daemon.store.count_passes() == committed + 2  # + the guard's, + the retry
    status, health = await _healthz(daemon)
    assert status == 200
    assert health["ledger"]["writable"]


async def test_a_deleted_ledger_is_restored_and_a_replaced_one_refused(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = config_for(tmp_path, platform_sim)
    db = tmp_path / "edge.db"
    with capture_logs() as logs:
        async with running_daemon(cfg) as daemon:
            serials = [
                (await _post(daemon, _read(p))).json()["serial"] for p in ("豫A12345", "豫A88888")
            ]
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240 - instant
            await eventually(lambda: daemon.store.restored == 1, 15)  # noticed between cars
            assert db.exists()
            third = (await _post(daemon, _read("豫K23456"))).json()["serial"]
            assert third > serials[-1]  # numbering goes on

            assert await daemon.store.count_passes() == 3  # every pass in the restored ledger
            other = tmp_path / "other.db"
            sqlite3.connect(other).close()
            other.replace(db)  # another file appears at the ledger's path
            refused = await _post(daemon, _read("冀D77777"))
            assert refused.status_code == 500
            status, health = await _healthz(daemon)
            assert (status, health["ledger"]["fault"]) == (503, "replaced")
    events = [e["event"] for e in logs]
    assert events.count(RESTORED) == 1
    assert events.count(ALARM) == 1


async def test_fail_policy_open_lets_vehicles_through_and_journals_them(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = config_for(tmp_path, platform_sim, storage={"ledger_fail_policy": "open"})
    async with running_daemon(cfg) as daemon:
        barrier = daemon.lanes["in-1"].devices.barrier
        assert isinstance(barrier, VirtualBarrier)
        disk = _FullDisk(daemon.store)
        let_through = await _post(daemon, _read("豫A12345"))
        assert let_through.status_code == 200
        serial = let_through.json()["serial"]
        assert len(barrier.openings) == 1
        assert [e["serial"] for e in daemon.journal.entries()] == [serial]
        assert (await _healthz(daemon))[0] == 503
        disk.free()
        await eventually(lambda: not daemon.journal.entries(), 15)
        merged = await daemon.store.find_pass(serial)
        assert merged is not None
        assert (merged.verdict, merged.state) == ("open", "final")
        await eventually(lambda: serial in platform_sim.records, 15)  # and forwarded


async def test_a_torn_journal_line_is_skipped_and_the_rest_merged(tmp_path: Path) -> None:
    from edge.domain.decision import guard_decided
    from edge.ledger.journal import FallbackJournal
    from edge.ledger.store import NewPass

    journal = FallbackJournal(tmp_path / "run" / "fallback.jsonl")
    decision = guard_decided(open_=True, reason="送货", operator="张三")
    new = NewPass("411002000101A261121080000", "in-1", "01", "in", "豫A12345", "1", 1.0, 1.0,
                  "guard", None, decision)  # fmt: skip
    await journal.append(new, "opened")
    with journal.path.open("a", encoding="utf-8") as fh:
        fh.write('{"serial": "4110020')  # the crash came mid-append
    store = await Store.open(tmp_path / "edge.db")
    try:
        assert await journal.merge(store) == 1
        assert await journal.merge(store) == 0  # emptied
        row = await store.find_pass(new.serial)
        assert row is not None
        assert (row.decided_by, row.barrier, row.state) == ("guard", "opened", "final")
        assert journal.last_serial("411002000101A") is None
    finally:
        await store.close()
