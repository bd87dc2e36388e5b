"""The "00 64 FF FF" parking LED + voice board (OLM control card), common behind Chinese lane
cameras' transparent RS-485 port (research/drivers.md §3.2, research/anpr_formats.md §5).

Frame: ``DA=00 | VR=64 | PN=FF FF | CMD | DL | DATA | CRC16/Modbus over DA..DATA, low byte
first``; text and voice in GB2312/GBK. ``0x62`` shows temporary text on one line, ``0x30``
speaks (``01`` = enqueue and play).
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = bytes([0x00, 0x64, 0xFF, 0xFF])
CMD_TEXT = 0x62
CMD_VOICE = 0x30
GREEN = (0x00, 0xFF, 0x00)
RED = (0xFF, 0x00, 0x00)
MAX_DATA = 255
#: GBK bytes of text one 0x62 frame can carry (255 minus its 19 parameter bytes).
MAX_TEXT = MAX_DATA - 19


class FrameError(ValueError):
    """Bytes that are not a valid board frame."""


def crc16_modbus(data: bytes) -> int:
    return crc16(data, 0xFFFF)


def crc16(data: bytes, init: int) -> int:
    """CRC-16 with the reflected polynomial 0xA001: init 0xFFFF is CRC-16/MODBUS, 0 is
    CRC-16/ARC (Onbon)."""
    crc = init
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(cmd: int, data: bytes) -> bytes:
    if len(data) > MAX_DATA:
        raise FrameError(f"{len(data)} data bytes; a frame carries at most {MAX_DATA}")
    body = HEADER + bytes([cmd, len(data)]) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def text_frame(
    line: int,
    text: str,
    color: tuple[int, int, int] = GREEN,
    *,
    seconds: int = 5,
    encoding: str = "gbk",
) -> bytes:
    """Temporary text on ``line`` (0-based): enter/exit effect 0x15, speed 1, font 3, shown once
    for ``seconds``, text colour ``color`` (RGB, alpha 0), black background."""
    encoded = text.encode(encoding, errors="replace")
    head = bytes([line, 0x15, 0x01, 0x00, seconds, 0x15, 0x01, 0x03, 0x01])
    colours = bytes([*color, 0x00]) + bytes(4)
    return frame(CMD_TEXT, head + colours + len(encoded).to_bytes(2, "little") + encoded)


def voice_frame(text: str, *, encoding: str = "gbk") -> bytes:
    return frame(CMD_VOICE, b"\x01" + text.encode(encoding, errors="replace"))


@dataclass(frozen=True, slots=True)
class Decoded:
    cmd: int
    line: int | None
    text: str


def decode(data: bytes, *, encoding: str = "gbk") -> list[Decoded]:
    """Every frame in ``data`` (as a board reads them), checking lengths and CRCs."""
    out = []
    while data:
        if len(data) < 8 or data[:4] != HEADER:
            raise FrameError(f"not a frame: {data[:8].hex(' ')}")
        cmd, length = data[4], data[5]
        end = 6 + length + 2
        if len(data) < end:
            raise FrameError("truncated frame")
        body, crc = data[: 6 + length], int.from_bytes(data[6 + length : end], "little")
        if crc16_modbus(body) != crc:
            raise FrameError(f"CRC mismatch: {crc:04x} != {crc16_modbus(body):04x}")
        payload = body[6:]
        if cmd == CMD_TEXT:
            text_length = int.from_bytes(payload[17:19], "little")
            out.append(Decoded(cmd, payload[0], payload[19 : 19 + text_length].decode(encoding)))
        elif cmd == CMD_VOICE:
            out.append(Decoded(cmd, None, payload[1:].decode(encoding)))
        else:
            out.append(Decoded(cmd, None, payload.hex(" ")))
        data = data[end:]
    return out
