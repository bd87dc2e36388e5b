"""The foundation's end-to-end run with real device protocols instead of the virtual devices:
a Modbus relay board (TCP) with a loop detector on its inputs, an LED board on a serial port,
and a Vzenith lane whose loop is wired to the camera's IO input. The gate signal follows the
detector: passed, or lifted but not passed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.domain.codes import GateSignal
from edge.sim.led_board import LedBoardSim
from edge.sim.platform import CityPlatformSim, PlatformSim
from edge.sim.pty import VirtualSerialPort
from edge.sim.relay_board import Command, RelayBoardSim
from tests.helpers import (
    GENERIC_LANE,
    VZENITH_LANE,
    camera,
    config_for,
    eventually,
    free_port,
    lifted_and_passed,
    running_daemon,
    wait_records,
)
from tests.test_snapshot import _snapshot_server


@pytest.fixture
async def board() -> AsyncIterator[RelayBoardSim]:
    sim = RelayBoardSim(arrive_after=0.05, dwell=0.1)
    await sim.start(free_port())
    yield sim
    await sim.stop()


@pytest.fixture
async def led(tmp_path: Path) -> AsyncIterator[tuple[VirtualSerialPort, LedBoardSim]]:
    sim = LedBoardSim(protocol="olm")
    port = VirtualSerialPort(tmp_path / "ttyLED", sim.feed)
    port.plug()
    yield port, sim
    port.unplug()


def modbus_lane(led_port: Path) -> dict[str, Any]:
    return {
        **GENERIC_LANE,
        "confirm_timeout_seconds": 1.0,
        "barrier": {"driver": "modbus-relay", "bus": "board", "board": "waveshare"},
        "led": {
            "driver": "olm",
            "transport": "serial",
            "port": str(led_port),
            "voice": True,
            "lines": 3,
            "width": 16,
        },
        "detector": {"driver": "modbus-input", "bus": "board", "poll_ms": 10, "debounce_ms": 20},
    }


async def test_modbus_relay_led_board_and_loop_detector(
    tmp_path: Path,
    any_platform: PlatformSim,
    board: RelayBoardSim,
    led: tuple[VirtualSerialPort, LedBoardSim],
) -> None:
    sim = any_platform
    led_port, led_board = led
    cfg = config_for(
        tmp_path,
        sim,
        lanes=[modbus_lane(led_port.path)],
        modbus={"board": {"host": "127.0.0.1", "port": board.port}},
    )
    async with running_daemon(cfg) as daemon:
        lane = daemon.lanes["in-1"]
        await eventually(lambda: lane.devices.links[0].connected)
        cam = camera(daemon)
        passed = await cam.push("豫A12345")
        await lane.drain()
        board.drive_through = False  # this driver stops short of the loop
        hesitant = await cam.push("豫A54321")
        refused = await cam.push("豫B6789G")
        await cam.aclose()
        await lane.drain()

        assert (passed.body["barrier"], hesitant.body["barrier"]) == ("opened", "opened")
        assert refused.body["barrier"] == "not-commanded"
        flashes = [c for c in board.commands if c.function == 5]
        assert flashes == [Command(5, 0x0200, 5), Command(5, 0x0200, 5)]  # 500 ms, board-timed
        assert board.output_modes == {0: 0}

        signals = {}
        for result in (passed, hesitant, refused):
            row = await daemon.store.find_pass(result.body["serial"])
            assert row is not None
            signals[result.body["serial"]] = (row.gate_signal, row.confirmed_by)
        assert list(signals.values()) == [
            (GateSignal.PASSED, "detector"),
            (GateSignal.LIFTED_NOT_PASSED, "timeout"),
            (GateSignal.NOT_LIFTED, "barrier"),
        ]
        await wait_records(sim, 3)
        records = {serial: sim.records[serial][0] for serial in signals}
        assert [lifted_and_passed(r) for r in records.values()] == [True, False, False]

        await led_board.wait_shown(["豫B6789G", "国四柴油 重污染管控", "禁止通行"])
        assert led_board.screens[0] == ["豫A12345", "国六 未管控", "请通行"]
        await eventually(lambda: len(led_board.spoken) == 3)
        assert led_board.spoken[2] == "豫B6789G 国四柴油 重污染管控 禁止通行"
        assert led_board.bad_frames == 0


async def test_loop_on_the_cameras_io_input(tmp_path: Path, any_platform: PlatformSim) -> None:
    lane = {
        **VZENITH_LANE,
        "confirm_timeout_seconds": 2.0,
        "led": {"driver": "onbon", "transport": "camera", "lines": 2},
        "detector": {"driver": "camera-input", "input": 0, "debounce_ms": 0},
    }
    async with running_daemon(config_for(tmp_path, any_platform, lanes=[lane])) as daemon:
        cam = camera(daemon, "vz-1", "vzenith")
        await cam.push("豫A12345")
        await cam.aclose()
        assert cam.relay_pulses == ["豫A12345"]
        gpio = f"http://127.0.0.1:{daemon.web.port}/push/vz-1/gpio"
        async with httpx.AsyncClient() as client:
            for value in (1, 0):  # the vehicle crosses the loop wired to IO in 1
                body = {"AlarmGioIn": {"result": {"TriggerResult": {"source": 0, "value": value}}}}
                reply = await client.post(gpio, json=body)
                assert reply.json()["used"] is True
            bad = await client.post(gpio, json={"AlarmGioIn": {}})
            assert bad.status_code == 400
        await daemon.lanes["vz-1"].drain()
        await wait_records(any_platform, 1)
        (records,) = any_platform.records.values()
        assert lifted_and_passed(records[0])


async def test_board_gone_the_pass_is_recorded_not_lifted_and_health_shows_it(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    board: RelayBoardSim,
    led: tuple[VirtualSerialPort, LedBoardSim],
) -> None:
    led_port, _ = led
    cfg = config_for(
        tmp_path,
        platform_sim,
        lanes=[modbus_lane(led_port.path)],
        modbus={"board": {"host": "127.0.0.1", "port": board.port, "timeout_seconds": 0.3}},
    )
    await board.stop()  # the relay board has no power
    led_port.unplug()  # …and the LED's USB adapter is not plugged in
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        result = await cam.push("豫A12345")
        await cam.aclose()
        assert result.body["verdict"] == "open"
        assert result.body["barrier"] == "failed"
        await daemon.lanes["in-1"].drain()
        row = await daemon.store.find_pass(result.body["serial"])
        assert row is not None
        assert (row.gate_signal, row.barrier) == (GateSignal.NOT_LIFTED, "failed")
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"http://127.0.0.1:{daemon.web.port}/healthz")).json()
        devices = health["devices"]["in-1"]
        assert devices["barrier"]["connected"] is False
        assert devices["barrier"]["failures"] == 1
        assert devices["led"]["connected"] is False
        assert devices["led"]["last_error"]
        assert devices["detector"]["vehicle_present"] is False
        await wait_records(platform_sim, 1)
        assert not lifted_and_passed(platform_sim.records[result.body["serial"]][0])


async def test_a_gate_crash_is_recorded_and_forwarded_with_photo_type_3(
    tmp_path: Path, platform_sim: CityPlatformSim, board: RelayBoardSim
) -> None:
    runner, snapshot_url = await _snapshot_server()
    lane = {
        **GENERIC_LANE,
        "confirm_timeout_seconds": 1.0,
        "barrier": {"driver": "modbus-relay", "bus": "board"},
        "detector": {"driver": "modbus-input", "bus": "board", "poll_ms": 10, "debounce_ms": 20},
        "snapshot": {
            "url": snapshot_url,
            "username": "admin",
            "password": "cam-pass",
            "auth": "basic",
        },
    }
    cfg = config_for(
        tmp_path,
        platform_sim,
        lanes=[lane],
        modbus={"board": {"host": "127.0.0.1", "port": board.port}},
    )
    try:
        async with running_daemon(cfg) as daemon:
            cam = camera(daemon)
            allowed = await cam.push("豫A12345")  # opened: the vehicle that crosses is expected
            refused = await cam.push("豫B6789G")  # refused…
            await cam.aclose()
            await daemon.lanes["in-1"].drain()
            board.vehicle_crosses()  # …and drives through the closed barrier
            await wait_records(platform_sim, 3, photos=3)
        crash = next(
            r[0]
            for s, r in platform_sim.records.items()
            if s not in (allowed.body["serial"], refused.body["serial"])
        )
        assert crash["cphm"] == "豫B6789G"  # the plate read just before
        assert crash["bgzt"] == "1"  # it went through
        (photo,) = platform_sim.photos[crash["lsh"]]
        assert photo.info["zplx"] == "3"  # §7.3 闯岗
    finally:
        await runner.cleanup()
