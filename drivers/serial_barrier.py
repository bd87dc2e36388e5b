"""A barrier controller with its own serial protocol: configured frames (hex) sent over
RS-232/485 or a serial server, e.g. the "EB" RS-485 barriers (``EB addr 43 00 check``: raise
the pole, check = XOR of the other bytes; research/drivers.md §2).

The check byte can be computed here (``check``) instead of copied from a manual — the manuals
print wrong ones. When ``ack`` is set, the command counts only once the controller's reply
containing it arrives within ``ack_timeout``.
"""

from __future__ import annotations

from functools import reduce
from typing import Literal

from typing_extensions import override

from drivers.base import Actuation, Barrier, DriverError, Lifecycle
from drivers.olm_led import crc16_modbus
from drivers.serial_link import SerialLink

Check = Literal["none", "xor", "sum8", "modbus-crc"]


def with_check(frame: bytes, check: Check) -> bytes:
    if check == "xor":
        return frame + bytes([reduce(lambda a, b: a ^ b, frame, 0)])
    if check == "sum8":
        return frame + bytes([sum(frame) & 0xFF])
    if check == "modbus-crc":
        return frame + crc16_modbus(frame).to_bytes(2, "little")
    return frame


class SerialCommandBarrier(Lifecycle, Barrier):
    def __init__(
        self,
        link: SerialLink,
        open_frame: bytes,
        *,
        check: Check = "none",
        ack: bytes | None = None,
        ack_timeout: float = 0.5,
    ) -> None:
        self.link = link
        self.frame = with_check(open_frame, check)
        self.ack, self.ack_timeout = ack, ack_timeout
        self.health = link.health

    @override
    async def open(self, ctx: Actuation) -> None:
        try:
            if self.ack is None:
                await self.link.write(self.frame)
            else:
                await self.link.request(self.frame, self.ack, self.ack_timeout)
        except DriverError as exc:
            self.health.failed(str(exc))
            raise
        self.health.ok()
