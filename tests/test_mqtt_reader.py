"""MQTT plate ingest against a real mosquitto broker (installed by scripts/system-packages)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, eventually, make_config, running_daemon
from tests.test_cli import free_port


class Broker:
    def __init__(self, tmp_path: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            if os.environ.get("CI") == "true":
                pytest.fail("mosquitto is missing (scripts/system-packages installs it)")
            pytest.skip("mosquitto is not installed (run scripts/system-packages as root)")
        self.binary, self.port = binary, free_port()
        self.conf = tmp_path / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            self.binary,
            "-c",
            str(self.conf),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

        async def accepting() -> bool:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                return False
            writer.close()
            return True

        await eventually(accepting)

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            await self.proc.wait()
            self.proc = None

    async def publish(self, topic: str, payload: bytes) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port) as client:
            await client.publish(topic, payload, qos=1)


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    b = Broker(tmp_path)
    await b.start()
    yield b
    await b.stop()


async def test_plates_published_to_the_broker_are_recorded_and_the_link_recovers(
    tmp_path: Path, platform_sim: CityPlatformSim, broker: Broker
) -> None:
    lane = {
        **GENERIC_LANE,
        "camera": {
            "kind": "mqtt",
            "host": "127.0.0.1",
            "port": broker.port,
            "topic": "cameras/gate1/#",
        },
    }
    async with running_daemon(make_config(tmp_path, platform_sim.base_url, lanes=[lane])) as d:
        health = d.lanes["in-1"].camera
        await eventually(lambda: health.connected is True)
        await broker.publish("cameras/gate1/plates", json.dumps({"plate": "豫A12345"}).encode())
        await broker.publish("cameras/gate1/plates", b"not json")
        await eventually(lambda: len(platform_sim.records) == 1)
        await eventually(lambda: health.rejected == 1)

        await broker.stop()  # the broker goes away…
        await eventually(lambda: health.connected is False)
        await broker.start()  # …and comes back on the same port
        await eventually(lambda: health.connected is True, timeout=15)
        await broker.publish("cameras/gate1/plates", json.dumps({"plate": "晋E55123"}).encode())
        await eventually(lambda: len(platform_sim.records) == 2)
        assert health.reconnects >= 1
        plates = {records[0]["cphm"] for records in platform_sim.records.values()}
        assert plates == {"豫A12345", "晋E55123"}
        row = await d.store.find_pass(next(iter(platform_sim.records)))
        assert row is not None
        assert row["source"] == "mqtt-generic"
