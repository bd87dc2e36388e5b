"""What makes bytes a JPEG at first sight: the SOI marker followed by a marker's first byte."""

from __future__ import annotations

JPEG_MAGIC = b"\xff\xd8\xff"


def is_jpeg(data: bytes) -> bool:
    """True when ``data`` starts like a JPEG (SOI, then a marker). A first check only: the
    header is read before decoding (:mod:`edge.uplink.photo_fit`)."""
    return data.startswith(JPEG_MAGIC)
