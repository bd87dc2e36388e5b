"""Asking the platform about one plate under a hard deadline, with the link's circuit breaker.

The lane is given a :class:`Verifier` and gets an answer or ``None`` (decide offline): the
breaker is open, the deadline passed, the link failed, the platform refused the question, or a
bug. An answer after the deadline is logged and never acted on (spec §5: the barrier does not
wait for the platform).
"""

from __future__ import annotations

import asyncio

import structlog

from edge.domain.plates import PlateColor
from edge.domain.reports import VerifyAnswer
from edge.uplink.breaker import LinkFailure, LinkMonitor, classify
from edge.uplink.platform.base import Platform
from edge.uplink.platform.errors import PlatformError

log = structlog.get_logger("edge.gate.lane")


class Verifier:
    """One lane's verification (``getCheckVehicle`` / ``VehVerifyEx``): ``deadline`` in seconds,
    ``gate_secret`` the lane's 道闸密钥 ("" when the platform needs none)."""

    def __init__(
        self, platform: Platform, link: LinkMonitor, *, deadline: float, gate_secret: str = ""
    ) -> None:
        self.platform, self.link, self.deadline = platform, link, deadline
        self._secret = gate_secret
        self._late: set[asyncio.Task[None]] = set()

    @property
    def uploads_photos(self) -> bool:
        """Whether the platform takes the photos (they are then forwarded with the pass)."""
        return self.platform.uploads_photos

    async def verify(self, plate: str, color: PlateColor) -> VerifyAnswer | None:
        """The platform's answer within the deadline, or ``None``: decide offline."""
        if not self.link.permit():  # the breaker is open: decide offline at once
            return None
        task = asyncio.create_task(
            self.platform.verify(plate, color, gate_secret_code=self._secret)
        )
        done, _ = await asyncio.wait({task}, timeout=self.deadline)
        if not done:
            log.warning("platform answer missed the deadline", deadline=self.deadline)
            why = f"no answer within the {self.deadline} s deadline"
            self.link.failure(why, LinkFailure.TIMEOUT)
            late = asyncio.create_task(self._late_answer(task, plate))
            self._late.add(late)
            late.add_done_callback(self._late_done)
            return None
        try:
            answer = task.result()
        except PlatformError as exc:
            self._note(exc)
            return None
        except Exception:  # a bug must not stop vehicles: decide as if offline
            log.exception("platform check failed unexpectedly; deciding offline")
            return None
        self.link.success()
        return answer

    def _note(self, exc: PlatformError) -> None:
        """A failed verification: a link failure, or (the platform refused the question
        itself) proof that the platform answers."""
        kind = classify(exc)
        if kind is None:
            log.warning("platform refused the verification", error=str(exc))
            self.link.success()
        else:
            self.link.failure(str(exc), kind)

    async def _late_answer(self, task: asyncio.Task[VerifyAnswer], plate: str) -> None:
        """Log an answer that came after the deadline; it is never acted on."""
        try:
            answer = await task
        except PlatformError as exc:
            log.info("late platform call failed", late_plate=plate, error=str(exc))
            self._note(exc)
        else:
            self.link.success()
            log.info("late platform answer ignored", late_plate=plate, control=int(answer.control))

    def _late_done(self, task: asyncio.Task[None]) -> None:
        self._late.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background step failed", error=repr(exc), exc_info=exc)

    async def drain(self) -> None:
        """Wait for the late answers still awaited."""
        while self._late:
            await asyncio.gather(*list(self._late), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop waiting for late answers."""
        for task in list(self._late):
            task.cancel()
        await self.drain()
