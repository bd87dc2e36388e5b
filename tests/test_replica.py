"""Replication off the box (issue 17) against real targets on 127.0.0.1: a directory, an
OpenSSH server and an S3-compatible server (moto). The daemon replicates its ledger with
Litestream and its photos with rclone; ``edge restore`` brings both back elsewhere."""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import math
import os
import shutil
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from structlog.testing import capture_logs

from edge.cli.main import main
from edge.cli.restore import run_restore
from edge.config.errors import ConfigError
from edge.config.model import Config, ReplicaConfig, load_config
from edge.ledger.recovery import raise_floors
from edge.ledger.retention import Retention
from edge.ledger.rows import NewWeighing
from edge.ledger.store import Store
from edge.ops.health import ReplicaReport
from edge.replica import owner as owner_module
from edge.replica import restore as restore_module
from edge.replica.owner import (
    LEDGER_ID,
    SHARE_MARKER,
    MarkerUnwrittenError,
    TargetOwner,
    ledger_id,
)
from edge.replica.replicator import Replicator
from edge.replica.restore import RestoreError, restore, restore_photos_again, serial_floor
from edge.replica.target import (
    child_env,
    describe,
    litestream_config,
    missing_credentials,
    rclone_env,
    unreachable,
)
from edge.sim.platform import CityPlatformSim
from edge.web.status_page import replica_summary
from tests.helpers import (
    camera,
    config_data,
    eventually,
    free_port,
    make_config,
    running_daemon,
    write_config,
)
from tests.processes import Processes
from tests.replica_targets import start_moto, start_sshd
from tests.test_processes import ignore_sigint
from tests.test_retention import DAY, _ledger

FAST = {
    "sync_interval_seconds": 0.1,
    "check_interval_seconds": 0.1,
    "photo_interval_seconds": 0.2,
    "lag_alarm_seconds": 5,
}


@pytest.fixture(autouse=True)
def _s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test credentials for moto (which takes any), never a real bucket's."""
    monkeypatch.setenv("LITESTREAM_ACCESS_KEY_ID", "edge-test-key")
    monkeypatch.setenv("LITESTREAM_SECRET_ACCESS_KEY", "edge-test-secret-value")


async def _replica_section(kind: str, tmp_path: Path, procs: Processes) -> dict[str, Any]:
    if kind == "file":
        return {"type": "file", "path": str(_share(tmp_path)), **FAST}
    if kind == "sftp":
        return (await start_sshd(procs, tmp_path / "sshd")).replica(**FAST)
    return (await start_moto(procs, tmp_path)).replica(**FAST)


#: A well-formed ed25519 host key line (its blob names its type; the key itself is zeros).
HOST_KEY = (
    "ssh-ed25519 "
    + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(32)).decode()
)


def _key_file(tmp_path: Path) -> Path:
    path = tmp_path / "replica_ed25519"
    path.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    path.chmod(0o600)
    return path


async def _replicated_since(replicator: Replicator, pushed: float, *, photos: bool = False) -> None:
    """Until everything committed before ``pushed`` (Unix time) is on the replica (and the
    photos written before it, with ``photos``)."""
    await eventually(
        lambda: (
            (replicator.replicated_at or 0) > pushed
            and (not photos or (replicator.photos_replicated_at or 0) > pushed)
        ),
        30,
    )


def _share(tmp_path: Path) -> Path:
    """A file target's directory, made once on the share (the daemon never creates it)."""
    path = tmp_path / "nas" / "gate-01"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _nice(pid: int) -> int:
    """A running process's nice value, from /proc (field 19 of stat, after the name)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    return int(stat.rsplit(")", 1)[1].split()[16])


def _ledger_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


@pytest.mark.parametrize("kind", ["file", "sftp", "s3"])
async def test_ledger_and_photos_reach_the_target_and_come_back(
    kind: str, tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    replica = await _replica_section(kind, tmp_path, procs)
    old = tmp_path / "old"
    cfg = make_config(old, platform_sim.base_url, replica=replica)
    with capture_logs() as logs:
        async with running_daemon(cfg) as daemon:
            cam = camera(daemon)
            plates = ["豫A11111", "豫B22222", "豫C33333"]  # pairwise apart: none is a misread
            serials = [(await cam.push(plate)).body["serial"] for plate in plates]
            await cam.aclose()
            pushed = time.time()
            replicator = daemon.replica
            assert replicator is not None
            await eventually(
                lambda: (
                    (replicator.replicated_at or 0) > pushed
                    and (replicator.photos_replicated_at or 0) > pushed
                ),
                30,
            )
            health = daemon.health().to_json()["replica"]
            assert health["alarm"] is False
            started = [e for e in logs if e["event"] == "replicating the ledger"]
            # Litestream works below the lanes' priority (background on a 2-core box).
            assert _nice(started[-1]["pid"]) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
            assert health["last_sync_at"] is not None
            assert health["target"] == describe(cfg.replica)  # type: ignore[arg-type]
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"http://127.0.0.1:{daemon.web.port}/metrics")).text
            assert "edge_replica_lag_seconds" in metrics
    secret = os.environ["LITESTREAM_SECRET_ACCESS_KEY"]
    assert all(secret not in json.dumps(entry, default=str) for entry in logs)

    new = tmp_path / "new"
    restored_cfg = make_config(new, platform_sim.base_url, replica=replica)
    result = await restore(restored_cfg)
    assert result.ok
    assert result.passes == 3
    assert result.photos_listed == 3
    assert result.photos_missing == []
    got = {row[0] for row in _ledger_rows(new / "edge.db", "SELECT serial FROM passes")}
    assert got == set(serials)
    # The lane continues after the floor, never below what the old PC may have issued.
    with capture_logs() as logs:
        async with running_daemon(restored_cfg) as daemon:
            cam = camera(daemon)
            after = (await cam.push("豫D44444")).body["serial"]
            await cam.aclose()
            pushed = time.time()
            again_replicating = daemon.replica
            assert again_replicating is not None
            await _replicated_since(again_replicating, pushed, photos=True)
    # the ledger's and the photos' tasks both read the marker at start: one takeover, said once
    events = [entry["event"] for entry in logs]
    assert events.count("replica taken over by the restored ledger from the PC it replaces") == 1
    assert after > max(serials)
    assert after > result.floors[after[:13]]
    # The new PC replicates on from where the restore left (to the same place): a second
    # restore has the pass it took.
    again = await restore(make_config(tmp_path / "third", platform_sim.base_url, replica=replica))
    assert again.passes == 4


async def test_restore_refuses_an_existing_ledger_and_a_config_without_replica(
    tmp_path: Path,
) -> None:
    cfg = make_config(tmp_path, "http://127.0.0.1:9", replica={"type": "file", "path": "/x"})
    (tmp_path / "edge.db").write_bytes(b"")
    with pytest.raises(RestoreError, match=r"already exists.*--photos-only"):
        await restore(cfg)
    with pytest.raises(RestoreError, match="no \\[replica\\]"):
        await restore(make_config(tmp_path, "http://127.0.0.1:9"))


async def test_restore_from_an_empty_target_fails_cleanly(tmp_path: Path) -> None:
    replica = {"type": "file", "path": str(tmp_path / "empty")}
    cfg = make_config(tmp_path / "new", "http://127.0.0.1:9", replica=replica)
    with pytest.raises(RestoreError, match="litestream restore failed"):
        await restore(cfg)


async def test_sftp_server_down_raises_the_lag_alarm_once_and_clears_it(
    tmp_path: Path, procs: Processes
) -> None:
    sshd = await start_sshd(procs, tmp_path / "sshd")
    cfg = make_config(
        tmp_path, "http://127.0.0.1:9", replica=sshd.replica(**(FAST | {"lag_alarm_seconds": 1}))
    )
    assert cfg.replica is not None
    db = tmp_path / "edge.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
    replicator = Replicator(cfg.replica, db, tmp_path / "photos")
    with capture_logs() as logs:
        running = asyncio.create_task(replicator.run())
        try:
            await eventually(lambda: replicator.replicated_at is not None, 30)
            await sshd.stop()
            with sqlite3.connect(db) as conn:
                conn.execute("INSERT INTO t VALUES (1)")
            await eventually(lambda: replicator.report().alarm, 30)
            sshd = await start_sshd(procs, tmp_path / "sshd", port=sshd.port)
            await eventually(lambda: not replicator.report().alarm, 60)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    events = [entry["event"] for entry in logs]
    back = events.index("replication caught up")
    # the outage: said once when behind, once when caught up (later, a machine loaded past
    # the test's 1 s bound may lag again: each such episode is said once too)
    assert sum("REPLICATION BEHIND" in e for e in events[:back]) == 1, events
    behind = sum("REPLICATION BEHIND" in e for e in events)
    assert events.count("replication caught up") in (behind, behind - 1), events
    assert replicator.report().errors > 0


class _InTheBackground(Processes):
    """Processes started as by a job in the background (``nohup python -m bench … &``)."""

    async def start(self, *argv: str, **kwargs: Any) -> asyncio.subprocess.Process:
        return await super().start(*argv, preexec_fn=ignore_sigint, **kwargs)


async def test_an_sshd_started_in_the_background_stops_at_once(tmp_path: Path) -> None:
    """The bench's SFTP target, started from a background job, ignores SIGINT: stopping it
    waited 20 s and then failed the bench. It is stopped with SIGTERM."""
    procs = _InTheBackground()
    try:
        sshd = await start_sshd(procs, tmp_path / "sshd")
        await asyncio.wait_for(sshd.stop(), 5)
        assert sshd.proc.returncode is not None
    finally:
        await procs.reap()


async def test_a_target_silent_during_the_restore_check_is_unreachable_not_wiped(
    tmp_path: Path, procs: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sshd stopped while the daemon replicates: the restore dry run gets no answer ("dial
    tcp … connection refused"). That is no verdict on the replica: reported as the target not
    answering, the lag counting on from the last confirmed sync, Litestream not restarted, the
    photos not copied again."""
    sshd = await start_sshd(procs, tmp_path / "sshd")
    section = sshd.replica(**(FAST | {"restore_check_seconds": 0.3, "lag_alarm_seconds": 600}))
    cfg = make_config(tmp_path, "http://127.0.0.1:9", replica=section)
    assert cfg.replica is not None
    db = _wal_ledger(tmp_path)
    replicator = Replicator(cfg.replica, db, tmp_path / "photos")
    answers: list[str | None] = []
    check = replicator.restorable

    async def recorded() -> str | None:
        answers.append(await check())
        return answers[-1]

    monkeypatch.setattr(replicator, "restorable", recorded)
    with capture_logs() as logs:
        running = asyncio.create_task(replicator.run())
        try:
            await eventually(lambda: replicator.replicated_at is not None and None in answers, 90)
            confirmed, since = replicator.replicated_at, replicator.since
            photos_at = replicator.photos_replicated_at
            await sshd.stop()
            await eventually(lambda: sum(a is not None for a in answers) >= 2 or running.done(), 90)
            assert any(unreachable(a) for a in answers if a is not None), answers
            assert not running.done()  # the check did not end this Litestream's run
            assert replicator.starts == 1
            # the last confirmed sync still counts (the old verdict reset it to the last
            # restore check that passed, and the lag with it)
            assert (replicator.replicated_at or 0) >= (confirmed or 1)
            assert replicator.since == since
            assert replicator.photos_replicated_at == photos_at
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    reasons = " ".join(str(entry.get("reason", "")) for entry in logs)
    events = [entry["event"] for entry in logs]
    assert "cannot be restored" not in reasons + " ".join(events)
    assert not any("restarting Litestream" in event for event in events)
    assert "cannot be restored" not in (replicator.last_error or "")


