"""HTTP push from cameras: ``POST /push/<lane id>`` in the lane's configured camera format.

The handler waits for the lane to decide and actuate (under the camera's reply deadline) so
that (a) the camera is acknowledged only for a pass that is committed, and (b) cameras that take
commands in the reply (Vzenith) get the barrier and LED commands in it.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from drivers.camera_reply import CameraReply
from edge.config import LaneConfig
from edge.events import PlateEvent, PlateRead
from edge.ingest.generic import parse_generic
from edge.ingest.payload import PayloadError, decode_body
from edge.ingest.vzenith import parse_vzenith, vzenith_plate_id, vzenith_reply
from edge.lane import Lane, LaneOutcome

log = structlog.get_logger("edge.ingest")

_PARSERS: dict[str, Callable[[Any, datetime], PlateRead]] = {
    "generic-push": parse_generic,
    "vzenith-push": parse_vzenith,
}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"result": "error", "error": message}, status=status)


def _authorised(request: web.Request, cfg: LaneConfig) -> bool:
    if cfg.camera.token is None:
        return True
    given = request.query.get("token") or request.headers.get("X-Edge-Token") or ""
    expected = cfg.camera.token.get_secret_value()
    return hmac.compare_digest(given.encode(), expected.encode())


class PushReceiver:
    def __init__(self, lanes: Mapping[str, Lane], zone: ZoneInfo) -> None:
        self.lanes, self.zone = lanes, zone

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/push/{lane}", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        lane = self.lanes.get(request.match_info["lane"])
        if lane is None:
            return _error(404, "no such lane")
        if not _authorised(request, lane.cfg):
            log.warning("camera push refused: bad token", lane=lane.id, peer=request.remote)
            return _error(401, "bad or missing token")
        body = await request.read()
        received, mono = datetime.now(self.zone), time.monotonic()
        kind = lane.cfg.camera.kind
        try:
            data = decode_body(body, request.charset)
            read = _PARSERS[kind](data, received)
        except PayloadError as exc:
            log.warning(
                "malformed camera payload",
                lane=lane.id,
                format=kind,
                error=str(exc),
                size=len(body),
                head=body[:120].decode("utf-8", "replace"),
            )
            return _error(400, str(exc))
        reply = CameraReply() if kind == "vzenith-push" else None
        event = PlateEvent(
            lane_id=lane.id,
            plate=read.plate,
            color=read.color,
            camera_time=read.camera_time,
            received_at=received,
            received_mono=mono,
            source=kind,
            images=read.images,
            confidence=read.confidence,
            vendor_id=read.vendor_id,
            camera_reply=reply,
        )
        future = lane.submit(event)
        try:
            outcome = await asyncio.wait_for(
                asyncio.shield(future), lane.cfg.camera.reply_deadline_seconds
            )
        except TimeoutError:
            outcome = None
            log.error("lane did not finish before the camera's deadline", lane=lane.id)
            future.add_done_callback(_consume)  # the lane logs its own failures
        except Exception as exc:  # noqa: BLE001 - the lane logged it; the camera gets a 500
            return _error(500, f"internal error: {type(exc).__name__}")
        finally:
            if reply is not None:
                reply.seal()
        if reply is not None:
            return web.json_response(vzenith_reply(reply, vzenith_plate_id(data)))
        if outcome is None:
            return _error(504, "the lane did not decide in time")
        return web.json_response(_generic_reply(outcome))


def _consume(future: asyncio.Future[LaneOutcome]) -> None:
    if not future.cancelled():
        future.exception()


def _generic_reply(outcome: LaneOutcome) -> dict[str, Any]:
    if outcome.duplicate:
        return {"result": "ok", "duplicate": True}
    assert outcome.decision is not None
    return {
        "result": "ok",
        "duplicate": False,
        "serial": outcome.serial,
        "verdict": outcome.decision.verdict,
        "reason": outcome.decision.reason,
        "barrier": outcome.barrier,
    }
