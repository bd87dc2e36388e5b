"""Modbus relay barriers and loop-detector inputs against the relay board double: Modbus TCP on a
real socket, RTU over TCP, and RTU across a real serial link (a pty pair), with the bytes on the
wire compared to golden frames (research/drivers.md §1, CRCs checked there)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymodbus import FramerType
from structlog.testing import capture_logs

from drivers.base import Actuation, DriverUnavailableError
from drivers.modbus_input import ModbusInputDetector
from drivers.modbus_relay import Board, ModbusBus, ModbusRelayBarrier, make_client
from edge.sim.platform import CityPlatformSim
from edge.sim.pty import NullModem
from edge.sim.relay_board import Command, RelayBoardSim
from tests.helpers import GENERIC_LANE, camera, eventually, free_port, make_config, running_daemon

CTX = Actuation("in-1", "豫A12345")

# Golden RTU frames, device 1 (research/drivers.md §1.1, §1.2).
COIL_0_ON = "01 05 00 00 ff 00 8c 3a"
COIL_0_OFF = "01 05 00 00 00 00 cd ca"
WAVESHARE_FLASH_CH0_700MS = "01 05 02 00 00 07 8d b0"
WAVESHARE_CH0_NORMAL_MODE = "01 06 10 00 00 00 8d 0a"
ELETECHSUP_CH1_5S = "01 06 00 01 06 05 1b a9"
READ_8_INPUTS = "01 02 00 00 00 08 79 cc"


@pytest.fixture
async def board() -> AsyncIterator[RelayBoardSim]:
    sim = RelayBoardSim()
    await sim.start(free_port())
    yield sim
    await sim.stop()


@pytest.fixture
async def serial_board(tmp_path: Path) -> AsyncIterator[tuple[RelayBoardSim, NullModem]]:
    """A board on one end of a pty pair; the daemon's end is ``tmp_path / 'ttyRELAY'``."""
    cable = NullModem(tmp_path / "ttyRELAY", tmp_path / "ttyBOARD")
    cable.plug()
    sim = RelayBoardSim()
    await sim.start_serial(tmp_path / "ttyBOARD")
    yield sim, cable
    await sim.stop()
    cable.unplug()


def rtu_bus(tmp_path: Path) -> ModbusBus:
    return ModbusBus(make_client("rtu", serial_port=str(tmp_path / "ttyRELAY"), timeout=0.5))


def frames(wire: bytearray) -> list[str]:
    """The 8-byte request frames the daemon sent (every request used here is 8 bytes)."""
    return [wire[i : i + 8].hex(" ") for i in range(0, len(wire), 8)]


async def test_rtu_frames_on_the_wire_match_the_boards_protocols(
    tmp_path: Path, serial_board: tuple[RelayBoardSim, NullModem]
) -> None:
    board, cable = serial_board
    board.drive_through = False
    bus = rtu_bus(tmp_path)
    try:
        await ModbusRelayBarrier(bus, board="waveshare", pulse_ms=700).open(CTX)
        await ModbusRelayBarrier(bus, board="eletechsup", pulse_ms=5000).open(CTX)
        await ModbusRelayBarrier(bus, board="plain", pulse_ms=100).open(CTX)
        assert await ModbusInputDetector(bus).read() is False
        assert frames(cable.a_to_b) == [
            WAVESHARE_CH0_NORMAL_MODE,  # forced at connection: never "linkage" mode
            WAVESHARE_FLASH_CH0_700MS,
            ELETECHSUP_CH1_5S,
            COIL_0_ON,
            COIL_0_OFF,
            READ_8_INPUTS,
        ]
        assert board.output_modes == {0: 0}
        assert len(board.commands) == 5  # the board understood every write
    finally:
        bus.close()


async def test_board_timed_pulses_over_modbus_tcp(board: RelayBoardSim) -> None:
    bus = ModbusBus(make_client("tcp", host="127.0.0.1", port=board.port))
    try:
        await ModbusRelayBarrier(bus, channel=2, pulse_ms=100).open(CTX)
        await ModbusRelayBarrier(bus, channel=1, pulse_ms=3000, board="eletechsup").open(CTX)
        assert board.commands == [
            Command(5, 2, 1),  # coil 2 on
            Command(5, 2, 0),  # …and off after the pulse
            Command(6, 2, 0x0603),  # register 2 (channel 1): on for 3 s, timed by the board
        ]
        assert bus.health.commands == 2
        assert bus.health.connected
    finally:
        bus.close()


