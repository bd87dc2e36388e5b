"""Dahua ITSAPI push (camera = HTTP client), see research/anpr_formats.md §3.2.

Plates arrive at ``/NotificationInfo/TollgateInfo`` as JSON, keep-alives at
``/NotificationInfo/KeepAlive``; both are answered ``{"Result": true}`` (otherwise the camera
keeps re-sending). The paths are fixed in the camera, so the lane is found by the camera's
``SnapInfo.DeviceID`` (``camera.device_id`` in the config) or via ``/push/<lane id>``.

Pictures: ``NormalPic`` (scene) is photo 1, else ``VehiclePic``; ``CutoutPic`` is the plate
crop. Non-motor snaps (empty plate, ``NonMotor``) are answered but are not passes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.domain.events import Image, ImageKind, PlateRead
from edge.domain.plates import PlateColor, normalise_plate
from edge.ingest.payload import (
    OtherEvent,
    PayloadError,
    RawPush,
    b64_bytes,
    camera_time,
    confidence,
    jpeg_images,
)

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


#: ``CommInfo.SnapCategory`` / ``Vehicle.VehicleType`` words of a snap that is not a motor
#: vehicle (tricycles, e-bikes, bicycles, pedestrians): never a pass.
_NON_MOTOR = ("nonmotor", "non-motor", "bicycle", "tricycle", "ebike", "e-bike", "human")


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def non_motor(event: dict[str, Any], plate_text: str | None) -> bool:
    """A Dahua snap of something that is not a motor vehicle: an empty plate, and a
    ``NonMotor`` object or a non-motor ``SnapCategory`` / vehicle type (pull stream and
    ITSAPI alike)."""
    if plate_text:
        return False
    words = (
        mapping(event.get("CommInfo")).get("SnapCategory"),
        mapping(event.get("Vehicle")).get("VehicleType"),
        mapping(event.get("TrafficCar")).get("VehicleType"),
    )
    return "NonMotor" in event or any(
        isinstance(word, str) and word.strip().lower() in _NON_MOTOR for word in words
    )


def _pictures(picture: dict[str, Any]) -> tuple[Image, ...]:
    """Photo 1 is the scene: ``NormalPic``, else ``VehiclePic`` (CP Plus and ITSAPI firmware
    without ``NormalPic``; its ``Content`` may hold two JPEGs back to back — the vehicle, then
    the plate crop); the plate crop is ``CutoutPic``, else that second JPEG."""

    def content(key: str) -> bytes | None:
        return b64_bytes(mapping(picture.get(key)).get("Content"), f"Picture.{key}.Content")

    scene, plate = content("NormalPic"), content("CutoutPic")
    vehicle = content("VehiclePic")
    if scene is None and vehicle is not None:
        scene, *rest = jpeg_images(vehicle)
        if plate is None and rest:
            plate = rest[0]
    images = []
    for data, kind in ((scene, ImageKind.SCENE), (plate, ImageKind.PLATE)):
        if data is not None:  # (checked when written: one that is no JPEG is refused then)
            images.append(Image(data, kind))
    return tuple(images)


def parse_dahua(raw: RawPush, received: datetime) -> PlateRead | OtherEvent:
    """An ITSAPI ``TollgateInfo`` body → a plate read, or :class:`OtherEvent` for a non-motor
    snap. ``SnapInfo`` times are the camera's wall clock, read in the site zone
    (``received.tzinfo``). Raises :class:`PayloadError` for anything unreadable."""
    data = raw.json()
    picture = data.get("Picture") if isinstance(data, dict) else None
    if not isinstance(picture, dict) or not isinstance(picture.get("Plate"), dict):
        raise PayloadError("not a Dahua ITSAPI TollgateInfo body (Picture.Plate missing)")
    plate_info = picture["Plate"]
    raw_plate = plate_info.get("PlateNumber")
    if raw_plate is not None and not isinstance(raw_plate, str):
        raise PayloadError("Plate.PlateNumber must be a string")
    if non_motor(picture, raw_plate and raw_plate.strip()):
        return OtherEvent("non-motor snap")
    plate = normalise_plate(raw_plate)
    snap = mapping(picture.get("SnapInfo"))
    stamp = snap.get("AccurateTime") or snap.get("SnapTime")
    when = camera_time(stamp, "SnapInfo time", received.tzinfo) or received
    record = snap.get("SnapTime") or snap.get("AccurateTime")
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=dahua_color(plate_info.get("PlateColor")),
        camera_time=when,
        images=_pictures(picture),
        confidence=confidence(plate_info.get("Confidence"), "Plate.Confidence"),
        vendor_id=f"dh-{str(snap.get('DeviceID', ''))[:64]}-{str(record)[:40]}" if record else None,
    )
