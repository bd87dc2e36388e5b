"""A loop detector (地感) whose relay contact is wired to a discrete input of a Modbus relay
board, polled over the board's bus (sharing its lock with the barrier on the same board).

While the board is unreachable the last known state is kept, the bus health shows the outage,
and polling slows down to once a second until the board answers again.
"""

from __future__ import annotations

import asyncio

from drivers.base import DriverError, Lifecycle, stop_task
from drivers.modbus_relay import ModbusBus
from drivers.presence import Presence

_DOWN_POLL_SECONDS = 1.0


class ModbusInputDetector(Lifecycle):
    def __init__(
        self,
        bus: ModbusBus,
        *,
        input_: int = 0,
        device_id: int = 1,
        poll_seconds: float = 0.05,
        debounce_seconds: float = 0.1,
        invert: bool = False,
    ) -> None:
        self.bus, self.input, self.device_id = bus, input_, device_id
        self.poll_seconds, self.invert = poll_seconds, invert
        self.presence = Presence(debounce_seconds)
        self.health = bus.health
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def read(self) -> bool:
        """One reading of the contact (True: a vehicle is on the loop). Reads the bank of 8
        inputs it is in, as the boards' own tools do."""
        first = self.input - self.input % 8
        bank = await self.bus.read_inputs(first, 8, self.device_id)
        return bank[self.input - first] != self.invert

    async def _poll(self) -> None:
        # Checked as well as cancelled: Python 3.11's asyncio.wait_for (inside pymodbus) can
        # swallow a cancellation that lands as a reply arrives.
        while not self._closing:
            try:
                self.presence.sample(await self.read())
            except DriverError:
                await asyncio.sleep(_DOWN_POLL_SECONDS)
                continue
            await asyncio.sleep(self.poll_seconds)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name=f"detector:{self.bus.name}")

    async def wait_passage(self, since: float, timeout: float) -> bool:
        return await self.presence.wait_passage(since, timeout)

    async def aclose(self) -> None:
        self._closing = True
        await stop_task(self._task)
        self._task = None
        self.presence.close()
