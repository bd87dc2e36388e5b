"""Plate event → relay coil written on a Modbus TCP relay board (the board double on
127.0.0.1), through the real daemon; the platform simulator and the camera run in their own
processes, as in bench/pipeline.py."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import bench_config, free_port, run_camera, start_platform
from bench.pusher import bench_plates
from edge.daemon import Daemon
from edge.domain.events import PlateEvent
from edge.gate.lane import LaneOutcome
from edge.ops.logsetup import setup_logging
from edge.sim.relay_board import Command, RelayBoardSim


async def bench_relay(events: int, interval: float) -> list[float]:
    setup_logging("error", "json")
    on_times: list[float] = []

    def timed(command: Command) -> None:
        if command == Command(5, 0, 1):  # coil 0 on: the barrier's OPEN contact closes
            on_times.append(time.monotonic())

    board = RelayBoardSim(on_command=timed, drive_through=False)
    await board.start(free_port())
    platform_proc, base_url = await start_platform()
    workdir = Path(tempfile.mkdtemp(prefix="edge-bench-relay-"))
    cfg = bench_config(
        workdir,
        base_url,
        modbus={"board": {"host": "127.0.0.1", "port": board.port}},
        barrier={"driver": "modbus-relay", "bus": "board", "pulse_ms": 100, "board": "plain"},
        detector={"driver": "none"},
    )
    daemon = Daemon(cfg)
    await daemon.start()
    lane = daemon.lanes["in-1"]
    received: list[float] = []
    submit = lane.submit

    def timed_submit(event: PlateEvent) -> asyncio.Future[LaneOutcome]:
        if event.plate in plates:
            received.append(event.received_mono)
        return submit(event)

    plates = set(bench_plates(events))
    lane.submit = timed_submit  # type: ignore[method-assign]
    await run_camera(daemon.web.port, events, interval)
    await daemon.stop()
    await board.stop()
    platform_proc.terminate()
    await platform_proc.wait()
    # the warm-up push opened the barrier too: its coil-on comes first
    return [(on - at) * 1000 for on, at in zip(on_times[-len(received) :], received, strict=True)]
