"""``edge drivers test``: the technician's wiring checks against the device doubles."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from edge.cli.drivers import EXIT_FAILED, EXIT_UNTESTABLE, run_drivers_test
from edge.cli.main import main
from edge.config.model import Config
from edge.sim.led_board import LedBoardSim
from edge.sim.pty import VirtualSerialPort
from edge.sim.relay_board import RelayBoardSim
from tests.helpers import GENERIC_LANE, VZENITH_LANE, config_data, free_port, write_config


def config(tmp_path: Path, board_port: int, **lane: Any) -> Config:
    lanes = [
        {
            **GENERIC_LANE,
            "barrier": {
                "driver": "modbus-relay",
                "bus": "b",
                "board": "waveshare",
                "open_input": 3,
            },
            "led": {"driver": "onbon", "transport": "serial", "port": str(tmp_path / "ttyLED")},
            "detector": {"driver": "modbus-input", "bus": "b", "poll_ms": 10, "debounce_ms": 0},
            **lane,
        },
        VZENITH_LANE,
    ]
    data = config_data(tmp_path, "http://127.0.0.1:9", lanes=lanes)
    data["modbus"] = {"b": {"host": "127.0.0.1", "port": board_port, "timeout_seconds": 0.3}}
    return Config(**data)


def args(action: str, lane: str = "in-1", **extra: Any) -> argparse.Namespace:
    return argparse.Namespace(lane=lane, action=action, **extra)


async def test_barrier_led_and_detector_checks(tmp_path: Path) -> None:
    board = RelayBoardSim(drive_through=False, dwell=0.05)
    await board.start(free_port())
    led = LedBoardSim(protocol="onbon")
    port = VirtualSerialPort(tmp_path / "ttyLED", led.feed)
    port.plug()
    cfg = config(tmp_path, board.port)
    out: list[str] = []
    try:
        assert await run_drivers_test(cfg, args("barrier-open"), out.append) == 0
        assert board.openings == 1
        assert "barrier OPEN sent" in out[0]
        assert any(line.startswith("barrier: 已连接 connected") for line in out)

        out.clear()
        assert await run_drivers_test(cfg, args("led", text="测试|第二行"), out.append) == 0
        await led.wait_shown(["测试", "第二行"])

        out.clear()
        board.set_input(3, True)
        assert await run_drivers_test(cfg, args("barrier-state"), out.append) == 0
        assert "抬起 open" in out[0]

        out.clear()
        board.vehicle_crosses(after=0.05)
        assert await run_drivers_test(cfg, args("watch-detector", seconds=0.5), out.append) == 0
        changes = [line.split("s  ")[1] for line in out if "s  " in line]
        assert changes == ["有车 vehicle present", "无车 vehicle gone"]

        await board.stop()
        out.clear()
        code = await run_drivers_test(cfg, args("barrier-open"), out.append)
        assert code == EXIT_FAILED
        assert out[0].startswith("失败 FAILED")
        assert any("barrier: 未连接 NOT connected" in line for line in out)
    finally:
        await board.stop()
        port.unplug()


async def test_devices_that_cannot_be_tested_from_here(tmp_path: Path) -> None:
    cfg = config(tmp_path, free_port(), led={"driver": "none"}, detector={"driver": "none"})
    out: list[str] = []
    for action in (args("barrier-open", "vz-1"), args("led", "vz-1", text="x")):
        assert await run_drivers_test(cfg, action, out.append) == EXIT_UNTESTABLE
    assert "camera" in out[0]
    said = [line for line in out if line.startswith(("barrier:", "LED:"))]
    assert said
    assert all("through the camera's push reply" in line for line in said)
    assert not any("connected" in line for line in said)  # no link of its own to be up
    for action in (args("led", text="x"), args("watch-detector", seconds=0)):
        assert await run_drivers_test(cfg, action, out.append) == EXIT_UNTESTABLE
    plain = config(tmp_path, free_port(), barrier={"driver": "virtual"})
    assert await run_drivers_test(plain, args("barrier-state"), out.append) == EXIT_UNTESTABLE


def test_unknown_lane_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9")
    assert main(["drivers", "test", "--config", str(path), "--lane", "x", "barrier-open"]) == 2
    assert "no lane 'x'" in capsys.readouterr().err
