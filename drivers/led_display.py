"""An LED display: a controller protocol (what the bytes say) over a transport (how they get
there), with the text fitted to the panel first.

Protocols: the "00 64 FF FF" LED + voice board (:mod:`drivers.olm_led`), Onbon BX-5/BX-6
(:mod:`drivers.onbon_bx`), and a plain text-line template for odd boards. Transports: the
camera's transparent serial port through its push reply
(:class:`drivers.camera_reply.CameraSerialTransport`), or the display's own RS-485 / TCP link
(:class:`LinkTransport` over :class:`drivers.serial_link.SerialLink`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from typing_extensions import override

from drivers import olm_led, onbon_bx
from drivers.base import Actuation, DisplayLine, DriverError, DriverHealth, Lifecycle
from drivers.panel import FittedLine, Panel, fit, truncate
from drivers.serial_link import SerialLink


class LedEncoder(Protocol):
    def encode(self, lines: Sequence[FittedLine], voice: str | None) -> bytes: ...


class Transport(Protocol):
    health: DriverHealth

    def via_camera_reply(self) -> bool:
        """Whether the bytes can travel only in the camera's reply to a plate push."""
        return False

    async def send(self, data: bytes, ctx: Actuation) -> None: ...


@dataclass(frozen=True, slots=True)
class OlmEncoder(LedEncoder):
    """One temporary-text frame per line (green to pass, red to refuse) and a voice frame."""

    encoding: str = "gbk"
    seconds: int = 5

    @override
    def encode(self, lines: Sequence[FittedLine], voice: str | None) -> bytes:
        frames = b"".join(
            olm_led.text_frame(
                i,
                truncate(line.text, olm_led.MAX_TEXT),  # GBK bytes = half-width cells
                olm_led.GREEN if line.ok else olm_led.RED,
                seconds=self.seconds,
                encoding=self.encoding,
            )
            for i, line in enumerate(lines)
        )
        if voice:
            frames += olm_led.voice_frame(voice, encoding=self.encoding)
        return frames


@dataclass(frozen=True, slots=True)
class OnbonEncoder(LedEncoder):
    width: int = 16
    address: int = 1
    encoding: str = "gbk"

    @override
    def encode(self, lines: Sequence[FittedLine], voice: str | None) -> bytes:
        return onbon_bx.dynamic_text(
            lines, width=self.width, address=self.address, encoding=self.encoding
        )


@dataclass(frozen=True, slots=True)
class TemplateEncoder(LedEncoder):
    """Each line as ``template`` with ``{line}`` (1-based) and ``{text}`` filled in, e.g.
    ``"\\u0002{line}{text}\\u0003"`` for a board that takes STX … ETX."""

    template: str = "{text}\r\n"
    encoding: str = "gbk"

    @override
    def encode(self, lines: Sequence[FittedLine], voice: str | None) -> bytes:
        text = "".join(
            self.template.format(line=i + 1, text=line.text) for i, line in enumerate(lines)
        )
        return text.encode(self.encoding, errors="replace")


class LinkTransport(Transport):
    """The display's own serial port or TCP socket."""

    def __init__(self, link: SerialLink) -> None:
        self.link = link
        self.health = link.health

    @override
    async def send(self, data: bytes, ctx: Actuation) -> None:
        await self.link.write(data)


class LedDisplay(Lifecycle):
    def __init__(
        self,
        encoder: LedEncoder,
        transport: Transport,
        panel: Panel | None = None,
        *,
        voice: bool = False,
    ) -> None:
        self.encoder, self.transport = encoder, transport
        self.panel = panel or Panel()
        self.voice = voice
        self.health = transport.health

    @override
    def via_camera_reply(self) -> bool:
        return self.transport.via_camera_reply()

    def encode(self, lines: Sequence[DisplayLine]) -> bytes:
        spoken = " ".join(line.text for line in lines) if self.voice and lines else None
        return self.encoder.encode(fit(lines, self.panel), spoken)

    async def show(self, lines: Sequence[DisplayLine], ctx: Actuation) -> None:
        try:
            await self.transport.send(self.encode(lines), ctx)
        except DriverError as exc:
            self.health.failed(str(exc))
            raise
        self.health.ok()
