"""A truck scale (地磅) beside one or more lanes: the indicator's live weight, the stable weight
of each truck on it, tied to the plate its lanes read, recorded as a first or second weighing
(research/ledger-and-weighbridge.md §1.8-§1.9).

The plate: the lanes' passes are heard as they are recorded (any camera kind, through the
lane's ``pass_listeners``). A stable weight takes the latest plate read within
``plate_max_age_seconds`` that no weighing used yet; when none was read yet (the camera is
slower than the scale) it waits up to that long for one. A stable weight no plate ever came
for is kept as ``unmatched`` — every weighing is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from drivers.base import Detector
from drivers.scale import ScaleIndicator, WeightSample
from edge.config.model import Config
from edge.domain.weighing import StableDetector, StableRule, StableWeight
from edge.gate.devices import DeviceBuilder
from edge.gate.lane import Lane
from edge.ledger.rows import NewWeighing, StoredWeighing
from edge.ledger.weighings import WeighingLedger

log = structlog.get_logger("edge.weighbridge")


@dataclass(frozen=True, slots=True)
class _PlateRead:
    plate: str
    color: str
    serial: str
    lane: str
    at: float  # monotonic


class Weighbridge:
    def __init__(  # noqa: PLR0913 - the scale's settings, as keywords
        self,
        name: str,
        indicator: ScaleIndicator,
        ledger: WeighingLedger,
        rule: StableRule,
        *,
        max_between_seconds: float,
        preset_tares_kg: Mapping[str, Decimal] | None = None,
        goods_for: Callable[[str, str], str | None] = lambda _plate, _lane: None,
        plate_max_age_seconds: float = 300.0,
        position: Sequence[Detector] = (),
    ) -> None:
        self.name, self.indicator, self.ledger = name, indicator, ledger
        self.detector = StableDetector(rule)
        self.max_between = max_between_seconds
        self.preset_tares = dict(preset_tares_kg or {})
        #: The goods name for a plate read at a lane (None: not known yet).
        self.goods_for = goods_for
        self.plate_max_age = plate_max_age_seconds
        #: Position sensors: a weight counts only while every one reads present.
        self.position = tuple(position)
        self._clock, self._mono = time.time, time.monotonic
        self._read: _PlateRead | None = None
        self._read_arrived = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Called with each weighing as recorded (the status page); must not block.
        self.weighing_listeners: list[Callable[[StoredWeighing], None]] = []
        self.weighings = 0
        indicator.on_sample(self._sample)

    # -- inputs ----------------------------------------------------------------------------------
    def heard_pass(self, message: dict[str, Any]) -> None:
        """A lane's pass listener: remember the plate read at the scale."""
        plate, serial = message.get("plate"), message.get("serial")
        if isinstance(plate, str) and plate and isinstance(serial, str):
            color, lane = str(message.get("color", "")), str(message.get("lane", ""))
            self._read = _PlateRead(plate, color, serial, lane, self._mono())
            self._read_arrived.set()

    def _sample(self, sample: WeightSample) -> None:
        stable = self.detector.feed(
            sample.kg, sample.at, moving=sample.stable is False, in_position=self.in_position()
        )
        if stable is not None:
            task = asyncio.create_task(self._weighed(stable), name=f"weighing:{self.name}")
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("weighing not recorded", scale=self.name, error=repr(exc), exc_info=exc)

    # -- a stable weight -------------------------------------------------------------------------
    def _take_read(self) -> _PlateRead | None:
        read = self._read
        if read is None or self._mono() - read.at > self.plate_max_age:
            return None
        self._read = None  # one plate read, one weighing
        return read

    async def _wait_read(self) -> _PlateRead | None:
        read = self._take_read()
        if read is not None:
            return read
        self._read_arrived.clear()
        try:
            async with asyncio.timeout(self.plate_max_age):
                await self._read_arrived.wait()
        except TimeoutError:
            return None
        return self._take_read()

    async def _weighed(self, stable: StableWeight) -> None:
        at = self._clock()
        read = await self._wait_read()
        new = NewWeighing(
            scale=self.name,
            plate=read.plate if read else None,
            plate_color=read.color if read else "",
            kg=float(stable.kg),
            at=at,
            serial=read.serial if read else None,
        )
        preset = self.preset_tares.get(read.plate) if read else None
        goods = None
        if read is not None:  # the truck's ERP plan first, then the configured defaults
            plan = await self.ledger.plan_for(read.plate, at)
            goods = plan.goods if plan else self.goods_for(read.plate, read.lane)
        row = await self.ledger.weigh(
            new,
            max_between_seconds=self.max_between,
            preset_tare_kg=None if preset is None else float(preset),
            goods=goods,
        )
        self.weighings += 1
        log.info(
            "weighing recorded",
            scale=self.name,
            plate=row.plate,
            kg=str(stable.kg),
            state=row.state,
            net_kg=row.net_kg,
        )
        for listener in self.weighing_listeners:
            listener(row)

    # -- lifecycle and what the faces show -------------------------------------------------------
    def in_position(self) -> bool:
        """Whether the truck stands where it can be weighed (no position sensors: always)."""
        return all(sensor.presence.present for sensor in self.position)

    def start(self) -> None:
        self.indicator.start()
        for sensor in self.position:
            sensor.start()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for sensor in self.position:
            await sensor.aclose()
        await self.indicator.aclose()

    async def drain(self) -> None:
        """Wait for the weighings being recorded (tests, shutdown)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def live(self) -> dict[str, object]:
        """Live weight and health for the status page and ``/healthz``."""
        kg = self.indicator.current_kg()
        latest = self.indicator.latest
        return {
            "name": self.name,
            "kg": None if kg is None else float(kg),
            "stable": None if latest is None else latest.stable,
            "weighed": self.detector.weighed,
            "in_position": self.in_position(),
            "health": self.indicator.health.to_json(),
        }


def build_weighbridges(
    cfg: Config, ledger: WeighingLedger, lanes: Mapping[str, Lane], devices: DeviceBuilder
) -> dict[str, Weighbridge]:
    """One :class:`Weighbridge` per ``[scales.<name>]``, listening to its lanes' passes."""
    bridges: dict[str, Weighbridge] = {}
    for name, scale in cfg.scales.items():
        bridge = Weighbridge(
            name,
            scale.build(name),
            ledger,
            scale.stable_rule(),
            max_between_seconds=cfg.weighing.max_hours_between * 3600,
            preset_tares_kg=cfg.weighing.preset_tare_kg,
            goods_for=cfg.weighing.goods_for,
            plate_max_age_seconds=scale.plate_max_age_seconds,
            position=devices.scale_position(name, scale.position),
        )
        for lane_id in scale.lanes:
            lanes[lane_id].pass_listeners.append(bridge.heard_pass)
        bridges[name] = bridge
    return bridges


