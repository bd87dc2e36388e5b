"""Sample JPEG photos for simulated cameras, each tagged with its plate in a COM segment."""

from __future__ import annotations

import struct
from functools import cache
from importlib import resources


@cache
def _base() -> bytes:
    return resources.files("edge.sim").joinpath("assets/truck.jpg").read_bytes()


def sample_jpeg(label: str) -> bytes:
    """A valid JPEG (a simulated truck) whose comment segment carries ``label``."""
    comment = label.encode("utf-8")[:60000]
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    base = _base()
    return base[:2] + segment + base[2:]


def jpeg_label(data: bytes) -> str | None:
    """Read back the label written by :func:`sample_jpeg`."""
    if data[2:4] != b"\xff\xfe":
        return None
    (length,) = struct.unpack(">H", data[4:6])
    return data[6 : 4 + length].decode("utf-8")
