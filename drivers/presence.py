"""A vehicle's presence on the loop (地感), debounced, as every detector driver reports it.

Detector drivers feed raw contact samples (polled or event-driven) into :class:`Presence`; a
change counts only once the contact has held it for ``debounce`` seconds, so a chattering relay
contact or a trailer's gap does not make two vehicles. A *passage* is a vehicle leaving the
loop (present → gone); that is what confirms that an opened barrier was driven through.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: Transitions kept for ``wait_passage`` look-backs: far more than a lane sees in a minute.
_HISTORY = 256


@dataclass(frozen=True, slots=True)
class Change:
    at: float  # monotonic time the raw contact changed (not when the debounce accepted it)
    present: bool


Listener = Callable[[Change], None]


class Presence:
    def __init__(self, debounce: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self.debounce, self._clock = debounce, clock
        self.present = False
        self.changes: deque[Change] = deque(maxlen=_HISTORY)
        self._pending: tuple[asyncio.TimerHandle, Change] | None = None
        self._changed = asyncio.Event()  # replaced by a fresh one at each change
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        """Call ``listener`` with each accepted change (used for gate-crash detection)."""
        self._listeners.append(listener)

    def sample(self, present: bool) -> None:  # noqa: FBT001 - a contact reading
        """One raw reading of the contact, now."""
        if self._pending is not None:
            handle, change = self._pending
            if change.present == present:
                return  # already on its way
            handle.cancel()  # bounced back before it held: ignore both edges
            self._pending = None
        if present == self.present:
            return
        change = Change(self._clock(), present)
        if self.debounce <= 0:
            self._accept(change)
            return
        handle = asyncio.get_running_loop().call_later(self.debounce, self._accept, change)
        self._pending = (handle, change)

    def _accept(self, change: Change) -> None:
        self._pending = None
        self.present = change.present
        self.changes.append(change)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for listener in self._listeners:
            listener(change)

    async def _wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def passed_since(self, since: float) -> bool:
        """Whether a vehicle left the loop at or after monotonic time ``since``: the changes
        are in time order, so only those since are looked at (newest first; all 256 were, at
        every change while a confirmation waits)."""
        for change in reversed(self.changes):
            if change.at < since:
                return False
            if not change.present:
                return True
        return False

    async def wait_passage(self, since: float, timeout: float) -> bool:
        """Whether a vehicle left the loop at or after monotonic time ``since``, within
        ``timeout`` seconds from now."""
        return await self._wait_for(lambda: self.passed_since(since), timeout)

    async def wait_state(self, present: bool, timeout: float) -> bool:  # noqa: FBT001
        """Wait until the debounced state is ``present`` (for the technician's watch and tests)."""
        return await self._wait_for(lambda: self.present == present, timeout)

    def close(self) -> None:
        if self._pending is not None:
            self._pending[0].cancel()
            self._pending = None
