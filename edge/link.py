"""The platform link: a circuit breaker, logged once when it goes down and once when back.

After ``failures_to_open`` consecutive connection failures (refused, reset, timeout) the link
is DOWN: lanes decide offline at once instead of waiting out the deadline for every truck,
and the forwarder stops sending. While DOWN, one caller at a time may act as the probe every
``probe_interval`` seconds; the first success closes the breaker (UP). Other failures (5xx,
rejections) mean the platform answers, so they do not open it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import StrEnum

import structlog

log = structlog.get_logger("edge.link")


class LinkState(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class LinkMonitor:
    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        failures_to_open: int = 3,
        probe_interval: float = 5.0,
    ) -> None:
        self.state = LinkState.UNKNOWN
        self.since = clock()
        self.last_error: str | None = None
        self.failures_to_open, self.probe_interval = failures_to_open, probe_interval
        self.consecutive_failures = 0
        self.next_probe_at = 0.0
        self._clock = clock
        #: Set when the link comes back (the forwarder waits on it while DOWN).
        self.up_again = asyncio.Event()

    @property
    def down(self) -> bool:
        return self.state is LinkState.DOWN

    def permit(self) -> bool:
        """May a request be made now? While DOWN, only the probe (one per interval) may."""
        if self.state is not LinkState.DOWN:
            return True
        now = self._clock()
        if now >= self.next_probe_at:
            self.next_probe_at = now + self.probe_interval
            return True
        return False

    def seconds_to_probe(self) -> float:
        return max(0.0, self.next_probe_at - self._clock()) if self.down else 0.0

    def success(self) -> None:
        self.consecutive_failures = 0
        if self.state is LinkState.DOWN:
            log.info("platform reachable again", down_seconds=round(self._clock() - self.since, 1))
        if self.state is not LinkState.UP:
            self.state, self.since = LinkState.UP, self._clock()
            self.up_again.set()

    def failure(self, error: str, *, connection: bool = True) -> None:
        """Note a failed call; ``connection`` failures count towards opening the breaker."""
        self.last_error = error
        if not connection:
            return
        self.consecutive_failures += 1
        if self.state is LinkState.DOWN:
            return
        if self.consecutive_failures >= self.failures_to_open:
            log.warning("platform unreachable", error=error, failures=self.consecutive_failures)
            self.state, self.since = LinkState.DOWN, self._clock()
            self.next_probe_at = self.since + self.probe_interval
            self.up_again.clear()
