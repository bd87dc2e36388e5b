"""Milesight LPR HTTP POST (flat JSON), see research/anpr_formats.md §4: ``plate``,
``plate_color``, ``confidence``, ``time``, ``plate_image`` / ``full_image`` (base64).

Milesight firmware sends every number as a string (``"confidence": "93"``): numbers are read
from either, and checked (finite, in range). ``full_image`` is photo 1, ``plate_image`` the
plate crop; ``evidence_image0/1`` are used as the scene only when there is no ``full_image``.
"""

from __future__ import annotations

from datetime import datetime

from edge.domain.events import ImageKind, PlateRead
from edge.domain.plates import PlateColor, normalise_plate
from edge.ingest.generic import parse_color, parse_time
from edge.ingest.payload import PayloadError, RawPush, confidence, images_from


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
    scene = next((key for key in _SCENES if data.get(key) not in (None, "")), _SCENES[0])
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=color,
        camera_time=parse_time(data.get("time"), received),
        images=images_from(data, ((scene, ImageKind.SCENE), ("plate_image", ImageKind.PLATE)), ""),
        confidence=confidence(data.get("confidence"), "confidence"),
    )


_SCENES = ("full_image", "evidence_image0", "evidence_image1")
