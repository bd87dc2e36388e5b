"""Crash test: a real daemon process is killed with SIGKILL at random moments while plate
events stream in, and restarted, at least ten times. Every pass it acknowledged to the camera
must reach the platform with its photo; the only duplicates allowed are sends that were in
flight at a kill (the platform got them, the daemon never learnt it)."""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import os
import random
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from edge.sim.jpeg import sample_jpeg
from edge.sim.platform import CityPlatformSim
from tests.helpers import eventually, free_port, wait_healthy, write_config
from tests.processes import Processes

KILLS = 10


def _config(tmp_path: Path, base_url: str, port: int) -> Path:
    return write_config(
        tmp_path / "config.toml",
        base_url,
        port=port,
        platform_extra="breaker_probe_seconds = 0.2",
        extra=(
            '[decision]\noffline_policy = "allow"\n'
            "[forwarder]\nbackoff_initial_seconds = 0.05\nbackoff_max_seconds = 0.2\n"
            '[logging]\nlevel = "warning"'
        ),
        camera="max_pushes_per_second = 1000",  # vehicles back to back: 50× a gate's busiest
    )


async def _start(procs: Processes, config: Path, port: int) -> asyncio.subprocess.Process:
    proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
    async with httpx.AsyncClient() as http:
        await wait_healthy(http, port)
    return proc


@pytest.mark.timeout(300)  # KILLS daemon starts; over 120 s when two suites share 2 cores
async def test_sigkill_at_random_moments_loses_nothing(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    rng = random.Random(20261121)
    port = free_port()
    config = _config(tmp_path, platform_sim.base_url, port)
    acknowledged: list[str] = []
    kills: list[tuple[float, float]] = []  # (killed at, next daemon spawned at)
    plates = (f"豫A{i:03d}{i:03d}" for i in range(1000))  # pairwise ≥ 2 characters apart
    photo = base64.b64encode(sample_jpeg("crash test")).decode()

    async with httpx.AsyncClient(timeout=5) as http:

        async def camera(stop: asyncio.Event) -> None:
            while not stop.is_set():
                body = {"plate": next(plates), "images": {"scene": photo}}
                try:
                    reply = await http.post(f"http://127.0.0.1:{port}/push/in-1", json=body)
                except httpx.TransportError:
                    await asyncio.sleep(0.02)  # the daemon is down; the next vehicle comes
                    continue
                if reply.status_code == 200:
                    acknowledged.append(reply.json()["serial"])

        killed_at: float | None = None
        for _ in range(KILLS):
            spawned_at = time.monotonic()
            if killed_at is not None:
                kills.append((killed_at, spawned_at))
            proc = await _start(procs, config, port)
            stop = asyncio.Event()
            pushing = asyncio.create_task(camera(stop))
            # On a loaded machine a run may start slowly: let each one get a few passes through.
            await eventually(functools.partial(_at_least, acknowledged, len(acknowledged) + 3), 30)
            await asyncio.sleep(rng.uniform(0.1, 0.6))  # a random moment…
            killed_at = time.monotonic()
            os.kill(proc.pid, signal.SIGKILL)  # …to pull the plug
            await proc.wait()
            stop.set()
            await pushing

        assert killed_at is not None
        kills.append((killed_at, time.monotonic()))
        proc = await _start(procs, config, port)  # a last run that is left to finish
        try:
            await platform_sim.wait_for(
                lambda: (
                    set(acknowledged) <= set(platform_sim.records)
                    and all(platform_sim.photos.get(s) for s in acknowledged)
                ),
                timeout=60,
            )
        finally:
            await procs.stop(proc, signal.SIGTERM)

    assert len(kills) >= 10
    assert len(acknowledged) > 20, "the camera should have got many passes through"
    duplicates = []
    for (kind, serial), times in _arrival_times(platform_sim).items():
        for first, second in itertools.pairwise(times):
            duplicates.append((kind, serial))
            # Explained only by a kill: the first send reached the platform before the next
            # daemon was spawned (it was in flight when the old one died; the simulator may
            # handle it a moment after the kill), the second came after the kill.
            assert any(first <= respawn and second >= kill for kill, respawn in kills), (
                kind,
                serial,
                first,
                second,
            )
    print(  # noqa: T201 - the issue asks the test to print this
        f"\ncrash test: {len(kills)} kills, {len(acknowledged)} passes acknowledged, "
        f"{len(platform_sim.records)} records, {len(duplicates)} duplicates "
        f"(each sent again after a kill interrupted it in flight)",
        file=sys.stderr,
    )


def _at_least(items: list[str], count: int) -> bool:
    return len(items) >= count


def _arrival_times(sim: CityPlatformSim) -> dict[tuple[str, str], list[float]]:
    times: dict[tuple[str, str], list[float]] = {}
    for kind, serial, at in sim.arrivals:
        times.setdefault((kind, serial), []).append(at)
    return times
