"""One access token per platform: fetched once however many requests need it at the same
moment, refreshed before it expires, dropped (once) when the platform refuses it.

Also the platform's clock: both auth replies carry the server time; the offset is measured
at each fetch and a warning logged when the local clock is off by more than the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from edge.uplink.platform.http import PlatformHttp

log = structlog.get_logger("edge.uplink.platform.token")


@dataclass(frozen=True, slots=True)
class Grant:
    """A fetched token, how long it lives, and the platform's clock when it was issued."""

    token: str
    lifetime_seconds: float
    server_time: datetime | None = None


class TokenKeeper:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[Grant]],
        *,
        refresh_margin: float,
        clock_limit_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._fetch, self._margin, self._limit = fetch, refresh_margin, clock_limit_seconds
        self._mono, self._wall = monotonic, wall
        self._token: str | None = None
        self._expiry = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0
        #: Called after each token fetched: the platform answers (the link closes at once).
        self.on_fetched: Callable[[], None] | None = None
        #: Platform clock minus local clock, in seconds, from the latest fetch.
        self.clock_offset_seconds: float | None = None

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or self._mono() >= self._expiry:
                started = self._mono()
                grant = await self._fetch()
                self.fetches += 1
                self._token = grant.token
                self._expiry = started + max(0.0, grant.lifetime_seconds - self._margin)
                self._note_server_time(grant.server_time)
                log.info("platform token fetched", fetches=self.fetches)
                if self.on_fetched is not None:
                    self.on_fetched()
            return self._token

    def corrected(self, when: datetime) -> datetime:
        """``when`` on the platform's clock (the offset in whole seconds: the server time has
        one-second resolution)."""
        if self.clock_offset_seconds is None:
            return when
        return when + timedelta(seconds=round(self.clock_offset_seconds))

    async def drop(self, token: str) -> None:
        """Forget ``token`` after the platform refused it; only the first of many callers
        holding the same refused token causes a new fetch."""
        async with self._lock:
            if self._token == token:
                self._token = None

    def _note_server_time(self, server: datetime | None) -> None:
        if server is None:
            return
        # The server reports whole seconds, i.e. the true time lies in [t, t + 1): take the middle.
        self.clock_offset_seconds = server.timestamp() + 0.5 - self._wall()
        if abs(self.clock_offset_seconds) > self._limit:
            log.warning(
                "local clock differs from the platform's",
                offset_seconds=round(self.clock_offset_seconds, 1),
                limit_seconds=self._limit,
            )


class TokenClient:
    """What both API clients share: their HTTP client, one token keeper, and the platform's
    clock (record times are stamped with it when ``stamp_corrected_time`` is on)."""

    def __init__(
        self,
        http: PlatformHttp,
        fetch: Callable[[], Awaitable[Grant]],
        *,
        zone: ZoneInfo,
        refresh_margin: float,
        clock_limit: float,
        stamp_corrected_time: bool,
        clock: Callable[[], float],
    ) -> None:
        self._http, self._zone, self._stamp = http, zone, stamp_corrected_time
        self.tokens = TokenKeeper(
            fetch, refresh_margin=refresh_margin, clock_limit_seconds=clock_limit, monotonic=clock
        )

    @property
    def clock_offset_seconds(self) -> float | None:
        return self.tokens.clock_offset_seconds

    def local_time(self, when: datetime) -> datetime:
        """``when`` in the site's zone, on the platform's clock if so configured."""
        if self._stamp:
            when = self.tokens.corrected(when)
        return when.astimezone(self._zone)

    async def aclose(self) -> None:
        await self._http.aclose()
