"""Build each lane's barrier, LED display and detector drivers from the config, and own their
lifetime (serial links, Modbus connections, polling tasks): one Modbus bus per ``[modbus.*]``
section, shared by every driver on it."""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.base import Barrier, Detector, Display, DriverHealth
from drivers.camera_reply import CameraRelayBarrier, CameraSerialTransport
from drivers.contact_detectors import CameraInputDetector, SerialContactDetector
from drivers.hikvision_barrier import HikvisionBarrier
from drivers.led_display import (
    LedDisplay,
    LedEncoder,
    LinkTransport,
    OlmEncoder,
    OnbonEncoder,
    TemplateEncoder,
    Transport,
)
from drivers.modbus_input import ModbusInputDetector
from drivers.modbus_relay import ModbusBus, ModbusRelayBarrier, make_client
from drivers.panel import Panel
from drivers.serial_barrier import SerialCommandBarrier
from drivers.serial_link import SerialLink
from drivers.virtual import VirtualBarrier, VirtualDetector, VirtualDisplay
from edge.config.model import (
    CameraInputDetectorConfig,
    CameraRelayBarrierConfig,
    Config,
    DisplayConfig,
    HikvisionBarrierConfig,
    LaneConfig,
    ModbusInputDetectorConfig,
    ModbusRelayBarrierConfig,
    OlmDisplayConfig,
    OnbonDisplayConfig,
    SerialCommandBarrierConfig,
    SerialContactDetectorConfig,
    TextDisplayConfig,
    VirtualDetectorConfig,
    VirtualDisplayConfig,
)
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

    def start(self) -> None:
        """Open the links and start polling (reconnecting on their own from then on)."""
        for link in self.links:
            link.start()
        if isinstance(self.detector, ModbusInputDetector | SerialContactDetector):
            self.detector.start()

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
        if isinstance(self.barrier, HikvisionBarrier):
            await self.barrier.aclose()
        if isinstance(
            self.detector, ModbusInputDetector | SerialContactDetector | CameraInputDetector
        ):
            await self.detector.aclose()
        for link in self.links:
            await link.aclose()


class DeviceBuilder:
    """Drivers for every lane of one config; Modbus buses are shared between lanes."""

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

    def lane(self, lane: LaneConfig) -> LaneDevices:
        links: list[SerialLink] = []
        barrier = self._barrier(lane, links)
        display = self._display(lane.led, links)
        detector = self._detector(lane, barrier)
        if isinstance(detector, SerialContactDetector):
            links.append(detector.link)
        return LaneDevices(barrier, display, detector, links)

    def _barrier(self, lane: LaneConfig, links: list[SerialLink]) -> Barrier:
        cfg = lane.barrier
        if isinstance(cfg, CameraRelayBarrierConfig):
            return CameraRelayBarrier(cfg.channel, cfg.pulse_ms)
        if isinstance(cfg, ModbusRelayBarrierConfig):
            return ModbusRelayBarrier(
                self.bus(cfg.bus),
                channel=cfg.channel,
                device_id=cfg.device_id,
                pulse_ms=cfg.pulse_ms,
                board=cfg.board,
                open_input=cfg.open_input,
            )
        if isinstance(cfg, HikvisionBarrierConfig):
            return HikvisionBarrier(
                cfg.url,
                cfg.username,
                cfg.password.get_secret_value(),
                channel=cfg.channel,
                timeout=cfg.timeout_seconds,
            )
        if isinstance(cfg, SerialCommandBarrierConfig):
            link = SerialLink(cfg.port, baudrate=cfg.baudrate, name="barrier controller")
            links.append(link)
            return SerialCommandBarrier(
                link,
                bytes.fromhex(cfg.open),
                check=cfg.check,
                ack=bytes.fromhex(cfg.ack) if cfg.ack else None,
                ack_timeout=cfg.ack_timeout_ms / 1000,
            )
        return VirtualBarrier(f"{lane.id}-barrier")

    @staticmethod
    def _display(cfg: DisplayConfig, links: list[SerialLink]) -> Display | None:
        if isinstance(cfg, VirtualDisplayConfig):
            return VirtualDisplay("led")
        if not isinstance(cfg, OlmDisplayConfig | OnbonDisplayConfig | TextDisplayConfig):
            return None
        encoder: LedEncoder
        if isinstance(cfg, OlmDisplayConfig):
            encoder = OlmEncoder(cfg.encoding, cfg.seconds)
        elif isinstance(cfg, OnbonDisplayConfig):
            encoder = OnbonEncoder(cfg.width, cfg.address, cfg.encoding)
        else:
            encoder = TemplateEncoder(cfg.template, cfg.encoding)
        transport: Transport
        if cfg.transport == "camera":
            transport = CameraSerialTransport(cfg.channel)
        else:
            link = SerialLink(cfg.port, baudrate=cfg.baudrate, name="LED display")
            links.append(link)
            transport = LinkTransport(link)
        voice = isinstance(cfg, OlmDisplayConfig) and cfg.voice
        return LedDisplay(
            encoder, transport, Panel(cfg.lines, cfg.width, cfg.overflow), voice=voice
        )

    def _detector(self, lane: LaneConfig, barrier: Barrier) -> Detector | None:
        cfg = lane.detector
        if isinstance(cfg, VirtualDetectorConfig):
            linked = barrier if isinstance(barrier, VirtualBarrier) else None
            return VirtualDetector(linked, cfg.pass_after_seconds)
        if isinstance(cfg, ModbusInputDetectorConfig):
            return ModbusInputDetector(
                self.bus(cfg.bus),
                input_=cfg.input,
                device_id=cfg.device_id,
                poll_seconds=cfg.poll_ms / 1000,
                debounce_seconds=cfg.debounce_ms / 1000,
                invert=cfg.invert,
            )
        if isinstance(cfg, SerialContactDetectorConfig):
            return SerialContactDetector(
                cfg.port,
                present=bytes.fromhex(cfg.present),
                gone=bytes.fromhex(cfg.gone),
                baudrate=cfg.baudrate,
                debounce_seconds=cfg.debounce_ms / 1000,
            )
        if isinstance(cfg, CameraInputDetectorConfig):
            return CameraInputDetector(
                cfg.input, debounce_seconds=cfg.debounce_ms / 1000, invert=cfg.invert
            )
        return None

    def close(self) -> None:
        for bus in self.buses.values():
            bus.close()
