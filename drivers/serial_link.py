"""A byte link to a device that stays open: a serial port (RS-232/485 adapter) or a TCP serial
server / networked board (``socket://host:port``), through ``pyserial-asyncio-fast`` (the port is
opened in an executor, never on the event loop).

When the port vanishes (a USB adapter unplugged, a serial server rebooted) the link notes it in
its health, logs once when it is lost and once when it is back, and reopens it with a capped,
doubling backoff. A write while it is down fails at once with :class:`DriverUnavailableError`
(the caller records that the command did not go out); writes never interleave half-frames.
Address USB adapters by ``/dev/serial/by-id/…`` so that a re-plugged adapter keeps its name.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import termios
from collections.abc import Callable
from dataclasses import dataclass

import serial
import structlog
from serial_asyncio_fast import open_serial_connection

from drivers.backoff import Backoff
from drivers.base import DriverError, DriverHealth, DriverUnavailableError, stop_task

log = structlog.get_logger("drivers.serial")

_CHUNK = 256
_RX_LIMIT = 4096  # bytes kept for replies; a noisy line cannot grow it further
_CLOSE_WAIT_SECONDS = 2.0  # a port's close is a local call: this is only a bound


@dataclass(frozen=True, slots=True)
class Framing:
    """Data bits, parity (N/E/O/M/S) and stop bits, as pyserial takes them."""

    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1


def parse_framing(framing: str) -> Framing:
    """``"8N1"``, ``"7E1"``, … as a :class:`Framing`.

    Raises :class:`ValueError` for anything else (data bits 5-8, parity N/E/O/M/S, stop 1/2)."""
    text = framing.upper()
    if len(text) != 3 or text[0] not in "5678" or text[1] not in "NEOMS" or text[2] not in "12":
        raise ValueError(f"serial framing is like 8N1 or 7E1, not {framing!r}")
    return Framing(int(text[0]), text[1], int(text[2]))


class SerialLink:
    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        name: str = "serial device",
        framing: str = "8N1",
        on_data: Callable[[bytes], None] | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
    ) -> None:
        self.port, self.baudrate, self.name = port, baudrate, name
        self.framing = parse_framing(framing)
        self.on_data = on_data
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.health = DriverHealth(connected=False)
        self._writer: asyncio.StreamWriter | None = None
        self._write_lock = asyncio.Lock()
        self._rx = bytearray()
        self._rx_changed = asyncio.Event()
        self._up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ever_connected = False
        self._reported_down = False
        self._closing = False

    @property
    def connected(self) -> bool:
        return self._writer is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._keep_open(), name=f"serial:{self.port}")

    async def wait_connected(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._up.wait()
        except TimeoutError:
            return False
        return True

    async def _keep_open(self) -> None:
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        while not self._closing:  # see ModbusInputDetector._poll: cancellation can be lost
            try:
                await self._session()
            except (OSError, serial.SerialException, termios.error) as exc:
                # termios.error: the port refuses the settings (a pty and parity, say)
                self._report_down(*self._cause(exc))
            else:
                self._report_down("the device closed the link")
            if self.health.connected:
                backoff.reset()  # it had worked: start the backoff over
            self._down()
            await asyncio.sleep(backoff.next())

    def _cause(self, exc: BaseException) -> tuple[str, str | None]:
        """Why the port could not be used: English (the log), and Chinese for the guard's page
        where it is the settings (None: the error as it came says it)."""
        code = exc.args[0] if isinstance(exc, termios.error) and exc.args else None
        code = getattr(exc, "errno", None) if code is None else code
        f = self.framing
        if code == errno.EINVAL and f != Framing():
            text = f"{f.bytesize}{f.parity}{f.stopbits}"
            return (
                f"the port refuses framing {text} ({exc}): a virtual serial port (pty) takes "
                'only 8N1 — set framing = "8N1" for one, else check the adapter',
                "串口不支持校验位设置（虚拟串口请用 8N1）",
            )
        if "exclusively lock" in str(exc):  # pyserial's words for a port another program holds
            return (
                f"the port is in use by another program ({exc}): stop it — the daemon, or "
                "`edge drivers test` beside the running daemon (stop the service first)",
                "串口被其他程序占用",
            )
        return str(exc), None

    def _report_down(self, error: str, said: str | None = None) -> None:
        """Log once when the link goes (or is not there at start), not at every retry; the
        health's ``last_error`` adds ``said`` (Chinese) for the status page."""
        self.health.last_error = error if said is None else f"{said} — {error}"
        if not self._reported_down:
            log.warning("device link down", device=self.name, port=self.port, error=error)
            self._reported_down = True

    async def _session(self) -> None:
        reader, writer = await open_serial_connection(
            url=self.port,
            baudrate=self.baudrate,
            bytesize=self.framing.bytesize,
            parity=self.framing.parity,
            stopbits=self.framing.stopbits,
            exclusive=True,  # a second program reading the port would take bytes from ours
        )
        self._writer = writer
        if self._ever_connected:
            self.health.reconnects += 1
        self._ever_connected = True
        self._reported_down = False
        self.health.connected = True
        self._up.set()
        log.info("device link up", device=self.name, port=self.port)
        try:
            while chunk := await reader.read(_CHUNK):
                self._received(chunk)
        finally:
            writer.close()

    def _down(self) -> None:
        self._writer = None
        self.health.connected = False
        self._up.clear()

    def _received(self, chunk: bytes) -> None:
        if self.on_data is not None:
            self.on_data(chunk)
        self._rx.extend(chunk)
        del self._rx[:-_RX_LIMIT]
        changed, self._rx_changed = self._rx_changed, asyncio.Event()
        changed.set()

    async def write(self, data: bytes) -> None:
        """Send ``data`` whole, or raise :class:`DriverUnavailableError` at once when down."""
        async with self._write_lock:
            writer = self._writer
            if writer is None:
                raise DriverUnavailableError(f"{self.name} on {self.port} is not connected")
            try:
                writer.write(data)
                await writer.drain()
            except (OSError, serial.SerialException) as exc:
                raise DriverUnavailableError(f"{self.name} on {self.port}: {exc}") from exc

    async def request(self, data: bytes, expect: bytes, timeout: float) -> None:
        """Send ``data`` and wait until ``expect`` arrives (a device's acknowledgement)."""
        self._rx.clear()
        await self.write(data)
        try:
            async with asyncio.timeout(timeout):
                while expect not in self._rx:
                    await self._rx_changed.wait()
        except TimeoutError:
            raise DriverError(
                f"{self.name} did not acknowledge within {timeout:g} s "
                f"(expected {expect.hex(' ')}, got {bytes(self._rx).hex(' ') or 'nothing'})"
            ) from None

    async def aclose(self) -> None:
        """Stop, and return once the port is closed (the transport closes it a loop turn
        later: opened again at once — ``edge drivers test`` run twice — it was still held)."""
        self._closing = True
        await stop_task(self._task)
        self._task = None
        writer = self._writer
        self._down()
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):  # closing: how it ended is not ours to raise
                await asyncio.wait_for(writer.wait_closed(), _CLOSE_WAIT_SECONDS)