async def test_rtu_over_tcp_for_serial_servers() -> None:
    sim = RelayBoardSim()
    await sim.start(free_port(), framer=FramerType.RTU)
    bus = ModbusBus(make_client("rtu-over-tcp", host="127.0.0.1", port=sim.port))
    try:
        await ModbusRelayBarrier(bus, board="waveshare", channel=1, pulse_ms=800).open(CTX)
        assert sim.commands[-1] == Command(5, 0x0201, 8)  # flash on, 8 × 100 ms
    finally:
        bus.close()
        await sim.stop()


async def test_unplugged_board_fails_fast_and_recovers(board: RelayBoardSim) -> None:
    bus = ModbusBus(make_client("tcp", host="127.0.0.1", port=board.port, timeout=0.5))
    barrier = ModbusRelayBarrier(bus, pulse_ms=100)
    try:
        await barrier.open(CTX)
        await board.stop()  # the board goes away
        with pytest.raises(DriverUnavailableError):
            await barrier.open(CTX)
        assert not bus.health.connected
        assert bus.health.failures == 1
        await board.start(board.port)  # …and comes back
        board.commands.clear()
        await barrier.open(CTX)
        assert board.commands == [Command(5, 0, 1), Command(5, 0, 0)]
        assert bus.health.reconnects == 1
    finally:
        bus.close()


async def test_serial_port_unplugged_mid_run_and_plugged_back(
    tmp_path: Path, serial_board: tuple[RelayBoardSim, NullModem]
) -> None:
    board, cable = serial_board
    bus = rtu_bus(tmp_path)
    barrier = ModbusRelayBarrier(bus, board="waveshare")
    try:
        await barrier.open(CTX)
        await board.stop()
        cable.unplug()  # the USB adapter is pulled out
        started = time.monotonic()
        with pytest.raises(DriverUnavailableError):
            await barrier.open(CTX)
        assert time.monotonic() - started < 1.0  # fails fast, loudly
        assert not bus.health.connected
        assert bus.health.last_error
        cable.plug()  # …and plugged back in
        await board.start_serial(tmp_path / "ttyBOARD")
        await eventually(lambda: _opens(barrier), timeout=5)
        assert bus.health.connected
        assert bus.health.reconnects >= 1
        assert board.output_modes == {0: 0}  # forced again on the new connection
    finally:
        bus.close()


async def _opens(barrier: ModbusRelayBarrier) -> bool:
    try:
        await barrier.open(CTX)
    except DriverUnavailableError:
        return False
    return True


@pytest.mark.parametrize("board_kind", ["plain", "waveshare", "eletechsup"])
async def test_the_loop_detector_sees_the_vehicle_the_barrier_let_through(
    board: RelayBoardSim, board_kind: Board
) -> None:
    bus = ModbusBus(make_client("tcp", host="127.0.0.1", port=board.port))
    barrier = ModbusRelayBarrier(bus, board=board_kind, pulse_ms=200)
    detector = ModbusInputDetector(bus, poll_seconds=0.01, debounce_seconds=0.02)
    detector.start()
    try:
        since = time.monotonic()
        await barrier.open(CTX)
        assert await detector.wait_passage(since, 30)  # 5 s was met with two suites on 2 cores
        assert not detector.presence.present
        board.drive_through = False  # the next driver changes their mind
        since = time.monotonic()
        await barrier.open(CTX)
        assert not await detector.wait_passage(since, 0.5)
    finally:
        await detector.aclose()
        bus.close()


async def test_debounce_ignores_a_chattering_contact(board: RelayBoardSim) -> None:
    bus = ModbusBus(make_client("tcp", host="127.0.0.1", port=board.port))
    detector = ModbusInputDetector(bus, poll_seconds=0.005, debounce_seconds=0.2)
    detector.start()
    try:
        since = time.monotonic()
        board.dwell = 0.03  # present for 30 ms: shorter than the debounce
        board.vehicle_crosses()
        assert not await detector.wait_passage(since, 0.4)
        board.dwell = 0.3
        board.vehicle_crosses()
        assert await detector.wait_passage(since, 2)
        assert [c.present for c in detector.presence.changes] == [True, False]
    finally:
        await detector.aclose()
        bus.close()


