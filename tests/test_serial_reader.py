"""Serial plate reader over a real pseudo-terminal: plates among noise, and a port that
vanishes (the USB adapter is pulled) and comes back at the same path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.config.model import Config
from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, config_data, eventually, make_config, running_daemon


class Port:
    """A pty whose device appears at a fixed path, as /dev/ttyUSB0 would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.master: int | None = None

    def plug(self) -> None:
        self.master, slave = os.openpty()
        self.slave = slave
        self.path.unlink(missing_ok=True)
        self.path.symlink_to(os.ttyname(slave))

    def unplug(self) -> None:
        assert self.master is not None
        os.close(self.master)
        os.close(self.slave)
        self.path.unlink()
        self.master = None

    def send(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)


async def test_plates_among_noise_and_a_port_that_comes_back(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    port = Port(tmp_path / "ttyCAM")
    port.plug()
    lane = {**GENERIC_LANE, "camera": {"kind": "serial", "port": str(port.path)}}
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane])
    async with running_daemon(cfg) as daemon:
        health = daemon.lanes["in-1"].camera
        await eventually(lambda: health.connected is True)
        port.send(b"\x00\xff\xfe garbage\r\n")  # noise
        port.send("PLATE:豫A12345 COLOR:1\r\n".encode("gbk"))
        port.send(b"x" * 2000)  # a stream with no line end at all
        port.send("\r\n识别结果 黄晋E55123\r\n".encode("gbk"))
        port.send(b"OK\r\n")  # a line without a plate
        await eventually(lambda: len(platform_sim.records) == 2)
        plates = {r[0]["cphm"]: r[0]["cpys"] for r in platform_sim.records.values()}
        assert plates == {"豫A12345": "5", "晋E55123": "1"}  # colour from the prefix 黄
        assert health.rejected >= 2

        port.unplug()
        await eventually(lambda: health.connected is False)
        port.plug()
        await eventually(lambda: health.connected is True, timeout=10)
        assert health.reconnects >= 1
        port.send("豫K23456\n".encode("gbk"))
        await eventually(lambda: len(platform_sim.records) == 3)
        assert daemon.health().cameras["in-1"].reconnects >= 1
    port.unplug()


@pytest.mark.parametrize(
    ("pattern", "message"), [("(", "not a regular expression"), ("[A-Z]+", "named group")]
)
def test_serial_pattern_must_name_the_plate(tmp_path: Path, pattern: str, message: str) -> None:
    data = config_data(tmp_path, "http://127.0.0.1:1/ysgk")
    data["lanes"][0]["camera"] = {"kind": "serial", "port": "/dev/ttyUSB0", "pattern": pattern}
    with pytest.raises(ValidationError, match=message):
        Config(**data)
