"""Stable weight → goods record committed, through the real daemon: a truck-scale indicator
on a pty (the scale simulator, Yaohua tF=0, a frame every 10 ms), the plate pushed by the
camera simulator, a preset tare so that each weighing completes and queues its goods record;
timed from the reading that completed the stable window to the committed weighing and goods
record being back in the daemon (one SQLite transaction, synchronous=FULL)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.common import bench_config, start_platform
from bench.pusher import bench_plates
from edge.daemon import Daemon
from edge.domain.weighing import StableWeight
from edge.ledger.rows import StoredWeighing
from edge.ops.logsetup import setup_logging
from edge.sim.camera import CameraSim
from edge.sim.scale import ScaleSim


async def bench_weighing(trucks: int) -> list[float]:
    """Milliseconds from stable weight to goods record committed, one per truck."""
    setup_logging("error", "json")
    platform_proc, base_url = await start_platform()
    workdir = Path(tempfile.mkdtemp(prefix="edge-bench-weighing-"))
    port = workdir / "scale"
    plates = bench_plates(trucks + 1)  # the first warms up (token, connections): not timed
    cfg = bench_config(
        workdir,
        base_url,
        sections={
            "scales": {
                "main": {
                    "port": str(port),
                    "protocol": "yaohua-tf0",
                    "stable_seconds": 0.1,
                    "lanes": ["in-1"],
                }
            },
            "weighing": {
                "preset_tare_kg": dict.fromkeys(plates, 15200),
                "default_goods": "水泥熟料",
            },
        },
    )
    took: list[float] = []
    async with ScaleSim(port, "yaohua-tf0", period=0.01) as scale:
        daemon = Daemon(cfg)
        await daemon.start()
        bridge = daemon.components.weighbridges["main"]
        stable_at: list[float] = []
        feed = bridge.detector.feed

        def timed_feed(kg: Decimal | None, at: float, **kw: bool) -> StableWeight | None:
            result = feed(kg, at, **kw)
            if result is not None:
                stable_at.append(time.monotonic())
            return result

        bridge.detector.feed = timed_feed  # type: ignore[method-assign]
        committed: asyncio.Queue[StoredWeighing] = asyncio.Queue()

        def done(row: StoredWeighing) -> None:
            took.append((time.monotonic() - stable_at[-1]) * 1000)
            committed.put_nowait(row)

        bridge.weighing_listeners.append(done)
        empty = asyncio.Event()
        bridge.indicator.on_sample(lambda sample: empty.set() if sample.kg == 0 else None)
        camera = CameraSim(f"http://127.0.0.1:{daemon.web.port}/push/in-1")
        for plate in plates:
            await camera.push(plate)
            scale.set_weight(Decimal(35680))
            row = await asyncio.wait_for(committed.get(), 10)
            assert row.ysl == "20.5", row
            scale.set_weight(Decimal(0))
            empty.clear()
            await asyncio.wait_for(empty.wait(), 10)
        await camera.aclose()
        await daemon.stop()
    platform_proc.terminate()
    await platform_proc.wait()
    return took[1:]
