"""Processes the tests start, and the session's guard against hanging.

``Processes`` (the ``procs`` fixture) starts real processes for one test and reaps every one
of them when the test ends, however it ends: SIGTERM, then SIGKILL after a grace period.

``SessionWatchdog`` bounds the whole session: past its limit it prints the stacks of all
threads, kills every process the session started (children and their children) and ends
the run with a failure, so CI never waits out its budget on a hung test.
"""

from __future__ import annotations

import asyncio
import ctypes
import faulthandler
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, TextIO

EDGE = [sys.executable, "-m", "edge"]

#: How long a process asked to stop gets before it is killed.
GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


def reap_on_terminate() -> None:
    """On SIGTERM (``timeout`` in CI, a developer's ``kill``), kill every process this one
    started before dying of the signal, so no test's child outlives an interrupted run."""

    def terminated(signum: int, _frame: object) -> None:
        kill_descendants()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, terminated)


def hear_sigint() -> None:
    """A run started from a background job (``make test &`` in a script, ``nohup``) has SIGINT
    ignored, and every process a test starts inherits that: the SIGINT that asks a daemon or
    simulator to stop (and coverage to save its data) would go unheard, each stop waiting out
    its timeout. Python's own handler instead: a handler is reset to the default at exec."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def dies_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """In a child before exec: SIGTERM it when the process that started it dies, however
    (prctl PR_SET_PDEATHSIG; Linux)."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Processes:
    """The processes one test started; :meth:`reap` ends those still running."""

    def __init__(self) -> None:
        self._started: list[asyncio.subprocess.Process] = []

    async def start(self, *argv: str, **kwargs: Any) -> asyncio.subprocess.Process:
        """Start ``argv``; it dies with the test session even when that is killed (SIGKILL:
        the OOM killer, ``timeout -s KILL`` aimed at pytest alone), which no reaping in the
        session can follow (a mosquitto, a daemon were left running)."""
        own = kwargs.pop("preexec_fn", None)

        def in_the_child() -> None:  # pragma: no cover - runs in the forked child
            dies_with_parent()
            if own is not None:
                own()

        proc = await asyncio.create_subprocess_exec(*argv, preexec_fn=in_the_child, **kwargs)
        self._started.append(proc)
        return proc

    async def edge(self, *args: str, **kwargs: Any) -> asyncio.subprocess.Process:
        """An ``edge`` command (``python -m edge …``)."""
        return await self.start(*EDGE, *args, **kwargs)

    @staticmethod
    async def stop(
        proc: asyncio.subprocess.Process, sig: int = signal.SIGINT, timeout: float = 20
    ) -> int:
        """Ask ``proc`` to stop with ``sig`` (SIGINT lets coverage write its data) and wait
        for its exit code; if it has not stopped within ``timeout`` seconds it is killed and
        ``TimeoutError`` raised."""
        if proc.returncode is None:
            with suppress(ProcessLookupError):
                proc.send_signal(sig)
        try:
            return await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            await end(proc)
            raise

    async def reap(self) -> None:
        for proc in self._started:
            await end(proc)


async def end(proc: asyncio.subprocess.Process, grace: float | None = None) -> int:
    """terminate → wait up to ``grace`` seconds (:data:`GRACE_SECONDS`) → kill → wait; the exit
    code. Never SIGINT: a job started in the background (``nohup … &``) and its children
    ignore it (sshd then never stopped, and the bench waiting for it died)."""
    if proc.returncode is not None:
        return proc.returncode
    with suppress(ProcessLookupError):
        proc.terminate()
    try:
        return await asyncio.wait_for(proc.wait(), GRACE_SECONDS if grace is None else grace)
    except TimeoutError:
        with suppress(ProcessLookupError):
            proc.kill()
        return await proc.wait()


def descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (children first), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name in () may hold spaces
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def kill_descendants() -> list[int]:
    """SIGKILL every process this one started, directly or not; returns their pids."""
    pids = descendants(os.getpid())
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pids


def dump_threads(out: TextIO) -> None:
    """The stack of every thread, named."""
    names = {t.ident: t.name for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        print(f"\n--- thread {names.get(ident, '?')} ({ident}) ---", file=out)
        traceback.print_stack(frame, file=out)
    out.flush()


#: What a pytest-xdist worker's command line holds (execnet starts it with ``python -c``).
_XDIST_WORKER = b"exec(eval(sys.stdin.readline()))"
#: How long the workers get to print their stacks before everything is killed (s).
WORKER_DUMP_SECONDS = 3.0


def xdist_workers() -> list[int]:
    """The pids of this process's pytest-xdist workers (its children running execnet)."""
    found = []
    for pid in descendants(os.getpid()):
        with suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if (
                _XDIST_WORKER in cmdline
                and int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                == os.getpid()
            ):
                found.append(pid)
    return found


def dump_on_sigusr1() -> None:
    """In an xdist worker: SIGUSR1 prints every thread's stack (the test it is running) to
    the terminal the session writes to — the watchdog asks before it kills."""
    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__ or sys.stderr, all_threads=True)


class SessionWatchdog:
    """Ends a session that runs longer than ``limit`` seconds (see the module docstring).

    ``before_report`` is called first (it lifts pytest's output capture so the report
    reaches the terminal); the stacks printed are this process's and, asked with SIGUSR1,
    each of ``workers()``'s (pytest-xdist's, which run the tests); ``exit`` defaults to
    ``os._exit`` — nothing else is reliable when the main thread is stuck.
    """

    def __init__(
        self,
        limit: float,
        before_report: Callable[[], None] = lambda: None,
        out: TextIO | None = None,
        exit: Callable[[int], object] = os._exit,  # noqa: A002
        workers: Callable[[], list[int]] = xdist_workers,
    ) -> None:
        self.limit = limit
        self._workers = workers
        self._before_report = before_report
        self._out = out
        self._exit = exit
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="session-watchdog", daemon=True)
        self.started = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancelled.set()

    def _watch(self) -> None:
        if self._cancelled.wait(self.limit):
            return
        with suppress(Exception):
            self._before_report()
        out = self._out or sys.__stderr__ or sys.stderr
        print(
            f"\n\nSESSION WATCHDOG: the test session ran longer than {self.limit:.0f} s; "
            "stacks of all threads follow, then every process it started is killed",
            file=out,
        )
        dump_threads(out)
        asked = []
        for pid in self._workers():
            with suppress(OSError):
                os.kill(pid, signal.SIGUSR1)
                asked.append(pid)
        if asked:
            print(f"\nthe test workers' stacks ({asked}):", file=out, flush=True)
            time.sleep(WORKER_DUMP_SECONDS)  # a thread of its own: nothing else waits on it
        killed = kill_descendants()
        print(f"\nkilled {len(killed)} process(es): {killed}", file=out, flush=True)
        self._exit(1)


def leftover_threads() -> list[threading.Thread]:
    """Non-daemon threads still alive besides the main one (they keep the interpreter from
    exiting): typically an aiosqlite connection a test interrupted by a timeout never closed."""
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]
