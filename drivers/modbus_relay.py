"""Barrier pulsed through a Modbus relay board (research/drivers.md §1), over Modbus TCP.

Two ways to pulse the OPEN contact:
- ``coil``: coil ``channel`` on, wait ``pulse_ms``, off (timed by the daemon; the off is
  shielded, so a cancelled caller never leaves the contact closed);
- ``register-pulse``: Eletechsup / 485io command registers: FC06 to register ``channel + 1``
  with ``0x06SS`` = on for SS seconds, timed by the board's firmware (safest: a crashed
  daemon cannot leave the contact closed).

Calls on one bus never overlap (RS-485 is half-duplex, and pymodbus clients are not safe for
concurrent calls): one lock per bus. While the board is unreachable a command fails at once.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from drivers.base import Actuation, DriverError, DriverHealth, DriverUnavailableError

PulseMode = Literal["coil", "register-pulse"]


class ModbusBus:
    """One Modbus TCP connection and its lock, shared by every driver on the board."""

    def __init__(self, host: str, port: int = 502, *, timeout: float = 1.0) -> None:
        self.client = AsyncModbusTcpClient(
            host,
            port=port,
            timeout=timeout,
            retries=0,
            reconnect_delay=0.2,
            reconnect_delay_max=5,
        )
        self.lock = asyncio.Lock()
        self.health = DriverHealth(connected=False)

    async def ensure_connected(self) -> None:
        if self.client.connected:
            return
        was = self.health.connected
        if not await self.client.connect():
            self.health.connected = False
            raise DriverUnavailableError("the relay board does not answer")
        if not was and self.health.commands:
            self.health.reconnects += 1
        self.health.connected = True

    def close(self) -> None:
        self.client.close()


class ModbusRelayBarrier:
    def __init__(
        self,
        bus: ModbusBus,
        *,
        channel: int = 0,
        device_id: int = 1,
        pulse_ms: int = 500,
        mode: PulseMode = "coil",
    ) -> None:
        self.bus, self.channel, self.device_id = bus, channel, device_id
        self.pulse_ms, self.mode = pulse_ms, mode
        self.health = bus.health

    async def _write_coil(self, *, on: bool) -> None:
        result = await self.bus.client.write_coil(self.channel, on, device_id=self.device_id)
        if result.isError():
            raise DriverError(f"the board refused coil {self.channel}: {result}")

    async def _pulse(self) -> None:
        if self.mode == "register-pulse":
            seconds = max(1, min(255, round(self.pulse_ms / 1000)))
            result = await self.bus.client.write_register(
                self.channel + 1, 0x0600 | seconds, device_id=self.device_id
            )
            if result.isError():
                raise DriverError(f"the board refused the pulse command: {result}")
            return
        await self._write_coil(on=True)
        try:
            await asyncio.sleep(self.pulse_ms / 1000)
        finally:
            await asyncio.shield(self._write_coil(on=False))

    async def open(self, ctx: Actuation) -> None:
        try:
            async with self.bus.lock:
                await self.bus.ensure_connected()
                await self._pulse()
        except DriverError as exc:
            self.health.failed(str(exc))
            raise
        except (ModbusException, OSError) as exc:
            self.health.connected = False
            self.health.failed(str(exc))
            raise DriverUnavailableError(f"relay board: {exc}") from exc
        self.health.ok()
