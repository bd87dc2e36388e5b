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

from datetime import datetime
from typing import Any

from edge.events import ImageKind, PlateRead
from edge.ingest.payload import PayloadError, RawPush, images_from
from edge.plates import COLOR_WORDS, NormalisedPlate, PlateColor, normalise_plate

_ENGLISH_COLORS = {
    "blue": PlateColor.BLUE,
    "yellow": PlateColor.YELLOW,
    "white": PlateColor.WHITE,
    "black": PlateColor.BLACK,
    "green": PlateColor.NEW_ENERGY,
    "other": PlateColor.OTHER,
}


def parse_color(value: Any, plate: NormalisedPlate) -> PlateColor:
    if value is None or value == "":
        return plate.color_hint or PlateColor.OTHER
    text = str(value).strip().lower()
    if text in {c.value for c in PlateColor}:
        return PlateColor(text)
    if text in _ENGLISH_COLORS:
        return _ENGLISH_COLORS[text]
    if text in COLOR_WORDS:
        return COLOR_WORDS[text]
    raise PayloadError(f"unknown plate colour {value!r}")


def parse_time(value: Any, received: datetime) -> datetime:
    if value is None or value == "":
        return received
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, received.tzinfo)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise PayloadError(f"time {value!r} is not ISO 8601") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=received.tzinfo)
    raise PayloadError("time must be an ISO 8601 string or unix seconds")


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
    confidence = data.get("confidence")
    if confidence is not None and not isinstance(confidence, int | float):
        raise PayloadError("'confidence' must be a number")
    record_id = data.get("id")
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=color,
        camera_time=when,
        images=images,
        confidence=None if confidence is None else int(confidence),
        vendor_id=None if record_id is None else str(record_id),
    )
