"""A simulated ANPR camera that pushes plate events in a vendor's wire format.

``generic`` posts the documented generic JSON; ``vzenith`` posts a Vzenith ``AlarmInfoPlate``
body and, like the real camera, takes the relay pulse and RS-485 bytes from the reply.
"""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from edge.plates import PlateColor
from edge.sim.jpeg import sample_jpeg

CameraFormat = Literal["generic", "vzenith"]

#: spec §7.1 → Vzenith colorType (spec + 1).
_TO_VZENITH: dict[PlateColor, int] = {
    color: int(color.value) + 1 for color in PlateColor if color is not PlateColor.OTHER
}


@dataclass(frozen=True, slots=True)
class PushResult:
    status: int
    body: dict[str, Any]
    relay_opened: bool = False
    serial_data: tuple[bytes, ...] = ()


@dataclass
class CameraSim:
    url: str
    format: CameraFormat = "generic"
    token: str | None = None
    timeout: float = 5.0  # Vzenith firmware's HTTP timeout
    relay_pulses: list[str | None] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _client: httpx.AsyncClient | None = None

    def payload(
        self, plate: str | None, color: PlateColor, *, image: bool, plate_id: int
    ) -> dict[str, Any]:
        jpeg = base64.b64encode(sample_jpeg(f"{plate or '无牌'}#{plate_id}")).decode()
        if self.format == "generic":
            body: dict[str, Any] = {
                "plate": plate or "",
                "color": color.value,
                "time": time.time(),
                "confidence": 95,
                "id": str(plate_id),
            }
            if image:
                body["images"] = {"scene": jpeg}
            return body
        now = time.time()
        result: dict[str, Any] = {
            "license": plate or "_无_",
            "colorType": _TO_VZENITH.get(color, 0),
            "type": 1,
            "confidence": 95,
            "triggerType": 1,
            "plateid": plate_id,
            "isoffline": 0,
            "timeStamp": {"Timeval": {"sec": int(now), "usec": int(now % 1 * 1e6)}},
        }
        if image:
            result["imageFile"] = jpeg
            result["imageFileLen"] = len(jpeg)
        return {
            "AlarmInfoPlate": {
                "channel": 0,
                "deviceName": "IVS",
                "ipaddr": "127.0.0.1",
                "serialno": "sim-00000001",
                "result": {"PlateResult": result},
            }
        }

    async def push(
        self,
        plate: str | None,
        color: PlateColor = PlateColor.YELLOW,
        *,
        image: bool = True,
        plate_id: int | None = None,
    ) -> PushResult:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        pid = next(self._ids) if plate_id is None else plate_id
        headers = {"X-Edge-Token": self.token} if self.token else {}
        response = await self._client.post(
            self.url, json=self.payload(plate, color, image=image, plate_id=pid), headers=headers
        )
        body = response.json()
        if self.format != "vzenith" or response.status_code != 200:
            return PushResult(response.status_code, body)
        reply = body.get("Response_AlarmInfoPlate", {})
        opened = reply.get("info") == "ok" or "ivs_ioctrl" in reply
        if opened:
            self.relay_pulses.append(plate)
        frames = tuple(
            base64.b64decode(frame["data"])[: frame["dataLen"]]
            for frame in reply.get("serialData", [])
        )
        return PushResult(response.status_code, body, opened, frames)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
