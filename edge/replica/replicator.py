"""Continuous replication off the box (docs/replication.md): the ledger by ``litestream
replicate`` as a supervised child, the photos by ``rclone copy`` rounds, and how far behind
both are.

How far behind: every ``check_interval_seconds`` the daemon asks Litestream, on its control
socket, to sync the ledger and wait until the replica has it (``POST /sync`` with ``wait``).
When that succeeds, every transaction committed before the question was asked is on the
replica, so the replication lag is *now minus the time of the last question that came back
synced* — an upper bound, never an estimate from Litestream's internals. Photos likewise:
an rclone round that started at ``t`` and succeeded put every photo written before ``t`` on
the replica.

Failures never touch the gate: the child is restarted with a backoff by the daemon's
supervisor, the lag grows, and past ``lag_alarm_seconds`` an alarm is raised (logged once, and
once when it clears) and shown on ``/healthz``, ``/metrics``, the status page and MQTT.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from edge.config.model import ReplicaConfig
from edge.ops.health import ReplicaReport
from edge.replica.children import end, spawn
from edge.replica.owner import (
    SHARE_MARKER,
    MarkerGoneError,
    MarkerUnwrittenError,
    TargetOwner,
    TargetSilentError,
)
from edge.replica.target import (
    WRONG_HOST_KEY,
    ToolMissingError,
    child_env,
    describe,
    known_hosts_line,
    litestream_config,
    missing_credentials,
    rclone_env,
    rclone_photos_remote,
    tls_env,
    tool,
    unreachable,
    wrong_host_key,
)

if TYPE_CHECKING:
    # httpx is imported when a replica runs ([replica] configured), not at the daemon's
    # start (issue 19's steady RSS).
    import httpx

log = structlog.get_logger("edge.replica")

#: A photo written this long before a successful rclone round started was in its listing
#: (a photo's file gets its time when written and its name a few milliseconds later).
PHOTO_MARGIN_SECONDS = 60.0
#: How often the daemon reads an SFTP or S3 target's owner marker while it runs (a file
#: target's: every ``check_interval_seconds``, it costs no process).
OWNER_CHECK_SECONDS = 60.0
#: What an rclone round itself may take before the photos count as behind (its connect and
#: transfer timeouts are 10 s and 60 s).
PHOTO_ROUND_ALLOWANCE_SECONDS = 60.0
#: How far back each round looks past the previous success (rclone ``--max-age``).
PHOTO_WINDOW_SLACK_SECONDS = 600.0
#: What a question to Litestream at start (``status``, ``ltx``) may take before it counts as
#: unanswered (an SFTP or S3 target that does not answer).
START_QUERY_SECONDS = 20.0
#: What a restore dry run may take before it counts as unanswered (it lists the replica's
#: files: seconds on a LAN, a minute over a slow uplink).
RESTORE_CHECK_TIMEOUT_SECONDS = 120.0


def _txid(text: object) -> int:
    """Litestream's transaction id as it prints it (hex; ``-`` for none yet: 0)."""
    return 0 if text in (None, "", "-") else int(str(text), 16)


def _behind_since(
    local: int, listing: object, remembered: tuple[float, int] | None
) -> float | None:
    """Where the replica stood at start, as Unix time before which everything committed is on
    it; None when it has every transaction Litestream had made of the ledger (``local``) or
    nothing tells. ``listing``: the replica's files as ``litestream ltx -json`` lists them
    (None: the target did not answer); ``remembered``: the daemon's last confirmed sync."""
    if isinstance(listing, list) and listing:
        if max(_txid(entry["max_txid"]) for entry in listing) >= local:
            return None
        newest = max(entry["timestamp"] for entry in listing)
        return datetime.fromisoformat(newest).timestamp()
    if remembered is None or remembered[1] >= local:
        return None
    return remembered[0]


def _sync_reply(status: int, body: Any) -> tuple[int, int]:
    """Litestream's answer to ``POST /sync`` as (the ledger's transaction when it answered,
    the replica's); raises ValueError with Litestream's words when it is an error."""
    if status != 200:
        raise ValueError(str(body.get("error", f"HTTP {status}")))
    return int(body["txid"]), int(body["replicated_txid"])


def _write_whole(path: Path, text: str) -> None:
    """``text`` into ``path`` (mode 0600) by a rename: a reader sees the old file or the new."""
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600, unique
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    Path(partial).replace(path)


