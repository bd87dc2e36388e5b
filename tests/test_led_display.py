"""LED displays: Onbon BX golden frames, panel fitting, and each protocol written across a real
serial link (a pty) or a TCP socket to the LED board double, which decodes the text back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers import olm_led, onbon_bx
from drivers.base import Actuation, DisplayLine, DriverUnavailableError
from drivers.led_display import LedDisplay, LinkTransport, OlmEncoder, OnbonEncoder, TemplateEncoder
from drivers.panel import FittedLine, Panel, cells, fit
from drivers.serial_link import SerialLink
from edge.sim.led_board import LedBoardSim
from edge.sim.pty import VirtualSerialPort
from tests.helpers import eventually, free_port

CTX = Actuation("in-1", "豫A12345")
REFUSED = [
    DisplayLine("豫A12345", ok=False),
    DisplayLine("国四柴油 重污染管控", ok=False),
    DisplayLine("禁止通行", ok=False),
]


# -- Onbon BX frames ------------------------------------------------------------------------
def test_onbon_golden_frames() -> None:
    """The ping and clear frames of research/drivers.md §3.1, whose CRCs were checked there."""
    preamble = "a5 " * 8
    ping = onbon_bx.frame(bytes.fromhex("a2 00 01 00 00"))
    clear = onbon_bx.frame(bytes.fromhex("a3 10 01 00 00"))
    assert (
        ping.hex(" ")
        == preamble + "01 00 00 80 00 00 00 00 00 00 fe 02 05 00 a2 00 01 00 00 68 f8 5a"
    )
    assert (
        clear.hex(" ")
        == preamble + "01 00 00 80 00 00 00 00 00 00 fe 02 05 00 a3 10 01 00 00 51 f8 5a"
    )


def test_onbon_escapes_reserved_bytes_and_decodes_back() -> None:
    data = bytes([0xA5, 0xA6, 0x5A, 0x5B, 0x00])
    assert onbon_bx.escape(data) == bytes.fromhex("a6 02 a6 01 5b 02 5b 01 00")
    assert onbon_bx.unescape(onbon_bx.escape(data)) == data
    lines = [
        FittedLine("豫A12345", ok=False),
        FittedLine("国四柴油 重污染管控", ok=False, scroll=True),
    ]
    raw = onbon_bx.dynamic_text(lines, width=16, address=3)
    assert raw.startswith(onbon_bx.PREAMBLE)
    assert raw.count(0x5A) == 1  # only the end byte: every other 5A is escaped
    (decoded,) = onbon_bx.decode(raw)
    assert decoded.address == 3
    assert (decoded.group, decoded.cmd) == (0xA3, 0x06)
    assert [(a.text, a.colour, a.scroll) for a in decoded.areas] == [
        ("豫A12345", onbon_bx.RED, False),
        ("国四柴油 重污染管控", onbon_bx.RED, True),
    ]


def test_onbon_refuses_damaged_frames() -> None:
    raw = bytearray(onbon_bx.dynamic_text([FittedLine("请通行")], width=16))
    raw[30] ^= 0x01
    with pytest.raises(onbon_bx.FrameError, match="CRC"):
        onbon_bx.decode(bytes(raw))
    with pytest.raises(onbon_bx.FrameError, match="preamble"):
        onbon_bx.decode(b"\x00" + bytes(raw))
    with pytest.raises(onbon_bx.FrameError, match="no 5A"):
        onbon_bx.decode(onbon_bx.PREAMBLE + b"\x01\x00")
    with pytest.raises(onbon_bx.FrameError, match="too short"):
        onbon_bx.decode(onbon_bx.PREAMBLE + b"\x01\x00\x5a")


# -- panel fitting ---------------------------------------------------------------------------
def test_cells_count_chinese_as_two() -> None:
    assert cells("豫A12345") == 8
    assert cells("禁止通行") == 8


def test_fit_truncates_at_character_boundaries_or_marks_scrolling() -> None:
    narrow = Panel(lines=2, width=9, overflow="truncate")
    assert fit(REFUSED, narrow) == [
        FittedLine("豫A12345", ok=False),
        FittedLine("国四柴油", ok=False),  # 8 cells; a 5th character would need 10
    ]
    scrolling = fit(REFUSED, Panel(lines=2, width=16, overflow="scroll"))
    assert scrolling[1] == FittedLine("国四柴油 重污染管控 禁止通行", ok=False, scroll=True)
    assert fit(REFUSED, Panel(lines=4, width=32)) == [
        FittedLine(line.text, ok=False) for line in REFUSED
    ]


# -- over a serial link and TCP to the board double -----------------------------------------
@pytest.fixture
async def serial_led(tmp_path: Path) -> AsyncIterator[tuple[VirtualSerialPort, LedBoardSim]]:
    board = LedBoardSim()
    port = VirtualSerialPort(tmp_path / "ttyLED", board.feed)
    port.plug()
    yield port, board
    port.unplug()


async def _display(
    port: VirtualSerialPort, encoder: OlmEncoder | OnbonEncoder | TemplateEncoder, **kw: object
) -> LedDisplay:
    link = SerialLink(str(port.path), name="LED display", backoff_initial=0.02, backoff_max=0.1)
    link.start()
    assert await link.wait_connected(5)
    return LedDisplay(encoder, LinkTransport(link), **kw)  # type: ignore[arg-type]


async def test_olm_board_over_serial_shows_and_speaks(
    serial_led: tuple[VirtualSerialPort, LedBoardSim],
) -> None:
    port, board = serial_led
    display = await _display(port, OlmEncoder(), voice=True)
    try:
        await display.show(REFUSED, CTX)
        await board.wait_shown([line.text for line in REFUSED])
        await eventually(lambda: board.spoken == ["豫A12345 国四柴油 重污染管控 禁止通行"])
        assert board.bad_frames == 0
        assert display.health.commands == 1
    finally:
        await display.transport.link.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("encoder", "protocol"),
    [(OnbonEncoder(width=16), "onbon"), (TemplateEncoder("{text}\r\n"), "text")],
)
async def test_other_protocols_over_serial(
    serial_led: tuple[VirtualSerialPort, LedBoardSim],
    encoder: OnbonEncoder | TemplateEncoder,
    protocol: str,
) -> None:
    port, board = serial_led
    board.protocol = protocol  # type: ignore[assignment]
    display = await _display(port, encoder, panel=Panel(lines=2, width=16, overflow="scroll"))
    try:
        await display.show(REFUSED, CTX)
        await board.wait_shown(["豫A12345", "国四柴油 重污染管控 禁止通行"])
        if protocol == "onbon":
            assert board.scrolling == [False, True]
    finally:
        await display.transport.link.aclose()  # type: ignore[attr-defined]


async def test_board_skips_noise_between_frames() -> None:
    board = LedBoardSim()
    frame = olm_led.text_frame(0, "请通行")
    damaged = bytearray(frame)
    damaged[-1] ^= 0xFF
    board.feed(b"\x13\x37" + bytes(damaged) + b"\xff" + frame[:10])
    board.feed(frame[10:])
    assert board.screens == [["请通行"]]
    assert board.bad_frames >= 2


async def test_onbon_board_over_tcp() -> None:
    board = LedBoardSim(protocol="onbon")
    port = await board.serve_tcp("127.0.0.1", free_port())
    link = SerialLink(f"socket://127.0.0.1:{port}", name="LED display")
    link.start()
    try:
        assert await link.wait_connected(5)
        display = LedDisplay(OnbonEncoder(), LinkTransport(link))
        await display.show([DisplayLine("豫A12345"), DisplayLine("请通行")], CTX)
        await board.wait_shown(["豫A12345", "请通行"])
    finally:
        await link.aclose()
        await board.stop()


async def test_serial_port_unplugged_mid_run_and_plugged_back(
    serial_led: tuple[VirtualSerialPort, LedBoardSim],
) -> None:
    port, board = serial_led
    display = await _display(port, OlmEncoder())
    link: SerialLink = display.transport.link  # type: ignore[attr-defined]
    try:
        await display.show([DisplayLine("一")], CTX)
        await board.wait_shown(["一"])
        port.unplug()  # the USB adapter is pulled out
        await eventually(lambda: not display.health.connected)
        with pytest.raises(DriverUnavailableError, match="not connected"):
            await display.show([DisplayLine("二")], CTX)
        assert display.health.failures == 1
        assert display.health.last_error
        port.plug()  # …and plugged back in
        assert await link.wait_connected(5)
        await display.show([DisplayLine("三")], CTX)
        await board.wait_shown(["三"])
        assert [s[0] for s in board.screens] == ["一", "三"]
        assert display.health.reconnects == 1
    finally:
        await link.aclose()
