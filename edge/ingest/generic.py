"""The documented generic JSON plate event, for cameras and integrations without a vendor format.

    POST /push/<lane id>
    {"plate": "豫A12345", "color": "1", "time": "2026-11-21T08:00:00+08:00",
     "confidence": 96, "id": "record-17", "images": {"scene": "<base64 JPEG>", "plate": "…"}}

Only ``plate`` is required ("" or "无" for a vehicle without a readable plate). ``color`` is the
spec code 0-5 or a colour word (blue/蓝, yellow/黄, white/白, black/黑, green/绿); without it the
colour comes from a colour prefix on the plate, else 5 (other). ``time`` is ISO 8601 or unix
seconds; without it the receive time is used.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from edge.domain.events import ImageKind, PlateRead
from edge.domain.plates import NormalisedPlate, PlateColor, color_from_word, normalise_plate
from edge.ingest.payload import (
    PayloadError,
    RawPush,
    camera_time,
    confidence,
    epoch_time,
    images_from,
)


def parse_color(value: Any, plate: NormalisedPlate) -> PlateColor:
    if value is None or value == "":
        return plate.color_hint or PlateColor.OTHER
    color = color_from_word(str(value))
    if color is None:
        raise PayloadError(f"unknown plate colour {value!r}")
    return color


_UNIX_TEXT = re.compile(r"\s*\d{1,12}(\.\d*)?\s*", re.ASCII)


def parse_time(value: Any, received: datetime) -> datetime:
    """ISO 8601 (an explicit offset wins; without one, wall-clock time in the site zone, which
    ``received`` carries) or unix seconds (a true epoch); absent: ``received``. Raises
    :class:`PayloadError` for anything else, NaN and out-of-range numbers included."""
    if isinstance(value, str) and _UNIX_TEXT.fullmatch(value):
        value = float(value)  # unix seconds as a string (Milesight sends numbers as strings)
    if isinstance(value, int | float) and not isinstance(value, bool):
        when = epoch_time(value, "time", received.tzinfo)
    elif value is None or isinstance(value, str):
        when = camera_time(value, "time", received.tzinfo)
    else:
        raise PayloadError("time must be an ISO 8601 string or unix seconds")
    return when or received


def parse_generic(raw: RawPush, received: datetime) -> PlateRead:
    return parse_generic_data(raw.json(), received)


def parse_generic_data(data: Any, received: datetime) -> PlateRead:
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    if "plate" not in data:
        raise PayloadError("missing field 'plate'")
    raw_plate = data["plate"]
    if raw_plate is not None and not isinstance(raw_plate, str):
        raise PayloadError("'plate' must be a string")
    plate = normalise_plate(raw_plate, colour_prefix=True)
    color = parse_color(data.get("color"), plate)
    when = parse_time(data.get("time"), received)
    images_in = data.get("images")
    if images_in is None:
        images_in = {}
    if not isinstance(images_in, dict):
        raise PayloadError("'images' must be an object")
    images = images_from(
        images_in, (("scene", ImageKind.SCENE), ("plate", ImageKind.PLATE)), "images."
    )
    record_id = data.get("id")
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=color,
        camera_time=when,
        images=images,
        confidence=confidence(data.get("confidence"), "confidence"),
        vendor_id=None if record_id is None else str(record_id)[:64],
    )
