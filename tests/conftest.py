from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator

import pytest

from edge.ops.logsetup import setup_logging
from edge.sim.dahua_camera import DahuaCameraSim
from edge.sim.platform import CityPlatformSim, PlatformSim
from edge.sim.province import ProvincePlatformSim
from tests.processes import (
    Processes,
    SessionWatchdog,
    dump_on_sigusr1,
    dump_threads,
    hear_sigint,
    leftover_threads,
    reap_on_terminate,
)

#: The whole session's bound (seconds): above a run on 2 cores (`make test`, two workers: ~15
#: min with other work beside it; one worker took ~12 alone, 17–21 with a second suite or other
#: work), under CI's 20 minutes for `make test` so that the stacks are printed before `timeout`
#: kills it. ``SUITE_TIME_LIMIT_SECONDS`` changes it (on a machine loaded further).
SESSION_LIMIT = float(os.environ.get("SUITE_TIME_LIMIT_SECONDS", "1140"))
#: How long threads left running after the session may take to finish before the run ends.
LEFTOVER_GRACE_SECONDS = 10.0

_watchdog: SessionWatchdog | None = None
_exitstatus = 0


def pytest_configure(config: pytest.Config) -> None:
    global _watchdog  # noqa: PLW0603 — one per session
    if hasattr(config, "workerinput"):  # pragma: no cover — a pytest-xdist worker
        dump_on_sigusr1()  # the session's watchdog asks for the stacks before it kills
        reap_on_terminate()  # `timeout` signals the whole group: a worker takes its own along
        return
    capman = config.pluginmanager.getplugin("capturemanager")

    def lift_capture() -> None:
        if capman is not None:
            capman.suspend_global_capture(in_=True)

    _watchdog = SessionWatchdog(SESSION_LIMIT, before_report=lift_capture)
    _watchdog.start()
    reap_on_terminate()
    hear_sigint()


def pytest_sessionfinish(exitstatus: int) -> None:
    global _exitstatus  # noqa: PLW0603
    _exitstatus = int(exitstatus)


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure() -> None:
    """Threads left running keep the interpreter from exiting, so pytest would never return
    (e.g. the aiosqlite connection of a daemon whose test was cut short by its timeout):
    give them a moment, and if any still runs, show where and end the run as failed."""
    if _watchdog is not None:
        _watchdog.cancel()
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    for thread in leftover_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    if stuck := leftover_threads():
        out = sys.__stderr__ or sys.stderr
        print(
            f"\nthreads still running after the session: {[t.name for t in stuck]}; "
            "their stacks follow and the run ends as failed instead of hanging",
            file=out,
        )
        dump_threads(out)
        os._exit(_exitstatus or 1)


@pytest.fixture
async def procs() -> AsyncIterator[Processes]:
    """Start processes with ``procs.start`` / ``procs.edge``: every one still running when
    the test ends (passed or not) is terminated, then killed."""
    started = Processes()
    try:
        yield started
    finally:
        await started.reap()


@pytest.fixture(autouse=True)
def _console_logs() -> None:
    setup_logging("debug", "console")


@pytest.fixture
async def platform_sim() -> AsyncIterator[CityPlatformSim]:
    sim = CityPlatformSim()
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture(params=["city", "province"])
async def any_platform(request: pytest.FixtureRequest) -> AsyncIterator[PlatformSim]:
    """The platform simulator of either API: tests using it run in both modes."""
    sim: PlatformSim = CityPlatformSim() if request.param == "city" else ProvincePlatformSim()
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def dahua() -> AsyncIterator[DahuaCameraSim]:
    """A Dahua camera double serving the eventManager attach stream."""
    cam = DahuaCameraSim()
    await cam.start()
    yield cam
    await cam.stop()
