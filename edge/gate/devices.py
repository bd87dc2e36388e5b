"""Build each lane's barrier, LED display and detector drivers from the config, and own their
lifetime (serial links, Modbus connections, polling tasks): one Modbus bus per ``[modbus.*]``
section, shared by every driver on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from drivers.base import Barrier, Detector, Display, DriverHealth
from drivers.modbus_relay import ModbusBus, make_client
from drivers.serial_link import SerialLink
from edge.config.model import Config, LaneConfig, PositionSensorConfig
from edge.ops.health import DevicesReport, DriverReport


def _driver_report(health: DriverHealth, *, vehicle_present: bool | None = None) -> DriverReport:
    return DriverReport(
        connected=health.connected,
        last_error=health.last_error,
        reconnects=health.reconnects,
        commands=health.commands,
        failures=health.failures,
        vehicle_present=vehicle_present,
    )


@dataclass(slots=True)
class LaneDevices:
    barrier: Barrier
    display: Display | None
    detector: Detector | None
    links: list[SerialLink] = field(default_factory=list)

    @property
    def drivers(self) -> list[Barrier | Display | Detector]:
        """The lane's drivers in the order they start (they stop in reverse)."""
        return [d for d in (self.barrier, self.display, self.detector) if d is not None]

    def start(self) -> None:
        """Open the links, then start the drivers (reconnecting on their own from then on)."""
        for link in self.links:
            link.start()
        for driver in self.drivers:
            driver.start()

    def report(self) -> DevicesReport:
        """Health of each driver, for /healthz and the status page."""
        return DevicesReport(
            barrier=_driver_report(self.barrier.health),
            led=None if self.display is None else _driver_report(self.display.health),
            detector=None
            if self.detector is None
            else _driver_report(
                self.detector.health, vehicle_present=self.detector.presence.present
            ),
        )

    async def aclose(self) -> None:
        """Stop the drivers, newest first, then close the links."""
        for driver in reversed(self.drivers):
            await driver.aclose()
        for link in self.links:
            await link.aclose()


@dataclass(slots=True)
class _LaneContext:
    """One lane's :class:`drivers.context.DriverContext`: buses shared through the builder,
    serial links collected for the lane's :class:`LaneDevices`."""

    lane_id: str
    builder: DeviceBuilder
    links: list[SerialLink] = field(default_factory=list)

    def modbus_bus(self, name: str) -> ModbusBus:
        return self.builder.bus(name)

    def serial_link(self, port: str, *, baudrate: int, name: str) -> SerialLink:
        link = SerialLink(port, baudrate=baudrate, name=name)
        self.links.append(link)
        return link


class DeviceBuilder:
    """Drivers for every lane of one config; Modbus buses are shared between lanes. Each
    driver's config model builds it (``build(ctx)`` in ``edge/config/model.py``)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.buses: dict[str, ModbusBus] = {}

    def bus(self, name: str) -> ModbusBus:
        if name not in self.buses:
            b = self.cfg.modbus[name]
            client = make_client(
                b.transport,
                host=b.host,
                port=b.port,
                serial_port=b.serial_port,
                baudrate=b.baudrate,
                parity=b.parity,
                timeout=b.timeout_seconds,
            )
            self.buses[name] = ModbusBus(client, name=f"relay board {name!r}")
        return self.buses[name]

    def scale_position(self, name: str, sensors: Sequence[PositionSensorConfig]) -> list[Detector]:
        """The position sensors of scale ``name`` (``[scales.<name>] position``); their Modbus
        buses shared with the lanes'. Started and stopped by the weighbridge."""
        ctx = _LaneContext(f"scale:{name}", self)
        return [sensor.sensor(ctx) for sensor in sensors]

    def lane(self, lane: LaneConfig) -> LaneDevices:
        ctx = _LaneContext(lane.id, self)
        barrier = lane.barrier.build(ctx)
        display = lane.led.build(ctx)
        detector = lane.detector.build(ctx, barrier)
        return LaneDevices(barrier, display, detector, ctx.links)

    def close(self) -> None:
        for bus in self.buses.values():
            bus.close()
