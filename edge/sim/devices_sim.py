"""``edge sim relay-board`` and ``edge sim led-board``: the device doubles on their own, for a
technician trying a config before the hardware arrives (and for the demo)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from edge.sim.led_board import LedBoardSim, LedProtocol
from edge.sim.pty import NullModem, VirtualSerialPort
from edge.sim.relay_board import Command, RelayBoardSim

Out = Callable[[str], None]


def describe(command: Command) -> str:
    if command.function == 5 and command.address >= 0x0200:
        return f"relay {command.address - 0x0200}: flash on for {command.value * 100} ms"
    if command.function == 5:
        return f"relay {command.address}: {'on' if command.value else 'off'}"
    return f"register {command.address:#06x} = {command.value:#06x}"


async def serve_relay_board(
    port: int, rtu: Path | None, device_id: int = 1, out: Out = print
) -> None:
    board = RelayBoardSim(device_id=device_id, on_command=lambda c: out(describe(c)))
    cable: NullModem | None = None
    if rtu is not None:
        cable = NullModem(rtu, rtu.with_name(rtu.name + ".board"))
        cable.plug()
        await board.start_serial(cable.b.path)
        out(f"relay board (Modbus RTU, device {device_id}) on {rtu}")
    else:
        await board.start(port)
        out(f"relay board (Modbus TCP, device {device_id}) on 127.0.0.1:{port}")
    out("a vehicle crosses the loop on input 0 after each opening of relay 0")
    try:
        await asyncio.Event().wait()
    finally:
        await board.stop()
        if cable is not None:
            cable.unplug()


async def serve_led_board(
    protocol: LedProtocol, serial: Path | None, tcp: int | None, out: Out = print
) -> None:
    board = LedBoardSim(protocol=protocol, on_screen=lambda lines: out(" | ".join(lines)))
    port: VirtualSerialPort | None = None
    if serial is not None:
        port = VirtualSerialPort(serial, board.feed)
        port.plug()
        out(f"{protocol} LED board on the serial port {serial}")
    else:
        listening = await board.serve_tcp("127.0.0.1", tcp or 0)
        out(f"{protocol} LED board on 127.0.0.1:{listening}")
    try:
        await asyncio.Event().wait()
    finally:
        await board.stop()
        if port is not None:
            port.unplug()
