"""One capped exponential backoff for every retry loop: drivers' links, camera readers, the
supervisor, MQTT telemetry and the forwarder (which is why it lives in ``drivers/``, the
lowest layer: drivers never import ``edge``, ``edge`` may use it)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

#: Exponents above this are capped (the delay is long at ``maximum`` by then; no overflow).
_MAX_EXPONENT = 64


@dataclass(slots=True)
class Backoff:
    """Delays in seconds: ``initial``, ``initial * factor``, … never above ``maximum``.

    ``jitter`` (0 … 1) is the random fraction of each delay: 0 is none; 0.5 is "equal jitter"
    (half fixed, half random), which spreads many retrying clients apart. ``rand`` returns a
    number in [0, 1] (``random.random``; a fixed one in tests).

    Use :meth:`next` in a retry loop and :meth:`reset` once the thing worked again; or
    :meth:`delay` for a retry count kept elsewhere (the outbox stores each entry's attempts).
    Raises :class:`ValueError` for a non-positive ``initial``, a ``maximum`` below it, a
    ``factor`` below 1 or a ``jitter`` outside 0 … 1.
    """

    initial: float
    maximum: float
    factor: float = 2.0
    jitter: float = 0.0
    rand: Callable[[], float] = random.random
    attempts: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError(f"backoff needs 0 < initial <= maximum, not {self!r}")
        if self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff needs factor >= 1 and jitter in 0 … 1, not {self!r}")

    def delay(self, attempts: int) -> float:
        """The delay after ``attempts`` earlier failures (0: the first retry)."""
        ceiling = min(self.maximum, self.initial * self.factor ** min(attempts, _MAX_EXPONENT))
        fixed = ceiling * (1 - self.jitter)
        return fixed + (ceiling - fixed) * self.rand() if self.jitter else ceiling

    def next(self) -> float:
        """The delay before the next retry; each call backs off further."""
        delay = self.delay(self.attempts)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """It worked again: the next retry waits ``initial`` again."""
        self.attempts = 0
