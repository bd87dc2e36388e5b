"""A Modbus relay board double with a barrier and a loop detector behind it.

The board is a pymodbus server (Modbus TCP, RTU over TCP, or RTU on a serial port) that keeps
what it was asked to do, in order, and acts on it as the real boards do: plain coil writes,
Waveshare "flash on" pulses (FC05 to ``0x0200 + ch`` with the on-time in 100 ms units),
Eletechsup ``0x06SS`` command registers and Waveshare output-mode registers (``0x1000 + ch``).
With ``silent_output_mode`` it behaves like firmware that ignores output-mode writes: no
reply, no exception, no change.

Behind the ``open_channel`` relay sits a barrier: each time that relay closes, the arm rises
and — if ``drive_through`` is set — a vehicle crosses the loop wired to discrete input
``loop_input`` (present ``arrive_after`` seconds later, gone ``dwell`` seconds after that).
:meth:`vehicle_crosses` drives a vehicle over the loop without an opening (a gate crash).

The board's state (relays, inputs) lives here; the pymodbus ``SimDevice`` only stores what
it is sent, and its ``action`` hook answers every read from this state.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pymodbus import FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import WriteSingleCoilRequest
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simutils import SimUtils

FLASH_ON, OUTPUT_MODE = 0x0200, 0x1000
_COILS, _REGISTERS, _CHANNELS = 0x0600, 0x1100, 64


class _RawCoilRequest(WriteSingleCoilRequest):
    """FC05 that keeps the raw value: the Waveshare flash command carries a duration in it."""

    value = 0

    def decode(self, data: bytes) -> None:
        self.address, self.value = struct.unpack(">HH", data[:4])
        self.bits = [bool(self.value)]


@dataclass(frozen=True, slots=True)
class Command:
    function: int  # 5 write coil, 6 write register
    address: int
    value: int  # coil: 1 on / 0 off (flash: the 100 ms units); register: the value


@dataclass
class RelayBoardSim:
    device_id: int = 1
    open_channel: int = 0
    loop_input: int = 0
    drive_through: bool = True
    arrive_after: float = 0.05
    dwell: float = 0.1
    port: int = 0
    commands: list[Command] = field(default_factory=list)
    openings: int = 0
    output_modes: dict[int, int] = field(default_factory=dict)
    on_command: Callable[[Command], None] | None = None
    silent_output_mode: bool = False
    relays: list[bool] = field(default_factory=lambda: [False] * _CHANNELS)
    inputs: list[bool] = field(default_factory=lambda: [False] * _CHANNELS)
    _server: ModbusTcpServer | ModbusSerialServer | None = None
    _task: asyncio.Task[None] | None = None
    _timers: list[asyncio.TimerHandle] = field(default_factory=list)
    _swallow: int = 0  # replies not to send

    # -- what the board does -------------------------------------------------------------
    def _set_relay(self, channel: int, on: bool) -> None:  # noqa: FBT001
        was, self.relays[channel] = self.relays[channel], on
        if on and not was and channel == self.open_channel:
            self.openings += 1
            if self.drive_through:
                self.vehicle_crosses(self.arrive_after)

    def _pulse(self, channel: int, seconds: float) -> None:
        self._set_relay(channel, True)  # noqa: FBT003
        self._later(seconds, lambda: self._set_relay(channel, False))  # noqa: FBT003

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self._timers = [t for t in self._timers if t.when() > loop.time()]
        self._timers.append(loop.call_later(delay, action))

    def set_input(self, number: int, value: bool) -> None:  # noqa: FBT001
        self.inputs[number] = value

    def vehicle_crosses(self, after: float = 0.0) -> None:
        """A vehicle drives over the loop: present after ``after`` s, gone ``dwell`` s later."""
        self._later(after, lambda: self.set_input(self.loop_input, True))  # noqa: FBT003
        self._later(after + self.dwell, lambda: self.set_input(self.loop_input, False))  # noqa: FBT003

    def _record(self, command: Command) -> None:
        self.commands.append(command)
        if self.on_command is not None:
            self.on_command(command)

    def _act(self, pdu: ModbusPDU) -> None:
        if pdu.function_code == 5:
            value = getattr(pdu, "value", 0xFF00 if pdu.bits[0] else 0)
            if FLASH_ON <= pdu.address < FLASH_ON + 0x100:
                self._record(Command(5, pdu.address, value))
                self._pulse(pdu.address - FLASH_ON, value / 10)
            else:
                self._record(Command(5, pdu.address, int(value == 0xFF00)))
                self._set_relay(pdu.address, value == 0xFF00)
        elif pdu.function_code == 6:
            value = pdu.registers[0]
            self._record(Command(6, pdu.address, value))
            if OUTPUT_MODE <= pdu.address < OUTPUT_MODE + 0x100:
                if self.silent_output_mode:
                    self._swallow += 1
                else:
                    self.output_modes[pdu.address - OUTPUT_MODE] = value
            elif 1 <= pdu.address <= 8 and value >> 8 == 0x06:
                self._pulse(pdu.address - 1, value & 0xFF)

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:  # noqa: FBT001 - pymodbus API
        if not sending:
            self._act(pdu)
        return pdu

    def _packet(self, sending: bool, packet: bytes) -> bytes:  # noqa: FBT001 - pymodbus API
        """The reply to a write the firmware ignores is never sent."""
        if sending and self._swallow:
            self._swallow -= 1
            return b""
        return packet

    # -- serving ---------------------------------------------------------------------------
    async def _answer(
        self,
        function_code: int,
        _start: int,
        _address: int,
        _count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> None:
        """Reads of coils and inputs come from the board's state."""
        if set_values is None and function_code in (1, 2):
            bits = self.relays if function_code == 1 else self.inputs
            registers[: _CHANNELS // 16] = SimUtils.bitsToRegisters(list(bits))

    def _device(self) -> SimDevice:
        return SimDevice(
            id=self.device_id,
            simdata=(
                [SimData(0, count=_COILS, values=False, datatype=DataType.BITS)],
                [SimData(0, count=_CHANNELS, values=False, datatype=DataType.BITS)],
                [SimData(0, count=_REGISTERS, values=0, datatype=DataType.REGISTERS)],
                [SimData(0, count=_CHANNELS, values=0, datatype=DataType.REGISTERS)],
            ),
            action=self._answer,
        )

    async def start(self, port: int, *, framer: FramerType = FramerType.SOCKET) -> None:
        """Serve Modbus TCP (or RTU over TCP with ``framer=FramerType.RTU``) on loopback."""
        self.port = port
        self._server = ModbusTcpServer(
            [self._device()],
            framer=framer,
            address=("127.0.0.1", port),
            trace_pdu=self._trace,
            trace_packet=self._packet,
            custom_pdu=[_RawCoilRequest],
        )
        self._task = asyncio.create_task(self._server.serve_forever())
        for _ in range(200):  # until it listens
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            return
        raise RuntimeError("the relay board double did not start")

    async def start_serial(self, path: Path, *, baudrate: int = 9600) -> None:
        """Serve Modbus RTU on a serial port (e.g. one end of a pty pair)."""
        self._server = ModbusSerialServer(
            [self._device()],
            framer=FramerType.RTU,
            port=str(path),
            baudrate=baudrate,
            trace_pdu=self._trace,
            trace_packet=self._packet,
            custom_pdu=[_RawCoilRequest],
        )
        self._task = asyncio.create_task(self._server.serve_forever())
        await asyncio.sleep(0)

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._server is not None:
            await self._server.shutdown()
            self._server = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
