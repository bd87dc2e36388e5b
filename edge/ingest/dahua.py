"""Dahua ITSAPI push (camera = HTTP client), see research/anpr_formats.md §3.2.

Plates arrive at ``/NotificationInfo/TollgateInfo`` as JSON, keep-alives at
``/NotificationInfo/KeepAlive``; both are answered ``{"Result": true}`` (otherwise the camera
keeps re-sending). The paths are fixed in the camera, so the lane is found by the camera's
``SnapInfo.DeviceID`` (``camera.device_id`` in the config) or via ``/push/<lane id>``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.events import ImageKind, PlateRead
from edge.ingest.payload import PayloadError, RawPush, images_from
from edge.plates import PlateColor, normalise_plate

_COLORS = {
    "blue": PlateColor.BLUE,
    "yellow": PlateColor.YELLOW,
    "white": PlateColor.WHITE,
    "black": PlateColor.BLACK,
}


def dahua_color(value: Any) -> PlateColor:
    text = str(value or "").strip().lower()
    if "green" in text:
        return PlateColor.NEW_ENERGY
    return _COLORS.get(text, PlateColor.OTHER)


def dahua_device_id(data: Any) -> str | None:
    try:
        device = data["Picture"]["SnapInfo"]["DeviceID"]
    except (KeyError, TypeError):
        return None
    return str(device) if device else None


def parse_dahua(raw: RawPush, received: datetime) -> PlateRead:
    data = raw.json()
    picture = data.get("Picture") if isinstance(data, dict) else None
    if not isinstance(picture, dict) or not isinstance(picture.get("Plate"), dict):
        raise PayloadError("not a Dahua ITSAPI TollgateInfo body (Picture.Plate missing)")
    plate_info = picture["Plate"]
    raw_plate = plate_info.get("PlateNumber")
    if raw_plate is not None and not isinstance(raw_plate, str):
        raise PayloadError("Plate.PlateNumber must be a string")
    plate = normalise_plate(raw_plate)
    snap_info = picture.get("SnapInfo")
    snap: dict[str, Any] = snap_info if isinstance(snap_info, dict) else {}
    when = received
    if stamp := snap.get("AccurateTime") or snap.get("SnapTime"):
        try:
            when = datetime.fromisoformat(str(stamp)).replace(tzinfo=received.tzinfo)
        except ValueError:
            raise PayloadError(f"SnapInfo time {stamp!r} is not readable") from None
    pictures = {key: (picture.get(key) or {}).get("Content") for key in ("NormalPic", "CutoutPic")}
    confidence = plate_info.get("Confidence")
    record = snap.get("SnapTime") or snap.get("AccurateTime")
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=dahua_color(plate_info.get("PlateColor")),
        camera_time=when,
        images=images_from(
            pictures, (("NormalPic", ImageKind.SCENE), ("CutoutPic", ImageKind.PLATE)), "Picture."
        ),
        confidence=confidence if isinstance(confidence, int) else None,
        vendor_id=f"dh-{snap.get('DeviceID', '')}-{record}" if record else None,
    )