class Replicator:
    """Replicates one ledger and its photo folder to ``cfg``'s target; :meth:`run` and
    :meth:`run_photos` are the daemon's supervised tasks, :meth:`report` its health."""

    def __init__(
        self,
        cfg: ReplicaConfig,
        database: Path,
        photo_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg, self.clock = cfg, clock
        self.database = database.resolve()
        self.photo_dir = photo_dir.resolve()
        self.run_dir = self.database.parent / ".replica"
        self.socket = self.run_dir / "litestream.sock"
        self.config_file = self.run_dir / "litestream.yml"
        self.known_hosts = self.run_dir / "known_hosts"
        #: The last confirmed sync (when, the replica's transaction), kept across restarts.
        self.confirmed_file = self.run_dir / "confirmed.json"
        self.target = describe(cfg)
        self.since = clock()
        #: Every transaction committed before this (Unix time) is on the replica.
        self.replicated_at: float | None = None
        #: When the replica was last found restorable (a dry run), or the start.
        self.restorable_at = self.since
        self.last_sync_at: float | None = None
        self.errors = 0
        self.last_error: str | None = None
        self.starts = 0
        self._failing = False
        self._alarm = False
        self._share_marked = False
        self.owner = TargetOwner(cfg, self.database, self.run_dir)
        #: Seconds a restore dry run may take, then it counts as no answer.
        self.restore_check_timeout = RESTORE_CHECK_TIMEOUT_SECONDS
        #: Another daemon that replicates to the same target ("host name, ledger"): refused.
        self.other_writer: str | None = None
        self._owner_due = 0.0
        self._owner_reading = asyncio.Lock()  # one reading of the owner marker at a time
        self._photos_generation = 0
        #: (asked at, the ledger's transaction in the answer) of a sync whose answer came
        #: while transactions were being committed: confirmed by a later answer whose
        #: replica position reaches that transaction.
        self._awaiting: tuple[float, int] | None = None
        self.photos_replicated_at: float | None = None
        self.photos_last_sync_at: float | None = None
        self.photos_errors = 0
        self.photos_last_error: str | None = None
        #: Called (without arguments, never blocking) when the state the health shows changes:
        #: the alarm raised or cleared, the target refused or back, syncs or photos failing
        #: or back (MQTT publishes the replica's topic at once).
        self.listeners: list[Callable[[], None]] = []

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    # -- the ledger ---------------------------------------------------------------------

    def write_config(self) -> None:
        """Write the generated Litestream config (and the SFTP host key rclone checks), each
        whole or not at all: a photo round rewrites them while Litestream may be starting
        (a half-written file read as "no databases specified": Litestream ran, replicating
        nothing, and never exited)."""
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_whole(self.config_file, litestream_config(self.cfg, self.database, self.socket))
        if self.cfg.type == "sftp":
            _write_whole(self.known_hosts, known_hosts_line(self.cfg))

    async def run(self) -> None:
        """Run ``litestream replicate`` and check the replica until the child ends (the
        supervisor then starts it again)."""
        missing = missing_credentials(self.cfg)
        if missing:
            self._failed(f"credentials not set in the environment: {', '.join(missing)}")
            await asyncio.Event().wait()  # nothing to run until the daemon is restarted
        try:
            argv = [tool("litestream"), "replicate", "-config", str(self.config_file)]
        except ToolMissingError as exc:
            self._failed(str(exc))
            await asyncio.Event().wait()
        await asyncio.to_thread(self.write_config)
        self._owner_due = 0.0  # the owner is read before every start of Litestream
        while (problem := await self.target_problem()) is not None:
            self._failed(problem)
            self._judge()
            await asyncio.sleep(self.cfg.check_interval_seconds)
        if self.starts == 0:
            await self.position_at_start()
        self.socket.unlink(missing_ok=True)
        proc = await spawn(argv, child_env() | tls_env(self.cfg))
        self.starts += 1
        log.info("replicating the ledger", target=self.target, pid=proc.pid)
        assert proc.stdout is not None
        tasks = [
            asyncio.create_task(self._read_output(proc.stdout)),
            asyncio.create_task(self._check_loop()),
        ]
        restorable = asyncio.create_task(self._restorable_loop())
        ended = asyncio.create_task(proc.wait())
        try:
            await asyncio.wait([ended, restorable], return_when=asyncio.FIRST_COMPLETED)
            if restorable.done() and not restorable.cancelled() and restorable.exception() is None:
                # a new Litestream, once the share is back, writes a new snapshot
                log.warning(
                    "restarting Litestream: the replica is not what it was",
                    target=self.target,
                    reason=self.last_error,
                )
        finally:
            for task in [*tasks, restorable, ended]:
                task.cancel()
            await asyncio.gather(*tasks, restorable, ended, return_exceptions=True)
            await end(proc)
        self._failed(f"litestream exited with status {proc.returncode}: {self.last_error}")

    async def _restorable_loop(self) -> None:
        """Every ``check_interval_seconds``: is a file target still its share, and the target
        still this daemon's (:meth:`target_problem`)? Every ``restore_check_seconds``, once a
        sync was confirmed (before, the first snapshot may still be on its way — a large
        ledger over a slow uplink takes longer than the interval; asking then found nothing,
        called the replica lost and started Litestream, and the snapshot, over again): can
        the replica be restored now? Returns when not (the lag then counts from the last time
        it was known good; Litestream is started again). A dry run the target does not answer
        (:func:`~edge.replica.target.unreachable`) is no verdict: reported as such, the lag
        counts on from the last confirmed sync, nothing is copied or started again."""
        checked = self.clock()
        while True:
            await asyncio.sleep(self.cfg.check_interval_seconds)
            problem = await self.target_problem()
            if (
                problem is None
                and self.replicated_at is not None  # a replica not made yet is not lost
                and self.clock() - checked >= self.cfg.restore_check_seconds
            ):
                checked = self.clock()
                problem = await self.restorable()
                if problem is None:
                    self.restorable_at = self.clock()
                    continue
                if unreachable(problem):  # no answer is no verdict: not a wiped replica
                    self._failed(f"the target does not answer the restore check: {problem}")
                    self._judge()
                    continue
                problem = f"the replica cannot be restored: {problem}"
            if problem is None:
                continue
            self._failed(problem)
            self._replica_lost()
            self._judge()
            return

    async def position_at_start(self) -> None:
        """Where the replica stood when the daemon (re)started: if it was already behind —
        Litestream had made transactions of the ledger (``litestream status``) that the
        replica does not hold (``litestream ltx`` on the target, or, when the target does not
        answer, the last sync this daemon confirmed before it stopped) — the lag counts from
        there, and past the bound the alarm is raised at once, not ``lag_alarm_seconds``
        after the start."""
        status = await self._litestream_json("status")
        if not isinstance(status, list) or not status:
            return
        try:
            local = _txid(status[0].get("local_txid"))
            listing = await self._litestream_json("ltx", "-level", "all")
            since = _behind_since(local, listing, await asyncio.to_thread(self._remembered))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("replica position at start unreadable", reason=str(exc)[:300])
            return
        if since is None:
            return
        self.replicated_at = min(since, self.clock())
        log.warning(
            "replica was behind before this start",
            lag_seconds=round(self.lag_seconds(), 1),
            target=self.target,
        )
        self._judge()

    async def _litestream_json(self, command: str, *options: str) -> Any:
        """``litestream COMMAND … -json`` about the ledger: its answer, None when it failed
        or did not answer within :data:`START_QUERY_SECONDS`."""
        argv = [tool("litestream"), command, "-config", str(self.config_file), "-json"]
        argv += [*options, str(self.database)]
        proc = await spawn(argv, child_env() | tls_env(self.cfg), stderr=asyncio.subprocess.DEVNULL)
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), START_QUERY_SECONDS)
        except TimeoutError:
            return None
        finally:
            await end(proc)
        if proc.returncode != 0:
            return None
        try:
            return json.loads(output)
        except ValueError:
            return None

    def _remembered(self) -> tuple[float, int] | None:
        """The last sync confirmed before this start (:attr:`confirmed_file`), if any."""
        try:
            kept = json.loads(self.confirmed_file.read_text("utf-8"))
            return float(kept["at"]), int(kept["txid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _remember(self, at: float, txid: int) -> None:
        """Keep a confirmed sync for the next start (lost with the run directory: the start
        then asks the target alone)."""
        part = self.confirmed_file.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            part.write_text(json.dumps({"at": at, "txid": txid}), "utf-8")
            part.replace(self.confirmed_file)

    async def restorable(self) -> str | None:
        """A dry run of ``litestream restore`` against the target: None when the replica can
        be restored, else Litestream's words. A target that accepts the connection and then
        says nothing (a hung NAS, a half-open link: Litestream's SFTP dial has no handshake
        timeout) is given :attr:`restore_check_timeout` seconds; its answer then reads "timed
        out" — no answer, not a verdict (:func:`~edge.replica.target.unreachable`)."""
        argv = [tool("litestream"), "restore", "-config", str(self.config_file), "-dry-run"]
        argv += ["-o", str(self.run_dir / "restore-check.db"), str(self.database)]
        proc = await spawn(argv, child_env() | tls_env(self.cfg))
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), self.restore_check_timeout)
        except TimeoutError:
            return f"the restore check timed out after {self.restore_check_timeout:g} s"
        finally:
            await end(proc)
        if proc.returncode == 0:
            return None
        lines = output.decode("utf-8", "replace").strip().splitlines()
        return lines[-1][:300] if lines else f"status {proc.returncode}"

    async def _read_output(self, stream: asyncio.StreamReader) -> None:
        """Litestream's JSON log lines: warnings and errors kept for the report and logged
        (each distinct message once in a row), the rest at debug level."""
        previous = None
        async for raw in stream:
            line = raw.decode("utf-8", "replace").strip()
            try:
                record = json.loads(line)
                level = str(record.get("level", "")).upper()
                message = " ".join(str(record[key]) for key in ("msg", "error") if record.get(key))
            except (ValueError, AttributeError):
                level, message = "INFO", line
            if level in {"WARN", "ERROR"}:
                self.last_error = message[:300]
                if message != previous:
                    log.warning("litestream reports", level=level.lower(), message=message[:300])
                previous = message
            else:
                log.debug("litestream", line=line[:300])

    async def _check_loop(self) -> None:
        import httpx  # noqa: PLC0415 - with a replica only (see above)

        transport = httpx.AsyncHTTPTransport(uds=str(self.socket))
        wait = max(1, round(min(self.cfg.lag_alarm_seconds, 30)))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://litestream", timeout=wait + 5
        ) as client:
            while True:  # until the child, starting, listens on its socket
                if await asyncio.to_thread(self.socket.exists):
                    break
                await asyncio.sleep(0.05)
            while True:
                await self.check(client, wait)
                await asyncio.sleep(self.cfg.check_interval_seconds)

    async def check(self, client: httpx.AsyncClient, wait: int) -> bool:
        """Ask Litestream to sync and wait for the replica; True when it confirmed everything
        committed before the question.

        A transaction committed while Litestream waited makes its answer read "replica at N
        of N+1": not a fault (the lanes keep committing) — the question is kept, and a later
        answer whose replica position reaches N+1 confirms it. Only an error answer, or
        none, counts as an error."""
        import httpx  # noqa: PLC0415 - loaded by _check_loop

        asked = self.clock()
        try:
            reply = await client.post(
                "/sync", json={"path": str(self.database), "wait": True, "timeout": wait}
            )
            ledger_txid, replica_txid = _sync_reply(reply.status_code, reply.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self._failed(str(exc) or type(exc).__name__)
            self._judge()
            return False
        confirmed = None
        if self._awaiting is not None and replica_txid >= self._awaiting[1]:
            confirmed, self._awaiting = self._awaiting[0], None
        if replica_txid >= ledger_txid:
            confirmed, self._awaiting = asked, None
        elif self._awaiting is None:
            self._awaiting = (asked, ledger_txid)
        if confirmed is not None:
            # kept for the next start first: whoever sees replicated_at finds it kept
            await asyncio.to_thread(self._remember, confirmed, replica_txid)
            self.replicated_at, self.last_sync_at = confirmed, self.clock()
            self.last_error = None
            if self._failing:
                log.info("replica confirms syncs again", target=self.target)
                self._failing = False
                self._changed()
        self._judge()
        return confirmed == asked

    async def target_problem(self) -> str | None:
        """Why the tools must not write the target now (None: they may): a file target's
        directory that is not the share it was (:meth:`missing_directory`), or a target
        another daemon replicates to (its marker: edge/replica/owner.py), read at every
        call for a file target and every :data:`OWNER_CHECK_SECONDS` for the others. Between
        two readings (or when the target does not answer one) the last reading stands: a
        target found another's stays refused until its marker is read as this daemon's."""
        problem = await self.missing_directory()
        if problem is not None:
            return problem
        if self.cfg.type != "file" and self.clock() < self._owner_due:
            return self._other_writer_problem()
        self._owner_due = self.clock() + OWNER_CHECK_SECONDS
        try:
            async with self._owner_reading:  # the ledger's and the photos' checks, one at a
                # time: a takeover is spent by the first. A file target marked once is never
                # marked anew: its marker gone between the two looks (the share unmounted
                # just then) is the directory missing, not a new target to mark.
                other = await self.owner.other(
                    may_mark=not (self.cfg.type == "file" and self._share_marked)
                )
        except MarkerGoneError:
            return await self.missing_directory() or (
                f"the replica directory {self.cfg.path} is not the share it was"
            )
        except MarkerUnwrittenError as exc:  # replicated all the same, reported: tried again
            self._failed(str(exc))
            return self._other_writer_problem()
        except TargetSilentError as exc:  # not judged now: Litestream's syncs will tell
            said = WRONG_HOST_KEY if wrong_host_key(str(exc)) else "the target does not answer"
            self._failed(f"{said}: {exc}")
            return self._other_writer_problem()
        if other != self.other_writer:
            if other is None:
                log.info("replica target is this daemon's again", target=self.target)
            else:
                log.error(
                    "ANOTHER DAEMON REPLICATES TO THIS TARGET: replication stopped",
                    target=self.target,
                    other=other,
                )
            self.other_writer = other
            self._changed()
        if other is None:
            self._share_marked = True
        return self._other_writer_problem()

    def _other_writer_problem(self) -> str | None:
        """The refusal while the target's marker (last read) names another daemon; None when
        it names this one."""
        if self.other_writer is None:
            return None
        return (
            f"another daemon replicates to {self.target} ({self.other_writer}): each gate PC "
            f"needs its own path; if that PC is gone for good, delete {SHARE_MARKER} there and "
            "restart"
        )

    async def missing_directory(self) -> str | None:
        """For a file target: why its directory is not the share it was (None: it is). The
        tools would create it — on the local disk when the NAS share is not mounted — so they
        are not started until it exists (made once on the share by the technician). The first
        time it is found, a marker file (:data:`SHARE_MARKER`) is written into it; if the
        marker goes while the daemon runs (the share unmounted, and the directory re-created
        locally; or another share put in its place) that is reported until it is back — a
        new share is taken by restarting the daemon. (The marker itself is written and read
        by :meth:`target_problem`: it names the daemon the target belongs to.)"""
        if self.cfg.type != "file":
            return None
        directory = Path(self.cfg.path)
        if not await asyncio.to_thread(directory.is_dir):
            return (
                f"the replica directory {self.cfg.path} does not exist: is the share mounted? "
                "(create it once on the share; it is never created here)"
            )
        marker = directory / SHARE_MARKER
        if self._share_marked and not await asyncio.to_thread(marker.exists):
            return (
                f"the replica directory {self.cfg.path} is not the share it was (its marker "
                f"{SHARE_MARKER} is gone): unmounted, or replaced? (a new share: restart)"
            )
        return None

    def _replica_lost(self) -> None:
        """The replica is not what it was (wiped, replaced, unreachable as itself): nothing
        on it is counted as replicated any more — the lag runs from the last time it was
        known good, and the next photo round copies every photo again (retention meanwhile
        prunes none)."""
        self.replicated_at = None
        self.since = self.restorable_at
        self.photos_replicated_at = None
        self._photos_generation += 1  # a round under way does not count as replicated

    def _failed(self, reason: str) -> None:
        self.errors += 1
        self.last_error = reason[:300]
        if not self._failing:
            log.warning("replica does not confirm syncs", target=self.target, reason=reason[:300])
            self._failing = True
            self._changed()

    def lag_seconds(self) -> float:
        """Seconds the replica may be behind the ledger (since start until the first sync)."""
        return max(0.0, self.clock() - (self.replicated_at or self.since))

    def _photos_behind(self) -> bool:
        """Photos count for the alarm too, once no round has succeeded for the bound plus
        a round's interval plus :data:`PHOTO_ROUND_ALLOWANCE_SECONDS` (a round's own time)."""
        if not self.cfg.photos:
            return False
        lag = self.clock() - (self.photos_replicated_at or self.since)
        allowed = self.cfg.lag_alarm_seconds + self.cfg.photo_interval_seconds
        return lag > allowed + PHOTO_ROUND_ALLOWANCE_SECONDS

    def _judge(self) -> None:
        lag, bound = self.lag_seconds(), self.cfg.lag_alarm_seconds
        behind = lag > bound or self._photos_behind() or self.other_writer is not None
        if behind and not self._alarm:
            self._alarm = True
            log.error(
                "REPLICATION BEHIND: the ledger's copy off the box is older than the bound",
                lag_seconds=round(lag, 1),
                bound_seconds=bound,
                target=self.target,
                reason=self.last_error,
            )
            self._changed()
        elif not behind and self._alarm:
            self._alarm = False
            log.warning("replication caught up", lag_seconds=round(lag, 1), target=self.target)
            self._changed()

    # -- the photos ---------------------------------------------------------------------

    def photos_replicated_before(self) -> float | None:
        """Photos whose file was written before this (Unix time) are on the replica; None:
        none is known to be (retention then prunes nothing)."""
        if self.photos_replicated_at is None:
            return None
        return self.photos_replicated_at - PHOTO_MARGIN_SECONDS

    async def run_photos(self) -> None:
        """Copy new photos to the replica every ``photo_interval_seconds``."""
        while True:
            await self.sync_photos()
            await asyncio.sleep(self.cfg.photo_interval_seconds)

    async def sync_photos(self) -> bool:
        """One ``rclone copy`` round of the photo folder (only files new since the last
        successful round, with slack); True when it succeeded."""
        started, generation = self.clock(), self._photos_generation
        problem = await self.target_problem()
        if problem is not None:
            self._photos_failed(problem)
            return False
        try:
            argv = [tool("rclone"), "copy", str(self.photo_dir), rclone_photos_remote(self.cfg)]
        except ToolMissingError as exc:
            self._photos_failed(str(exc))
            return False
        argv += ["--config", os.devnull, "--no-traverse", "--exclude", "*.tmp"]
        argv += ["--retries", "1", "--contimeout", "10s", "--timeout", "60s", "-q"]
        if self.photos_replicated_at is not None:
            window = started - self.photos_replicated_at + PHOTO_WINDOW_SLACK_SECONDS
            argv += ["--max-age", f"{int(window)}s"]
        await asyncio.to_thread(self.write_config)
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        known_hosts = self.known_hosts if self.cfg.type == "sftp" else None
        proc = await spawn(argv, rclone_env(self.cfg, known_hosts))
        try:
            output, _ = await proc.communicate()
        finally:
            await end(proc)
        if proc.returncode != 0:
            lines = output.decode("utf-8", "replace").strip().splitlines()
            self._photos_failed(lines[-1] if lines else f"rclone status {proc.returncode}")
            return False
        if generation != self._photos_generation:  # the replica was lost meanwhile
            return False
        if self.photos_last_error is not None:
            log.info("photos reach the replica again", target=self.target)
            self.photos_last_error = None
            self._changed()
        self.photos_replicated_at, self.photos_last_sync_at = started, self.clock()
        self._judge()
        return True

    def _photos_failed(self, reason: str) -> None:
        self.photos_errors += 1
        first, self.photos_last_error = self.photos_last_error is None, reason[:300]
        if first:
            log.warning("photos do not reach the replica", target=self.target, reason=reason)
            self._changed()

    # -- health -------------------------------------------------------------------------

    def report(self) -> ReplicaReport:
        self._judge()  # the alarm as of now, also while a check waits on the target
        lag = self.lag_seconds()
        photos_lag = None
        if self.cfg.photos:
            photos_lag = max(0.0, self.clock() - (self.photos_replicated_at or self.since))
        return ReplicaReport(
            target=self.target,
            lag_seconds=round(lag, 1),
            last_sync_at=self.last_sync_at,
            errors=self.errors,
            last_error=self.last_error,
            alarm=self._alarm,
            lag_alarm_seconds=self.cfg.lag_alarm_seconds,
            starts=self.starts,
            photos_lag_seconds=None if photos_lag is None else round(photos_lag, 1),
            photos_last_sync_at=self.photos_last_sync_at,
            photos_errors=self.photos_errors,
            photos_last_error=self.photos_last_error,
            other_writer=self.other_writer,
        )
