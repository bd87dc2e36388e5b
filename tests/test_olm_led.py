"""The "00 64 FF FF" LED + voice board: golden frames (CRC-16/Modbus, low byte first)."""

from __future__ import annotations

import pytest

from drivers import olm_led
from drivers.base import DisplayLine
from drivers.camera_reply import CameraSerialTransport
from drivers.led_display import LedDisplay, OlmEncoder, TemplateEncoder
from drivers.panel import Panel

# research/anpr_formats.md §5: CRC verified on public frames ("欢迎光临" spoken)
VOICE_WELCOME = bytes.fromhex("00 64 FF FF 30 09 01 BB B6 D3 AD B9 E2 C1 D9 32 58")
# research/drivers.md §3.2: 0x62 temporary text "欢迎光临", red, line 0
TEXT_WELCOME = bytes.fromhex(
    "00 64 FF FF 62 1B 00 15 01 00 05 15 01 03 01 FF 00 00 00 00 00 00 00 08 00"
    " BB B6 D3 AD B9 E2 C1 D9 68 67"
)


def test_golden_frames() -> None:
    assert olm_led.voice_frame("欢迎光临") == VOICE_WELCOME
    assert olm_led.text_frame(0, "欢迎光临", olm_led.RED) == TEXT_WELCOME
    assert olm_led.crc16_modbus(b"123456789") == 0x4B37  # the CRC-16/MODBUS check value


def test_decode_reads_back_what_the_board_would_show() -> None:
    frames = olm_led.text_frame(1, "豫A12345 禁止通行", olm_led.RED) + VOICE_WELCOME
    shown = olm_led.decode(frames)
    assert [(d.cmd, d.line, d.text) for d in shown] == [
        (olm_led.CMD_TEXT, 1, "豫A12345 禁止通行"),
        (olm_led.CMD_VOICE, None, "欢迎光临"),
    ]
    other = olm_led.frame(0xE2, bytes.fromhex("01 00 00 0A 00 00 19"))
    assert other == bytes.fromhex("00 64 FF FF E2 07 01 00 00 0A 00 00 19 37 D0")  # verified
    assert olm_led.decode(other)[0].text == "01 00 00 0a 00 00 19"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (TEXT_WELCOME[:-1] + b"\x00", "CRC mismatch"),
        (TEXT_WELCOME[:10], "truncated"),
        (b"\x01\x02\x03", "not a frame"),
    ],
)
def test_corrupt_frames_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(olm_led.FrameError, match=message):
        olm_led.decode(data)


def test_text_longer_than_a_frame_is_refused() -> None:
    with pytest.raises(olm_led.FrameError, match="at most 255"):
        olm_led.text_frame(0, "长" * 200)


def test_display_frames_colour_voice_and_plain_text() -> None:
    lines = [DisplayLine("豫A12345", ok=False), DisplayLine("禁止通行", ok=False)]
    with_voice = LedDisplay(OlmEncoder(), CameraSerialTransport(), voice=True).encode(lines)
    shown = olm_led.decode(with_voice)
    assert [d.text for d in shown] == ["豫A12345", "禁止通行", "豫A12345 禁止通行"]
    assert with_voice.startswith(olm_led.text_frame(0, "豫A12345", olm_led.RED))
    plain = LedDisplay(TemplateEncoder(), CameraSerialTransport()).encode(lines)
    assert plain == "豫A12345\r\n禁止通行\r\n".encode("gbk")


def test_a_line_longer_than_a_frame_is_cut_to_fit_it() -> None:
    wide = Panel(lines=1, width=256, overflow="scroll")
    data = LedDisplay(OlmEncoder(), CameraSerialTransport(), wide).encode([DisplayLine("长" * 200)])
    (shown,) = olm_led.decode(data)
    assert shown.text == "长" * (olm_led.MAX_TEXT // 2)
