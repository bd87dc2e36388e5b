"""The Modbus relay barrier against a pymodbus board double over a real TCP socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.base import Actuation, DriverUnavailableError
from drivers.modbus_relay import ModbusBus, ModbusRelayBarrier
from edge.sim.platform import CityPlatformSim
from edge.sim.relay_board import Command, RelayBoardSim
from tests.helpers import GENERIC_LANE, camera, make_config, running_daemon
from tests.test_cli import free_port

CTX = Actuation("in-1", "豫A12345")


@pytest.fixture
async def board() -> AsyncIterator[RelayBoardSim]:
    sim = RelayBoardSim()
    await sim.start(free_port())
    yield sim
    await sim.stop()


async def test_coil_pulse_and_board_timed_pulse(board: RelayBoardSim) -> None:
    bus = ModbusBus("127.0.0.1", board.port)
    try:
        await ModbusRelayBarrier(bus, channel=2, pulse_ms=100).open(CTX)
        await ModbusRelayBarrier(bus, channel=1, pulse_ms=3000, mode="register-pulse").open(CTX)
        assert board.commands == [
            Command(5, 2, 1),  # coil 2 on
            Command(5, 2, 0),  # …and off after the pulse
            Command(6, 2, 0x0603),  # register 2 (channel 1): on for 3 s, timed by the board
        ]
        assert bus.health.commands == 2
        assert bus.health.connected
    finally:
        bus.close()


async def test_unplugged_board_fails_fast_and_recovers(board: RelayBoardSim) -> None:
    bus = ModbusBus("127.0.0.1", board.port, timeout=0.5)
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


async def test_the_lane_opens_the_barrier_through_the_board(
    tmp_path: Path, platform_sim: CityPlatformSim, board: RelayBoardSim
) -> None:
    lane = {
        **GENERIC_LANE,
        "detector": {"driver": "none"},
        "barrier": {
            "driver": "modbus-relay",
            "host": "127.0.0.1",
            "port": board.port,
            "channel": 3,
            "pulse_ms": 100,
        },
    }
    async with running_daemon(make_config(tmp_path, platform_sim.base_url, lanes=[lane])) as d:
        cam = camera(d)
        allowed = await cam.push("豫A12345")
        refused = await cam.push("豫B6789G")
        await cam.aclose()
        assert allowed.body["barrier"] == "opened"
        assert refused.body["barrier"] == "not-commanded"
        assert board.commands == [Command(5, 3, 1), Command(5, 3, 0)]
