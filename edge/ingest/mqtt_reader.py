"""Plates published to an MQTT broker (aiomqtt). Payloads are read by the push parsers (generic
JSON, Vzenith, Milesight). A lost broker is reconnected with a capped backoff; the explicit
reconnect loop is aiomqtt's recommended pattern."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import aiomqtt
import structlog

from edge.config.model import MqttCamera
from edge.domain.events import PlateEvent
from edge.gate.lane import Lane
from edge.ingest.generic import parse_generic
from edge.ingest.milesight import parse_milesight
from edge.ingest.payload import PayloadError, RawPush, diagnostic
from edge.ingest.reconnect import keep_connected
from edge.ingest.vzenith import parse_vzenith

log = structlog.get_logger("edge.ingest.mqtt")

_PARSERS = {"generic": parse_generic, "vzenith": parse_vzenith, "milesight": parse_milesight}


def mqtt_event(payload: bytes, fmt: str, *, lane_id: str, received: datetime) -> PlateEvent:
    """The plate event in one MQTT message: ``payload`` as the broker delivered it, read by the
    push parser of ``fmt`` (``generic``, ``vzenith``, ``milesight``; its JSON with any charset
    or byte-order mark the push lanes accept) for lane ``lane_id``, received at ``received``
    (aware, the site zone). Raises :class:`PayloadError` for a message that is not one."""
    raw = RawPush(payload)
    return PlateEvent.from_read(
        _PARSERS[fmt](raw, received),
        lane_id=lane_id,
        received_at=received,
        source=f"mqtt-{fmt}",
        raw=diagnostic(raw),
    )


class MqttPlateReader:
    def __init__(
        self,
        lane: Lane,
        cfg: MqttCamera,
        zone: ZoneInfo,
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.lane, self.cfg, self.zone = lane, cfg, zone
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.health = lane.camera

    def message(self, payload: bytes) -> None:
        received = datetime.now(self.zone)
        try:
            event = mqtt_event(payload, self.cfg.format, lane_id=self.lane.id, received=received)
        except PayloadError as exc:
            self.health.rejected += 1
            log.warning(
                "malformed MQTT plate message",
                lane=self.lane.id,
                error=str(exc),
                head=payload[:120].decode("utf-8", "replace"),
            )
            return
        self.health.heard()
        self.lane.offer(event)

    async def run(self) -> None:
        await keep_connected(
            self._session,
            health=self.health,
            what="MQTT broker",
            errors=(aiomqtt.MqttError,),
            backoff_initial=self.backoff_initial,
            backoff_max=self.backoff_max,
        )

    async def _session(self) -> None:
        password = self.cfg.password.get_secret_value() if self.cfg.password else None
        async with aiomqtt.Client(
            self.cfg.host,
            self.cfg.port,
            username=self.cfg.username,
            password=password,
            identifier=f"edge-gate-{self.lane.id}",
        ) as client:
            await client.subscribe(self.cfg.topic, qos=1)
            self.health.connected = True
            log.info("subscribed to camera topic", lane=self.lane.id, topic=self.cfg.topic)
            async for message in client.messages:
                if isinstance(message.payload, bytes | bytearray):
                    self.message(bytes(message.payload))
