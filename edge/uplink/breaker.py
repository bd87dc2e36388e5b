"""The platform link: its state with the reason it is down, and a circuit breaker.

**State** (``/healthz``, the status page, ``/metrics``, MQTT): ``down`` as soon as a call
fails for a reason of the link — the login or token refused, a reply that cannot be read (an
HTML page with HTTP 200), a timeout, no connection, a server error (5xx) — with that reason
and the platform's own words; ``up`` as soon as any call succeeds (a forward, a probe, a
verification, a token). The first failure of each kind is logged once, with the platform's
words, and once again when it clears ("log once when unavailable, once when back").

**Breaker**: after ``failures_to_open`` consecutive failures that cost waiting (timeouts, no
connection) it opens: lanes decide offline at once instead of waiting out the deadline for
every truck, and the forwarder stops sending. While open, one caller at a time may act as
the probe every ``probe_interval`` seconds; any success closes it at once, so the next truck
is verified online again. Failures that come back at once (refused login, unreadable reply,
5xx) do not open it: waiting for them costs nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import StrEnum

import structlog

from edge.uplink.platform.errors import (
    InvalidReplyError,
    PlatformAuthError,
    PlatformServerError,
    PlatformUnavailableError,
)

log = structlog.get_logger("edge.uplink.breaker")


class LinkState(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class LinkFailure(StrEnum):
    """Why the link is down (``/healthz`` ``link_reason``)."""

    AUTH_REFUSED = "auth-refused"
    UNREADABLE_REPLY = "unreadable-reply"
    TIMEOUT = "timeout"
    NO_CONNECTION = "no-connection"
    SERVER_ERROR = "server-error"

    @property
    def opens_breaker(self) -> bool:
        """Failures that make each caller wait (a timeout, a connection attempt)."""
        return self in (LinkFailure.TIMEOUT, LinkFailure.NO_CONNECTION)


def classify(exc: BaseException) -> LinkFailure | None:
    """The link failure an exception stands for; None when the platform did answer (a
    rejection of the message) or the error is ours."""
    if isinstance(exc, PlatformAuthError):
        return LinkFailure.AUTH_REFUSED
    if isinstance(exc, InvalidReplyError):
        return LinkFailure.UNREADABLE_REPLY
    if isinstance(exc, PlatformServerError):
        return LinkFailure.SERVER_ERROR
    if isinstance(exc, PlatformUnavailableError):
        return LinkFailure.TIMEOUT if exc.timeout else LinkFailure.NO_CONNECTION
    return None


#: What the status page shows for each reason (Chinese, for the guards).
FAILURE_NAMES = {
    LinkFailure.AUTH_REFUSED: "账号或授权码被拒",
    LinkFailure.UNREADABLE_REPLY: "平台回复无法识别",
    LinkFailure.TIMEOUT: "平台无响应（超时）",
    LinkFailure.NO_CONNECTION: "无法连接平台",
    LinkFailure.SERVER_ERROR: "平台服务器错误",
}


def failure_name(reason: str | None) -> str | None:
    """The Chinese words for a ``link_reason`` (``None`` while the link is not down)."""
    return None if reason is None else FAILURE_NAMES[LinkFailure(reason)]


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
        self.reason: LinkFailure | None = None
        self.last_error: str | None = None
        self.failures_to_open, self.probe_interval = failures_to_open, probe_interval
        self.consecutive_failures = 0
        self.breaker_open = False
        self.next_probe_at = 0.0
        self._clock = clock
        self._failing: dict[LinkFailure, float] = {}  # kinds logged as failing, since when
        #: Set when the breaker closes (the forwarder waits on it while open).
        self.up_again = asyncio.Event()

    @property
    def down(self) -> bool:
        """The breaker is open: decide offline at once, forward only a probe."""
        return self.breaker_open

    def permit(self) -> bool:
        """May a request be made now? While the breaker is open, only the probe (one per
        interval) may."""
        if not self.breaker_open:
            return True
        now = self._clock()
        if now >= self.next_probe_at:
            self.next_probe_at = now + self.probe_interval
            return True
        return False

    def seconds_to_probe(self) -> float:
        return max(0.0, self.next_probe_at - self._clock()) if self.breaker_open else 0.0

    def success(self) -> None:
        """A call succeeded: the link is up and the breaker closed, at once."""
        now = self._clock()
        self.consecutive_failures = 0
        for kind, since in self._failing.items():
            log.info(
                "platform failure cleared", reason=kind.value, lasted_seconds=round(now - since, 1)
            )
        self._failing.clear()
        if self.breaker_open:
            log.info("platform reachable again", down_seconds=round(now - self.since, 1))
            self.breaker_open = False
        if self.state is not LinkState.UP:
            self.state, self.since, self.reason = LinkState.UP, now, None
        self.up_again.set()

    def failure(self, error: str, kind: LinkFailure) -> None:
        """A call failed for a reason of the link: the state is ``down`` with ``kind``; the
        first failure of a kind is logged with the platform's words (``error``)."""
        now = self._clock()
        self.last_error = error
        if kind not in self._failing:
            self._failing[kind] = now
            log.warning("platform call failing", reason=kind.value, error=error)
        if self.state is not LinkState.DOWN:
            self.since = now
        self.state, self.reason = LinkState.DOWN, kind
        if not kind.opens_breaker:
            return
        self.consecutive_failures += 1
        if self.breaker_open or self.consecutive_failures < self.failures_to_open:
            return
        log.warning("platform unreachable", error=error, failures=self.consecutive_failures)
        self.breaker_open = True
        self.next_probe_at = now + self.probe_interval
        self.up_again.clear()

    def to_json(self) -> dict[str, object]:
        """For ``/healthz``: the state, why it is down, the platform's words, since when."""
        return {
            "state": self.state.value,
            "reason": None if self.reason is None else self.reason.value,
            "error": self.last_error if self.state is LinkState.DOWN else None,
            "breaker_open": self.breaker_open,
            "since": self.since,
        }
