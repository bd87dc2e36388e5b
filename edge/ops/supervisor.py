"""Supervised components: a crash is logged and the component restarted, the daemon lives on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from drivers.backoff import Backoff

log = structlog.get_logger("edge.ops.supervisor")

_HEALTHY_RUN_SECONDS = 60.0
#: How often :meth:`Supervisor.stop` asks again a component that has not ended.
STOP_RECHECK_SECONDS = 1.0


class Supervisor:
    def __init__(self, initial_delay: float = 1.0, max_delay: float = 30.0) -> None:
        self.initial_delay, self.max_delay = initial_delay, max_delay
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running: set[str] = set()  # components inside their run (not waiting to restart)
        self.restarts: dict[str, int] = {}
        self.optional: set[str] = set()  # components the gate works without (MQTT telemetry)

    def start(
        self, name: str, factory: Callable[[], Awaitable[None]], *, optional: bool = False
    ) -> None:
        """Run ``factory`` supervised; an ``optional`` component's state never makes the gate
        unhealthy (:meth:`essential_alive`)."""
        self.restarts[name] = 0
        if optional:
            self.optional.add(name)
        self._tasks[name] = asyncio.create_task(self._supervise(name, factory), name=name)

    async def _supervise(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        backoff = Backoff(self.initial_delay, self.max_delay)
        while True:
            delay = backoff.delay(backoff.attempts)
            started = time.monotonic()
            self._running.add(name)
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("component crashed; restarting", component=name, delay=delay)
            else:
                log.warning("component stopped; restarting", component=name, delay=delay)
            finally:
                self._running.discard(name)
            if time.monotonic() - started > _HEALTHY_RUN_SECONDS:
                backoff.reset()
            self.restarts[name] += 1
            await asyncio.sleep(backoff.next())

    def alive(self) -> dict[str, bool]:
        """Each component: running now (not crashed and waiting for its restart)."""
        return {name: name in self._running and not t.done() for name, t in self._tasks.items()}

    def essential_alive(self) -> bool:
        """Every component the gate needs is running (optional ones are not asked)."""
        return all(up for name, up in self.alive().items() if name not in self.optional)

    async def stop(self) -> None:
        """Cancel every component and wait for it to end (:func:`cancel_and_wait`)."""
        await cancel_and_wait(self._tasks.values())
        self._tasks.clear()


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel each task and wait until every one has ended, cancelling again each
    :data:`STOP_RECHECK_SECONDS` any that is still running: Python 3.11's ``asyncio.wait_for``
    loses a cancellation when its inner future finishes at the same moment (aiomqtt awaits
    through it), so one ``cancel()`` may not end a task, and ``asyncio.TaskGroup`` never asks
    its children twice. A cancellation of the caller meanwhile is held until all have ended,
    then raised (:class:`asyncio.CancelledError`); the tasks' own errors are left to the caller."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    caller_cancelled = False
    while pending:
        try:
            _done, pending = await asyncio.wait(pending, timeout=STOP_RECHECK_SECONDS)
        except asyncio.CancelledError:
            caller_cancelled = True
        for task in pending:
            log.warning("task did not stop when asked; asking again", task=task.get_name())
            task.cancel()
    if caller_cancelled:
        raise asyncio.CancelledError
