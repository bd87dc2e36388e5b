"""A Modbus relay board double: a pymodbus TCP server that keeps what it was asked to do, in
order (coil writes and register commands), as a real board would act on them.

pymodbus 3.16 logs that these datastore classes give way to SimData/SimDevice in v4; the
dependency is pinned below 4, and the move is due with the rest of the drivers issue."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer


@dataclass(frozen=True, slots=True)
class Command:
    function: int  # 5 write coil, 6 write register
    address: int
    value: int  # coil: 1 on / 0 off; register: the value


@dataclass
class RelayBoardSim:
    device_id: int = 1
    port: int = 0
    commands: list[Command] = field(default_factory=list)
    _server: ModbusTcpServer | None = None
    _task: asyncio.Task[None] | None = None

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:  # noqa: FBT001 - pymodbus API
        if not sending and pdu.function_code in (5, 6):
            value = int(pdu.bits[0]) if pdu.function_code == 5 else pdu.registers[0]
            self.commands.append(Command(pdu.function_code, pdu.address, value))
        return pdu

    async def start(self, port: int) -> None:
        self.port = port
        device = ModbusDeviceContext(
            co=ModbusSequentialDataBlock(1, [0] * 64),
            hr=ModbusSequentialDataBlock(1, [0] * 64),
            di=ModbusSequentialDataBlock(1, [0] * 64),
            ir=ModbusSequentialDataBlock(1, [0] * 64),
        )
        self._server = ModbusTcpServer(
            ModbusServerContext(devices={self.device_id: device}, single=False),
            address=("127.0.0.1", port),
            trace_pdu=self._trace,
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

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
