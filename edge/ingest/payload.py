"""Helpers shared by the push parsers: payload errors, base64 images, body decoding."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from edge.events import Image, ImageKind
from edge.photos import is_jpeg


class PayloadError(ValueError):
    """A camera payload that cannot be understood; answered with HTTP 400."""


def decode_body(body: bytes) -> Any:
    """Parse a JSON body: UTF-8 first, GB18030 for legacy firmware."""
    for encoding in ("utf-8", "gb18030"):
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"body is not valid JSON: {exc}") from None
    raise PayloadError("body is neither UTF-8 nor GB18030 text")


def b64_image(value: Any, kind: ImageKind, field: str) -> Image | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a base64 string")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError(f"{field} is not valid base64") from None
    if not is_jpeg(data):
        raise PayloadError(f"{field} is not a JPEG image")
    return Image(data, kind)
