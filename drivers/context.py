"""What a driver's builder may ask for besides its own config section: shared Modbus buses and
serial links whose lifetime the daemon owns. ``edge/gate/devices.py`` implements it; each
driver's config model (``edge/config/model.py``) has ``build(ctx)`` returning the driver, so a
new brand of hardware is one module here plus its config model."""

from __future__ import annotations

from typing import Protocol

from drivers.modbus_relay import ModbusBus
from drivers.serial_link import SerialLink


class DriverContext(Protocol):
    #: The lane the driver serves (names virtual drivers, labels logs).
    lane_id: str

    def modbus_bus(self, name: str) -> ModbusBus:
        """The ``[modbus.<name>]`` bus, shared by every driver on it."""

    def serial_link(self, port: str, *, baudrate: int, name: str) -> SerialLink:
        """A serial link the daemon starts before the drivers and closes after them."""
