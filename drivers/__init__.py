"""Hardware drivers for the gate: barrier, LED display, vehicle detector.

This package is importable on its own (no import of :mod:`edge`), so a technician's script or
another program can drive a barrier or an LED with it.
"""

from drivers.base import (
    Actuation,
    Barrier,
    CameraReply,
    CameraReplySealedError,
    Detector,
    Display,
    DisplayLine,
    DriverError,
    DriverHealth,
    DriverUnavailableError,
    Lifecycle,
)

__all__ = [
    "Actuation",
    "Barrier",
    "CameraReply",
    "CameraReplySealedError",
    "Detector",
    "Display",
    "DisplayLine",
    "DriverError",
    "DriverHealth",
    "DriverUnavailableError",
    "Lifecycle",
]
