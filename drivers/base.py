"""Driver interfaces: small typing Protocols so that a new brand of hardware is one file.

The daemon only ever *opens* a barrier; closing is the barrier's own job behind its loop
detector. Drivers raise :class:`DriverError` (or its subclass :class:`DriverUnavailableError` when
the device is disconnected) instead of failing silently.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from drivers.presence import Presence


class DriverError(Exception):
    """A device command failed."""


class DriverUnavailableError(DriverError):
    """The device is not connected; the command was not attempted."""


@dataclass(slots=True)
class DriverHealth:
    """What the status page and metrics show about one driver."""

    connected: bool = True
    last_error: str | None = None
    reconnects: int = 0
    commands: int = 0
    failures: int = 0

    def ok(self) -> None:
        self.commands += 1

    def failed(self, error: str) -> None:
        self.commands += 1
        self.failures += 1
        self.last_error = error

    def to_json(self) -> dict[str, object]:
        return {
            "connected": self.connected,
            "last_error": self.last_error,
            "reconnects": self.reconnects,
            "commands": self.commands,
            "failures": self.failures,
        }


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


@dataclass(frozen=True, slots=True)
class Actuation:
    """Context for one vehicle's commands.

    ``camera_reply`` is set when the plate came from a camera that takes its commands in the
    reply to its own push (Vzenith and clones); drivers that act through the camera put their
    command there.
    """

    lane_id: str
    plate: str | None
    camera_reply: CameraReply | None = None


@dataclass(frozen=True, slots=True)
class DisplayLine:
    """One line of text for an LED panel; ``ok`` selects the pass (green) or refuse (red) colour."""

    text: str
    ok: bool = True


class Lifecycle:
    """What every driver is started and stopped with. Inherit it: a driver with nothing to
    open (a relay pulsed through the camera's reply, a virtual one) keeps these; one with a
    link or a polling task overrides them."""

    __slots__ = ()

    def start(self) -> None:
        """Open links and start background tasks (from then on it reconnects on its own)."""

    async def aclose(self) -> None:
        """Stop what :meth:`start` started and release the device; never raises."""

    def via_camera_reply(self) -> bool:
        """Whether the device is reached only inside the camera's reply to a plate push (so
        it cannot be driven between vehicles, e.g. by ``edge drivers test``)."""
        return False


@runtime_checkable
class Barrier(Protocol):
    health: DriverHealth

    def start(self) -> None: ...

    async def aclose(self) -> None: ...

    def via_camera_reply(self) -> bool: ...

    async def open(self, ctx: Actuation) -> None:
        """Raise the arm for one vehicle. Raises :class:`DriverError` if it could not."""


@runtime_checkable
class ArmStateBarrier(Barrier, Protocol):
    """A barrier that can tell whether its arm is up (a limit-switch input, the controller's
    own status)."""

    async def state(self) -> Literal["open", "closed"] | None:
        """``None``: the arm's state is not known (no input configured, no signal)."""


@runtime_checkable
class Display(Protocol):
    health: DriverHealth

    def start(self) -> None: ...

    async def aclose(self) -> None: ...

    def via_camera_reply(self) -> bool: ...

    async def show(self, lines: Sequence[DisplayLine], ctx: Actuation) -> None:
        """Show ``lines``; the driver fits them to its panel."""


@runtime_checkable
class Detector(Protocol):
    health: DriverHealth
    presence: Presence  # the debounced state and its changes

    def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def wait_passage(self, since: float, timeout: float) -> bool:
        """Whether a vehicle passed (present, then gone) after monotonic time ``since``.

        Returns ``False`` when no complete passage was seen within ``timeout`` seconds.
        """


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a driver's background task (polling, reconnecting) and wait for it to end."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass(slots=True)
class Recorder:
    """Timestamps of commands, kept by drivers for tests, the demo and benchmarks."""

    times: list[float] = field(default_factory=list)
