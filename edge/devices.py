"""Build a lane's barrier, LED display and detector drivers from its config."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import Barrier, Detector, Display
from drivers.camera_reply import CameraRelayBarrier, CameraSerialDisplay
from drivers.modbus_relay import ModbusBus, ModbusRelayBarrier
from drivers.virtual import VirtualBarrier, VirtualDetector, VirtualDisplay
from edge.config import (
    CameraRelayBarrierConfig,
    CameraSerialDisplayConfig,
    LaneConfig,
    ModbusRelayBarrierConfig,
    VirtualDetectorConfig,
    VirtualDisplayConfig,
)


@dataclass(frozen=True, slots=True)
class LaneDevices:
    barrier: Barrier
    display: Display | None
    detector: Detector | None


def build_devices(lane: LaneConfig) -> LaneDevices:
    barrier: Barrier
    if isinstance(lane.barrier, CameraRelayBarrierConfig):
        barrier = CameraRelayBarrier(lane.barrier.channel, lane.barrier.pulse_ms)
    elif isinstance(lane.barrier, ModbusRelayBarrierConfig):
        relay = lane.barrier
        barrier = ModbusRelayBarrier(
            ModbusBus(relay.host, relay.port),
            channel=relay.channel,
            device_id=relay.device_id,
            pulse_ms=relay.pulse_ms,
            mode=relay.mode,
        )
    else:
        barrier = VirtualBarrier(f"{lane.id}-barrier")

    display: Display | None = None
    if isinstance(lane.led, CameraSerialDisplayConfig):
        display = CameraSerialDisplay(
            lane.led.channel, lane.led.encoding, lane.led.protocol, voice=lane.led.voice
        )
    elif isinstance(lane.led, VirtualDisplayConfig):
        display = VirtualDisplay(f"{lane.id}-led")

    detector: Detector | None = None
    if isinstance(lane.detector, VirtualDetectorConfig):
        linked = barrier if isinstance(barrier, VirtualBarrier) else None
        detector = VirtualDetector(linked, lane.detector.pass_after_seconds)
    return LaneDevices(barrier, display, detector)
