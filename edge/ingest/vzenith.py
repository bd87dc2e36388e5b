"""Vzenith/臻识 (and clones) ``AlarmInfoPlate`` HTTP push, and the reply that carries commands.

See ../shared/research/anpr_formats.md §1. The camera opens its relay and writes its RS-485
port (LED, voice) from the *reply* to its push, so the reply is built from the lane's
:class:`~drivers.camera_reply.CameraReply` after the lane has decided.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from drivers.base import CameraReply
from edge.domain.events import ImageKind, PlateRead
from edge.domain.plates import PlateColor, normalise_plate
from edge.ingest.payload import PayloadError, RawPush, epoch_time, images_from, number
from edge.ingest.payload import confidence as checked_confidence

#: Vzenith ``colorType`` → spec §7.1 (Vzenith = spec + 1; 6 yellow-green NEV → new energy).
VZENITH_COLORS: dict[int, PlateColor] = {
    0: PlateColor.OTHER,
    1: PlateColor.BLUE,
    2: PlateColor.YELLOW,
    3: PlateColor.WHITE,
    4: PlateColor.BLACK,
    5: PlateColor.NEW_ENERGY,
    6: PlateColor.NEW_ENERGY,
}

_FIRMWARE_PULSE_MS = 500  # what the camera does for info "ok"


def parse_vzenith(raw: RawPush, received: datetime) -> PlateRead:
    return parse_vzenith_data(raw.json(), received)


def parse_vzenith_data(data: Any, received: datetime) -> PlateRead:
    if not isinstance(data, dict) or not isinstance(data.get("AlarmInfoPlate"), dict):
        raise PayloadError("not a Vzenith AlarmInfoPlate body")
    result = data["AlarmInfoPlate"].get("result")
    plate_result = result.get("PlateResult") if isinstance(result, dict) else None
    if not isinstance(plate_result, dict):
        raise PayloadError("AlarmInfoPlate.result.PlateResult is missing")
    raw_plate = plate_result.get("license")
    if raw_plate is not None and not isinstance(raw_plate, str):
        raise PayloadError("PlateResult.license must be a string")
    plate = normalise_plate(raw_plate)
    color_type = plate_result.get("colorType", 0)
    color = (
        VZENITH_COLORS.get(color_type, PlateColor.OTHER)
        if isinstance(color_type, int)
        else (PlateColor.OTHER)
    )
    when = received
    stamp = plate_result.get("timeStamp")
    timeval = stamp.get("Timeval") if isinstance(stamp, dict) else None
    if isinstance(timeval, dict) and timeval.get("sec") is not None:
        # Timeval.sec is a true epoch (its dec* fields are the local wall clock).
        usec = number(timeval.get("usec"), "Timeval.usec", 0, 999_999) or 0
        when = epoch_time(timeval["sec"], "Timeval.sec", received.tzinfo) or received
        when += timedelta(microseconds=usec)
    images = images_from(
        plate_result,
        (("imageFile", ImageKind.SCENE), ("imageFragmentFile", ImageKind.PLATE)),
        "PlateResult.",
    )
    plate_id = plate_result.get("plateid")
    if plate_id is not None and (isinstance(plate_id, bool) or not isinstance(plate_id, int | str)):
        raise PayloadError("PlateResult.plateid must be a number")
    offline = plate_result.get("isoffline", 0)
    if offline not in (0, 1, "0", "1") or isinstance(offline, bool):
        # a stored record taken for a live read would move the barrier for an old vehicle
        raise PayloadError("PlateResult.isoffline must be 0 (live) or 1 (a stored record)")
    outputs = plate_result.get("gioouts")
    opened = isinstance(outputs, list) and any(
        isinstance(o, dict) and o.get("ctrltype") in (1, 2) for o in outputs
    )
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=color,
        camera_time=when,
        images=images,
        confidence=checked_confidence(plate_result.get("confidence"), "PlateResult.confidence"),
        vendor_id=None if plate_id is None else f"vz-{plate_id}",
        echo=plate_id,
        historical=offline in (1, "1"),
        camera_opened=opened,
    )


def vzenith_reply(
    reply: CameraReply, plate_id: Any = None, *, continue_offline: bool = False
) -> dict[str, Any]:
    """The ``Response_AlarmInfoPlate`` body for what the lane's drivers asked for; for an
    offline re-push, ``ContinuePushOffline`` asks the camera for its next stored record."""
    body: dict[str, Any] = {"info": "no", "content": "retransfer_stop", "is_pay": "true"}
    if continue_offline:
        body["ContinuePushOffline"] = {"plateid": plate_id, "continue": 1}
    if reply.relay_channel is not None:
        if reply.relay_pulse_ms == _FIRMWARE_PULSE_MS:
            body.update(info="ok", channelNum=reply.relay_channel)
        else:
            body["ivs_ioctrl"] = {
                "io": reply.relay_channel,
                "value": 2,
                "delay": reply.relay_pulse_ms,
            }
    if reply.serial:
        body["serialData"] = [
            {
                "serialChannel": frame.channel,
                "data": base64.b64encode(frame.data).decode(),
                "dataLen": len(frame.data),  # must equal the decoded length, or the CRC is cut
            }
            for frame in reply.serial
        ]
    if plate_id is not None:
        body["plateid"] = plate_id
    return {"Response_AlarmInfoPlate": body}


def parse_gpio_input(raw: RawPush) -> tuple[int, int]:
    """An ``AlarmGioIn`` push: (input 0-3 = IO in 1-4, value 0/1)."""
    data = raw.json()
    try:
        result = data["AlarmGioIn"]["result"]["TriggerResult"]
        source, value = result["source"], result["value"]
    except (KeyError, TypeError):
        raise PayloadError("not an AlarmGioIn push (AlarmGioIn.result.TriggerResult)") from None
    if not isinstance(source, int) or not isinstance(value, int) or isinstance(source, bool):
        raise PayloadError("AlarmGioIn source and value must be integers")
    return source, value
