"""Vehicles first: background work (forwarding) yields while a lane is handling a vehicle.

A lane holds :class:`LaneActivity` from a plate's arrival until its barrier and LED commands
are out; the forwarder waits for a quiet moment before it starts a send or books its result.
At one pass a second nothing waits; while a large backlog drains after an outage, arriving
trucks do not queue behind it.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class LaneActivity:
    def __init__(self) -> None:
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __enter__(self) -> None:
        self._busy += 1
        self._idle.clear()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()
