"""The reconnect policy for cameras the daemon connects to (serial ports, MQTT brokers, Dahua
event streams): run a session until it fails or ends, note the camera as disconnected, log
once when it is lost (not at every retry), and try again after a capped, doubling backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from drivers.backoff import Backoff
from edge.domain.camera_health import CameraHealth

log = structlog.get_logger("edge.ingest")


async def keep_connected(
    session: Callable[[], Awaitable[None]],
    *,
    health: CameraHealth,
    what: str,
    errors: tuple[type[BaseException], ...],
    backoff_initial: float = 0.5,
    backoff_max: float = 30.0,
) -> None:
    """Run ``session`` forever; it sets ``health.connected = True`` once it is connected."""
    backoff = Backoff(backoff_initial, backoff_max)
    while True:
        try:
            await session()
        except errors as exc:
            if health.connected is not False:
                log.warning(
                    "camera connection lost", what=what, lane=health.lane_id, error=str(exc)
                )
        else:
            log.warning("camera connection ended", what=what, lane=health.lane_id)
        if health.connected:
            health.reconnects += 1
            backoff.reset()  # it had worked: start the backoff over
        health.connected = False
        await asyncio.sleep(backoff.next())
