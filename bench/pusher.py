"""A camera in its own process: push plates one after another, then exit.

``python -m bench.pusher URL COUNT [INTERVAL] [START]`` (START: the first plate's number) —
kept out of the daemon's process so that the camera's HTTP client does not run on the event
loop being measured.
"""

from __future__ import annotations

import asyncio
import sys

from edge.sim.camera import CameraSim


def bench_plates(count: int, start: int = 0) -> list[str]:
    """Plates that differ pairwise in at least two characters: none is a near-duplicate
    (at most 1,000 distinct ones)."""
    return [f"豫A{i:03d}{i:03d}" for i in range(start, start + count)]


async def push_all(url: str, count: int, interval: float = 0.0, start: int = 0) -> None:
    cam = CameraSim(url)
    await cam.push(f"晋E{start:05d}")  # warm up: the daemon's token and connections
    for plate in bench_plates(count, start):
        result = await cam.push(plate)
        if result.status != 200:
            raise SystemExit(f"push failed: {result.status} {result.body}")
        await asyncio.sleep(interval)
    await cam.aclose()


if __name__ == "__main__":
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    start = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    asyncio.run(push_all(sys.argv[1], int(sys.argv[2]), interval, start))