def test_unreachable_tells_no_answer_from_a_broken_replica() -> None:
    """Litestream's and rclone's words for a target that does not answer, against theirs for
    one that answers without a restorable replica."""
    silent = [
        "Error: dial tcp 127.0.0.1:2222: connect: connection refused",
        "couldn't connect SSH: dial tcp: lookup nas.local: no such host",
        "dial tcp 10.0.0.9:22: i/o timeout",
        "ssh: handshake failed: read tcp: connection reset by peer",
        "dial tcp 10.0.0.9:22: connect: no route to host",
        "context deadline exceeded",
    ]
    answered = [
        "Error: no matching backup files available",
        "ltx file not found: 0000000000000001-0000000000000005.ltx",
        "checksum mismatch",
    ]
    assert all(unreachable(words) for words in silent)
    assert not any(unreachable(words) for words in answered)


def test_litestream_config_names_secrets_never_holds_them(tmp_path: Path) -> None:
    data = config_data(
        tmp_path,
        "http://127.0.0.1:9",
        replica={"type": "s3", "bucket": "b", "path": "gate-01", "endpoint": "http://x:9000"},
    )
    cfg = Config(**data)
    assert cfg.replica is not None
    text = litestream_config(cfg.replica, tmp_path / "edge.db", tmp_path / "s.sock")
    assert "${LITESTREAM_SECRET_ACCESS_KEY}" in text
    assert os.environ["LITESTREAM_SECRET_ACCESS_KEY"] not in text
    assert missing_credentials(cfg.replica, {}) == [
        "LITESTREAM_ACCESS_KEY_ID (or AWS_ACCESS_KEY_ID)",
        "LITESTREAM_SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY)",
    ]


def test_serial_floor_is_past_the_clock_and_the_last_serial() -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=zone)
    margin = timedelta(seconds=600)
    assert serial_floor(None, "411002000101A", now, margin) == "411002000101A261201121000"
    ahead = "411002000101A261201123000"  # a burst ran the serials 30 min ahead of the clock
    assert serial_floor(ahead, "411002000101A", now, margin) == "411002000101A261201124000"


EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_the_example_configs_replica_section_is_valid_once_uncommented(tmp_path: Path) -> None:
    lines, inside = [], False
    for line in EXAMPLE.read_text("utf-8").splitlines():
        inside = inside or line == "# [replica]"
        if inside and not line.strip():
            inside = False
        lines.append(line.removeprefix("# ").split("  #")[0] if inside else line)
    text = "\n".join(lines)
    # its placeholders made real: a key file that exists, a host key that is one
    text = text.replace('"/etc/edge-gate/replica_ed25519"', json.dumps(str(_key_file(tmp_path))))
    text = text.replace('"ssh-ed25519 AAAA…"', json.dumps(HOST_KEY))
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    cfg = load_config(path)
    assert cfg.replica is not None
    assert cfg.replica.type == "sftp"
    assert cfg.replica.lag_alarm_seconds == 60


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"type": "sftp", "path": "/b"}, "host"),
        (
            {
                "type": "sftp",
                "path": "/b",
                "host": "h",
                "user": "u",
                "key_file": "/k",
                "host_key": "AAAA",
            },
            "host_key",
        ),
        (
            {
                "type": "sftp",
                "path": "/b",
                "host": "h",
                "user": "u",
                "key_file": "/k",
                "host_key": "ssh-ed25519 AAAA",
            },
            "host_key",
        ),
        (
            {
                "type": "sftp",
                "path": "/b",
                "host": "h",
                "user": "u",
                "key_file": "no-such-key",
                "host_key": HOST_KEY,
            },
            "key_file",
        ),
        ({"type": "s3", "path": "gate"}, "bucket"),
        ({"type": "file", "path": "relative/dir"}, "path"),
    ],
)
def test_replica_config_names_what_is_missing(
    tmp_path: Path, section: dict[str, Any], key: str
) -> None:
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in section.items())
    path = write_config(tmp_path / "c.toml", "http://127.0.0.1:9", extra=f"[replica]\n{body}")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"replica.{key}" in caught.value.render()


