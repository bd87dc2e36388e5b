"""Refusing cheaply what nobody asked for: how long a refusal is held, and logging refusals
once per source (:class:`RefusalLog`) or once when they start and once when they stop
(:class:`RefusalSpell`), not once per request (a flood must not flood the log: each line is a
JSON record written to the journal). Used by the camera pushes (:mod:`edge.ingest.http_push`),
the listeners (:mod:`edge.web.server`) and the photo listener."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: A push beyond the lane's budget waits up to this many seconds for its place in it (taken
#: then, in the order the pushes came: a camera's burst is slowed, not refused), and a push
#: refused before its body is read (beyond even that, not from the lane's camera, or for no
#: lane here: 429, 401, 404) is answered this long after it came (what its ``Retry-After``
#: says), not at once. A sender that sends its next push when it has the answer to the last
#: (cameras do, and so do scripts) is slowed to the lane's rate plus one refusal a second per
#: connection, each a sleeping task instead of the event loop's time: refused at once, such a
#: flood came back as fast as it was answered (~1,000 pushes a second, each ~0.3–0.5 ms of
#: aiohttp's CPU: a third of the loop every lane's plate → barrier path shares). nginx's
#: ``limit_req`` (burst with delay) and login forms do the same. The refusals waiting are
#: bounded by the listener's connection caps (each holds its connection). A sender that does
#: not wait for its answers is limited by the listener's rate of new connections per address
#: (:class:`edge.web.server.GuardedSite`), keep-alives by budgets of their own.
REFUSAL_HOLD_SECONDS = 1.0
#: A flood is told as over when nothing was refused for this many seconds (logged with the
#: next request served): a flood slowed by :data:`REFUSAL_HOLD_SECONDS` has pushes taken
#: between its refusals, which are not its end.
FLOOD_OVER_SECONDS = 10.0


@dataclass(slots=True)
class RefusalSpell:
    """Refusals told as a spell, not one by one (Home Assistant's "log once when unavailable,
    once when back"): :meth:`refuse` says when a refusal starts a spell, :meth:`over` when a
    request served at ``now`` ends one — the first :data:`FLOOD_OVER_SECONDS` or more after the
    last refusal — and how many the spell refused. The caller logs both lines."""

    refused: int = 0  # in the spell now (0: no spell)
    last_refused: float = float("-inf")

    def refuse(self, now: float) -> bool:
        """Count one refusal at ``now`` (monotonic seconds); True when it starts a spell."""
        self.refused += 1
        self.last_refused = now
        return self.refused == 1

    def over(self, now: float) -> int | None:
        """How many were refused in the spell when a request at ``now`` ends it, else None."""
        if self.refused and now - self.last_refused >= FLOOD_OVER_SECONDS:
            refused, self.refused = self.refused, 0
            return refused
        return None


@dataclass(slots=True)
class RefusalLog:
    """Logs refusals (pushes, connections, bodies, malformed requests) once per source and
    ``interval`` seconds, not once each: the first refusal of a kind from a (lane or listener,
    address) is logged, later ones within the interval only counted, and told
    (``refused_since``) with the next line. A flood must not flood the log
    (each line is a JSON record written to the journal). At most ``sources`` sources are
    remembered; beyond that the oldest are forgotten (logged again when next refused)."""

    interval: float = 60.0
    sources: int = 1024
    clock: Callable[[], float] = time.monotonic
    _seen: dict[tuple[str, str, str], tuple[float, int]] = field(default_factory=dict)

    def refused(self, why: str, lane: str, peer: str) -> int | None:
        """Count one refusal for ``why``; how many were since the last line (this one included)
        when it is time to log one, else None."""
        now, key = self.clock(), (why, lane, peer)
        logged, since = self._seen.get(key, (float("-inf"), 0))
        since += 1
        if now - logged < self.interval:
            self._seen[key] = (logged, since)
            return None
        self._seen.pop(key, None)  # re-inserted last: the dict stays oldest first
        if len(self._seen) >= self.sources:
            del self._seen[next(iter(self._seen))]
        self._seen[key] = (now, 0)
        return since
