"""The event loop's lag probe (issue 19): a stall of the loop is measured and shown on
/metrics of a running daemon."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from edge.ops.looplag import LoopLag
from edge.ops.metrics import Metrics
from edge.sim.platform import CityPlatformSim
from tests.helpers import config_for, eventually, running_daemon
from tests.test_metrics import samples


async def test_a_blocked_loop_is_measured_as_lag() -> None:
    seen: list[float] = []
    probe = LoopLag(seen.append, period=0.02)
    task = asyncio.create_task(probe.run())
    try:
        await asyncio.sleep(0.1)  # a few prompt wake-ups first
        assert seen
        time.sleep(0.25)  # noqa: ASYNC251 - the stall the probe must see
        await eventually(lambda: probe.max >= 0.2)
    finally:
        task.cancel()
    assert max(seen) == probe.max


def test_lags_go_to_the_histogram_and_the_worst_to_a_gauge() -> None:
    metrics = Metrics()
    for lag in (0.003, 0.3, 0.02):
        metrics.observe_loop_lag(lag)
    got = samples(metrics.render().decode())
    assert got[("edge_loop_lag_seconds_count", ())] == 3
    assert got[("edge_loop_lag_seconds_bucket", (("le", "0.1"),))] == 2  # one stall over 100 ms
    assert got[("edge_loop_lag_max_seconds", ())] == 0.3


async def test_a_running_daemon_shows_its_loop_lag_on_metrics(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        await eventually(lambda: b"edge_loop_lag_seconds_count 0.0" not in daemon.metrics.render())
        time.sleep(0.3)  # noqa: ASYNC251 - a stall of the daemon's own loop
        await asyncio.sleep(0.25)
        async with httpx.AsyncClient() as http:
            reply = await http.get(f"http://127.0.0.1:{daemon.web.port}/metrics")
    got = samples(reply.text)
    assert got[("edge_loop_lag_seconds_count", ())] >= 1
    assert (
        got[("edge_loop_lag_seconds_bucket", (("le", "0.1"),))]
        < got[("edge_loop_lag_seconds_count", ())]
    )
    assert got[("edge_loop_lag_max_seconds", ())] >= 0.2
