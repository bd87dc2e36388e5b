"""Two cameras in one process of their own: a hostile one pushing a ``PLATE_KB`` KB plate to one
lane (from 127.0.0.2) and, at the same moment, a normal one pushing a plate to another lane;
both round trips timed at the client. Before that, the normal camera alone (the quiet round
trip). Prints one JSON object: ``quiet_ms``, ``refusal_ms``, ``other_ms`` and the statuses.

``python -m bench.longplate BASE_URL HOSTILE_LANE OTHER_LANE ROUNDS [PLATE_KB]``
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx

from bench.hostile import SOURCE


def _plates(prefix: str, count: int) -> list[str]:
    """Plates that differ pairwise in at least two characters (no near-duplicates)."""
    return [f"{prefix}{i:03d}{i:03d}" for i in range(count)]


async def _timed(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> tuple[float, int]:
    started = time.perf_counter()
    reply = await http.post(url, json=body)
    return (time.perf_counter() - started) * 1000, reply.status_code


async def measure(
    base: str, hostile_lane: str, other_lane: str, rounds: int, plate_kb: int
) -> dict[str, Any]:
    hostile_url, other_url = f"{base}/push/{hostile_lane}", f"{base}/push/{other_lane}"
    transport = httpx.AsyncHTTPTransport(local_address=SOURCE)
    async with (
        httpx.AsyncClient(timeout=10) as camera,
        httpx.AsyncClient(timeout=10, transport=transport) as attacker,
    ):
        await camera.post(other_url, json={"plate": "晋E99999"})  # warm: token, connection
        await attacker.post(hostile_url, json={"plate": "晋E88888"})
        quiet = [
            (await _timed(camera, other_url, {"plate": plate}))[0]
            for plate in _plates("晋A", rounds)
        ]
        refusal, other, statuses = [], [], []
        for n, plate in enumerate(_plates("晋B", rounds)):
            long_plate = "豫" + "A" * (plate_kb * 1024) + str(n)
            (bad, bad_status), (good, good_status) = await asyncio.gather(
                _timed(attacker, hostile_url, {"plate": long_plate}),
                _timed(camera, other_url, {"plate": plate}),
            )
            refusal.append(bad)
            other.append(good)
            statuses.append((bad_status, good_status))
    return {"quiet_ms": quiet, "refusal_ms": refusal, "other_ms": other, "statuses": statuses}


if __name__ == "__main__":
    result = asyncio.run(
        measure(
            sys.argv[1],
            sys.argv[2],
            sys.argv[3],
            int(sys.argv[4]),
            int(sys.argv[5]) if len(sys.argv) > 5 else 100,
        )
    )
    print(json.dumps(result))
