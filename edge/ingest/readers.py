"""The camera readers the daemon runs: for cameras it connects to (serial port, MQTT broker,
Dahua event stream, ONVIF events), one supervised task per lane. Cameras that push to the
daemon need none (``http_push.py`` serves them)."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from edge.config.model import DahuaPullCamera, MqttCamera, OnvifCamera, SerialCamera
from edge.gate.lane import Lane

#: The reader for each kind of camera config: its task's name prefix, module and class. A
#: reader's module (and what it brings: the ONVIF stack alone is ~25 MiB resident) is imported
#: only when a lane has that kind of camera.
_READERS: dict[type, tuple[str, str, str]] = {
    SerialCamera: ("serial", "edge.ingest.serial_reader", "SerialPlateReader"),
    MqttCamera: ("mqtt", "edge.ingest.mqtt_reader", "MqttPlateReader"),
    DahuaPullCamera: ("dahua", "edge.ingest.dahua_stream", "DahuaEventStream"),
    OnvifCamera: ("onvif", "edge.ingest.onvif_reader", "OnvifPlateReader"),
}


def camera_reader(lane: Lane, zone: ZoneInfo) -> tuple[str, Callable[[], Awaitable[None]]] | None:
    """The task name (``serial:<lane>``, …) and run function of the reader for ``lane``'s
    camera; None for a camera that pushes to the daemon."""
    found = _READERS.get(type(lane.cfg.camera))
    if found is None:
        return None
    prefix, module, name = found
    reader = getattr(importlib.import_module(module), name)(lane, lane.cfg.camera, zone)
    run: Callable[[], Awaitable[None]] = reader.run
    return f"{prefix}:{lane.id}", run
