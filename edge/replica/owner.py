"""Whose replica a target is: one marker at the target (:data:`SHARE_MARKER`, a file in a
file or SFTP target's directory, an object under an S3 target's prefix) naming the gate PC
that writes it (its machine id and host name) and that PC's ledger (its path and its
:data:`LEDGER_ID`, a random id made once per ledger: PCs cloned from one disk image share the
machine id and the default ledger path, never that id).

Two daemons replicating to one place — two gate PCs given the same ``path``, or a drill copy
started with the production ``[replica]`` — would interleave two ledgers' histories in one
replica, and a restore would bring back whichever wrote last. So the first daemon to find a
target marks it, and every daemon checks the marker at start and while it runs: another's
marker refuses replication (Litestream is not started, or is stopped) and raises the alarm,
in Chinese on the status page. The one deliberate change of owner is a restore: ``edge
restore`` leaves :data:`TAKEOVER_NOTE` beside the restored ledger, and that ledger's first
daemon takes the target over from the PC it replaces.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
from pathlib import Path
from typing import Any, NoReturn

import structlog

from edge.config.model import ReplicaConfig
from edge.replica.children import end, spawn
from edge.replica.target import rclone_env, rclone_remote, tool

log = structlog.get_logger("edge.replica")

#: The marker's name at the target (in its directory, or under its S3 prefix).
SHARE_MARKER = ".edge-gate-replica"
#: Left in the run directory (``.replica`` beside the ledger) by ``edge restore``: the
#: restored ledger's first daemon takes the target over from the PC whose ledger it was.
TAKEOVER_NOTE = "takeover"
#: In the run directory: this ledger's random id (hex), made by its first daemon. ``edge
#: restore`` removes it, so a restored ledger gets a new one and owns its target only by the
#: takeover (:data:`TAKEOVER_NOTE`).
LEDGER_ID = "ledger-id"
#: rclone's exit statuses for "not there" (directory, file): no marker yet.
_NOT_FOUND = (3, 4)
_RCLONE_SECONDS = 60.0


class TargetSilentError(RuntimeError):
    """The target did not answer the marker's read (rclone's last words)."""


class MarkerGoneError(Exception):
    """The marker this daemon wrote is gone from the target (a file target: the share
    unmounted and its directory re-created locally meanwhile): not marked anew."""


class MarkerUnwrittenError(TargetSilentError):
    """The target's owner marker could not be written (the cause in the message): the
    daemon replicates, but a second daemon given the same target would not be refused."""


def machine_id() -> str:
    """This PC's id: systemd's ``/etc/machine-id`` (the host name where there is none)."""
    try:
        return Path("/etc/machine-id").read_text("ascii").strip() or socket.gethostname()
    except OSError:
        return socket.gethostname()


def ledger_id(run_dir: Path) -> str:
    """The ledger's random id kept in ``run_dir`` (:data:`LEDGER_ID`), made on first use;
    raises OSError when it can be neither read nor made."""
    path = run_dir / LEDGER_ID
    try:
        kept = path.read_text("ascii").strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    made = secrets.token_hex(16)
    partial = run_dir / f".{LEDGER_ID}.{made}"
    partial.write_text(made + "\n", "ascii")
    try:  # made once: a second maker at the same moment reads the first one's id
        os.link(partial, path)
    except FileExistsError:
        kept = path.read_text("ascii").strip()
        if kept:
            return kept
        partial.replace(path)  # an empty one (an older version killed writing it)
    finally:
        partial.unlink(missing_ok=True)
    return made


def identity(database: Path, ledger: str) -> dict[str, str]:
    """What the marker says of a daemon: its PC, its ledger and the ledger's id."""
    return {
        "host": machine_id(),
        "hostname": socket.gethostname(),
        "ledger": str(database),
        "ledger_id": ledger,
    }


def _owner(text: str | None) -> dict[str, Any] | None:
    """The owner a marker names; None for none, or a marker of an older version (plain text,
    no owner: whoever finds it marks it)."""
    if text is None:
        return None
    try:
        owner = json.loads(text)
    except ValueError:
        return None
    return owner if isinstance(owner, dict) and "host" in owner else None


