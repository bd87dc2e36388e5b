"""The daemon's health as one typed report (``Daemon.health()``): served as ``/healthz``, shown
on the status page, published over MQTT and scraped as metrics. Frozen dataclasses read by
attribute; :meth:`HealthReport.to_json` is the JSON of ``/healthz`` (its shape is the
contract with operators' monitoring: keep it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FilingsBacklog:
    """The outbox of filings (the electronic ledger's, issue 15): filings waiting to be sent,
    dead letters, and the age in seconds of the oldest one waiting (None: none)."""

    pending: int = 0
    dead: int = 0
    oldest_unsent_age_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class OutboxReport:
    """The outbox backlog (``edge/uplink/backlog.py`` measures it); ``filings`` the outbox of
    filings' (the alarm counts both)."""

    pending: int = 0
    held: int = 0
    dead: int = 0
    oldest_unsent_age_seconds: float | None = None
    sent_per_minute: int = 0
    link: str = "unknown"
    alarm: bool = False
    at: float = 0.0
    filings: FilingsBacklog = FilingsBacklog()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CameraReport:
    """One lane's camera: ``state`` online/silent/…, ages in whole seconds, counters."""

    state: str
    last_event_age_seconds: int | None
    events: int
    rejected: int
    ignored: int
    clock_off: bool
    silent: bool
    connected: bool | None  # None: a camera that pushes to us (no connection of ours)
    reconnects: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DriverReport:
    """One driver (barrier, LED board, detector) as ``drivers.base.DriverHealth`` counts it."""

    connected: bool
    last_error: str | None
    reconnects: int
    commands: int
    failures: int
    vehicle_present: bool | None = None  # detectors only

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.vehicle_present is None:
            del out["vehicle_present"]
        return out


@dataclass(frozen=True, slots=True)
class DevicesReport:
    """One lane's drivers; a lane without an LED board or detector has None there."""

    barrier: DriverReport
    led: DriverReport | None = None
    detector: DriverReport | None = None

    def to_json(self) -> dict[str, Any]:
        parts = {"barrier": self.barrier, "led": self.led, "detector": self.detector}
        return {name: part.to_json() for name, part in parts.items() if part is not None}

    def parts(self) -> dict[str, DriverReport]:
        """The drivers present, by part name (``barrier``, ``led``, ``detector``)."""
        found = {"barrier": self.barrier, "led": self.led, "detector": self.detector}
        return {name: part for name, part in found.items() if part is not None}


@dataclass(frozen=True, slots=True)
class StorageReport:
    """Photo storage and free space, in MiB (measured when the report is made)."""

    accepting_photos: bool
    alarm: str | None
    photo_mb: float
    free_mb: int | None
    ledger_free_mb: int | None


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """Whether the ledger can be written; ``fault`` is the kind of trouble, ``since`` a Unix
    time; ``journal`` counts passes in the fallback journal waiting to be merged."""

    writable: bool
    fault: str | None
    detail: str | None
    since: float | None
    restored: int
    journal: int


@dataclass(frozen=True, slots=True)
class ReplicaReport:
    """Replication off the box (edge/replica): ``lag_seconds`` the replica may be behind the
    ledger (measured: the time since the last sync the target confirmed), ``last_sync_at`` a
    Unix time, ``alarm`` past ``lag_alarm_seconds``; the same for the photos. ``target`` names
    the place without credentials."""

    target: str
    lag_seconds: float
    last_sync_at: float | None
    errors: int
    last_error: str | None
    alarm: bool
    lag_alarm_seconds: float
    starts: int
    photos_lag_seconds: float | None
    photos_last_sync_at: float | None
    photos_errors: int
    photos_last_error: str | None
    #: Another daemon replicating to the same target ("host name, ledger"): replication is
    #: stopped and the alarm raised (edge/replica/owner.py).
    other_writer: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The whole daemon. ``ok`` is False when an essential component is down or the ledger
    cannot be written; ``ledger`` is None before the daemon has opened it."""

    ok: bool
    components: Mapping[str, bool]
    link: str
    link_reason: str | None
    link_error: str | None
    clock_offset_seconds: float | None
    outbox: OutboxReport
    cameras: Mapping[str, CameraReport]
    devices: Mapping[str, DevicesReport]
    storage: StorageReport
    ledger: LedgerReport | None
    replica: ReplicaReport | None = None  # None: no [replica] configured

    def to_json(self) -> dict[str, Any]:
        """The ``/healthz`` body."""
        body = {
            "ok": self.ok,
            "components": dict(self.components),
            "link": self.link,
            "link_reason": self.link_reason,
            "link_error": self.link_error,
            "clock_offset_seconds": self.clock_offset_seconds,
            "outbox": self.outbox.to_json(),
            "cameras": {lane: camera.to_json() for lane, camera in self.cameras.items()},
            "devices": {lane: devices.to_json() for lane, devices in self.devices.items()},
            "storage": asdict(self.storage),
            "ledger": None if self.ledger is None else asdict(self.ledger),
        }
        if self.replica is not None:  # only with [replica]: the shape is otherwise unchanged
            body["replica"] = self.replica.to_json()
        return body
