"""``edge restore``: bring the ledger and the photos back from the replica onto a new PC.

Steps: the ledger with ``litestream restore`` (the latest state the replica holds) into the
configured, still empty, data directory; the photos with ``rclone copy``; the checks (SQLite's
``PRAGMA integrity_check`` must say ``ok``; the photos the ledger lists are counted against
the files that came back); then each lane's serial numbers (流水号) are moved past anything
the lost PC may have issued after the replica's last sync (see :func:`serial_floor`), and so
are the weighings' numbers (过磅单号: one per second of the same margin). The
daemon started afterwards forwards what the platform had not acknowledged, under the same
serials.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.config.model import Config, ReplicaConfig
from edge.domain.serials import serial_prefix, serial_time
from edge.ledger.recovery import check_restored, raise_floors, serial_prefixes
from edge.replica.owner import LEDGER_ID, TAKEOVER_NOTE
from edge.replica.target import (
    WRONG_HOST_KEY,
    child_env,
    known_hosts_line,
    litestream_config,
    missing_credentials,
    rclone_env,
    rclone_photos_remote,
    rclone_remote,
    tls_env,
    tool,
    wrong_host_key,
)

#: By default the first serial after a restore is this far ahead of the later of the clock
#: and the last restored serial: room for as many passes per lane lost after the last sync.
DEFAULT_SERIAL_MARGIN_SECONDS = 600.0


#: rclone's exit status when the source directory does not exist (rclone docs, "Exit code").
_RCLONE_DIRECTORY_NOT_FOUND = 3


class RestoreError(Exception):
    """The restore cannot go on; the message says why and what to do."""


@dataclass
class RestoreResult:
    database: Path
    integrity: str
    passes: int
    photos_listed: int
    photos_restored: int
    photos_missing: list[str] = field(default_factory=list)
    floors: dict[str, str] = field(default_factory=dict)
    #: The number the weighings continue after (the next weighing's is one more).
    weighings_after: int = 0
    #: Why the photos could not be copied back (None: they were, or none are replicated).
    photos_error: str | None = None
    #: Where a damaged restored ledger was moved (None: it was whole).
    damaged_moved_to: Path | None = None

    @property
    def ok(self) -> bool:
        return self.integrity == "ok"


def serial_floor(last: str | None, prefix: str, now: datetime, margin: timedelta) -> str:
    """The serial number below which nothing is issued after a restore, for ``prefix``.

    A pass lost with the old PC (committed after the replica's last sync) got a serial no
    later than the later of its own time (before ``now``) and the last replicated serial,
    plus one second for each pass lost before it. So the floor, ``margin`` past the later of
    ``now`` and ``last``, is above every serial the old PC issued as long as fewer than
    ``margin`` seconds' worth of passes per lane were lost.
    """
    base = now.replace(microsecond=0)
    if last is not None:
        base = max(base, serial_time(last, now.tzinfo))  # type: ignore[arg-type]
    return prefix + (base + margin).strftime("%y%m%d%H%M%S")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text, "utf-8")
    path.chmod(0o600)


async def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    try:
        output, _ = await proc.communicate()
    except BaseException:  # cancelled (a bound ran out, Ctrl-C): the tool goes too
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, output.decode("utf-8", "replace")


#: rclone's bounds on a target that does not answer: to connect, and between two answers
#: (an idle bound: a long copy that keeps moving is never cut).
RCLONE_BOUNDS = ("--contimeout", "10s", "--timeout", "60s", "--retries", "1")
#: How long the target may take to list the replica's ledger before the restore begins.
ANSWER_SECONDS = 60.0


async def _target_answers(replica: ReplicaConfig, run_dir: Path) -> None:
    """Raise :class:`RestoreError` unless the target lists the replica's place within
    :data:`ANSWER_SECONDS` (rclone, bounded): ``litestream restore`` itself has no bound, and
    an SFTP server that accepts the connection and never speaks held ``edge restore`` silent
    for good. A place that does not exist yet is an answer (Litestream then says so)."""
    known_hosts = await _known_hosts(replica, run_dir)
    argv = [tool("rclone"), "lsf", rclone_remote(replica, ""), "--max-depth", "1"]
    argv += ["--config", os.devnull, "-q", *RCLONE_BOUNDS, "--low-level-retries", "1"]
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            code, output = await _run(argv, rclone_env(replica, known_hosts))
    except TimeoutError:
        raise RestoreError(
            f"the target does not answer (no listing within {ANSWER_SECONDS:g} s): check "
            "that it is up and reachable"
        ) from None
    if code not in (0, _RCLONE_DIRECTORY_NOT_FOUND):
        last = output.strip().splitlines()[-1:] or [f"status {code}"]
        if wrong_host_key(last[0]):  # it answered, with another key
            raise RestoreError(WRONG_HOST_KEY)
        raise RestoreError(f"the target does not answer: {last[0]}")


async def _known_hosts(replica: ReplicaConfig, run_dir: Path) -> Path | None:
    """The SFTP target's host key as rclone reads it (None: not SFTP)."""
    if replica.type != "sftp":
        return None
    known_hosts = run_dir / "known_hosts"
    await asyncio.to_thread(_write_private, known_hosts, known_hosts_line(replica))
    return known_hosts


async def restore_ledger(
    replica: ReplicaConfig, database: Path, run_dir: Path, at: datetime | None = None
) -> None:
    """``litestream restore`` of the replica's latest ledger to ``database``, or of the ledger
    as it stood at ``at`` (an aware time: a fallback point when the latest is damaged), once
    the target answered (:func:`_target_answers`)."""
    missing = missing_credentials(replica)
    if missing:
        raise RestoreError(f"set {', '.join(missing)} in the environment first")
    await _target_answers(replica, run_dir)
    config = run_dir / "restore.yml"
    await asyncio.to_thread(
        _write_private, config, litestream_config(replica, database, run_dir / "restore.sock")
    )
    argv = [tool("litestream"), "restore", "-config", str(config), "-o", str(database)]
    if at is not None:
        argv += ["-timestamp", at.isoformat()]  # RFC 3339, with its offset
    code, output = await _run(
        [*argv, "-integrity-check", "full", str(database)], child_env() | tls_env(replica)
    )
    if code != 0 or not await asyncio.to_thread(database.exists):
        last = output.strip().splitlines()[-1:] or [f"status {code}"]
        raise RestoreError(f"litestream restore failed: {last[0]}")


async def restore_photos(replica: ReplicaConfig, photo_dir: Path, run_dir: Path) -> None:
    """``rclone copy`` of the replica's photos into ``photo_dir``."""
    known_hosts = await _known_hosts(replica, run_dir)
    await asyncio.to_thread(photo_dir.mkdir, parents=True, exist_ok=True)
    argv = [tool("rclone"), "copy", rclone_photos_remote(replica), str(photo_dir)]
    argv += ["--config", os.devnull, "-q", *RCLONE_BOUNDS]
    code, output = await _run(argv, rclone_env(replica, known_hosts))
    if code == _RCLONE_DIRECTORY_NOT_FOUND:
        return  # no photo round reached the replica before the loss: the count says what is missing
    if code != 0:
        last = output.strip().splitlines()[-1:] or [f"status {code}"]
        raise RestoreError(f"rclone could not copy the photos back: {last[0]}")


def _ledger_files(database: Path) -> list[Path]:
    """The ledger and the SQLite files beside it (a leftover -wal would be replayed into a
    restored ledger of the same name)."""
    return [database, *(database.with_name(database.name + end) for end in ("-wal", "-shm"))]


async def restore(
    cfg: Config,
    *,
    serial_margin_seconds: float = DEFAULT_SERIAL_MARGIN_SECONDS,
    clock: Callable[[], float] = time.time,
    at: datetime | None = None,
) -> RestoreResult:
    """Restore the ledger and photos named by ``cfg`` from ``cfg.replica``: the latest state,
    or the state at ``at`` (an aware time in the past).

    Order, so that no failure leaves a ledger that could issue a serial twice: the ledger;
    its integrity check (a damaged one is moved aside to ``<name>.damaged-<time>``, so that
    nothing starts on it and an earlier point can be restored next); each lane's serial
    floor and the weighings' numbers (``serial_margin_seconds`` numbers past the last, and
    with ``at`` one more for each second since then); only
    then the photos — their failure is reported in the result (``photos_error``;
    :func:`restore_photos_again` finishes them), the ledger stays ready.

    Raises :class:`RestoreError` when there is no replica section, a ledger (or its -wal or
    -shm file) already exists, ``at`` is in the future, or the ledger cannot be restored
    (for ``at``: also when the replica holds nothing that old). Serials continue past the
    clock either way: a restore to an earlier point never hands out a serial the lost PC
    issued later."""
    replica = cfg.replica
    if replica is None:
        raise RestoreError("the config has no [replica] section: nothing to restore from")
    database = cfg.storage.database.resolve()
    present = [path for path in _ledger_files(database) if path.exists()]
    if present:
        raise RestoreError(
            f"a ledger already exists at {present[0]}: restore onto a new data directory "
            f"(move {', '.join(p.name for p in present)} away first) — or, when an earlier "
            "restore of this ledger stopped while it copied the photos back, copy the rest: "
            "edge restore --config … --photos-only"
        )
    if at is not None and at.timestamp() > clock():
        raise RestoreError(f"{at.isoformat(timespec='seconds')} is in the future")
    database.parent.mkdir(parents=True, exist_ok=True)
    run_dir = database.parent / ".replica"
    # Restored, checked and given its serial floors under another name, then renamed into
    # place: a restore interrupted anywhere (a kill, a power cut) leaves no ledger the daemon
    # would start on without its floors — only this file, removed by the next restore.
    restoring = database.with_name(database.name + ".restoring")
    for leftover in _ledger_files(restoring):
        leftover.unlink(missing_ok=True)
    await restore_ledger(replica, restoring, run_dir, at)
    integrity, passes, _ = await check_restored(restoring)
    result = RestoreResult(database, integrity, passes, photos_listed=0, photos_restored=0)
    if not result.ok:
        stamp = datetime.fromtimestamp(clock(), ZoneInfo(cfg.site.timezone)).strftime(
            "%Y%m%d%H%M%S"
        )
        for path in _ledger_files(restoring):
            if path.exists():
                moved = path.with_name(
                    f"{database.name}.damaged-{stamp}{path.name[len(restoring.name) :]}"
                )
                path.rename(moved)
                if path == restoring:
                    result.damaged_moved_to = moved
        return result
    zone = ZoneInfo(cfg.site.timezone)
    now = datetime.fromtimestamp(clock(), zone)
    prefixes = {
        serial_prefix(cfg.site.enterprise_code, lane.gate_code, lane.direction)
        for lane in cfg.lanes
    }
    last = await serial_prefixes(restoring, prefixes)
    margin = timedelta(seconds=serial_margin_seconds)
    result.floors = {prefix: serial_floor(last[prefix], prefix, now, margin) for prefix in last}
    # as many weighing numbers as the margin has seconds: a truck stays on a scale longer than
    # a second, so that covers the weighings lost with the old PC while fewer than the
    # margin's seconds' worth were (per site; docs/replication.md). A ledger as it stood at
    # ``at``: the old PC went on numbering after it, so one more per second since then.
    since = 0.0 if at is None else max(0.0, clock() - at.timestamp())
    result.weighings_after = await raise_floors(
        restoring, result.floors, math.ceil(serial_margin_seconds + since)
    )
    for path in _ledger_files(restoring)[1:]:  # closed: SQLite checkpointed them away
        if path.exists():
            path.rename(database.with_name(database.name + path.name[len(restoring.name) :]))
    restoring.rename(database)
    # this ledger's first daemon takes the target over from the PC it replaces (under a new
    # ledger id: one left here by an earlier ledger is not the restored one's)
    await asyncio.to_thread((run_dir / LEDGER_ID).unlink, missing_ok=True)
    note = f"restored {datetime.fromtimestamp(clock(), zone).isoformat(timespec='seconds')}\n"
    await asyncio.to_thread(_write_private, run_dir / TAKEOVER_NOTE, note)
    return await restore_photos_again(cfg, result)


async def restore_photos_again(cfg: Config, result: RestoreResult | None = None) -> RestoreResult:
    """Copy the replica's photos back beside a restored ledger (again: after a failure the
    first time) and count those its ledger lists against the files there. ``result``: the
    ledger's restore to complete; None: read the ledger at ``cfg.storage.database``. Raises
    :class:`RestoreError` when there is no replica section or no ledger."""
    replica = cfg.replica
    if replica is None:
        raise RestoreError("the config has no [replica] section: nothing to restore from")
    database = cfg.storage.database.resolve()
    if not database.exists():
        raise RestoreError(f"no ledger at {database}: run edge restore without --photos-only")
    integrity, passes, listed = await check_restored(database)
    if result is None:
        result = RestoreResult(database, integrity, passes, photos_listed=0, photos_restored=0)
    photo_dir = cfg.storage.photo_dir
    if replica.photos:
        try:
            await restore_photos(replica, photo_dir, database.parent / ".replica")
        except (RestoreError, OSError) as exc:
            result.photos_error = str(exc)
    missing = [rel for rel in listed if not (photo_dir / rel).exists()]
    result.photos_listed, result.photos_missing = len(listed), missing
    result.photos_restored = len(listed) - len(missing)
    return result
