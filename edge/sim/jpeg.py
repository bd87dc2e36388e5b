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


def sample_4k_frame(quality: int = 92) -> bytes:
    """A 3840×2160 JPEG of gradients and noise: large, as real 4K scenes are (~4 MB at 92)."""
    import cv2  # noqa: PLC0415 - only the photo tests and the benchmark need OpenCV here
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:2160, 0:3840]
    base = np.dstack([x * 255 // 3840, y * 255 // 2160, (x + y) % 256]).astype(np.uint8)
    noisy = cv2.add(base, rng.integers(0, 60, base.shape, dtype=np.uint8))
    ok, buffer = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover
        raise RuntimeError("JPEG encoding failed")
    return bytes(buffer.tobytes())
