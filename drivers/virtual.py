"""Simulated barrier, LED display and vehicle detector, for the demo, rehearsals and tests.

The virtual detector can be tied to a virtual barrier: after each opening a simulated vehicle
drives through (present, then gone) ``pass_after`` seconds later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from drivers.base import Actuation, DisplayLine, DriverHealth, Lifecycle
from drivers.presence import Presence

log = structlog.get_logger("drivers.virtual")


@dataclass(frozen=True, slots=True)
class Opening:
    at: float  # monotonic
    plate: str | None


#: Openings a virtual barrier remembers (the latest; :attr:`VirtualBarrier.opened` counts
#: them all): it kept every one, for ever — ~170 bytes a vehicle that a demo or rehearsal
#: running for days never gave back.
OPENINGS_KEPT = 10_000


class VirtualBarrier(Lifecycle):
    def __init__(self, name: str = "barrier") -> None:
        self.name = name
        self.health = DriverHealth()
        #: The last :data:`OPENINGS_KEPT` openings, oldest first; ``opened``: how many in all.
        self.openings: list[Opening] = []
        self.opened = 0
        self._listeners: list[Callable[[], None]] = []
        self._changed = asyncio.Condition()

    def on_open(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    async def open(self, ctx: Actuation) -> None:
        self.openings.append(Opening(time.monotonic(), ctx.plate))
        self.opened += 1
        if len(self.openings) > OPENINGS_KEPT:
            del self.openings[0]
        self.health.ok()
        log.info("道闸抬杆 barrier opened", lane=ctx.lane_id, plate=ctx.plate)
        for listener in self._listeners:
            listener()
        async with self._changed:
            self._changed.notify_all()

    async def wait_openings(self, count: int, timeout: float) -> None:
        """Wait until at least ``count`` openings happened (for tests and the demo)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.opened >= count)


#: Texts a virtual display remembers (the latest): it kept every vehicle's, for ever — a few
#: hundred bytes a vehicle that a rehearsal or a benchmark running for days never gave back
#: (found in issue 19's steady-RSS profile).
SHOWN_KEPT = 100


class VirtualDisplay(Lifecycle):
    def __init__(self, name: str = "led") -> None:
        self.name = name
        self.health = DriverHealth()
        #: What it showed, oldest first: the last :data:`SHOWN_KEPT`.
        self.shown: list[list[str]] = []

    async def show(self, lines: Sequence[DisplayLine], ctx: Actuation) -> None:
        texts = [line.text for line in lines]
        self.shown.append(texts)
        if len(self.shown) > SHOWN_KEPT:
            del self.shown[0]
        self.health.ok()
        log.info("LED显示 LED shows", text=" | ".join(texts), lane=ctx.lane_id)


class VirtualDetector(Lifecycle):
    def __init__(self, barrier: VirtualBarrier | None = None, pass_after: float = 1.0) -> None:
        self.health = DriverHealth()
        self.pass_after = pass_after
        self.presence = Presence(debounce=0)
        if barrier is not None:
            barrier.on_open(self._vehicle_drives_through)

    def _vehicle_drives_through(self) -> None:
        asyncio.get_running_loop().call_later(self.pass_after, self.vehicle_passed)

    def vehicle_passed(self) -> None:
        """A vehicle crossed the loop (present, then gone) just now."""
        self.presence.sample(True)  # noqa: FBT003 - a contact reading
        self.presence.sample(False)  # noqa: FBT003

    async def wait_passage(self, since: float, timeout: float) -> bool:
        return await self.presence.wait_passage(since, timeout)