class PlanReporter:
    """At lanes without a scale: a pass with a valid, unused ERP transport plan for its plate
    sends the plan's goods and expected tonnage as its goods record (tied to that pass)."""

    #: How far back a restart looks for passes still owed their plan's goods record.
    CATCH_UP_SECONDS = 7 * 86400.0

    def __init__(self, ledger: WeighingLedger, clock: Callable[[], float] = time.time) -> None:
        self.ledger, self._clock = ledger, clock
        self._tasks: set[asyncio.Task[None]] = set()
        self.lanes: list[str] = []
        self.reported = 0

    def start(self) -> None:
        """In the background: the goods records of passes recorded just before the daemon
        stopped (the pass commits first, its plan's goods record right after, in a
        transaction of its own)."""
        task = asyncio.create_task(self._catch_up(), name="plan:catch-up")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _catch_up(self) -> None:
        since = self._clock() - self.CATCH_UP_SECONDS
        for serial, plate, at in await self.ledger.passes_owed_plan_goods(self.lanes, since):
            await self._report(serial, plate, at)

    def heard_pass(self, message: dict[str, Any]) -> None:
        plate, serial = message.get("plate"), message.get("serial")
        if isinstance(plate, str) and plate and isinstance(serial, str):
            report = self._report(serial, plate, self._clock())
            task = asyncio.create_task(report, name=f"plan:{serial}")
            self._tasks.add(task)
            task.add_done_callback(self._done)

    async def _report(self, serial: str, plate: str, at: float) -> None:
        row = await self.ledger.goods_from_plan(serial, plate, at)
        if row is not None:
            self.reported += 1
            log.info("goods record from an ERP plan", serial=serial, plate=plate, ysl=row.ysl)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("ERP plan goods record failed", error=repr(exc), exc_info=exc)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def attach_plan_reporter(
    cfg: Config, ledger: WeighingLedger, lanes: Mapping[str, Lane]
) -> PlanReporter | None:
    """With the ERP API on, the lanes without a scale in ``[erp] report_direction`` report
    plans' tonnage at their passes."""
    if cfg.erp.token is None:
        return None
    weighed = {lane for scale in cfg.scales.values() for lane in scale.lanes}
    reporter = PlanReporter(ledger)
    for lane_id, lane in lanes.items():
        if lane_id not in weighed and lane.cfg.direction == cfg.erp.report_direction:
            lane.pass_listeners.append(reporter.heard_pass)
            reporter.lanes.append(lane_id)
    return reporter
