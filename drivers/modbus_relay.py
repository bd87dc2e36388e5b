"""Barriers pulsed through a Modbus relay board (research/drivers.md §1), over Modbus TCP,
Modbus RTU over TCP (serial servers, Waveshare POE boards) or Modbus RTU on an RS-485 adapter.

How the OPEN contact is pulsed depends on the board (``board``):

- ``waveshare``: the board's "flash on" command (FC05 to coil ``0x0200 + channel`` with the
  on-time in 100 ms units), timed by the board's firmware; at each connection the channel's
  output mode is forced to normal (register ``0x1000 + channel`` = 0), because "linkage" mode
  would wire the loop detector straight to the barrier. That write is best-effort: firmware
  that never answers it (no reply, no exception) is logged once and still gets its pulses;
- ``eletechsup`` (and 485io RYN4xx): FC06 to command register ``channel + 1`` with ``0x06SS``
  = on for SS seconds, timed by the board;
- ``plain``: any board with coils: coil on, wait, coil off, timed by the daemon (the off is
  shielded, so a cancelled caller never leaves the contact closed).

A board-timed pulse is the safest: a crashed daemon cannot leave the contact closed. Calls on
one bus never overlap (RS-485 is half-duplex and pymodbus clients are not safe for concurrent
calls): one lock per bus, shared by every driver on it (barriers, loop-detector inputs). While
the board is unreachable a command fails at once with :class:`DriverUnavailableError`.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from typing import Literal

import structlog
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadDiscreteInputsResponse,
    WriteSingleCoilRequest,
    WriteSingleCoilResponse,
)
from pymodbus.pdu.register_message import WriteSingleRegisterResponse
from typing_extensions import override

from drivers.base import (
    Actuation,
    Barrier,
    DriverError,
    DriverHealth,
    DriverUnavailableError,
    Lifecycle,
)

log = structlog.get_logger("drivers.modbus")

Board = Literal["plain", "waveshare", "eletechsup"]
BusTransport = Literal["tcp", "rtu-over-tcp", "rtu"]
ModbusClient = AsyncModbusTcpClient | AsyncModbusSerialClient

WAVESHARE_FLASH_ON = 0x0200
WAVESHARE_OUTPUT_MODE = 0x1000


class _FlashOnRequest(WriteSingleCoilRequest):
    """Waveshare "flash on": FC05 whose value is the on-time in 100 ms units, not FF00/0000."""

    def __init__(self, address: int, units: int, dev_id: int) -> None:
        super().__init__(address=address, bits=[True], dev_id=dev_id)
        self.units = units

    def encode(self) -> bytes:
        return struct.pack(">HH", self.address, self.units)


def make_client(
    transport: BusTransport,
    *,
    host: str = "127.0.0.1",
    port: int = 502,
    serial_port: str = "",
    baudrate: int = 9600,
    parity: Literal["N", "E", "O"] = "N",
    timeout: float = 1.0,
) -> ModbusClient:
    """A pymodbus client; the baud rate is always explicit (pymodbus defaults to 19200, boards
    ship at 9600)."""
    if transport == "rtu":
        return AsyncModbusSerialClient(
            serial_port,
            baudrate=baudrate,
            parity=parity,
            timeout=timeout,
            retries=0,
            reconnect_delay=0.2,
            reconnect_delay_max=5,
        )
    return AsyncModbusTcpClient(
        host,
        port=port,
        framer=FramerType.RTU if transport == "rtu-over-tcp" else FramerType.SOCKET,
        timeout=timeout,
        retries=0,
        reconnect_delay=0.2,
        reconnect_delay_max=5,
    )


OnConnect = Callable[[ModbusClient], Awaitable[None]]

#: What the Modbus exception codes a board or gateway answers with mean (Modbus spec §7).
EXCEPTION_CODES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target did not respond (wrong unit id?)",
}


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


class ModbusBus:
    """One Modbus line (a TCP connection or an RS-485 port) and its lock, shared by every
    driver on it; logs once when the board goes away and once when it is back, each with a
    one-line reason.

    The board counts as back only when it has answered a request properly, not when a TCP
    connection opens: a device that accepts connections but answers garbage (another
    service on the port, a wrong unit id behind a gateway, malformed frames) or only Modbus
    exceptions stays "unavailable" — one log line, not one per poll.
    """

    def __init__(self, client: ModbusClient, name: str = "relay board") -> None:
        self.client, self.name = client, name
        self.lock = asyncio.Lock()
        self.health = DriverHealth(connected=False)
        self.on_connect: list[OnConnect] = []
        self._linked = False  # connected by us, on_connect hooks run
        self._was_up = False
        self._reported_down = False

    async def _ensure_connected(self) -> None:
        if self.client.connected and self._linked:
            return
        if not await self.client.connect():
            raise DriverUnavailableError(f"the {self.name} does not answer")
        self._linked = True
        for hook in self.on_connect:
            await hook(self.client)

    def _up(self) -> None:
        if not self.health.connected:
            if self._was_up:
                self.health.reconnects += 1
            self._was_up = True
            self.health.connected = True
        if self._reported_down:
            log.info("relay board back", board=self.name)
            self._reported_down = False

    def _down(self, reason: str, *, drop: bool = True) -> DriverUnavailableError:
        """Mark the board unavailable (logged once until it is back); ``drop`` closes the
        connection (the byte stream cannot be trusted after a timeout or garbage)."""
        reason = _one_line(reason)
        self.health.connected = False
        self.health.last_error = reason
        if drop:
            self._linked = False
            self.client.close()
        if not self._reported_down:
            log.warning("relay board unavailable", board=self.name, reason=reason)
            self._reported_down = True
        return DriverUnavailableError(f"{self.name}: {reason}")

    async def call(
        self,
        op: Callable[[ModbusClient], Awaitable[ModbusPDU]],
        expect: type[ModbusPDU] = ModbusPDU,
    ) -> ModbusPDU:
        """Run one request under the bus lock and return the reply, which must be an
        ``expect``; every failure is a :class:`DriverUnavailableError` with a one-line reason
        (no answer, garbage, a Modbus exception, a reply of the wrong kind)."""
        async with self.lock:
            try:
                await self._ensure_connected()
                result = await op(self.client)
            except DriverUnavailableError as exc:
                raise self._down(str(exc)) from exc
            except ModbusIOException as exc:
                raise self._down(
                    "no valid Modbus reply in time (wrong unit id, or not a Modbus device on "
                    "that address)"
                ) from exc
            except (ModbusException, OSError) as exc:
                raise self._down(str(exc) or type(exc).__name__) from exc
            if result.isError():
                code = getattr(result, "exception_code", 0)
                meaning = EXCEPTION_CODES.get(code, "unknown exception")
                raise self._down(f"answered Modbus exception {code}: {meaning}", drop=False)
            if not isinstance(result, expect):
                raise self._down(
                    f"answered a {type(result).__name__} to a request for a {expect.__name__}"
                )
            self._up()
        return result

    async def read_inputs(self, address: int, count: int, device_id: int) -> list[bool]:
        """``count`` discrete inputs from ``address`` (FC02); a reply with fewer bits is
        malformed (:class:`DriverUnavailableError`)."""
        result = await self.call(
            lambda c: c.read_discrete_inputs(address, count=count, device_id=device_id),
            ReadDiscreteInputsResponse,
        )
        if len(result.bits) < count:
            async with self.lock:
                raise self._down(f"answered {len(result.bits)} inputs where {count} were asked")
        return list(result.bits[:count])

    def close(self) -> None:
        self.client.close()


class ModbusRelayBarrier(Lifecycle, Barrier):
    def __init__(
        self,
        bus: ModbusBus,
        *,
        channel: int = 0,
        device_id: int = 1,
        pulse_ms: int = 500,
        board: Board = "plain",
        open_input: int | None = None,
    ) -> None:
        self.bus, self.channel, self.device_id = bus, channel, device_id
        self.pulse_ms, self.board, self.open_input = pulse_ms, board, open_input
        self.health = bus.health
        self._mode_write_unanswered = self._mode_write_refused = False
        if board == "waveshare":
            bus.on_connect.append(self._normal_output_mode)

    async def _normal_output_mode(self, client: ModbusClient) -> None:
        """Best effort, at each connection: some firmware never answers this write (no reply,
        no exception) although it pulses on command. Its timeout, or a refusal, is logged once
        (per barrier) and the pulse is sent all the same — a board that is really gone fails
        the pulse."""
        try:
            result = await client.write_register(
                WAVESHARE_OUTPUT_MODE + self.channel, 0, device_id=self.device_id
            )
        except ModbusIOException as exc:  # no answer within the timeout
            if not self._mode_write_unanswered:
                self._mode_write_unanswered = True
                log.warning(
                    "the board did not answer the output-mode write (firmware that ignores "
                    "it); pulses are sent all the same; check it is not in linkage mode",
                    board=self.bus.name,
                    channel=self.channel,
                    error=str(exc),
                )
            return
        if result.isError() and not self._mode_write_refused:
            self._mode_write_refused = True
            log.warning(
                "the board did not take output mode 'normal'; check it is not in linkage mode",
                board=self.bus.name,
                channel=self.channel,
                reply=str(result),
            )

    async def _write_coil(self, *, on: bool) -> None:
        await self.bus.call(
            lambda c: c.write_coil(self.channel, on, device_id=self.device_id),
            WriteSingleCoilResponse,
        )

    async def _pulse(self) -> None:
        if self.board == "waveshare":
            units = max(1, min(0x7FFF, round(self.pulse_ms / 100)))
            request = _FlashOnRequest(WAVESHARE_FLASH_ON + self.channel, units, self.device_id)
            await self.bus.call(
                lambda c: c.execute(False, request),  # noqa: FBT003 - pymodbus
                WriteSingleCoilResponse,
            )
        elif self.board == "eletechsup":
            seconds = max(1, min(255, round(self.pulse_ms / 1000)))
            value = 0x0600 | seconds
            await self.bus.call(
                lambda c: c.write_register(self.channel + 1, value, device_id=self.device_id),
                WriteSingleRegisterResponse,
            )
        else:
            await self._write_coil(on=True)
            try:
                await asyncio.sleep(self.pulse_ms / 1000)
            finally:
                await asyncio.shield(self._write_coil(on=False))

    @override
    async def open(self, ctx: Actuation) -> None:
        try:
            await self._pulse()
        except DriverError as exc:
            self.health.failed(str(exc))
            raise
        self.health.ok()

    async def state(self) -> Literal["open", "closed"] | None:
        """The arm's limit switch, when it is wired to a discrete input (``open_input``)."""
        if self.open_input is None:
            return None
        (limit,) = await self.bus.read_inputs(self.open_input, 1, self.device_id)
        return "open" if limit else "closed"
