"""A simulated ANPR camera that pushes plate events in a vendor's wire format.

``generic`` posts the documented generic JSON; ``vzenith`` posts a Vzenith ``AlarmInfoPlate``
body and, like the real camera, takes the relay pulse and RS-485 bytes from the reply.
"""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from edge.domain.plates import COLOR_NAMES, PlateColor
from edge.sim.jpeg import sample_jpeg

CameraFormat = Literal["generic", "vzenith", "hikvision", "dahua", "milesight"]

_HIK_COLORS = {
    PlateColor.BLUE: "blue",
    PlateColor.YELLOW: "yellow",
    PlateColor.WHITE: "white",
    PlateColor.BLACK: "black",
    PlateColor.NEW_ENERGY: "newEnergyGreen",
    PlateColor.OTHER: "unknown",
}
_DAHUA_COLORS = {
    **{k: v.capitalize() for k, v in _HIK_COLORS.items()},
    PlateColor.NEW_ENERGY: "Green",
}

HIKVISION_ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
<ipAddress>127.0.0.1</ipAddress><channelID>1</channelID>
<dateTime>{time}</dateTime><activePostCount>{post}</activePostCount>
<eventType>ANPR</eventType><eventState>active</eventState>
<ANPR>
<country>59</country><licensePlate>{plate}</licensePlate><line>1</line>
<direction>forward</direction><confidenceLevel>96</confidenceLevel>
<plateType>92TypeCivil</plateType><plateColor>{color}</plateColor>
<alarmDataType>0</alarmDataType>
<pictureInfoList>{pictures}</pictureInfoList>
</ANPR>
<UUID>sim-{post}</UUID><picNum>{count}</picNum>
</EventNotificationAlert>"""

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
        self,
        plate: str | None,
        color: PlateColor,
        *,
        image: bool,
        plate_id: int,
        offline_at: float | None = None,
        camera_opened: bool = False,
    ) -> dict[str, Any]:
        jpeg = base64.b64encode(sample_jpeg(f"{plate or '无牌'}#{plate_id}")).decode()
        body: dict[str, Any]
        if self.format == "milesight":
            body = {
                "device": "Network Camera",
                "plate": plate or "",
                "confidence": 95,
                "plate_color": _HIK_COLORS[color],
                "direction": "Approach",
            }
            if image:
                body["full_image"] = jpeg
            return body
        if self.format == "dahua":
            picture: dict[str, Any] = {
                "Plate": {
                    "PlateNumber": plate or "无车牌",
                    "PlateColor": _DAHUA_COLORS[color],
                    "Confidence": 95,
                    "IsExist": bool(plate),
                },
                "SnapInfo": {
                    "DeviceID": "sim-dahua",
                    "AccurateTime": datetime.now(UTC)
                    .astimezone()
                    .strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                    "SnapTime": f"sim-{plate_id}",
                },
            }
            if image:
                picture["NormalPic"] = {"Content": jpeg, "PicName": "normal.jpg"}
            return {"Picture": picture}
        if self.format == "generic":
            body = {
                "plate": plate or "",
                "color": color.value,
                "time": time.time(),
                "confidence": 95,
                "id": str(plate_id),
            }
            if image:
                body["images"] = {"scene": jpeg}
            return body
        now = time.time() if offline_at is None else offline_at
        result: dict[str, Any] = {
            "license": plate or "_无_",
            "colorType": _TO_VZENITH.get(color, 0),
            "type": 1,
            "confidence": 95,
            "triggerType": 1,
            "plateid": plate_id,
            "isoffline": 0 if offline_at is None else 1,
            "gioouts": [{"ionum": 0, "ctrltype": 2 if camera_opened else 0}],
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

    def hikvision_parts(
        self, plate: str | None, color: PlateColor, *, image: bool, plate_id: int
    ) -> dict[str, tuple[str, bytes, str]]:
        """The multipart parts of an ISAPI ANPR push: anpr.xml and the named JPEGs."""
        pictures = {"detectionPicture.jpg": "detectionPicture"} if image else {}
        listing = "".join(
            f"<pictureInfo><fileName>{name}</fileName><type>{kind}</type>"
            "<dataType>0</dataType></pictureInfo>"
            for name, kind in pictures.items()
        )
        xml = HIKVISION_ALERT.format(
            time=datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            post=plate_id,
            plate=f"{COLOR_NAMES[color]}{plate}" if plate else "noPlate",
            color=_HIK_COLORS[color],
            pictures=listing,
            count=len(pictures),
        )
        parts = {"anpr.xml": ("anpr.xml", xml.encode(), "application/xml")}
        for name in pictures:
            parts[name] = (name, sample_jpeg(f"{plate or '无牌'}#{plate_id}"), "image/jpeg")
        return parts

    async def push(
        self,
        plate: str | None,
        color: PlateColor = PlateColor.YELLOW,
        *,
        image: bool = True,
        plate_id: int | None = None,
        offline_at: float | None = None,
        camera_opened: bool = False,
    ) -> PushResult:
        """Push a plate read; with ``offline_at`` (unix time) it is a record the camera stored
        while the server was away (Vzenith ``isoffline``), decided by the camera itself."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        pid = next(self._ids) if plate_id is None else plate_id
        headers = {"X-Edge-Token": self.token} if self.token else {}
        if self.format == "hikvision":
            files = self.hikvision_parts(plate, color, image=image, plate_id=pid)
            response = await self._client.post(self.url, files=files, headers=headers)
        else:
            payload = self.payload(
                plate,
                color,
                image=image,
                plate_id=pid,
                offline_at=offline_at,
                camera_opened=camera_opened,
            )
            response = await self._client.post(self.url, json=payload, headers=headers)
        return self._result(response, plate)

    def _result(self, response: httpx.Response, plate: str | None) -> PushResult:
        """What the camera does with the server's answer (Vzenith: pulse, serial bytes)."""
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

    async def poll(self) -> PushResult:
        """A heartbeat / comet poll (Vzenith: a form with the device's name and serial number);
        the reply may carry a command queued since the last one."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        headers = {"X-Edge-Token": self.token} if self.token else {}
        form = {"device_name": "IVS", "ipaddr": "192.168.1.100", "serialno": "sim-0001"}
        response = await self._client.post(f"{self.url}/heartbeat", data=form, headers=headers)
        return self._result(response, None)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