async def test_retention_with_a_replica_keeps_photos_not_on_it_yet(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    store, photos, paths = await _ledger(tmp_path, now)
    for i, rel in enumerate(paths):  # files written one day apart, like the passes
        os.utime(photos.root / rel, (now[0] - (6 - i) * DAY,) * 2)
    on_replica: list[float | None] = [None]
    retention = Retention(
        store,
        photos.root,
        retention_days=1.5,
        budget_mb=0,
        min_free_mb=0,
        clock=lambda: now[0],
        free_bytes=lambda _: 10**12,
        replicated_before=lambda: on_replica[0],
    )
    await retention.prune_once()
    assert all((photos.root / rel).exists() for rel in paths)  # nothing is on the replica
    on_replica[0] = now[0] - 4.5 * DAY  # the replica has the photos of the first two days
    await retention.prune_once()
    assert [(photos.root / rel).exists() for rel in paths] == [False, False] + [True] * 4
    on_replica[0] = now[0]
    await retention.prune_once()  # expired and forwarded (passes 0-3) and on the replica
    assert [(photos.root / rel).exists() for rel in paths] == [False] * 4 + [True] * 2
    await store.close()


def test_status_page_line_in_chinese() -> None:
    report = ReplicaReport(
        target="file:///nas", lag_seconds=75.0, last_sync_at=1_800_000_000.0, errors=3,
        last_error="x", alarm=True, lag_alarm_seconds=60.0, starts=1,
        photos_lag_seconds=10.0, photos_last_sync_at=None, photos_errors=0,
        photos_last_error=None,
    )  # fmt: skip
    line = replica_summary(report, ZoneInfo("Asia/Shanghai"))
    assert line == {
        "text": "延迟 75 秒，上次同步 16:00:00，超过 60 秒，请检查备份位置",
        "alarm": True,
    }
    assert replica_summary(None, ZoneInfo("Asia/Shanghai")) is None


async def test_missing_credentials_and_an_unreachable_target_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LITESTREAM_SECRET_ACCESS_KEY")
    s3 = make_config(
        tmp_path, "http://127.0.0.1:9", replica={"type": "s3", "bucket": "b", "path": "g"}
    ).replica
    assert s3 is not None
    replicator = Replicator(s3, tmp_path / "edge.db", tmp_path / "photos")
    running = asyncio.create_task(replicator.run())
    try:
        await eventually(lambda: replicator.errors > 0)
        assert "LITESTREAM_SECRET_ACCESS_KEY" in (replicator.last_error or "")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    # An SFTP server that is not there: the photo round fails, is counted and shown.
    sftp = make_config(
        tmp_path,
        "http://127.0.0.1:9",
        replica={"type": "sftp", "path": "/b", "host": "127.0.0.1", "port": free_port(),
                 "user": "u", "key_file": str(_key_file(tmp_path)), "host_key": HOST_KEY},
    ).replica  # fmt: skip
    assert sftp is not None
    replicator = Replicator(sftp, tmp_path / "edge.db", tmp_path / "photos")
    assert not await replicator.sync_photos()
    report = replicator.report()
    assert report.photos_errors == 1
    assert report.photos_last_error
    assert replicator.photos_replicated_before() is None
    line = replica_summary(report, ZoneInfo("Asia/Shanghai"))
    assert line is not None
    assert line["text"].startswith("尚未同步")
    assert line["text"].endswith("照片备份失败")


async def test_restore_at_an_earlier_point_leaves_out_what_came_later(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """The fallback when the latest replicated ledger is damaged: ``edge restore --at`` brings
    the ledger back as it stood then; serials still continue past the clock."""
    replica = {"type": "file", "path": str(_share(tmp_path)), **FAST}
    cfg = make_config(tmp_path / "old", platform_sim.base_url, replica=replica)
    async with running_daemon(cfg) as daemon:
        replicator = daemon.replica
        assert replicator is not None
        cam = camera(daemon)
        first = (await cam.push("豫A11111")).body["serial"]
        pushed = time.time()
        await _replicated_since(replicator, pushed)
        point = datetime.now(ZoneInfo(cfg.site.timezone))
        later = (await cam.push("豫B22222")).body["serial"]
        await cam.aclose()
        pushed = time.time()
        await _replicated_since(replicator, pushed)
    # (The photos may not be on the replica yet: no photo round ran. The restore says so.)
    back = make_config(tmp_path / "back", platform_sim.base_url, replica=replica)
    with pytest.raises(RestoreError, match="in the future"):
        await restore(back, at=datetime.now(ZoneInfo(cfg.site.timezone)) + timedelta(hours=1))
    result = await restore(back, at=point)
    assert result.ok
    got = {row[0] for row in _ledger_rows(back.storage.database, "SELECT serial FROM passes")}
    assert got == {first}
    assert later[:13] in result.floors
    assert result.floors[later[:13]] > later  # never issued twice, though the ledger is older
    # the old PC numbered weighings after that point too: one number per second since it
    assert 600 < result.weighings_after <= 600 + math.ceil(time.time() - point.timestamp())
    latest = await restore(make_config(tmp_path / "latest", platform_sim.base_url, replica=replica))
    assert latest.passes == 2


async def test_an_s3_store_with_a_private_certificate_is_trusted_by_its_ca_file(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    """A plant's MinIO over https with a certificate from its own CA: without ``ca_file`` the
    replica reports the certificate; with it, the ledger and photos get there and back."""
    store = await start_moto(procs, tmp_path, tls=True)
    assert store.ca_file is not None
    untrusted = make_config(
        tmp_path / "untrusted", platform_sim.base_url, replica=store.replica(**FAST)
    )
    async with running_daemon(untrusted) as daemon:
        refused = daemon.replica
        assert refused is not None
        await eventually(lambda: refused.report().errors > 0, 30)  # Litestream gives up
        assert refused.replicated_at is None
        assert untrusted.replica is not None
        assert "SSL_CERT_FILE" not in rclone_env(untrusted.replica, None)
    replica = store.replica(ca_file=str(store.ca_file), path="gate-02", **FAST)
    cfg = make_config(tmp_path / "old", platform_sim.base_url, replica=replica)
    assert cfg.replica is not None
    assert rclone_env(cfg.replica, None)["SSL_CERT_FILE"] == str(store.ca_file)
    async with running_daemon(cfg) as daemon:
        replicator = daemon.replica
        assert replicator is not None
        cam = camera(daemon)
        serial = (await cam.push("豫A11111")).body["serial"]
        await cam.aclose()
        pushed = time.time()
        await _replicated_since(replicator, pushed, photos=True)
    result = await restore(make_config(tmp_path / "new", platform_sim.base_url, replica=replica))
    assert result.ok
    assert result.passes == 1
    assert result.photos_missing == []
    got = _ledger_rows(tmp_path / "new" / "edge.db", "SELECT serial FROM passes")
    assert got == [(serial,)]


def test_ca_file_only_for_s3_and_must_exist(tmp_path: Path) -> None:
    def config(name: str, section: str) -> Path:
        return write_config(tmp_path / name, "http://127.0.0.1:9", extra=f"[replica]\n{section}")

    with pytest.raises(ConfigError, match="only for type = 's3'"):
        load_config(config("a.toml", 'type = "file"\npath = "/x"\nca_file = "ca.pem"'))
    s3 = 'type = "s3"\nbucket = "b"\npath = "p"\n'
    with pytest.raises(ConfigError, match="no such file"):
        load_config(config("b.toml", s3 + 'ca_file = "missing.pem"'))
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    cfg = load_config(config("c.toml", s3 + 'ca_file = "ca.pem"'))  # relative to the config
    assert cfg.replica is not None
    assert cfg.replica.ca_file == tmp_path / "ca.pem"


async def test_restore_before_any_photo_round_counts_the_photos_missing(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """The disk died before the first photo round reached the replica: the ledger comes back,
    the photos are named missing (their passes are kept and forwarded without them)."""
    replica = {"type": "file", "path": str(_share(tmp_path)), **FAST}
    replica["photo_interval_seconds"] = 3600  # the first round is at the start: remove it after
    cfg = make_config(tmp_path / "old", platform_sim.base_url, replica=replica)
    async with running_daemon(cfg) as daemon:
        replicator = daemon.replica
        assert replicator is not None
        await eventually(lambda: replicator.photos_replicated_at is not None, 30)
        cam = camera(daemon)
        await cam.push("豫A11111")
        await cam.aclose()
        pushed = time.time()
        await _replicated_since(replicator, pushed)
    shutil.rmtree(tmp_path / "nas" / "gate-01" / "photos", ignore_errors=True)  # never there
    result = await restore(make_config(tmp_path / "new", platform_sim.base_url, replica=replica))
    assert result.ok
    assert result.passes == 1
    assert result.photos_restored == 0
    assert len(result.photos_missing) == result.photos_listed > 0


async def test_photos_failing_to_come_back_leave_a_ledger_whose_serials_are_safe(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """The photos' copy fails (the photo folder's place is taken by a file; a full disk
    alike): the ledger is restored with its serial floors raised before the photos were
    tried, the failure is named, and ``--photos-only`` finishes the job once fixed."""
    replica = {"type": "file", "path": str(_share(tmp_path)), **FAST}
    cfg = make_config(tmp_path / "old", platform_sim.base_url, replica=replica)
    async with running_daemon(cfg) as daemon:
        replicator = daemon.replica
        assert replicator is not None
        cam = camera(daemon)
        serial = (await cam.push("豫A11111")).body["serial"]
        await cam.aclose()
        pushed = time.time()
        await _replicated_since(replicator, pushed, photos=True)
    new = make_config(tmp_path / "new", platform_sim.base_url, replica=replica)
    new.storage.photo_dir.parent.mkdir(parents=True)
    new.storage.photo_dir.write_text("in the way")
    # an earlier restore killed halfway left its file (never the ledger's name): removed
    leftover = new.storage.database.with_name("edge.db.restoring")
    leftover.write_bytes(b"half a ledger")
    result = await restore(new)
    assert result.ok
    assert result.photos_error is not None
    assert result.floors[serial[:13]] > serial  # raised before the photos were tried
    assert not leftover.exists()
    with sqlite3.connect(new.storage.database) as db:
        assert db.execute("SELECT count(*) FROM serial_floors").fetchone() == (1,)
    new.storage.photo_dir.unlink()  # fixed
    again = await restore_photos_again(new)
    assert again.photos_error is None
    assert again.photos_listed == again.photos_restored == 1


async def test_restore_moves_the_weighings_numbers_past_what_the_lost_pc_may_have_given(
    tmp_path: Path, platform_sim: CityPlatformSim, capsys: pytest.CaptureFixture[str]
) -> None:
    """A weighing's number (过磅单号, AUTOINCREMENT) is printed on the ticket and sent with the
    goods record: one the lost PC gave after the replica's last sync is never given again —
    the restore moves the numbers ``serial_margin_seconds`` past the last restored one and
    says so."""
    replica = {"type": "file", "path": str(_share(tmp_path)), **FAST}
    cfg = make_config(tmp_path / "old", platform_sim.base_url, replica=replica)
    async with running_daemon(cfg) as daemon:
        replicator = daemon.replica
        assert replicator is not None
        new = NewWeighing("main", "豫A11111", "yellow", 35000.0, time.time(), None)
        weighed = await daemon.store.weigh(new, max_between_seconds=DAY)
        pushed = time.time()
        await _replicated_since(replicator, pushed)
    back = make_config(tmp_path / "back", platform_sim.base_url, replica=replica)
    args = argparse.Namespace(at=None, photos_only=False, serial_margin_seconds=120.5)
    assert await run_restore(back, args) == 0
    assert f"weighings: continue after {weighed.id + 121}\n" in capsys.readouterr().out
    sequence = "SELECT seq FROM sqlite_sequence WHERE name = 'weighings'"
    assert _ledger_rows(back.storage.database, sequence) == [(weighed.id + 121,)]
    store = await Store.open(back.storage.database)
    try:  # the restored ledger's next weighing is past them
        later = dataclasses.replace(new, plate="豫B22222", at=time.time())
        assert (await store.weigh(later, max_between_seconds=DAY)).id == weighed.id + 122
    finally:
        await store.close()


async def test_the_weighings_floor_is_set_when_the_sequence_is_absent_and_never_lowered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'weighings'")
    assert await raise_floors(path, {}, 600) == 600
    with sqlite3.connect(path) as db:  # a number above the sequence (a row copied in)
        db.execute("UPDATE sqlite_sequence SET seq = 5 WHERE name = 'weighings'")
        db.execute(
            "INSERT INTO weighings (id, plate, plate_color, state, first_scale, first_kg, "
            "first_at) VALUES (900, '豫A1', 'yellow', 'open', 'main', 1000, 0)"
        )
    assert await raise_floors(path, {}, 600) == 1500
    assert _ledger_rows(path, "SELECT seq FROM sqlite_sequence WHERE name = 'weighings'") == [
        (1500,)
    ]


def test_restore_refuses_photos_only_at_a_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The photos are copied whole: ``--photos-only --at …`` would ignore the time, so it is
    refused (exit 2) before anything is copied."""
    share = _share(tmp_path)
    section = f'[replica]\ntype = "file"\npath = "{share}"\n'
    data = tmp_path / "data"
    path = write_config(tmp_path / "c.toml", "http://127.0.0.1:9", state=f"{data}/", extra=section)
    argv = ["restore", "--config", str(path), "--photos-only", "--at", "2026-11-30 08:00"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--at cannot go with --photos-only" in err
    assert "copied back whole" in err
    assert not data.exists()  # nothing was started


async def test_restore_refuses_a_leftover_wal_beside_the_ledger(tmp_path: Path) -> None:
    """A -wal left by a ledger moved away would be replayed into the restored one."""
    cfg = make_config(tmp_path, "http://127.0.0.1:9", replica={"type": "file", "path": "/x"})
    (tmp_path / "edge.db-wal").write_bytes(b"old pages")
    with pytest.raises(RestoreError, match=r"edge\.db-wal"):
        await restore(cfg)


async def test_a_commit_during_the_wait_is_no_error_and_a_later_answer_confirms_it(
    tmp_path: Path,
) -> None:
    """Litestream answers "replica at N of N+1" when the lanes committed while it waited:
    not counted as an error; the next answer whose replica reaches N+1 confirms the first
    question. Errors are Litestream's error answers only, and a confirmation clears them."""
    answers = iter(
        [
            httpx.Response(200, json={"txid": "10", "replicated_txid": "9"}),
            httpx.Response(200, json={"txid": "12", "replicated_txid": "10"}),
            httpx.Response(500, json={"error": "sftp: connection refused"}),
            httpx.Response(200, json={"txid": "12", "replicated_txid": "12"}),
        ]
    )
    now = [1000.0]
    cfg = Config.model_validate(
        config_data(tmp_path, "http://127.0.0.1:9", replica={"type": "file", "path": "/r"})
    ).replica
    assert cfg is not None
    replicator = Replicator(cfg, tmp_path / "edge.db", tmp_path / "photos", clock=lambda: now[0])
    transport = httpx.MockTransport(lambda _request: next(answers))
    async with httpx.AsyncClient(transport=transport, base_url="http://litestream") as client:
        assert not await replicator.check(client, 5)
        assert (replicator.errors, replicator.last_error, replicator.replicated_at) == (
            0,
            None,
            None,
        )
        now[0] = 1001.0
        assert not await replicator.check(client, 5)  # N+1 = 10 reached: the first question
        assert (replicator.errors, replicator.replicated_at) == (0, 1000.0)
        now[0] = 1002.0
        assert not await replicator.check(client, 5)
        assert (replicator.errors, replicator.last_error) == (1, "sftp: connection refused")
        now[0] = 1003.0
        assert await replicator.check(client, 5)
        assert (replicator.replicated_at, replicator.last_error) == (1003.0, None)


async def test_a_wiped_target_is_found_unrestorable_and_replicated_anew(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """The replica's files are emptied behind the daemon's back: Litestream alone would go on
    shipping transactions with no snapshot under them, and nothing could be restored. The
    dry-run check finds it, Litestream starts again (a new snapshot) and every photo is
    copied again; the replica restores whole, the earlier pass and its photo in it."""
    share = _share(tmp_path)
    replica = {"type": "file", "path": str(share), **FAST}
    replica["restore_check_seconds"] = 0.5
    cfg = make_config(tmp_path / "old", platform_sim.base_url, replica=replica)
    async with running_daemon(cfg) as daemon:
        replicator = daemon.replica
        assert replicator is not None
        cam = camera(daemon)
        serial = (await cam.push("豫A11111")).body["serial"]
        pushed = time.time()
        await _replicated_since(replicator, pushed, photos=True)
        assert await replicator.restorable() is None
        # Litestream writes its snapshot (level 9) about a second after it starts: wiped
        # before that, the snapshot comes after the wipe and the replica is whole again
        snapshots = share / "ledger" / "ltx" / "9"
        await eventually(lambda: snapshots.is_dir() and any(snapshots.glob("*.ltx")), 30)
        shutil.rmtree(share / "ledger")
        shutil.rmtree(share / "photos")
        await eventually(lambda: replicator.starts >= 2, 30)  # found, and started again
        later = (await cam.push("豫B22222")).body["serial"]
        await cam.aclose()
        pushed = time.time()
        await _replicated_since(replicator, pushed, photos=True)
        assert await replicator.restorable() is None
        assert replicator.errors >= 1
    back = await restore(make_config(tmp_path / "new", platform_sim.base_url, replica=replica))
    got = {row[0] for row in _ledger_rows(back.database, "SELECT serial FROM passes")}
    assert got == {serial, later}
    assert back.photos_missing == []  # the earlier photo copied again too
    assert back.photos_listed == 2


async def test_a_marked_share_gone_between_the_two_looks_is_not_marked_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The share unmounted just after the directory's look found the marker and before the
    owner's read: the re-created local directory is reported, never marked as the target
    (it was, and the alarm never came: the test below failed 2 runs in 6 under load)."""
    share = _share(tmp_path)
    cfg = make_config(tmp_path, "http://127.0.0.1:9", replica={"type": "file", "path": str(share)})
    assert cfg.replica is not None
    db = tmp_path / "edge.db"
    sqlite3.connect(db).close()
    replicator = Replicator(cfg.replica, db, tmp_path / "photos")
    assert await replicator.target_problem() is None  # marked
    assert (share / SHARE_MARKER).exists()
    looked = replicator.missing_directory

    async def unmounted_after_the_look() -> str | None:
        said = await looked()
        (share / SHARE_MARKER).unlink(missing_ok=True)  # the share goes; its mount point stays
        return said

    monkeypatch.setattr(replicator, "missing_directory", unmounted_after_the_look)
    problem = await replicator.target_problem()
    assert problem is not None
    assert "is not the share it was" in problem
    assert not (share / SHARE_MARKER).exists()  # not marked anew


async def test_a_share_unmounted_while_running_is_an_alarm_not_a_local_copy(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """The NAS drops while the daemon runs; Litestream re-creates the directory on the local
    disk. The share's marker is not there: alarm, Litestream stopped; once the share is back
    (mounted again), replication goes on and what was committed meanwhile reaches it."""
    share = _share(tmp_path)
    replica = {"type": "file", "path": str(share), **FAST}
    cfg = make_config(tmp_path / "old", platform_sim.base_url, replica=replica)
    async with running_daemon(cfg) as daemon:
        replicator = daemon.replica
        assert replicator is not None
        cam = camera(daemon)
        first = (await cam.push("豫A11111")).body["serial"]
        pushed = time.time()
        await _replicated_since(replicator, pushed)
        assert (share / SHARE_MARKER).exists()
        mounted = tmp_path / "nas-elsewhere"
        share.rename(mounted)  # unmounted
        share.mkdir()  # the mount point, re-created on the local disk
        meanwhile = (await cam.push("豫B22222")).body["serial"]
        await eventually(lambda: replicator.report().alarm, 30)
        assert "is not the share it was" in (replicator.report().last_error or "")
        shutil.rmtree(share)
        mounted.rename(share)  # mounted again
        await cam.aclose()
        pushed = time.time()
        await _replicated_since(replicator, pushed)
        await eventually(lambda: not replicator.report().alarm, 30)
    back = await restore(make_config(tmp_path / "new", platform_sim.base_url, replica=replica))
    got = {row[0] for row in _ledger_rows(back.database, "SELECT serial FROM passes")}
    assert got == {first, meanwhile}


def test_replica_values_that_would_go_wrong_are_named(tmp_path: Path) -> None:
    """Each well typed, each a mistake a technician makes: named, nothing started."""
    pub = tmp_path / "replica_ed25519.pub"
    pub.write_text(HOST_KEY + " edge@gate\n")
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("not a certificate\n")
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    sftp = f'type = "sftp"\npath = "/b"\nhost = "h"\nuser = "u"\nhost_key = "{HOST_KEY}"\n'
    s3 = 'type = "s3"\nbucket = "b"\npath = "p"\n'
    cases = [
        (sftp + f'key_file = "{pub}"', "key_file", "not the .pub file"),
        (f'type = "file"\npath = "{tmp_path / "backup"}"', "path", "ledger's own directory"),
        (s3 + 'endpoint = "127.0.0.1:9000"', "endpoint", "http:// or https://"),
        (s3 + f'endpoint = "https://127.0.0.1:9000"\nca_file = "{not_pem}"', "ca_file", "PEM"),
        (s3 + f'endpoint = "http://127.0.0.1:9000"\nca_file = "{pem}"', "ca_file", "https://"),
        (s3 + "lag_alarm_seconds = 1\ncheck_interval_seconds = 30", "lag_alarm_seconds", "more"),
    ]
    for n, (section, key, words) in enumerate(cases):
        path = write_config(
            tmp_path / f"c{n}.toml", "http://127.0.0.1:9", extra=f"[replica]\n{section}"
        )
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert f"replica.{key}" in caught.value.render(), section
        assert words in caught.value.render(), section
    # a .pub line pasted whole, comment and all, is the host key
    private = _key_file(tmp_path)
    section = sftp.replace(HOST_KEY, HOST_KEY + " root@nas") + f'key_file = "{private}"'
    cfg = load_config(
        write_config(tmp_path / "ok.toml", "http://127.0.0.1:9", extra=f"[replica]\n{section}")
    )
    assert cfg.replica is not None
    assert cfg.replica.host_key == HOST_KEY


def test_check_config_refuses_an_sftp_key_readable_beyond_its_owner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The private key at 0640 or 0644: exit 2, naming replica.key_file and the mode found."""
    key = _key_file(tmp_path)
    section = (
        f'[replica]\ntype = "sftp"\npath = "/b"\nhost = "h"\nuser = "u"\n'
        f'host_key = "{HOST_KEY}"\nkey_file = "{key}"'
    )
    path = write_config(tmp_path / "c.toml", "http://127.0.0.1:9", extra=section)
    for mode in (0o640, 0o644):
        key.chmod(mode)
        assert main(["check-config", str(path)]) == 2
        err = capsys.readouterr().err
        assert "replica.key_file" in err
        assert f"mode {mode:04o}" in err
    key.chmod(0o600)
    assert main(["check-config", str(path)]) == 0


S3_SECTION = '[replica]\ntype = "s3"\nbucket = "edge-gate"\npath = "gate-01"\n'


def test_check_config_refuses_an_s3_target_without_keys_and_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("LITESTREAM_ACCESS_KEY_ID", "LITESTREAM_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", extra=S3_SECTION)
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "replica (line " in err
    assert "LITESTREAM_ACCESS_KEY_ID (or AWS_ACCESS_KEY_ID)" in err
    assert "LITESTREAM_SECRET_ACCESS_KEY" in err
    assert str(tmp_path / "secrets.env") in err
    # one of the two in the service's environment file beside the config is not enough
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# S3\nLITESTREAM_ACCESS_KEY_ID=gate01\nLITESTREAM_SECRET_ACCESS_KEY=\n")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "LITESTREAM_SECRET_ACCESS_KEY" in err
    assert "LITESTREAM_ACCESS_KEY_ID" not in err
    secrets.write_text(
        'LITESTREAM_ACCESS_KEY_ID=gate01\nLITESTREAM_SECRET_ACCESS_KEY="s3cr3t-value"\n'
    )
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t" not in out
    assert "replica: s3://edge-gate/gate-01 (aws)" in out
    assert "restart the service" in out  # a new target is taken at the next start only
    # or the AWS names, in the environment check-config runs with (the service's secrets)
    secrets.unlink()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "gate01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value")
    assert main(["check-config", str(path)]) == 0


def test_the_aws_names_of_the_keys_reach_both_tools_under_litestreams(tmp_path: Path) -> None:
    env = {"PATH": "/bin", "AWS_ACCESS_KEY_ID": "gate01", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
    s3 = make_config(
        tmp_path, "http://127.0.0.1:9", replica={"type": "s3", "bucket": "b", "path": "g"}
    ).replica
    assert s3 is not None
    assert missing_credentials(s3, env) == []
    assert missing_credentials(s3, {"AWS_ACCESS_KEY_ID": "gate01"}) == [
        "LITESTREAM_SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY)"
    ]
    assert child_env(env) == {
        "PATH": "/bin",
        "LITESTREAM_ACCESS_KEY_ID": "gate01",
        "LITESTREAM_SECRET_ACCESS_KEY": "s3cr3t",
    }
    remote = rclone_env(s3, None, env)
    assert remote["RCLONE_CONFIG_EDGEREPLICA_ACCESS_KEY_ID"] == "gate01"
    assert remote["RCLONE_CONFIG_EDGEREPLICA_SECRET_ACCESS_KEY"] == "s3cr3t"
    # Litestream's own names win over the AWS ones
    assert (
        child_env(env | {"LITESTREAM_ACCESS_KEY_ID": "mine"})["LITESTREAM_ACCESS_KEY_ID"] == "mine"
    )


def test_check_config_names_a_file_targets_share_and_the_restart_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    share = _share(tmp_path)
    (tmp_path / "etc").mkdir()
    path = write_config(
        tmp_path / "etc" / "config.toml",
        "http://127.0.0.1:9",
        extra=f'[replica]\ntype = "file"\npath = "{share}"\n',
    )
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"replica: file://{share} (read at start only" in out
    assert "systemctl restart edge-gate" in out


def _wal_ledger(tmp_path: Path) -> Path:
    """A ledger file in WAL mode with one table ``t`` for the replicator's own tests."""
    db = tmp_path / "edge.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
    return db


class _LaterClock:
    """Wall time moved on by :attr:`offset` seconds (a daemon started again later)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _replica_config(tmp_path: Path, section: dict[str, Any]) -> ReplicaConfig:
    replica = make_config(tmp_path, "http://127.0.0.1:9", replica=section).replica
    assert replica is not None
    return replica


async def _run_until(replicator: Replicator, done: Any) -> None:
    """Run ``replicator`` until ``done()`` holds (30 s at most), then stop it (Litestream too)."""
    running = asyncio.create_task(replicator.run())
    try:
        await eventually(done, 30)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_replica_behind_before_a_restart_raises_the_alarm_at_once(
    tmp_path: Path, procs: Processes
) -> None:
    """The SFTP server goes down while the lanes commit; two minutes later the daemon is
    restarted (a power cut), the server still down: the alarm is up as the daemon starts,
    not ``lag_alarm_seconds`` (here 60 s) later."""
    sshd = await start_sshd(procs, tmp_path / "sshd")
    section = sshd.replica(**FAST)
    fast = _replica_config(tmp_path, section)
    slow = _replica_config(tmp_path, section | {"lag_alarm_seconds": 60})
    db = _wal_ledger(tmp_path)
    clock = _LaterClock()
    first = Replicator(fast, db, tmp_path / "photos", clock=clock)

    async def stop_and_commit() -> None:
        await eventually(lambda: first.replicated_at is not None, 30)
        await sshd.stop()
        with sqlite3.connect(db) as conn:
            conn.execute("INSERT INTO t VALUES (1)")

    commit = asyncio.create_task(stop_and_commit())
    await _run_until(first, lambda: commit.done() and first.report().alarm)
    await commit
    clock.offset = 120.0
    second = Replicator(slow, db, tmp_path / "photos", clock=clock)
    with capture_logs() as logs:
        await _run_until(second, lambda: second.starts == 1)
    report = second.report()
    assert report.alarm
    assert report.lag_seconds > 120
    assert report.last_sync_at is None  # nothing confirmed since this start
    assert "replica was behind before this start" in [e["event"] for e in logs]


async def test_a_replica_with_everything_before_a_restart_is_no_alarm(tmp_path: Path) -> None:
    """Stopped for two minutes with the replica holding every transaction: no alarm at start,
    whether the target answers for itself (``litestream ltx``) or the last confirmed sync
    does."""
    section = {"type": "file", "path": str(_share(tmp_path)), **FAST, "lag_alarm_seconds": 60}
    cfg = _replica_config(tmp_path, section)
    db = _wal_ledger(tmp_path)
    clock = _LaterClock()
    first = Replicator(cfg, db, tmp_path / "photos", clock=clock)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    committed = time.time()
    await _run_until(first, lambda: (first.replicated_at or 0) > committed)
    assert first.confirmed_file.exists()
    for forget in (False, True):
        clock.offset += 120.0
        if forget:  # a run directory lost: the target alone answers
            first.confirmed_file.unlink()
        again = Replicator(cfg, db, tmp_path / "photos", clock=clock)
        await _run_until(again, lambda: again.starts == 1)  # noqa: B023 - awaited at once
        assert not again.report().alarm
        assert again.report().lag_seconds < 60


async def test_two_pcs_cloned_from_one_image_are_told_apart_by_the_ledger_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PCs made from one disk image share /etc/machine-id and the default ledger path: each
    ledger's random id (kept in its run directory) tells them apart, so the second is refused;
    a marker of an older version (no id) with this PC's machine id and path stays this one's."""
    monkeypatch.setattr(owner_module, "machine_id", lambda: "cloned-image-machine-id")
    cfg = _replica_config(tmp_path, {"type": "file", "path": str(_share(tmp_path)), **FAST})
    ledger = Path("/var/lib/edge-gate/edge.db")  # the same path on both PCs
    first = TargetOwner(cfg, ledger, tmp_path / "pc1" / ".replica")
    second = TargetOwner(cfg, ledger, tmp_path / "pc2" / ".replica")
    assert await first.other() is None  # marks the target
    refused = await second.other()
    assert refused is not None
    assert "cloned PC" in refused
    assert str(ledger) in refused
    marker = json.loads((_share(tmp_path) / SHARE_MARKER).read_text("utf-8"))
    assert marker["ledger_id"] == (tmp_path / "pc1" / ".replica" / LEDGER_ID).read_text().strip()
    assert await first.other() is None  # still the first's, its id kept
    again = TargetOwner(cfg, ledger, tmp_path / "pc1" / ".replica")
    assert await again.other() is None  # a restarted daemon keeps its ledger's id
    del marker["ledger_id"]  # an older version's marker
    (_share(tmp_path) / SHARE_MARKER).write_text(json.dumps(marker), "utf-8")
    older = TargetOwner(cfg, ledger, tmp_path / "pc3" / ".replica")
    assert await older.other() is None
    marker = json.loads((_share(tmp_path) / SHARE_MARKER).read_text("utf-8"))
    assert marker["ledger_id"] == (tmp_path / "pc3" / ".replica" / LEDGER_ID).read_text().strip()
    assert await first.other() is not None


async def test_a_marker_that_cannot_be_written_is_reported_once_and_written_when_it_can(
    tmp_path: Path,
) -> None:
    """The target's marker cannot be written (here a dangling link where it goes): the daemon
    replicates all the same, but says so — a warning logged once however often it tries, the
    cause as the replica's last error — and writes the marker once it can."""
    share = _share(tmp_path)
    cfg = _replica_config(tmp_path, {"type": "file", "path": str(share), **FAST})
    db = _wal_ledger(tmp_path)
    replicator = Replicator(cfg, db, tmp_path / "photos")
    marker = share / SHARE_MARKER
    marker.symlink_to(tmp_path / "gone" / "marker")
    with capture_logs() as logs:
        for _ in range(3):
            assert await replicator.target_problem() is None  # replicated all the same
        assert f"the owner marker {SHARE_MARKER} is not written" in (replicator.last_error or "")
        assert str(marker) in (replicator.last_error or "")
        with pytest.raises(MarkerUnwrittenError):
            await replicator.owner.other()
        marker.unlink()
        assert await replicator.target_problem() is None
        assert await replicator.target_problem() is None
    events = [entry["event"] for entry in logs]
    unwritten = "cannot write the replica owner marker: another daemon would not be refused"
    assert events.count(unwritten) == 1
    assert events.count("replica owner marker written") == 1
    assert json.loads(marker.read_text("utf-8"))["ledger"] == str(db.resolve())


async def test_a_takeover_note_beside_a_ledger_already_owning_the_target_is_spent(
    tmp_path: Path,
) -> None:
    """``edge restore`` left its note, but the marker already names this PC and ledger: the
    note is deleted at once, so a foreign marker found later is refused, not taken over."""
    cfg = _replica_config(tmp_path, {"type": "file", "path": str(_share(tmp_path)), **FAST})
    mine = TargetOwner(cfg, tmp_path / "a" / "edge.db", tmp_path / "a" / ".replica")
    assert await mine.other() is None  # marks the target
    mine.takeover.write_text("restored\n")
    assert await mine.other() is None
    assert not mine.takeover.exists()
    other = TargetOwner(cfg, tmp_path / "b" / "edge.db", tmp_path / "b" / ".replica")
    (_share(tmp_path) / SHARE_MARKER).unlink()
    assert await other.other() is None  # another ledger marks it meanwhile
    refused = await mine.other()
    assert refused is not None
    assert str(tmp_path / "b" / "edge.db") in refused


async def test_a_takeover_is_logged_once_when_its_first_marker_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restored ledger's daemon reads the old PC's marker, but writing its own fails (the
    share went away for a moment; on SFTP a transfer that failed its check): the takeover is
    not done, so it is not said yet — it is said once, when a later reading writes the marker
    (it was logged at each attempt: twice after a restore)."""
    share = _share(tmp_path)
    cfg = _replica_config(tmp_path, {"type": "file", "path": str(share), **FAST})
    old = TargetOwner(cfg, tmp_path / "a" / "edge.db", tmp_path / "a" / ".replica")
    assert await old.other() is None  # the old PC's marker
    marker = share / SHARE_MARKER
    old_marker = marker.read_text("utf-8")
    restored = TargetOwner(cfg, tmp_path / "b" / "edge.db", tmp_path / "b" / ".replica")
    restored.takeover.parent.mkdir(parents=True)
    restored.takeover.write_text("restored\n")
    read = restored._read

    async def read_then_lose_the_share() -> str | None:
        text = await read()
        marker.unlink()
        marker.symlink_to(tmp_path / "gone" / "marker")  # nothing can be written there
        return text

    with capture_logs() as logs:
        monkeypatch.setattr(restored, "_read", read_then_lose_the_share)
        with pytest.raises(MarkerUnwrittenError):
            await restored.other()
        monkeypatch.setattr(restored, "_read", read)
        marker.unlink()
        marker.write_text(old_marker, "utf-8")  # the share is back, the old marker on it
        assert restored.takeover.exists()  # the takeover is still to be done
        assert await restored.other() is None
        assert await restored.other() is None
    events = [entry["event"] for entry in logs]
    assert events.count("replica taken over by the restored ledger from the PC it replaces") == 1
    assert json.loads(marker.read_text("utf-8"))["ledger"] == str(tmp_path / "b" / "edge.db")
    assert not restored.takeover.exists()


async def test_two_daemons_on_one_target_the_second_is_refused_until_a_restore_takes_over(
    tmp_path: Path,
) -> None:
    """Two gate PCs given the same share: the first keeps it, the second never starts
    Litestream on it and says why (in Chinese on the status page). A restored ledger takes
    the target over from the PC it replaces; that PC, were it still running, then stops."""
    section = {"type": "file", "path": str(_share(tmp_path)), **FAST}
    cfg = _replica_config(tmp_path, section)
    ledgers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        ledgers.append(_wal_ledger(tmp_path / name))
    first = Replicator(cfg, ledgers[0], tmp_path / "a" / "photos")
    second = Replicator(cfg, ledgers[1], tmp_path / "b" / "photos")
    tasks = [asyncio.create_task(first.run())]
    try:
        await eventually(lambda: first.replicated_at is not None, 30)
        marker = json.loads((_share(tmp_path) / SHARE_MARKER).read_text("utf-8"))
        assert marker["ledger"] == str(ledgers[0].resolve())
        with capture_logs() as logs:
            tasks.append(asyncio.create_task(second.run()))
            await eventually(lambda: second.report().alarm, 30)
        assert second.starts == 0  # its Litestream never ran on the other's replica
        assert str(ledgers[0].resolve()) in (second.other_writer or "")
        assert "each gate PC needs its own path" in (second.last_error or "")
        events = [entry["event"] for entry in logs]
        assert events.count("ANOTHER DAEMON REPLICATES TO THIS TARGET: replication stopped") == 1
        line = replica_summary(second.report(), ZoneInfo("Asia/Shanghai"))
        assert line is not None
        assert line["alarm"]
        assert "备份位置正被另一台工控机写入" in line["text"]
        assert second.report().to_json()["other_writer"] == second.other_writer
        assert not first.report().alarm  # the first keeps replicating
        assert not await second.sync_photos()  # nor do the photos go there
        assert second.photos_last_error == second.last_error
        # `edge restore` left its note: the restored ledger takes the target over …
        (tmp_path / "b" / ".replica" / "takeover").write_text("restored\n")
        await eventually(lambda: second.starts == 1 and second.other_writer is None, 30)
        assert not (tmp_path / "b" / ".replica" / "takeover").exists()
        # … and the PC it replaced, still running here, stops writing with the alarm up
        await eventually(lambda: first.other_writer is not None and first.report().alarm, 30)
        assert str(ledgers[1].resolve()) in (first.other_writer or "")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_every_writer_of_a_replicated_ledger_leaves_checkpoints_to_litestream(
    tmp_path: Path,
) -> None:
    """The daemon and each ``edge`` command that writes the ledger beside it (they open it
    with ``Store.open_for``): SQLite's automatic checkpoint off with a replica, on without."""
    share = _share(tmp_path)
    sections: list[dict[str, Any]] = [{"replica": {"type": "file", "path": str(share)}}, {}]
    for extra, expected in zip(sections, (0, 1000), strict=True):
        cfg = make_config(tmp_path / f"ledger-{expected}", "http://127.0.0.1:9", **extra)
        store = await Store.open_for(cfg)
        try:
            cursor = await store.database.writer.execute("PRAGMA wal_autocheckpoint")
            assert await cursor.fetchone() == (expected,)
        finally:
            await store.close()


def test_no_command_opens_the_ledger_past_litestreams_checkpoints() -> None:
    """Every ``edge`` command opens the ledger with ``Store.open_for`` (which turns SQLite's
    automatic checkpoint off when a replica is configured), never ``Store.open`` directly."""
    cli = Path(__file__).parent.parent / "edge" / "cli"
    direct = [path.name for path in sorted(cli.glob("*.py")) if "Store.open(" in path.read_text()]
    assert direct == []


@pytest.mark.parametrize("kind", ["sftp", "s3"])
async def test_two_daemons_on_one_remote_target_the_second_is_refused(
    kind: str, tmp_path: Path, procs: Processes
) -> None:
    """The marker on an SFTP server or in an S3 bucket (read and written by rclone): the
    first daemon marks the target, the second is refused before its Litestream starts — and
    stays refused between two readings of the marker (one a minute), check after check, its
    photos not copied either."""
    section = await _replica_section(kind, tmp_path, procs)
    cfg = _replica_config(tmp_path, section)
    replicators = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        db = _wal_ledger(tmp_path / name)
        replicators.append(Replicator(cfg, db, tmp_path / name / "photos"))
    first, second = replicators
    await _run_until(first, lambda: first.replicated_at is not None)
    assert first.other_writer is None
    await _run_until(second, lambda: second.other_writer is not None or second.starts > 0)
    assert second.starts == 0
    assert str(first.database) in (second.other_writer or "")  # the first's marker, read
    assert second.report().alarm
    asked: list[str | None] = []
    target_problem = second.target_problem

    async def counted() -> str | None:
        asked.append(problem := await target_problem())
        return problem

    second.target_problem = counted  # type: ignore[method-assign]
    # several check intervals, all inside one minute: no reading of the marker between them
    await _run_until(second, lambda: len(asked) >= 5 or second.starts > 0)
    assert second.starts == 0  # its Litestream never ran on the other's replica
    assert all("each gate PC needs its own path" in (p or "") for p in asked), asked
    assert not await second.sync_photos()  # nor do its photos go there
    assert second.photos_last_error is not None
    assert second.report().alarm


def test_litestreams_config_is_never_seen_half_written(tmp_path: Path) -> None:
    """A photo round rewrites the config while Litestream may be starting: read half
    written, it said "no databases specified", replicated nothing and never exited (a
    stress run caught it). Whoever reads the file sees it whole, however often it is
    rewritten meanwhile."""
    share = _share(tmp_path)
    cfg = make_config(
        tmp_path, "http://127.0.0.1:1/ysgk", replica={"type": "file", "path": str(share)}
    )
    assert cfg.replica is not None
    replicator = Replicator(cfg.replica, tmp_path / "edge.db", tmp_path / "photos")
    replicator.write_config()
    whole = replicator.config_file.read_text("utf-8")
    stop = threading.Event()

    def rewrite() -> None:
        while not stop.is_set():
            replicator.write_config()

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        seen = {replicator.config_file.read_text("utf-8") for _ in range(3000)}
    finally:
        stop.set()
        writer.join()
    assert seen == {whole}
    assert oct(replicator.config_file.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in replicator.run_dir.iterdir() if p.name.startswith(".")] == []


async def test_a_takeover_is_one_reading_however_many_tasks_check_at_once(
    tmp_path: Path,
) -> None:
    """The ledger's and the photos' tasks check the target at the same moment after a
    restore: the first spends the takeover note; the second must then find the marker this
    ledger's, not refuse it as another daemon's (a stress run caught the refusal)."""
    cfg = _replica_config(tmp_path, {"type": "file", "path": str(_share(tmp_path)), **FAST})
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    old = Replicator(cfg, _wal_ledger(tmp_path / "a"), tmp_path / "a" / "photos")
    assert await old.target_problem() is None  # the old PC's ledger marks the target
    restored = Replicator(cfg, _wal_ledger(tmp_path / "b"), tmp_path / "b" / "photos")
    restored.run_dir.mkdir(parents=True, exist_ok=True)
    (restored.run_dir / "takeover").write_text("restored\n")
    found = await asyncio.gather(*(restored.target_problem() for _ in range(4)))
    assert found == [None] * 4
    assert restored.other_writer is None


def test_a_ledger_id_made_by_two_at_once_is_one_id(tmp_path: Path) -> None:
    """The ledger's and the photos' tasks asked for the id at the same first moment: each made
    its own, and the daemon refused its own marker as a cloned PC's (a stress run)."""
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: ledger_id(tmp_path / ".replica"), range(8)))
    assert len(ids) == 1
    assert (tmp_path / ".replica" / LEDGER_ID).read_text("ascii").strip() in ids
    assert sorted(p.name for p in (tmp_path / ".replica").iterdir()) == [LEDGER_ID]


async def test_a_target_that_accepts_and_never_answers_the_restore_check_is_no_answer(
    tmp_path: Path, procs: Processes
) -> None:
    """A NAS that accepts the TCP connection and then says nothing (hung, or a half-open
    link): Litestream's SFTP dial waits for the SSH banner without end. The dry run is
    bounded, and its answer counts as the target not answering — not as a lost replica."""
    sshd = await start_sshd(procs, tmp_path / "sshd")  # its keys; the target is the silent port
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        cfg = make_config(tmp_path, "http://127.0.0.1:9", replica=sshd.replica(port=port))
        assert cfg.replica is not None
        replicator = Replicator(cfg.replica, _wal_ledger(tmp_path), tmp_path / "photos")
        replicator.write_config()
        replicator.restore_check_timeout = 1
        answer = await asyncio.wait_for(replicator.restorable(), 60)
        assert answer is not None
        assert unreachable(answer), answer
        assert accepted  # Litestream did connect: the silence, not a refusal, was bounded
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_edge_restore_from_a_target_that_accepts_and_never_answers_says_so(
    tmp_path: Path, procs: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh tester's case: `edge restore` from an SFTP server that accepts the connection
    and says nothing printed its first line and then nothing, for good (litestream restore
    has no bound). The target must list the replica within a bound first: it says the
    target does not answer, and leaves no tool running."""
    sshd = await start_sshd(procs, tmp_path / "sshd")
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(restore_module, "ANSWER_SECONDS", 1.0)
    try:
        cfg = make_config(tmp_path / "new", "http://127.0.0.1:9",
                          replica=sshd.replica(port=port))  # fmt: skip
        with pytest.raises(RestoreError, match="the target does not answer"):
            await asyncio.wait_for(restore(cfg), 60)
        assert accepted  # it did connect: the silence was bounded
        assert not (tmp_path / "new" / "edge.db").exists()
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    left = await asyncio.create_subprocess_exec(
        "pgrep", "-f", "rclone lsf|litestream restore", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await left.communicate()
    assert not out.strip(), out


async def test_no_restore_check_before_the_first_sync_is_confirmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica not made yet is not a lost one: while no sync is confirmed (the first
    snapshot of a large ledger on its way over a slow uplink) the restore check does not run.
    It found nothing there, called the replica lost and started Litestream — and the
    snapshot — over again, for ever (under load, the test's 0.3 s check came before the
    first sync: CI round 2)."""
    section = {"type": "file", "path": str(_share(tmp_path)), **FAST}
    section["restore_check_seconds"] = 0.1
    cfg = make_config(tmp_path, "http://127.0.0.1:9", replica=section)
    assert cfg.replica is not None
    replicator = Replicator(cfg.replica, _wal_ledger(tmp_path), tmp_path / "photos")
    checks: list[float | None] = []  # replicated_at when each restore check ran
    check = replicator.restorable

    async def recorded() -> str | None:
        checks.append(replicator.replicated_at)
        return await check()

    async def never_confirmed(_client: httpx.AsyncClient, _wait: int) -> bool:
        return False  # Litestream still busy with its first snapshot

    looks = 0  # the loop's rounds (each looks at the target first)
    look = replicator.target_problem

    async def counted() -> str | None:
        nonlocal looks
        looks += 1
        return await look()

    monkeypatch.setattr(replicator, "restorable", recorded)
    monkeypatch.setattr(replicator, "target_problem", counted)
    monkeypatch.setattr(replicator, "check", never_confirmed)
    running = asyncio.create_task(replicator.run())
    try:
        # ten rounds: each past the 0.1 s restore-check interval (check_interval 0.1 s)
        await eventually(lambda: looks >= 10 or running.done(), 60)
        assert not running.done()
        assert checks == []
        monkeypatch.setattr(replicator, "check", Replicator.check.__get__(replicator))
        await eventually(lambda: replicator.replicated_at is not None and bool(checks), 60)
        assert all(at is not None for at in checks)
        assert replicator.starts == 1
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_restore_from_a_target_with_another_host_key_says_so(
    tmp_path: Path, procs: Processes
) -> None:
    """A wrong ``host_key`` (another server, or its key changed): ``edge restore`` says the
    host key differs — before, it said the target does not answer (the fresh check of 17)."""
    replica = {**(await _replica_section("sftp", tmp_path, procs)), "host_key": HOST_KEY}
    cfg = make_config(tmp_path / "new", "http://127.0.0.1:9", replica=replica)
    with pytest.raises(RestoreError, match="host key") as refused:
        await restore(cfg)
    assert "does not answer" not in str(refused.value)
