"""A truck scale's weighing indicator on a virtual serial port, with a scripted truck.

It speaks each protocol of :mod:`drivers.weighing` (continuous ones stream a frame every
``period`` seconds; command mode answers the host's requests) and can be unplugged and plugged
back like a USB adapter. The weight follows a script of :class:`TruckStep` — by default
:func:`truck_script`: the truck drives on (ramp), the platform rocks (vibrate), it settles,
then the truck leaves. Options add line noise between frames and split frames over writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from drivers.weighing import (
    encode_a12,
    encode_equals,
    encode_reply,
    encode_tf0,
    encode_toledo,
)
from edge.sim import SCALE_PROTOCOLS, ScaleProtocol
from edge.sim.pty import VirtualSerialPort

Protocol = ScaleProtocol
PROTOCOLS: tuple[Protocol, ...] = SCALE_PROTOCOLS


@dataclass(frozen=True, slots=True)
class TruckStep:
    """Move the weight linearly to ``to_kg`` over ``seconds``, rocking by up to
    ``vibrate_kg`` either side meanwhile (the indicator shows motion while it changes)."""

    seconds: float
    to_kg: Decimal
    vibrate_kg: Decimal = Decimal(0)


def truck_script(
    kg: Decimal, *, ramp: float = 1.0, vibrate: float = 1.0, settle: float = 4.0
) -> list[TruckStep]:
    """Drive on, rock, settle at ``kg``, drive off, empty platform."""
    return [
        TruckStep(ramp, kg),
        TruckStep(vibrate, kg, vibrate_kg=Decimal(60)),
        TruckStep(settle, kg),
        TruckStep(ramp, Decimal(0)),
        TruckStep(0.5, Decimal(0)),
    ]


class ScaleSim:
    def __init__(
        self,
        path: Path,
        protocol: Protocol,
        *,
        period: float = 0.1,
        division_kg: int = 20,
        noise: bool = False,
        split: bool = False,
        address: str = "A",
        seed: int = 16,
    ) -> None:
        self.protocol, self.period, self.division = protocol, period, division_kg
        self.noise, self.split, self.address = noise, split, address
        self.port = VirtualSerialPort(path, self._request)
        self.kg = Decimal(0)
        self.moving = False
        #: While a truck rocks: how far each frame swings from ``kg``, one side then the
        #: other (a rocking truck never shows one value twice in a row, however late the
        #: frames go out on a loaded machine).
        self.rock_kg = Decimal(0)
        self._swing = 1
        #: A tare taken on the indicator (去皮), kg: it then shows the net weight (Toledo sends
        #: the tare with it; A12 sends a ``WN`` line without it). None: it shows gross.
        self.tare_taken: Decimal | None = None
        self.frames_sent = 0
        self._rng = random.Random(seed)
        self._requests = bytearray()
        self._stream: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ScaleSim:
        self.port.plug()
        if self.protocol != "command":
            self._stream = asyncio.create_task(self._emit(), name="scale-sim")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._stream is not None:
            self._stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stream
        self.port.unplug()

    # -- the weight ------------------------------------------------------------------------------
    def shown(self, kg: Decimal) -> Decimal:
        """``kg`` as the indicator shows it: to the nearest division (a half rounds up)."""
        divisions = (kg / self.division).to_integral_value(ROUND_HALF_UP)
        return divisions * self.division

    def set_weight(self, kg: Decimal, *, moving: bool = False) -> None:
        self.kg = self.shown(kg)
        self.moving = moving
        self.rock_kg = Decimal(0)

    def shown_now(self) -> Decimal:
        """The weight the next frame shows: ``kg``, swinging by ``rock_kg`` while it rocks."""
        if not self.rock_kg:
            return self.kg
        self._swing = -self._swing
        return self.shown(self.kg + self._swing * self.rock_kg)

    async def drive(self, script: Sequence[TruckStep]) -> None:
        """Follow ``script`` in real time, one weight step per ``period``; a step's weight is
        taken as shown (to the division), so a step that stays there is still (no motion)."""
        for step in script:
            start, ticks = self.kg, max(1, round(step.seconds / self.period))
            to_kg = self.shown(step.to_kg)
            for tick in range(1, ticks + 1):
                target = start + (to_kg - start) * tick / ticks
                self.set_weight(target, moving=to_kg != start or bool(step.vibrate_kg))
                self.rock_kg = step.vibrate_kg * Decimal(self._rng.uniform(0.5, 1))
                await asyncio.sleep(self.period)
            self.set_weight(to_kg)

    async def weigh(
        self, kg: Decimal, weighed: Awaitable[object], *, ramp: float = 0.2, vibrate: float = 0.2
    ) -> None:
        """A truck drives on, rocks, and stands at ``kg`` until ``weighed`` is done (the
        daemon took its weight — on a loaded machine that can take longer than any fixed
        settling time; bound it there), then drives off."""
        script = truck_script(kg, ramp=ramp, vibrate=vibrate, settle=0)
        await self.drive(script[:2])
        await weighed
        await self.drive(script[3:])

    # -- frames ----------------------------------------------------------------------------------
    def frame(self) -> bytes:
        """The frame showing the current weight in this simulator's protocol."""
        if self.protocol == "yaohua-tf0":
            return encode_tf0(self.shown_now())
        if self.protocol == "yaohua-equals":
            return encode_equals(self.shown_now())
        tare, kg = self.tare_taken, self.shown_now()
        if self.protocol == "yaohua-a12":
            return encode_a12(kg) if tare is None else encode_a12(kg - tare, kind="N")
        if self.protocol == "toledo":
            if tare is None:
                return encode_toledo(kg, moving=self.moving)
            return encode_toledo(kg - tare, tare=tare, net=True, moving=self.moving)
        return encode_reply(self.address, "B", kg)

    def _send(self, frame: bytes) -> None:
        if not self.port.plugged:
            return
        if self.noise and self._rng.random() < 0.3:
            frame = (
                bytes(self._rng.randrange(256) for _ in range(self._rng.randrange(1, 8))) + frame
            )
        with contextlib.suppress(OSError):
            if self.split:
                cut = self._rng.randrange(1, len(frame))
                self.port.write(frame[:cut])
                self.port.write(frame[cut:])
            else:
                self.port.write(frame)
            self.frames_sent += 1

    async def _emit(self) -> None:
        while True:
            self._send(self.frame())
            await asyncio.sleep(self.period)

    def _request(self, data: bytes) -> None:
        """Command mode: answer B (gross), D (net; no tare here) and C (tare, 0) for our
        address; requests may come split over reads."""
        self._requests += data
        while (start := self._requests.find(b"\x02")) >= 0 and len(self._requests) - start >= 6:
            req = bytes(self._requests[start : start + 6])
            del self._requests[: start + 1]
            command = chr(req[2])
            if req[1:2] != self.address.encode() or req[5] != 0x03 or command not in "BCD":
                continue
            del self._requests[:5]
            value = Decimal(0) if command == "C" else self.kg
            self._send(encode_reply(self.address, command, value))  # type: ignore[arg-type]
        del self._requests[:-64]


async def serve_scale(
    path: Path,
    protocol: Protocol,
    kg: Decimal,
    tare_kg: Decimal,
    *,
    trucks: int = 0,
    out: Callable[[str], None] | None = None,
) -> None:
    """``edge sim scale``: an indicator at ``path``; a truck weighs in loaded (``kg``) and out
    empty (``tare_kg``), again and again (``trucks`` weighings; 0: until stopped)."""
    out = out or functools.partial(print, flush=True)
    async with ScaleSim(path, protocol) as sim:
        out(f"scale indicator ({protocol}) on {path} — read it as 8N1 "
            '(framing = "8N1": a virtual serial port takes no parity)')  # fmt: skip
        done = 0
        while trucks == 0 or done < trucks:
            weight = sim.shown(kg if done % 2 == 0 else tare_kg)  # to the division, as shown
            out(f"truck on the scale: {weight} kg")
            await sim.drive(truck_script(weight))
            done += 1
            await asyncio.sleep(2)
