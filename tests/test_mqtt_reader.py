"""MQTT plate ingest against a real mosquitto broker (installed by scripts/system-packages)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.sim.mqtt_broker import BrokerMissingError, MosquittoBroker
from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, eventually, make_config, running_daemon


class Broker(MosquittoBroker):
    def __init__(self, tmp_path: Path) -> None:
        try:
            super().__init__(tmp_path)
        except BrokerMissingError:
            if os.environ.get("CI") == "true":
                pytest.fail("mosquitto is missing (scripts/system-packages installs it)")
            pytest.skip("mosquitto is not installed (run scripts/system-packages as root)")


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    b = Broker(tmp_path)
    try:
        await b.start()
        yield b
    finally:
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
        assert row.source == "mqtt-generic"
