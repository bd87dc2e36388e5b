"""A truck scale's weighing indicator (地磅仪表) on a serial link: live weight in kg.

The indicator either streams frames on its own (continuous modes) or answers the host's
requests (Yaohua/Keli command mode: this driver then asks for the gross weight every
``poll_interval`` seconds). Frames are read by a parser of :mod:`drivers.weighing`; the bytes
come through :class:`~drivers.serial_link.SerialLink`, so an unplugged USB adapter or a
rebooted serial server reconnects on its own.

Health: ``connected`` only while the link is up **and** a valid frame arrived within
``silence_after`` seconds (a port that is open but silent — wrong baud rate, indicator off,
wrong format — is not a working scale); ``commands`` counts valid frames, ``failures`` bad
ones, ``last_error`` says why the last one was refused or why the scale is silent. It logs
once when the weight becomes unavailable and once when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import structlog

from drivers.base import DriverHealth, DriverUnavailableError, Lifecycle, stop_task
from drivers.serial_link import SerialLink
from drivers.weighing import Command, FrameParser, Kind, Reading, command_frame

log = structlog.get_logger("drivers.scale")

Unit = Literal["kg", "t", "lb"]
#: A sample's fault while the indicator shows a net weight without its tare (a clerk pressed
#: 去皮 on it): the load on the platform is unknown, so no weight is taken.
NET_DISPLAY = "net display without its tare (cancel the tare on the indicator)"
#: The same, as the guard and the technician read it.
NET_DISPLAY_SAID = "仪表处于净重显示，请取消去皮"
#: Kilograms per displayed unit.
KG_PER_UNIT: dict[str, Decimal] = {
    "kg": Decimal(1),
    "t": Decimal(1000),
    "lb": Decimal("0.45359237"),
    "g": Decimal("0.001"),
}


@dataclass(frozen=True, slots=True)
class WeightSample:
    """One reading in kg at monotonic time ``at``: the load on the platform (gross). ``kg`` is
    ``None`` while the indicator reports a fault (overload, out of range) or shows a net weight
    without its tare (:data:`NET_DISPLAY`); a net weight sent with its tare is given as gross
    (net + tare, ``kind`` "gross"). ``stable`` is the indicator's own motion flag where it has
    one."""

    kg: Decimal | None
    at: float
    kind: Kind = "displayed"
    stable: bool | None = None
    fault: str | None = None
    tare_kg: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Polling:
    """Command mode: ask ``address`` for ``command`` (B gross, D net) every ``interval`` s."""

    address: str = "A"
    command: Command = "B"
    interval: float = 0.2


class ScaleIndicator(Lifecycle):
    def __init__(
        self,
        link: SerialLink,
        parser: FrameParser,
        *,
        unit: Unit = "kg",
        polling: Polling | None = None,
        silence_after: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link, self.parser, self.unit = link, parser, unit
        self.polling, self.silence_after, self.clock = polling, silence_after, clock
        self.name = link.name
        self.frames = 0
        self.latest: WeightSample | None = None
        #: The indicator shows a net weight it sends without its tare (a tare taken on it).
        self.net_display = False
        self._listeners: list[Callable[[WeightSample], None]] = []
        self._poll_frame = (
            command_frame(polling.address, polling.command) if polling is not None else b""
        )
        self._task: asyncio.Task[None] | None = None
        self._reported_silent = False
        self._started_at = clock()
        link.on_data = self._bytes

    # -- what the daemon and the technician read ------------------------------------------------
    def _fresh(self) -> bool:
        return self.latest is not None and self.clock() - self.latest.at <= self.silence_after

    @property
    def health(self) -> DriverHealth:
        fresh = self._fresh()
        error = self.parser.last_error
        if self.link.connected and not fresh:
            error = f"no valid weight frame for {self.silence_after:g} s (baud rate, format?)"
        elif not self.link.connected:
            error = self.link.health.last_error or error
        elif self.net_display:
            error = NET_DISPLAY
        return DriverHealth(
            connected=self.link.connected and fresh,
            last_error=error,
            reconnects=self.link.health.reconnects,
            commands=self.frames,
            failures=self.parser.bad_frames,
        )

    def current_kg(self) -> Decimal | None:
        """The last weight while the link is up and it is fresh (within ``silence_after``),
        else ``None``: a stale weight is never shown as live."""
        if self.latest is None or not self.link.connected or not self._fresh():
            return None
        return self.latest.kg

    def on_sample(self, listener: Callable[[WeightSample], None]) -> None:
        """Call ``listener`` with every reading (from the event loop, never blocking)."""
        self._listeners.append(listener)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.link.start()
        if self._task is None:
            self._started_at = self.clock()
            self._task = asyncio.create_task(self._watch(), name=f"scale:{self.link.port}")

    async def aclose(self) -> None:
        await stop_task(self._task)
        self._task = None
        await self.link.aclose()

    async def _watch(self) -> None:
        """Poll in command mode; note a silent indicator (once)."""
        interval = self.polling.interval if self.polling else min(self.silence_after / 2, 0.5)
        while True:
            if self.polling is not None and self.link.connected:
                with contextlib.suppress(DriverUnavailableError):  # the link logs its loss
                    await self.link.write(self._poll_frame)
            await asyncio.sleep(interval)
            health = self.health
            if not health.connected and not self._reported_silent and self._started_long_ago():
                self._reported_silent = True
                log.warning("scale weight unavailable", scale=self.name, error=health.last_error)

    def _started_long_ago(self) -> bool:
        return self.clock() - self._started_at > self.silence_after

    def _net_display(self, reading: Reading, *, shown: bool) -> None:
        """Note (log once, and once when back) that the indicator shows a net weight without
        its tare — a tare taken on it (去皮): its weights are refused until it is cleared."""
        if shown and not self.net_display:
            log.error("scale shows a net weight without its tare: readings refused until the "
                      "tare is cleared on the indicator", scale=self.name,
                      weight=str(reading.weight))  # fmt: skip
        elif self.net_display and not shown:
            log.info("scale shows the gross weight again", scale=self.name)
        self.net_display = shown

    # -- bytes in --------------------------------------------------------------------------------
    def _bytes(self, data: bytes) -> None:
        bad_before = self.parser.bad_frames
        readings = self.parser.feed(data)
        if self.parser.bad_frames != bad_before:
            log.debug("scale frame refused", scale=self.name, error=self.parser.last_error)
        for reading in readings:
            self._reading(reading)

    def _reading(self, reading: Reading) -> None:
        factor = KG_PER_UNIT[reading.unit or self.unit]
        if reading.kind == "tare":
            return  # a tare display (A12 ``wt``): not the load on the platform
        self.frames += 1
        kg = None if reading.weight is None else reading.weight * factor
        tare_kg = None if reading.tare is None else reading.tare * factor
        fault: str | None
        kind, fault = reading.kind, reading.fault
        if kind == "net" and kg is not None:
            if tare_kg is not None:  # the load on the platform is the net plus its tare
                kg, kind = kg + tare_kg, "gross"
            else:  # no tare to add back: the platform's load is unknown, never taken as gross
                kg, fault = None, NET_DISPLAY
        self._net_display(reading, shown=fault == NET_DISPLAY)
        sample = WeightSample(
            kg=kg,
            at=self.clock(),
            kind=kind,
            stable=reading.stable,
            fault=fault,
            tare_kg=tare_kg,
        )
        self.latest = sample
        if self._reported_silent:
            self._reported_silent = False
            log.info("scale weight back", scale=self.name)
        for listener in self._listeners:
            listener(sample)
