"""The suite's guards against hanging: reaped processes, the session watchdog, stray threads."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest

from edge.sim.mqtt_broker import BrokerMissingError, MosquittoBroker
from tests import processes
from tests.helpers import eventually
from tests.processes import (
    Processes,
    SessionWatchdog,
    descendants,
    dump_threads,
    end,
    hear_sigint,
    leftover_threads,
)

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(600)"
)


async def test_a_process_that_ignores_terminate_is_killed_at_reaping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tests.processes.GRACE_SECONDS", 0.2)
    procs = Processes()
    proc = await procs.start(sys.executable, "-c", IGNORES_SIGTERM, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 20) == b"ready\n"
    await procs.reap()
    assert proc.returncode == -signal.SIGKILL
    await procs.reap()  # reaping twice is harmless


async def test_stop_kills_what_does_not_stop_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.processes.GRACE_SECONDS", 0.2)
    procs = Processes()
    proc = await procs.start(sys.executable, "-c", IGNORES_SIGTERM, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    await asyncio.wait_for(proc.stdout.readline(), 20)
    with pytest.raises(TimeoutError):
        await procs.stop(proc, signal.SIGTERM, timeout=0.2)
    assert proc.returncode == -signal.SIGKILL
    assert await procs.stop(proc) == -signal.SIGKILL  # already gone: its code


def ignore_sigint() -> None:
    """As in a job started in the background (``nohup … &``): SIGINT ignored, inherited."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


async def test_end_stops_a_child_that_ignores_sigint_and_kills_one_that_ignores_both() -> None:
    """``end`` (the sshd helper's stop, reaping) never relies on SIGINT: a child of a
    background job ignores it (the bench's sshd never stopped and the bench died waiting)."""
    procs = Processes()
    try:
        quiet = await procs.start(
            sys.executable,
            "-c",
            "import time; print('ready', flush=True); time.sleep(600)",
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=ignore_sigint,
        )
        stubborn = await procs.start(
            sys.executable,
            "-c",
            IGNORES_SIGTERM,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=ignore_sigint,
        )
        for proc in (quiet, stubborn):
            assert proc.stdout is not None
            assert await asyncio.wait_for(proc.stdout.readline(), 20) == b"ready\n"
        quiet.send_signal(signal.SIGINT)  # what the stop sent: nothing happens
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(quiet.wait()), 0.3)
        assert await end(quiet) == -signal.SIGTERM
        assert await end(stubborn, grace=0.2) == -signal.SIGKILL
        assert await end(stubborn) == -signal.SIGKILL  # already gone: its code
    finally:
        await procs.reap()


async def test_a_run_started_in_the_background_still_stops_its_children_with_sigint() -> None:
    """A background job's SIGINT is ignored, and its children inherit that; the session hears
    it again, so a child asked to stop with SIGINT stops (it waited out the stop's 20 s)."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `make test &` in a script
    try:
        hear_sigint()
        started = Processes()
        proc = await started.start(
            sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(600)",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 60) == b"ready\n"
        assert await Processes.stop(proc, timeout=60) == -signal.SIGINT  # not a kill
        await started.reap()
    finally:
        signal.signal(signal.SIGINT, before)


async def test_the_session_watchdog_reports_stacks_and_kills_children() -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", IGNORES_SIGTERM, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    await asyncio.wait_for(child.stdout.readline(), 20)
    assert child.pid in descendants(os.getpid())
    out = io.StringIO()
    exited: list[int] = []
    lifted = threading.Event()
    watchdog = SessionWatchdog(0.05, before_report=lifted.set, out=out, exit=exited.append)
    watchdog.start()
    await asyncio.wait_for(child.wait(), 20)  # killed by the watchdog
    await asyncio.to_thread(watchdog._thread.join, 10)
    assert lifted.is_set()
    assert exited == [1]
    report = out.getvalue()
    assert "ran longer than 0 s" in report
    assert "--- thread MainThread" in report
    assert f"{child.pid}" in report
    assert child.returncode == -signal.SIGKILL


WORKER = (
    "import faulthandler, signal, sys, time\n"
    "faulthandler.register(signal.SIGUSR1, all_threads=True)\n"
    "def running_a_slow_test():\n"
    "    print('ready', flush=True); time.sleep(600)\n"
    "running_a_slow_test()\n"
)


async def test_the_watchdog_asks_the_test_workers_for_their_stacks_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under pytest-xdist the tests run in workers: their stacks (which test each is in)
    are printed before they are killed."""
    monkeypatch.setattr(processes, "WORKER_DUMP_SECONDS", 0.5)
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert worker.stdout is not None
    assert worker.stderr is not None
    await asyncio.wait_for(worker.stdout.readline(), 20)
    exited: list[int] = []
    out = io.StringIO()
    watchdog = SessionWatchdog(0.05, out=out, exit=exited.append, workers=lambda: [worker.pid])
    watchdog.start()
    stacks = await asyncio.wait_for(worker.stderr.read(), 20)  # until it is killed
    await asyncio.wait_for(worker.wait(), 20)
    await asyncio.to_thread(watchdog._thread.join, 10)
    assert exited == [1]
    assert f"the test workers' stacks ([{worker.pid}])" in out.getvalue()
    assert b"running_a_slow_test" in stacks
    assert worker.returncode == -signal.SIGKILL
    assert processes.xdist_workers() == []  # this test's own children are no xdist workers


