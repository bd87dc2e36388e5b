"""Milesight LPR HTTP POST (flat JSON), see research/anpr_formats.md §4: ``plate``,
``plate_color``, ``confidence``, ``time``, ``plate_image`` / ``full_image`` (base64)."""

from __future__ import annotations

from datetime import datetime

from edge.events import ImageKind, PlateRead
from edge.ingest.generic import parse_color, parse_time
from edge.ingest.payload import PayloadError, RawPush, images_from
from edge.plates import PlateColor, normalise_plate


def parse_milesight(raw: RawPush, received: datetime) -> PlateRead:
    data = raw.json()
    if not isinstance(data, dict) or "plate" not in data:
        raise PayloadError("not a Milesight LPR body (no 'plate')")
    if data["plate"] is not None and not isinstance(data["plate"], str):
        raise PayloadError("'plate' must be a string")
    plate = normalise_plate(data["plate"], colour_prefix=True)
    try:
        color = parse_color(data.get("plate_color"), plate)
    except PayloadError:
        color = plate.color_hint or PlateColor.OTHER  # colour strings are not documented
    try:
        when = parse_time(data.get("time"), received)
    except PayloadError:
        when = received
    confidence = data.get("confidence")
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=color,
        camera_time=when,
        images=images_from(
            data, (("full_image", ImageKind.SCENE), ("plate_image", ImageKind.PLATE)), ""
        ),
        confidence=int(confidence) if isinstance(confidence, int | float) else None,
    )