async def test_the_limit_switch_reports_the_arm(board: RelayBoardSim) -> None:
    bus = ModbusBus(make_client("tcp", host="127.0.0.1", port=board.port))
    try:
        assert await ModbusRelayBarrier(bus).state() is None
        barrier = ModbusRelayBarrier(bus, open_input=5)
        assert await barrier.state() == "closed"
        board.set_input(5, True)
        assert await barrier.state() == "open"
    finally:
        bus.close()


async def test_the_lane_opens_the_barrier_through_the_board(
    tmp_path: Path, platform_sim: CityPlatformSim, board: RelayBoardSim
) -> None:
    lane = {
        **GENERIC_LANE,
        "detector": {"driver": "none"},
        "barrier": {"driver": "modbus-relay", "bus": "b", "channel": 3, "pulse_ms": 100},
    }
    cfg = make_config(
        tmp_path,
        platform_sim.base_url,
        lanes=[lane],
        modbus={"b": {"host": "127.0.0.1", "port": board.port}},
    )
    async with running_daemon(cfg) as d:
        cam = camera(d)
        allowed = await cam.push("豫A12345")
        refused = await cam.push("豫B6789G")
        await cam.aclose()
        assert allowed.body["barrier"] == "opened"
        assert refused.body["barrier"] == "not-commanded"
        assert board.commands == [Command(5, 3, 1), Command(5, 3, 0)]


@pytest.fixture
async def silent_board() -> AsyncIterator[RelayBoardSim]:
    """Firmware that ignores the output-mode write: no reply, no exception, no change."""
    sim = RelayBoardSim(silent_output_mode=True)
    await sim.start(free_port())
    yield sim
    await sim.stop()


async def test_a_board_silent_on_the_mode_write_still_gets_its_pulse(
    silent_board: RelayBoardSim,
) -> None:
    bus = ModbusBus(make_client("tcp", host="127.0.0.1", port=silent_board.port, timeout=0.2))
    barrier = ModbusRelayBarrier(bus, board="waveshare", pulse_ms=700)
    try:
        with capture_logs() as logs:
            await barrier.open(CTX)
            await barrier.open(CTX)
            bus.client.close()  # a new connection tries the mode write again, quietly
            await barrier.open(CTX)
        assert silent_board.openings >= 1
        flashes = [c for c in silent_board.commands if c == Command(5, 0x0200, 7)]
        assert len(flashes) == 3
        mode_writes = [c for c in silent_board.commands if c == Command(6, 0x1000, 0)]
        assert len(mode_writes) == 2
        assert silent_board.output_modes == {}  # the firmware ignored it
        warnings = [e for e in logs if e["log_level"] in ("warning", "error")]
        assert [e["event"] for e in warnings] == [
            "the board did not answer the output-mode write (firmware that ignores it); "
            "pulses are sent all the same; check it is not in linkage mode"
        ]
        assert bus.health.connected
        assert bus.health.commands == 3
    finally:
        bus.close()


async def test_the_lane_opens_through_a_board_silent_on_the_mode_write(
    tmp_path: Path, platform_sim: CityPlatformSim, silent_board: RelayBoardSim
) -> None:
    lane = {
        **GENERIC_LANE,
        "detector": {"driver": "none"},
        "barrier": {"driver": "modbus-relay", "bus": "b", "board": "waveshare", "pulse_ms": 500},
    }
    cfg = make_config(
        tmp_path,
        platform_sim.base_url,
        lanes=[lane],
        modbus={"b": {"host": "127.0.0.1", "port": silent_board.port, "timeout_seconds": 0.3}},
    )
    async with running_daemon(cfg) as d:
        cam = camera(d)
        with capture_logs() as logs:
            allowed = await cam.push("豫A12345")
        await cam.aclose()
        assert allowed.body["barrier"] == "opened"
        assert silent_board.openings == 1
        assert not [e for e in logs if e["event"] == "relay board unavailable"]