def test_a_cancelled_watchdog_does_nothing() -> None:
    exited: list[int] = []
    watchdog = SessionWatchdog(0.05, exit=exited.append)
    watchdog.start()
    watchdog.cancel()
    watchdog._thread.join(5)
    assert exited == []


def test_leftover_threads_are_the_non_daemon_ones() -> None:
    release = threading.Event()
    stray = threading.Thread(target=release.wait, name="stray")
    stray.start()
    try:
        assert stray in leftover_threads()
        out = io.StringIO()
        dump_threads(out)
        assert "--- thread stray" in out.getvalue()
    finally:
        release.set()
        stray.join()
    assert stray not in leftover_threads()


# A stand-in for pytest: starts a child through Processes, prints its pid, then waits to be
# terminated (as CI's timeout would).
ORPHANING_PARENT = """
import asyncio, sys
from tests.processes import Processes, reap_on_terminate

async def main():
    reap_on_terminate()
    child = await Processes().start(sys.executable, "-c", "import time; time.sleep(600)")
    print(child.pid, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


@asynccontextmanager
async def _with_child(script: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """A Python process running ``script``, which prints the pid of a child it started; both
    are gone after the block, also when the test fails."""
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        child_pid = int(await asyncio.wait_for(parent.stdout.readline(), 20))
        try:
            yield parent, child_pid
        finally:
            with suppress(ProcessLookupError):
                os.kill(child_pid, signal.SIGKILL)
    finally:
        await end(parent)


async def test_a_terminated_test_run_takes_its_children_with_it() -> None:
    async with _with_child(ORPHANING_PARENT) as (parent, child_pid):
        assert child_pid in descendants(parent.pid)
        parent.terminate()  # no fixture, no finally runs: only the handler can end the child
        assert await parent.wait() == -signal.SIGTERM
        await eventually(lambda: _gone(child_pid), timeout=20)


def _gone(pid: int) -> bool:
    """Exited (no process, or a zombie waiting for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def test_a_killed_test_run_takes_its_children_with_it() -> None:
    """SIGKILL (the OOM killer, ``timeout -s KILL`` aimed at pytest alone) runs no handler:
    a child started through :class:`Processes` — a broker, a daemon — dies with it anyway
    (a fresh tester found mosquitto left running)."""
    async with _with_child(ORPHANING_PARENT) as (parent, child_pid):
        assert child_pid in descendants(parent.pid)
        parent.kill()
        assert await parent.wait() == -signal.SIGKILL
        await eventually(lambda: _gone(child_pid), timeout=20)


async def test_a_killed_demo_takes_its_mqtt_broker_with_it(tmp_path: Path) -> None:
    """The simulator's broker (``edge demo --camera mqtt``, the telemetry tests) dies with
    the process that started it, even by SIGKILL."""
    try:
        MosquittoBroker(tmp_path)
    except BrokerMissingError:
        if os.environ.get("CI") == "true":
            pytest.fail("mosquitto is missing (scripts/system-packages installs it)")
        pytest.skip("mosquitto is not installed")
    script = (
        "import asyncio, pathlib, sys\n"
        "from edge.sim.mqtt_broker import MosquittoBroker\n"
        "async def main():\n"
        f"    broker = MosquittoBroker(pathlib.Path({str(tmp_path)!r}))\n"
        "    await broker.start()\n"
        "    print(broker.proc.pid, flush=True)\n"
        "    await asyncio.sleep(600)\n"
        "asyncio.run(main())\n"
    )
    async with _with_child(script) as (parent, broker_pid):
        parent.kill()
        assert await parent.wait() == -signal.SIGKILL
        await eventually(lambda: _gone(broker_pid), timeout=20)
