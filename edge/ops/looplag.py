"""How late the event loop runs a timer (issue 19's loop-lag probe).

A stalled event loop delays everything at once — a push's answer, the coil write, the
watchdog's ping — and shows in none of them by name. The probe sleeps ``period`` seconds
again and again and records by how much each wake-up came late: ``edge_loop_lag_seconds``
(a histogram: how many stalls over 100 ms) and ``edge_loop_lag_max_seconds`` (the worst
since the start) on ``/metrics``. It costs ten timer wake-ups a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Seconds between the probe's wake-ups: a stall shorter than this can go unseen.
PERIOD = 0.1


class LoopLag:
    def __init__(
        self,
        observe: Callable[[float], None] | None = None,
        *,
        period: float = PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.period, self._clock, self._observe = period, clock, observe
        #: The last lag measured and the worst since the start (seconds).
        self.last = 0.0
        self.max = 0.0

    def record(self, lag: float) -> None:
        lag = max(0.0, lag)
        self.last, self.max = lag, max(self.max, lag)
        if self._observe is not None:
            self._observe(lag)

    async def run(self) -> None:
        while True:
            before = self._clock()
            await asyncio.sleep(self.period)
            self.record(self._clock() - before - self.period)
