"""What the gate says to and hears from the environmental platform, in API-neutral form.

The verify answer (getCheckVehicle / VehVerifyEx), and the pass, photo and correction reports the
forwarder sends (spec §4.1, §4.2, §7). The API clients in :mod:`edge.uplink.platform` translate
these to and from each API's wire models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.domain.codes import ControlFlag, Direction, GateSignal
from edge.domain.plates import PlateColor


@dataclass(frozen=True, slots=True)
class VerifyAnswer:
    """The platform's verdict on a vehicle, in API-neutral form.

    The city API fills ``control``, ``reason``, ``fuel`` and ``emission``; the province API
    (VehVerifyEx) also the blacklist and exemption codes, ``need_complete`` (1: the emission
    fields are empty and must not be trusted; 2: the registration needs completing), the
    registration key ``license_pk``, the vehicle type and its gross mass.
    """

    control: ControlFlag
    reason: str = ""
    fuel: str = ""
    emission: str = ""
    blacklist: str = ""
    exempt: str = ""
    need_complete: str = "0"
    license_pk: str = ""
    vehicle_type: str = ""
    gvm: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "control": int(self.control),
            "reason": self.reason,
            "fuel": self.fuel,
            "emission": self.emission,
            "blacklist": self.blacklist,
            "exempt": self.exempt,
            "need_complete": self.need_complete,
            "license_pk": self.license_pk,
            "vehicle_type": self.vehicle_type,
            "gvm": self.gvm,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VerifyAnswer:
        fields = {k: v for k, v in data.items() if k != "control"}
        return cls(control=ControlFlag(data.get("control", 0)), **fields)


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
    #: What the platform said about the vehicle (province records copy its codes).
    answer: VerifyAnswer | None = None
    #: Relative URLs of the front and rear photos, as the daemon's web server serves them.
    photo_urls: tuple[str, str] = ("", "")
    #: The gate's resolved "controlled?" (province ``isControl`` 0/1, §4.2.11) for every kind
    #: of pass, see :func:`edge.domain.decision.resolved_control`.
    controlled: bool = False
    #: The vehicle's filing with the province platform (its licensePK), from the electronic
    #: ledger: carried by province pass and goods records (islicensePK / licensePK) before
    #: the verify answer's.
    license_pk: str = ""


@dataclass(frozen=True, slots=True)
class PhotoReport:
    number: int  # §7.2: 1 front, 2 rear
    kind: int  # §7.3: 1 entry, 2 exit, 3 gate crash
    taken_at: datetime
    data: bytes


@dataclass(frozen=True, slots=True)
class Correction:
    """A pass's plate corrected by a guard after review (a misread)."""

    plate: str
    color: PlateColor
    answer: VerifyAnswer | None  # the platform's answer for the corrected plate, if it gave one
    reviewer: str
    reviewed_at: datetime
