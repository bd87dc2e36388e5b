"""The camera readers the daemon runs: for cameras it connects to (serial port, MQTT broker,
Dahua event stream, ONVIF events), one supervised task per lane. Cameras that push to the
daemon need none (``http_push.py`` serves them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from edge.config.model import DahuaPullCamera, MqttCamera, OnvifCamera, SerialCamera
from edge.gate.lane import Lane
from edge.ingest.dahua_stream import DahuaEventStream
from edge.ingest.mqtt_reader import MqttPlateReader
from edge.ingest.onvif_reader import OnvifPlateReader
from edge.ingest.serial_reader import SerialPlateReader

#: The reader for each kind of camera config, with the prefix of its task's name.
_READERS: dict[type, tuple[str, Callable[..., Callable[[], Awaitable[None]]]]] = {
    SerialCamera: ("serial", lambda lane, cfg, zone: SerialPlateReader(lane, cfg, zone).run),
    MqttCamera: ("mqtt", lambda lane, cfg, zone: MqttPlateReader(lane, cfg, zone).run),
    DahuaPullCamera: ("dahua", lambda lane, cfg, zone: DahuaEventStream(lane, cfg, zone).run),
    OnvifCamera: ("onvif", lambda lane, cfg, zone: OnvifPlateReader(lane, cfg, zone).run),
}


def camera_reader(lane: Lane, zone: ZoneInfo) -> tuple[str, Callable[[], Awaitable[None]]] | None:
    """The task name (``serial:<lane>``, …) and run function of the reader for ``lane``'s
    camera; None for a camera that pushes to the daemon."""
    found = _READERS.get(type(lane.cfg.camera))
    if found is None:
        return None
    prefix, make = found
    return f"{prefix}:{lane.id}", make(lane, lane.cfg.camera, zone)
