"""Every photo the platform receives is a JPEG under 1 MB (§2.2). Larger ones are re-encoded:
first at a slightly lower quality, then scaled down by the square root of the size ratio
(one more encode, rarely two), which keeps as many pixels as the limit allows, so the plate
stays legible. CPU-bound: call :func:`fit_jpeg` in a worker thread.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.platform.city_models import MAX_PHOTO_BYTES

#: Aim a little under the limit: the encoder's output size is only roughly proportional.
LIMIT = MAX_PHOTO_BYTES - 1
_QUALITY = 80
_MIN_WIDTH = 320


class PhotoError(ValueError):
    """The image cannot be decoded."""


def _encode(image: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any decoded image
        raise PhotoError("JPEG encoding failed")
    return bytes(buffer.tobytes())


def fit_jpeg(data: bytes, limit: int = LIMIT) -> bytes:
    """``data`` if it is already a JPEG under ``limit`` bytes, else a re-encoded one that is."""
    if len(data) <= limit and data.startswith(b"\xff\xd8\xff"):
        return data
    # Far over the limit (4K frames): let the JPEG decoder scale down by 2 or 4 as it decodes,
    # much faster than decoding everything and resizing; 1920 px across keeps a plate legible.
    ratio = len(data) / limit
    mode = (
        cv2.IMREAD_REDUCED_COLOR_4
        if ratio > 12
        else cv2.IMREAD_REDUCED_COLOR_2
        if ratio > 1.5
        else cv2.IMREAD_COLOR
    )
    image = cv2.imdecode(np.frombuffer(data, np.uint8), mode)
    if image is None:
        raise PhotoError("the photo is not a decodable image")
    encoded = _encode(image, _QUALITY)
    while len(encoded) > limit:
        height, width = image.shape[:2]
        scale = min(0.9, math.sqrt(limit / len(encoded)) * 0.95)
        if width * scale < _MIN_WIDTH:
            return _encode(image, 40)  # a tiny image at low quality always fits
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        encoded = _encode(image, _QUALITY)
    return encoded
