"""Commands that travel back to an ANPR camera in the HTTP reply to its plate push.

Vzenith/臻识 cameras and their clones take the relay pulse and the RS-485 bytes (LED, voice)
from the body of the reply to their ``AlarmInfoPlate`` push. The ingest handler creates a
:class:`CameraReply`, the lane's drivers fill it, the handler seals it and answers the camera.
A driver that writes after the reply was sealed gets :class:`CameraReplySealedError`: the command
can no longer reach the camera, and the caller must record that the barrier did not lift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from drivers import olm_led
from drivers.base import Actuation, DisplayLine, DriverError, DriverHealth, DriverUnavailableError


class CameraReplySealedError(DriverError):
    """The reply to the camera has already been sent."""


@dataclass(frozen=True, slots=True)
class SerialFrame:
    channel: int
    data: bytes


@dataclass(slots=True)
class CameraReply:
    relay_channel: int | None = None
    relay_pulse_ms: int = 500
    serial: list[SerialFrame] = field(default_factory=list)
    sealed: bool = False

    def pulse_relay(self, channel: int, pulse_ms: int) -> None:
        self._check_open()
        self.relay_channel, self.relay_pulse_ms = channel, pulse_ms

    def send_serial(self, channel: int, data: bytes) -> None:
        self._check_open()
        self.serial.append(SerialFrame(channel, data))

    def seal(self) -> None:
        self.sealed = True

    def _check_open(self) -> None:
        if self.sealed:
            raise CameraReplySealedError("the reply to the camera was already sent")


def _reply_of(ctx: Actuation) -> CameraReply:
    if ctx.camera_reply is None:
        raise DriverUnavailableError(
            "this lane's barrier/LED act through the camera's push reply, "
            "but this command did not come from a camera push"
        )
    return ctx.camera_reply


class CameraRelayBarrier:
    """Open the barrier through the camera's own relay output (the commonest installation)."""

    def __init__(self, channel: int = 0, pulse_ms: int = 500) -> None:
        self.channel, self.pulse_ms = channel, pulse_ms
        self.health = DriverHealth()

    async def open(self, ctx: Actuation) -> None:
        try:
            _reply_of(ctx).pulse_relay(self.channel, self.pulse_ms)
        except DriverError as exc:
            self.health.failed(str(exc))
            raise
        self.health.ok()


class CameraSerialDisplay:
    """LED text written to the camera's transparent RS-485 port via the push reply.

    ``protocol`` "olm" speaks the "00 64 FF FF" board's frames (one text frame per line, green
    for pass and red for refuse, and a voice frame when ``voice`` is on); "text" sends the
    lines as plain text joined by CR LF, for boards that print what they receive.
    """

    def __init__(
        self,
        channel: int = 0,
        encoding: str = "gbk",
        protocol: Literal["olm", "text"] = "olm",
        *,
        voice: bool = False,
    ) -> None:
        self.channel, self.encoding, self.protocol, self.voice = channel, encoding, protocol, voice
        self.health = DriverHealth()

    def encode(self, lines: Sequence[DisplayLine]) -> bytes:
        if self.protocol == "text":
            return "\r\n".join(line.text for line in lines).encode(self.encoding, errors="replace")
        frames = b"".join(
            olm_led.text_frame(
                i, line.text, olm_led.GREEN if line.ok else olm_led.RED, encoding=self.encoding
            )
            for i, line in enumerate(lines)
        )
        if self.voice and lines:
            frames += olm_led.voice_frame(
                " ".join(line.text for line in lines), encoding=self.encoding
            )
        return frames

    async def show(self, lines: Sequence[DisplayLine], ctx: Actuation) -> None:
        try:
            _reply_of(ctx).send_serial(self.channel, self.encode(lines))
        except DriverError as exc:
            self.health.failed(str(exc))
            raise
        self.health.ok()
