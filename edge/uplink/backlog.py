"""How forwarding is doing: backlog, age of the oldest unsent entry, send rate, dead letters,
link state. Checked periodically; an alarm is logged once when the oldest unsent entry is older
than the limit while the link is up (forwarding falls behind for a reason other than an
outage), and once when it clears."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

import structlog

from edge.config.model import SiteConfig
from edge.domain.camera_health import CameraHealth, check_silence
from edge.ledger.filings import FilingLedger
from edge.ledger.outbox import Outbox
from edge.ops.health import FilingsBacklog, OutboxReport
from edge.uplink.breaker import LinkMonitor, LinkState

log = structlog.get_logger("edge.uplink.backlog")


#: What the monitor measured last (the outbox part of the health report).
BacklogSnapshot = OutboxReport


class SendRate:
    """Entries acknowledged by the platform in the last minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._times: deque[float] = deque()
        self._clock = clock

    def sent(self, count: int = 1) -> None:
        now = self._clock()
        self._times.extend([now] * count)

    def per_minute(self) -> int:
        cutoff = self._clock() - 60
        while self._times and self._times[0] < cutoff:
            self._times.popleft()
        return len(self._times)


class BacklogMonitor:
    """Measures the outbox of passes and that of filings; ``store``: the Store (or an Outbox
    alone: filings then count none)."""

    def __init__(
        self,
        store: Outbox,
        link: LinkMonitor,
        rate: SendRate,
        *,
        alarm_age_seconds: float,
        interval: float = 10.0,
        clock: Callable[[], float] = time.time,
        cameras: list[CameraHealth] | None = None,
        site: SiteConfig | None = None,
    ) -> None:
        self.store, self.link, self.rate = store, link, rate
        self.cameras, self.site, self.started_at = cameras or [], site, clock()
        self.alarm_age, self.interval, self._clock = alarm_age_seconds, interval, clock
        self.snapshot = BacklogSnapshot()

    async def check(self) -> BacklogSnapshot:
        counts, oldest = await self.store.backlog()
        filing_counts: dict[str, int] = {}
        filing_oldest = None
        if isinstance(self.store, FilingLedger):
            filing_counts, filing_oldest = await self.store.filing_backlog()
        now = self._clock()
        if self.site is not None:
            check_silence(
                self.cameras,
                now,
                zone=self.site.zone,
                hours=self.site.operating_hours,
                silent_minutes=self.site.camera_silent_minutes,
                started_at=self.started_at,
            )
        age = None if oldest is None else max(0.0, now - oldest)
        filing_age = None if filing_oldest is None else max(0.0, now - filing_oldest)
        worst = max((a for a in (age, filing_age) if a is not None), default=None)
        alarm = (
            worst is not None and worst > self.alarm_age and self.link.state is not LinkState.DOWN
        )
        if alarm and not self.snapshot.alarm:
            log.warning(
                "forwarding is falling behind",
                oldest_unsent_age_seconds=round(age or 0),
                pending=counts.get("pending", 0),
                oldest_unsent_filing_age_seconds=round(filing_age or 0),
                filings_pending=filing_counts.get("pending", 0),
            )
        elif self.snapshot.alarm and not alarm:
            log.info("forwarding has caught up")
        self.snapshot = BacklogSnapshot(
            pending=counts.get("pending", 0),
            held=counts.get("held", 0),
            dead=counts.get("dead", 0),
            oldest_unsent_age_seconds=None if age is None else round(age, 1),
            sent_per_minute=self.rate.per_minute(),
            link=self.link.state.value,
            alarm=alarm,
            at=now,
            filings=FilingsBacklog(
                pending=filing_counts.get("pending", 0),
                dead=filing_counts.get("dead", 0),
                oldest_unsent_age_seconds=None if filing_age is None else round(filing_age, 1),
            ),
        )
        return self.snapshot

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval)
