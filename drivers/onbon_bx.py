"""Onbon 仰邦 BX-5 / BX-6 LED controllers: the "BX" frame and its real-time dynamic area
(research/drivers.md §3.1), over RS-485, TCP (port 5005) or the camera's transparent serial.

Frame: ``8 × A5 | dst(2 LE) src(2 LE) reserved(6) type(FE) version(02) len(2 LE) data |
CRC-16/ARC over dst…data (2 LE) | 5A``; everything between the preamble and the final ``5A`` is
escaped (``A5→A6 02``, ``A6→A6 01``, ``5A→5B 02``, ``5B→5B 01``). Text is GB2312/GBK with colour
escapes ``\\C1`` red, ``\\C2`` green, ``\\C3`` yellow.

Each panel line is one dynamic area (16 pixels high, the panel's width in 8-pixel units),
static when it fits and scrolling left when it does not. :func:`decode` reads frames back, for
the LED board simulator and the tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from drivers.olm_led import crc16
from drivers.panel import FittedLine

PREAMBLE = b"\xa5" * 8
END = 0x5A
SRC = 0x8000
DEVICE_ANY = 0xFE
VERSION = 0x02
REPLY_NONE = 0x02
LINE_HEIGHT = 16
EFFECT_STATIC, EFFECT_SCROLL_LEFT = 0x01, 0x03
RED, GREEN, YELLOW = "\\C1", "\\C2", "\\C3"

_ESCAPES = {0xA5: b"\xa6\x02", 0xA6: b"\xa6\x01", 0x5A: b"\x5b\x02", 0x5B: b"\x5b\x01"}
_UNESCAPES = {v: bytes([k]) for k, v in _ESCAPES.items()}
_COLOUR = re.compile(r"\\C\d")


class FrameError(ValueError):
    """Bytes that are not a valid BX frame."""


def crc16_arc(data: bytes) -> int:
    return crc16(data, 0x0000)


def escape(data: bytes) -> bytes:
    return b"".join(_ESCAPES.get(b, bytes([b])) for b in data)


def unescape(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(data):
        pair = data[i : i + 2]
        if pair in _UNESCAPES:
            out += _UNESCAPES[pair]
            i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def frame(data: bytes, *, address: int = 1) -> bytes:
    body = (
        address.to_bytes(2, "little")
        + SRC.to_bytes(2, "little")
        + bytes(6)
        + bytes([DEVICE_ANY, VERSION])
        + len(data).to_bytes(2, "little")
        + data
    )
    return PREAMBLE + escape(body + crc16_arc(body).to_bytes(2, "little")) + bytes([END])


def command(group: int, cmd: int, params: bytes = b"", *, address: int = 1) -> bytes:
    return frame(bytes([group, cmd, REPLY_NONE, 0, 0]) + params, address=address)


def _area(area_id: int, line: FittedLine, width_units: int, encoding: str) -> bytes:
    colour = GREEN if line.ok else RED
    text = (colour + line.text).encode(encoding, errors="replace")
    effect = EFFECT_SCROLL_LEFT if line.scroll else EFFECT_STATIC
    return (
        bytes([0x00])  # area type: text
        + (0).to_bytes(2, "little")  # X, 8-pixel units
        + (area_id * LINE_HEIGHT).to_bytes(2, "little")  # Y, pixels
        + width_units.to_bytes(2, "little")  # W, 8-pixel units
        + LINE_HEIGHT.to_bytes(2, "little")  # H, pixels
        + bytes([area_id, 0x00, 0x00])  # area id, line spacing, run mode 0 (loop)
        + (0).to_bytes(2, "little")  # timeout: none
        + bytes(3)  # reserved
        + bytes([0x01, 0x02, effect, 0x00, 0x01, 0x05])  # single line, no wrap, effect, exit…
        + len(text).to_bytes(4, "little")
        + text
    )


def dynamic_text(
    lines: Sequence[FittedLine], *, width: int, address: int = 1, encoding: str = "gbk"
) -> bytes:
    """One frame replacing every dynamic area with ``lines`` (``width``: half-width cells)."""
    areas = [_area(i, line, width, encoding) for i, line in enumerate(lines)]
    params = bytes([0xFF, len(areas)]) + b"".join(len(a).to_bytes(2, "little") + a for a in areas)
    return command(0xA3, 0x06, params, address=address)


@dataclass(frozen=True, slots=True)
class DecodedArea:
    area_id: int
    text: str  # without colour escapes
    colour: str | None
    scroll: bool


@dataclass(frozen=True, slots=True)
class Decoded:
    address: int
    group: int
    cmd: int
    areas: tuple[DecodedArea, ...] = ()


def _split_frames(data: bytes) -> list[bytes]:
    frames = []
    while data:
        if not data.startswith(PREAMBLE):
            raise FrameError(f"no preamble: {data[:8].hex(' ')}")
        end = data.find(bytes([END]), len(PREAMBLE))
        if end < 0:
            raise FrameError("truncated frame (no 5A)")
        frames.append(unescape(data[len(PREAMBLE) : end]))
        data = data[end + 1 :]
    return frames


def _decode_areas(params: bytes, encoding: str) -> tuple[DecodedArea, ...]:
    count, pos, areas = params[1], 2, []
    for _ in range(count):
        length = int.from_bytes(params[pos : pos + 2], "little")
        area = params[pos + 2 : pos + 2 + length]
        text_length = int.from_bytes(area[23:27], "little")
        raw = area[27 : 27 + text_length].decode(encoding)
        colour = m.group(0) if (m := _COLOUR.match(raw)) else None
        areas.append(DecodedArea(area[9], _COLOUR.sub("", raw), colour, area[19] == 3))
        pos += 2 + length
    return tuple(areas)


def decode(data: bytes, *, encoding: str = "gbk") -> list[Decoded]:
    """Every frame in ``data``, checking lengths and CRCs."""
    out = []
    for body in _split_frames(data):
        if len(body) < 16:
            raise FrameError("frame too short")
        length = int.from_bytes(body[12:14], "little")
        payload, crc = body[14 : 14 + length], body[14 + length : 16 + length]
        if len(payload) != length or len(crc) != 2:
            raise FrameError("length does not match the frame")
        if crc16_arc(body[: 14 + length]) != int.from_bytes(crc, "little"):
            raise FrameError("CRC mismatch")
        group, cmd, params = payload[0], payload[1], payload[5:]
        areas = _decode_areas(params, encoding) if (group, cmd) == (0xA3, 0x06) else ()
        out.append(Decoded(int.from_bytes(body[0:2], "little"), group, cmd, areas))
    return out
