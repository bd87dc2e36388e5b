"""The platform link state, logged once when it goes down and once when it is back."""

from __future__ import annotations

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
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.state = LinkState.UNKNOWN
        self.since = clock()
        self.last_error: str | None = None
        self._clock = clock

    def success(self) -> None:
        if self.state is LinkState.DOWN:
            log.info("platform reachable again", down_seconds=round(self._clock() - self.since, 1))
        if self.state is not LinkState.UP:
            self.state, self.since = LinkState.UP, self._clock()

    def failure(self, error: str) -> None:
        self.last_error = error
        if self.state is not LinkState.DOWN:
            log.warning("platform unreachable", error=error)
            self.state, self.since = LinkState.DOWN, self._clock()
