"""The daemon's lifecycle (issue 14, step 5): parts built once, started on one exit stack, so
stopping undoes starting in exactly the reverse order — also when the start fails halfway."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from drivers.base import Barrier, Detector, Display
from edge.daemon import Daemon, DaemonNotStartedError
from edge.gate.devices import DeviceBuilder, LaneDevices
from edge.gate.lane import Lane
from edge.ledger.store import Store
from edge.ops.supervisor import Supervisor
from edge.sim.platform import CityPlatformSim
from edge.uplink.platform.city import CityPlatform
from edge.web.server import WebServer
from tests.helpers import GENERIC_LANE, free_port, make_config

#: A serial link to a TCP port nothing listens on (the discard port, not served here).
NOBODY = "socket://127.0.0.1:9"
TWO_LANES = [
    {**GENERIC_LANE, "id": "in-1", "gate_code": "01"},
    {**GENERIC_LANE, "id": "out-1", "gate_code": "02", "direction": "out"},
]


def _record(
    monkeypatch: pytest.MonkeyPatch, events: list[str], cls: type, name: str, label: str
) -> None:
    """Append ``label`` (with the lane's id where there is one) to ``events`` when
    ``cls.name`` is called, then do what it did."""
    original: Callable[..., Any] = getattr(cls, name)

    def _label(this: object) -> str:
        lane = getattr(this, "id", None)  # a lane's id; devices and the rest have none
        return f"{label}:{lane}" if lane else label

    if (cls, name) in ((DeviceBuilder, "close"), (LaneDevices, "start")):  # not coroutines

        def sync(this: object, *args: Any, **kwargs: Any) -> Any:
            events.append(_label(this))
            return original(this, *args, **kwargs)

        monkeypatch.setattr(cls, name, sync)
        return

    async def wrapped(this: object, *args: Any, **kwargs: Any) -> Any:
        events.append(_label(this))
        result: Awaitable[Any] = original(this, *args, **kwargs)
        return await result

    monkeypatch.setattr(cls, name, wrapped)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the daemon started and stopped, in order."""
    seen: list[str] = []
    _record(monkeypatch, seen, CityPlatform, "aclose", "platform closed")
    _record(monkeypatch, seen, Store, "close", "ledger closed")
    _record(monkeypatch, seen, DeviceBuilder, "close", "buses closed")
    _record(monkeypatch, seen, Lane, "load", "lane loaded")
    _record(monkeypatch, seen, Lane, "cancel_background", "lane stopped")
    _record(monkeypatch, seen, LaneDevices, "start", "devices started")
    _record(monkeypatch, seen, LaneDevices, "aclose", "devices closed")
    _record(monkeypatch, seen, Supervisor, "stop", "tasks stopped")
    _record(monkeypatch, seen, WebServer, "start", "web started")
    _record(monkeypatch, seen, WebServer, "stop", "web stopped")
    return seen


async def test_parts_that_need_no_ledger_exist_before_start(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    daemon = Daemon(make_config(tmp_path, platform_sim.base_url))
    assert daemon.supervisor.alive() == {}
    assert daemon.journal.entries() == []
    with pytest.raises(DaemonNotStartedError):
        _ = daemon.store
    report = daemon.health()  # a report, not an AttributeError
    assert (report.ok, report.ledger, report.cameras, report.components) == (False, None, {}, {})
    assert report.to_json()["outbox"]["pending"] == 0
    await daemon.stop()  # nothing started: nothing to stop, no error


async def test_the_health_report_is_the_healthz_json(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    daemon = Daemon(make_config(tmp_path, platform_sim.base_url))
    await daemon.start()
    try:
        async with httpx.AsyncClient() as http:
            served = (await http.get(f"http://127.0.0.1:{daemon.web.port}/healthz")).json()
        report = daemon.health()
        assert report.ok
        assert served["ok"] is True
        assert served["devices"] == report.to_json()["devices"]
        assert served["ledger"] == report.to_json()["ledger"]
        assert set(served) == set(report.to_json()) == {
            "ok", "components", "link", "link_reason", "link_error", "clock_offset_seconds",
            "outbox", "cameras", "devices", "storage", "ledger",
        }  # fmt: skip
    finally:
        await daemon.stop()


async def test_stop_reverses_start(
    tmp_path: Path, platform_sim: CityPlatformSim, events: list[str]
) -> None:
    daemon = Daemon(make_config(tmp_path, platform_sim.base_url, lanes=TWO_LANES))
    await daemon.start()
    started = list(events)
    assert started == [
        "lane loaded:in-1",
        "devices started",
        "lane loaded:out-1",
        "devices started",
        "web started",
    ]
    events.clear()
    await daemon.stop()
    assert events == [
        "web stopped",
        "tasks stopped",
        "lane stopped:out-1",
        "devices closed",
        "lane stopped:in-1",
        "devices closed",
        "buses closed",
        "ledger closed",
        "platform closed",
    ]
    events.clear()
    await daemon.stop()  # a second stop does nothing
    assert events == []


async def test_a_start_failing_halfway_stops_what_it_started_in_reverse_order(
    tmp_path: Path, platform_sim: CityPlatformSim, events: list[str]
) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        cfg = make_config(tmp_path, platform_sim.base_url, lanes=TWO_LANES, web={"port": port})
        daemon = Daemon(cfg)
        with pytest.raises(OSError, match="address already in use"):
            await daemon.start()
    assert events == [
        "lane loaded:in-1",
        "devices started",
        "lane loaded:out-1",
        "devices started",
        "web started",  # …and failed: the rest is undone, newest first
        "tasks stopped",
        "lane stopped:out-1",
        "devices closed",
        "lane stopped:in-1",
        "devices closed",
        "buses closed",
        "ledger closed",
        "platform closed",
    ]
    assert daemon.supervisor.alive() == {}  # no lane, reader or forwarder left running
    events.clear()
    await daemon.stop()  # nothing left to stop
    assert events == []


async def test_a_lane_failing_to_load_stops_only_what_was_started(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    events: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = Lane.load

    async def load(lane: Lane) -> None:
        if lane.id == "out-1":
            raise RuntimeError("the ledger answered nonsense")
        await loaded(lane)

    monkeypatch.setattr(Lane, "load", load)
    daemon = Daemon(make_config(tmp_path, platform_sim.base_url, lanes=TWO_LANES))
    with pytest.raises(RuntimeError, match="nonsense"):
        await daemon.start()
    assert events == [
        "lane loaded:in-1",
        "devices started",  # out-1 fails to load: its devices never start
        "lane stopped:in-1",
        "devices closed",
        "buses closed",
        "ledger closed",
        "platform closed",
    ]


@pytest.mark.parametrize(
    ("barrier", "led", "detector"),
    [
        ({"driver": "virtual"}, {"driver": "virtual"}, {"driver": "virtual"}),
        ({"driver": "camera-relay"}, {"driver": "olm"}, {"driver": "camera-input"}),
        (
            {"driver": "modbus-relay", "bus": "board"},
            {"driver": "onbon", "transport": "serial", "port": NOBODY},
            {"driver": "modbus-input", "bus": "board"},
        ),
        (
            {"driver": "serial-command", "port": NOBODY, "open": "01"},
            {"driver": "text", "transport": "serial", "port": NOBODY},
            {"driver": "serial-contact", "port": NOBODY, "present": "01", "gone": "00"},
        ),
        (
            {"driver": "hikvision-isapi", "url": "http://127.0.0.1:9", "username": "u",
             "password": "p"},
            {"driver": "none"},
            {"driver": "none"},
        ),
    ],
)  # fmt: skip
async def test_every_driver_is_built_by_its_config_and_starts_and_stops_alike(
    tmp_path: Path,
    barrier: dict[str, Any],
    led: dict[str, Any],
    detector: dict[str, Any],
) -> None:
    lane = {**GENERIC_LANE, "barrier": barrier, "led": led, "detector": detector}
    cfg = make_config(tmp_path, "http://127.0.0.1:9", lanes=[lane], modbus={"board": {"port": 9}})
    builder = DeviceBuilder(cfg)
    devices = builder.lane(cfg.lanes[0])
    assert isinstance(devices.barrier, Barrier)
    assert devices.display is None or isinstance(devices.display, Display)
    assert devices.detector is None or isinstance(devices.detector, Detector)
    devices.start()  # nothing listens on port 9: the links retry in the background
    await devices.aclose()
    builder.close()