class TargetOwner:
    """The marker at ``cfg``'s target as the daemon of ``database`` sees it."""

    def __init__(self, cfg: ReplicaConfig, database: Path, run_dir: Path) -> None:
        self.cfg, self.run_dir, self.database = cfg, run_dir, database
        self.mine: dict[str, str] = {}
        self.takeover = run_dir / TAKEOVER_NOTE
        self._file = Path(cfg.path) / SHARE_MARKER if cfg.type == "file" else None
        self._unwritable = False

    async def other(self, *, may_mark: bool = True) -> str | None:
        """Who else replicates to the target ("host name, ledger path"); None when it is
        this daemon's — marked now if it had no marker, or taken over when a restore left
        :data:`TAKEOVER_NOTE`. :class:`TargetSilentError` when the target does not answer."""
        if not self.mine:
            try:
                made = await asyncio.to_thread(ledger_id, self.run_dir)
            except OSError as exc:  # not judged now: tried again at the next check
                raise TargetSilentError(f"cannot keep the ledger id: {exc}") from None
            self.mine = identity(self.database, made)
        text = await self._read()
        if text is None and not may_mark:
            raise MarkerGoneError(self.cfg.path)
        owner = _owner(text)
        if owner is not None and (owner.get("host"), owner.get("ledger")) == (
            self.mine["host"],
            self.mine["ledger"],
        ):
            if owner.get("ledger_id") == self.mine["ledger_id"]:
                # already this ledger's: a takeover note left now would later take over a
                # foreign marker silently instead of refusing it
                await asyncio.to_thread(self.takeover.unlink, missing_ok=True)
                return None
            if "ledger_id" not in owner:  # an older version's marker: this ledger's
                await self._write()
                await asyncio.to_thread(self.takeover.unlink, missing_ok=True)
                return None
        if owner is not None and not await asyncio.to_thread(self.takeover.exists):
            same = owner.get("host") == self.mine["host"]
            clone = " (same machine id: a cloned PC?)" if same else ""
            return (
                f"{owner.get('hostname', '?')}, {owner.get('ledger', '?')}, "
                f"ledger id {str(owner.get('ledger_id', '?'))[:8]}{clone}"
            )
        await self._write()
        if owner is not None:  # said once it is done: a write that failed is tried again
            log.warning(  # at the next reading, which would otherwise say it a second time
                "replica taken over by the restored ledger from the PC it replaces",
                previous=owner.get("hostname"),
                previous_ledger=owner.get("ledger"),
            )
        await asyncio.to_thread(self.takeover.unlink, missing_ok=True)
        return None

    async def _read(self) -> str | None:
        """The marker's text, None when there is none; :class:`TargetSilentError`."""
        if self._file is not None:
            try:
                return await asyncio.to_thread(self._file.read_text, "utf-8", "replace")
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise TargetSilentError(f"cannot read {self._file}: {exc.strerror}") from None
        status, output = await self._rclone("cat", rclone_remote(self.cfg, SHARE_MARKER))
        if status in _NOT_FOUND:
            return None
        if status != 0:
            words = output.strip().splitlines()
            raise TargetSilentError(words[-1][:300] if words else f"rclone status {status}")
        return output

    async def _write(self) -> None:
        """Mark the target as this daemon's. :class:`MarkerUnwrittenError` when it cannot be
        written (logged once, and once when it is written again)."""
        text = json.dumps(self.mine, ensure_ascii=False) + "\n"
        if self._file is not None:
            try:
                await asyncio.to_thread(self._file.write_text, text, "utf-8")
            except OSError as exc:
                self._unwritten(f"cannot write {self._file}: {exc.strerror}")
        else:
            local = self.run_dir / "owner.json"
            await asyncio.to_thread(local.write_text, text, "utf-8")
            remote = rclone_remote(self.cfg, SHARE_MARKER)
            status, output = await self._rclone("copyto", str(local), remote)
            if status != 0:
                words = output.strip().splitlines()
                self._unwritten(words[-1][:300] if words else f"rclone status {status}")
        if self._unwritable:
            self._unwritable = False
            log.info("replica owner marker written", target=self.cfg.path)

    def _unwritten(self, reason: str) -> NoReturn:
        if not self._unwritable:
            self._unwritable = True
            log.warning(
                "cannot write the replica owner marker: another daemon would not be refused",
                target=self.cfg.path,
                reason=reason,
            )
        raise MarkerUnwrittenError(f"the owner marker {SHARE_MARKER} is not written: {reason}")

    async def _rclone(self, *args: str) -> tuple[int, str]:
        argv = [tool("rclone"), *args, "--config", os.devnull, "-q", "--retries", "1"]
        argv += ["--low-level-retries", "1", "--contimeout", "10s", "--timeout", "30s"]
        known_hosts = self.run_dir / "known_hosts" if self.cfg.type == "sftp" else None
        proc = await spawn(argv, rclone_env(self.cfg, known_hosts), stderr=asyncio.subprocess.PIPE)
        try:
            output, errors = await asyncio.wait_for(proc.communicate(), _RCLONE_SECONDS)
        except TimeoutError:
            return -1, f"no answer in {_RCLONE_SECONDS:.0f} s"
        finally:
            await end(proc)
        status = proc.returncode or 0
        return status, (output if status == 0 else errors).decode("utf-8", "replace")
