"""The replication tools (Litestream, rclone) as the daemon's background children: started
below its priority, ended with it, stopped with a grace period."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal

_STOP_GRACE_SECONDS = 10.0
#: What a question to Litestream at start (``status``, ``ltx``) may take before it counts as
#: unanswered (an SFTP or S3 target that does not answer).
START_QUERY_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1

#: How much lower than the daemon Litestream and rclone run (``nice``): replication is
#: background work and must not take the CPU from a lane deciding a truck on a 2-core box.
#: The kernel derives the default I/O priority from it too (best effort, lower class).
BACKGROUND_NICE = 10


def _background_child() -> None:  # pragma: no cover - runs in the forked child
    """In the child, before exec: die with the daemon, even when it is killed (SIGKILL), so
    that no tool keeps working on a ledger whose daemon is gone, or beside the next one's
    (Litestream is crash-safe: what it had not shipped, the next one ships); and run
    :data:`BACKGROUND_NICE` lower than the daemon."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.nice(BACKGROUND_NICE)


async def spawn(
    argv: list[str], env: dict[str, str], *, stderr: int = asyncio.subprocess.STDOUT
) -> asyncio.subprocess.Process:
    """A replication tool as a background child (:func:`_background_child`): no stdin, its
    output (stderr too, unless ``stderr`` says otherwise) on a pipe."""
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=env,
        preexec_fn=_background_child,
    )


async def end(proc: asyncio.subprocess.Process) -> None:
    """Stop ``proc`` (SIGTERM, then SIGKILL after a grace period) unless it has ended."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), _STOP_GRACE_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
