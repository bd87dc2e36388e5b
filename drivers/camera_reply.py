"""Commands that travel back to an ANPR camera in the HTTP reply to its plate push.

Vzenith/臻识 cameras and their clones take the relay pulse and the RS-485 bytes (LED, voice)
from the body of the reply to their ``AlarmInfoPlate`` push. The ingest handler creates a
:class:`CameraReply`, the lane's drivers fill it, the handler seals it and answers the camera.
A driver that writes after the reply was sealed gets :class:`CameraReplySealedError`: the command
can no longer reach the camera, and the caller must record that the barrier did not lift.
"""

from __future__ import annotations

import asyncio

from drivers.base import (
    Actuation,
    CameraReply,
    DriverError,
    DriverHealth,
    DriverUnavailableError,
    Lifecycle,
)


def _reply_of(ctx: Actuation) -> CameraReply:
    if ctx.camera_reply is None:
        raise DriverUnavailableError(
            "this lane's barrier/LED act through the camera's push reply, "
            "but this command did not come from a camera push"
        )
    return ctx.camera_reply


class CameraRelayBarrier(Lifecycle):
    """Open the barrier through the camera's own relay output (the commonest installation)."""

    def __init__(self, channel: int = 0, pulse_ms: int = 500) -> None:
        self.channel, self.pulse_ms = channel, pulse_ms
        self.health = DriverHealth()

    def via_camera_reply(self) -> bool:
        return True

    async def open(self, ctx: Actuation) -> None:
        try:
            _reply_of(ctx).pulse_relay(self.channel, self.pulse_ms)
        except DriverError as exc:
            self.health.failed(str(exc))
            raise
        self.health.ok()


class CameraSerialTransport:
    """LED/voice bytes written to the camera's transparent RS-485 port (``channel`` 0 = port 1)
    via the push reply, for boards wired to the camera rather than to the PC."""

    def __init__(self, channel: int = 0) -> None:
        self.channel = channel
        self.health = DriverHealth()

    def via_camera_reply(self) -> bool:
        return True

    async def send(self, data: bytes, ctx: Actuation) -> None:
        _reply_of(ctx).send_serial(self.channel, data)


class CameraMailbox:
    """Commands for a camera that takes them only in its replies, sent *between* vehicles: a
    guard's manual open, an LED message. The camera collects them with its next heartbeat or
    comet poll (Vzenith: in comet mode it re-posts at once after every reply, so a poll held
    open for a few seconds delivers a command as soon as it is queued).

    Built by ingest for a camera whose vendor takes commands in replies
    (``edge.ingest.http_push.command_channel``) and handed to the lane, which delivers into it
    without knowing the vendor; ingest's poll handler collects from it.

    A command not collected within its timeout is withdrawn and reported as not delivered: a
    barrier must never lift half a minute after the guard pressed the button.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[CameraReply, asyncio.Future[bool]]] = []
        self._queued = asyncio.Event()

    async def deliver(self, reply: CameraReply, timeout: float) -> bool:
        """Queue ``reply`` (already filled by the drivers) until a poll takes it."""
        taken: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((reply, taken))
        self._queued.set()
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(taken)
        except TimeoutError:
            self._pending = [(r, f) for r, f in self._pending if f is not taken]
            return False

    async def collect(self, hold: float) -> CameraReply:
        """What the camera should do now, waiting up to ``hold`` seconds for something to do;
        queued commands are merged into one reply (the relay once, every serial frame)."""
        if not self._pending and hold > 0:
            self._queued.clear()
            try:
                async with asyncio.timeout(hold):
                    await self._queued.wait()
            except TimeoutError:
                pass
        merged = CameraReply()
        for reply, taken in self._pending:
            if reply.relay_channel is not None:
                merged.pulse_relay(reply.relay_channel, reply.relay_pulse_ms)
            merged.serial.extend(reply.serial)
            if not taken.done():
                taken.set_result(True)
        self._pending.clear()
        merged.seal()
        return merged
