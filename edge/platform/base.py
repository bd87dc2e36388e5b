"""What the daemon needs from a platform, whichever API (city or province) serves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from edge.codes import ControlFlag, Direction, GateSignal
from edge.plates import PlateColor


@dataclass(frozen=True, slots=True)
class VerifyAnswer:
    """The platform's verdict on a vehicle, in API-neutral form."""

    control: ControlFlag
    reason: str = ""
    fuel: str = ""
    emission: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PassReport:
    """A pass record as the platform receives it."""

    serial: str
    enterprise_code: str
    enterprise_name: str
    gate_code: str
    plate: str
    color: PlateColor
    direction: Direction
    time_from: datetime
    time_to: datetime
    gate_signal: GateSignal


@dataclass(frozen=True, slots=True)
class PhotoReport:
    number: int  # §7.2: 1 front, 2 rear
    kind: int  # §7.3: 1 entry, 2 exit, 3 gate crash
    taken_at: datetime
    data: bytes


class Platform(Protocol):
    async def verify(self, plate: str, color: PlateColor) -> VerifyAnswer: ...

    async def send_pass(self, report: PassReport) -> None: ...

    async def send_photo(self, report: PassReport, photo: PhotoReport) -> None: ...

    async def aclose(self) -> None: ...
