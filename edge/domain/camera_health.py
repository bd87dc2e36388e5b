"""Camera health: when each lane's camera was last heard from, and an alarm when it has been
silent too long while trucks are expected (``site.operating_hours``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import structlog

from edge.ops.health import CameraReport

log = structlog.get_logger("edge.camera")


@dataclass(slots=True)
class CameraHealth:
    lane_id: str
    last_event_at: float | None = None  # unix seconds; heartbeats count
    events: int = 0
    rejected: int = 0  # malformed or refused pushes, noise on a serial line
    silent: bool = False
    connected: bool | None = None  # for cameras we connect to (serial, later ONVIF)
    reconnects: int = 0
    #: Heard within this long counts as online (site.camera_silent_minutes).
    expected_seconds: float = 3600.0
    ignored: int = 0  # messages that are not passes (keep-alives, video loss, non-motor snaps)
    clock_off: bool = False  # the camera's clock was last found too far from ours

    def trusted_time(self, camera_time: datetime, received: datetime, max_skew: float) -> datetime:
        """The time to date a live read by: the camera's, unless it is more than ``max_skew``
        seconds from the daemon's clock (``received``); then the receive time. Logged once
        when the camera's clock goes wrong and once when it agrees again."""
        offset = (camera_time - received).total_seconds()
        if abs(offset) > max_skew:
            if not self.clock_off:
                self.clock_off = True
                log.warning(
                    "camera clock is off; using the receive time for its reads",
                    lane=self.lane_id,
                    camera_time=camera_time.isoformat(),
                    offset_seconds=round(offset),
                    max_skew_seconds=max_skew,
                )
            return received
        if self.clock_off:
            self.clock_off = False
            log.info("camera clock agrees again", lane=self.lane_id, offset_seconds=round(offset))
        return camera_time

    def heard(self, now: float | None = None, *, plate: bool = True) -> None:
        self.last_event_at = time.time() if now is None else now
        if plate:
            self.events += 1
        if self.silent:
            self.silent = False
            log.info("camera heard again", lane=self.lane_id)

    def state(self, now: float) -> str:
        """``disconnected`` (a camera we connect to is unreachable), ``never`` (nothing heard
        since the start), ``silent`` (not heard within ``expected_seconds``) or ``online``."""
        if self.connected is False:
            return "disconnected"
        if self.last_event_at is None:
            return "never"
        if self.silent or now - self.last_event_at > self.expected_seconds:
            return "silent"
        return "online"

    def report(self, now: float) -> CameraReport:
        """Its part of the health report at Unix time ``now``."""
        age = None if self.last_event_at is None else round(now - self.last_event_at)
        return CameraReport(
            state=self.state(now),
            last_event_age_seconds=age,
            events=self.events,
            rejected=self.rejected,
            ignored=self.ignored,
            clock_off=self.clock_off,
            silent=self.silent,
            connected=self.connected,
            reconnects=self.reconnects,
        )


def within_hours(when: datetime, hours: str) -> bool:
    """``hours`` like "06:00-22:00" (a range over midnight such as "20:00-06:00" works too)."""
    start_text, end_text = hours.split("-")
    start, end = (clock_time.fromisoformat(t) for t in (start_text, end_text))
    now = when.time()
    return start <= now < end if start <= end else now >= start or now < end


def check_silence(
    cameras: list[CameraHealth],
    now: float,
    *,
    zone: ZoneInfo,
    hours: str,
    silent_minutes: float,
    started_at: float,
) -> None:
    """Mark and log (once) cameras silent for longer than ``silent_minutes`` in working hours."""
    if not within_hours(datetime.fromtimestamp(now, zone), hours):
        return
    for camera in cameras:
        since = camera.last_event_at if camera.last_event_at is not None else started_at
        if not camera.silent and now - since > silent_minutes * 60:
            camera.silent = True
            log.warning(
                "camera silent", lane=camera.lane_id, silent_minutes=round((now - since) / 60)
            )
