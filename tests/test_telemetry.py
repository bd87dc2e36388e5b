"""MQTT telemetry and remote commands against a real mosquitto broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import aiomqtt
import pytest

from drivers.virtual import VirtualBarrier
from edge.actions.operator import Operator
from edge.config.model import Config, MqttTelemetryConfig
from edge.mqtt.telemetry import Telemetry, sign
from edge.sim.mqtt_broker import BrokerMissingError, MosquittoBroker
from edge.sim.platform import CityPlatformSim
from tests.helpers import camera, config_for, eventually, free_port, running_daemon, write_config
from tests.processes import Processes

SECRET = "command-secret-for-tests"
BASE = "edge-gate/4110020001"


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[MosquittoBroker]:
    try:
        b = MosquittoBroker(tmp_path)
    except BrokerMissingError:
        if os.environ.get("CI") == "true":
            pytest.fail("mosquitto is missing (scripts/system-packages installs it)")
        pytest.skip("mosquitto is not installed")
    try:
        await b.start()
        yield b
    finally:
        await b.stop()


async def next_message(
    client: aiomqtt.Client, topic: str, predicate: Any = lambda _p: True, timeout: float = 10
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            if message.topic.matches(topic):
                assert isinstance(message.payload, bytes)
                payload: dict[str, Any] = json.loads(message.payload)
                if predicate(payload):
                    return payload
    raise AssertionError("unreachable")


def command(action: str, *, secret: str = SECRET, **fields: Any) -> bytes:
    body = {
        "id": f"c-{time.time_ns()}",
        "lane": "in-1",
        "action": action,
        "operator": "调度中心李四",
        "reason": "远程核实放行",
        "ts": time.time(),
        **fields,
    }
    body["signature"] = sign(body, secret)
    return json.dumps(body, ensure_ascii=False).encode()


async def test_passes_status_and_signed_commands(
    tmp_path: Path, platform_sim: CityPlatformSim, broker: MosquittoBroker
) -> None:
    mqtt = {"host": "127.0.0.1", "port": broker.port, "command_secret": SECRET}
    async with (
        aiomqtt.Client("127.0.0.1", broker.port) as watcher,
        running_daemon(config_for(tmp_path, platform_sim, mqtt=mqtt)) as daemon,
    ):
        await watcher.subscribe(f"{BASE}/#", qos=1)
        await next_message(watcher, f"{BASE}/status", lambda p: p["online"] is True)
        gate = await next_message(watcher, f"{BASE}/gates/01/in/status")
        assert gate["lane"] == "in-1"
        assert gate["devices"]["barrier"]["connected"] is True
        cam = camera(daemon)
        result = await cam.push("豫A12345")
        await cam.aclose()
        passed = await next_message(watcher, f"{BASE}/passes")
        assert (passed["serial"], passed["plate"], passed["verdict"]) == (
            result.body["serial"], "豫A12345", "open",
        )  # fmt: skip
        assert passed["photos"] == [f"/photos/{result.body['serial']}-1.jpg"]

        barrier = daemon.lanes["in-1"].devices.barrier
        assert isinstance(barrier, VirtualBarrier)
        opened = len(barrier.openings)
        forged = command("open", secret="guessed")
        await watcher.publish(f"{BASE}/commands", forged, qos=1)
        refused = await next_message(watcher, f"{BASE}/commands/result")
        assert (refused["result"], refused["why"]) == ("refused", "bad signature")
        odd = {**json.loads(command("open")), "signature": "签名"}  # not ASCII (a TypeError)
        await watcher.publish(f"{BASE}/commands", json.dumps(odd).encode(), qos=1)
        refused = await next_message(watcher, f"{BASE}/commands/result")
        assert (refused["result"], refused["why"]) == ("refused", "bad signature")
        good = command("open")
        await watcher.publish(f"{BASE}/commands", good, qos=1)
        done = await next_message(watcher, f"{BASE}/commands/result", lambda p: p["result"] == "ok")
        assert len(barrier.openings) == opened + 1
        await watcher.publish(f"{BASE}/commands", good, qos=1)  # the same message again
        replay = await next_message(watcher, f"{BASE}/commands/result")
        assert replay["why"] == "replayed id"
        audit = await daemon.store.audit_log()
        # a signed command's operator and reason, audited and on the pass: no hidden text
        for fields, why in (
            ({"operator": "李\u202e四"}, "operator must be text"),
            ({"reason": "核实\u3164放行"}, "holds hidden characters"),
        ):
            await watcher.publish(f"{BASE}/commands", command("open", **fields), qos=1)
            refused = await next_message(watcher, f"{BASE}/commands/result")
            assert refused["result"] == "refused", refused
            assert why in (refused.get("why") or refused.get("detail") or ""), refused
        assert len(barrier.openings) == opened + 1
    results = [(row.action, row.origin, row.result, row.detail) for row in audit]
    assert results[0][2:] == ("refused", "replayed id")
    assert results[1][:3] == ("remote open", "mqtt", "ok")
    assert results[1][3] == done["detail"]
    assert results[2][2:] == ("refused", "bad signature")
    assert audit[1].actor == "调度中心李四"


async def test_the_last_will_marks_a_killed_gate_offline(
    tmp_path: Path, platform_sim: CityPlatformSim, broker: MosquittoBroker, procs: Processes
) -> None:
    config = write_config(
        tmp_path / "config.toml",
        platform_sim.base_url,
        port=free_port(),
        state=f"{tmp_path}/",
        extra=f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n',
    )
    env = {**os.environ, "EDGE_PLATFORM__PASSWORD": platform_sim.password}
    async with aiomqtt.Client("127.0.0.1", broker.port) as watcher:
        await watcher.subscribe(f"{BASE}/status", qos=1)
        proc = await procs.edge(
            "run", "--config", str(config), env=env, stdout=asyncio.subprocess.DEVNULL
        )
        await next_message(watcher, f"{BASE}/status", lambda p: p["online"] is True, 30)
        proc.send_signal(signal.SIGKILL)
        await next_message(watcher, f"{BASE}/status", lambda p: p["online"] is False, 30)


async def test_commands_without_a_secret_are_refused(
    tmp_path: Path, platform_sim: CityPlatformSim, broker: MosquittoBroker
) -> None:
    mqtt = {"host": "127.0.0.1", "port": broker.port}
    async with running_daemon(config_for(tmp_path, platform_sim, mqtt=mqtt)) as daemon:
        assert daemon.telemetry is not None
        result = await daemon.telemetry.handle_command(command("open"))
        assert result["why"] == "commands are disabled (no command_secret configured)"
        assert (await daemon.telemetry.handle_command(b"[]"))["why"] == "not a JSON object"


def _signed(body: dict[str, Any]) -> bytes:
    body = {**body, "signature": sign(body, SECRET)}
    return json.dumps(body, ensure_ascii=False).encode()


async def test_bad_commands_are_refused_and_audited_and_telemetry_lives_on(
    tmp_path: Path, platform_sim: CityPlatformSim, broker: MosquittoBroker
) -> None:
    """Issue 12: a deeply nested message, an integer id replayed, a missing id and a NaN ts —
    each refused and audited over the real broker; telemetry keeps running, /healthz ok."""
    mqtt = {"host": "127.0.0.1", "port": broker.port, "command_secret": SECRET}
    base = {"lane": "in-1", "action": "open", "operator": "李四", "reason": "测试"}
    async with (
        aiomqtt.Client("127.0.0.1", broker.port) as watcher,
        running_daemon(config_for(tmp_path, platform_sim, mqtt=mqtt)) as daemon,
    ):
        await watcher.subscribe(f"{BASE}/#", qos=1)
        await next_message(watcher, f"{BASE}/gates/01/in/status")  # subscribed by now
        barrier = daemon.lanes["in-1"].devices.barrier
        assert isinstance(barrier, VirtualBarrier)
        nested = b"[" * 100_000 + b"]" * 100_000
        integer_id = _signed({**base, "id": 4711, "ts": time.time()})
        cases = [
            (nested, "not a JSON object"),
            (integer_id, "id must be a non-empty string"),
            (integer_id, "id must be a non-empty string"),  # and never carried out twice
            (_signed({**base, "ts": time.time()}), "id must be a non-empty string"),
            (_signed({**base, "id": "c-nan", "ts": float("nan")}), "stale or missing ts"),
        ]
        for payload, why in cases:
            await watcher.publish(f"{BASE}/commands", payload, qos=1)
            result = await next_message(watcher, f"{BASE}/commands/result")
            assert (result["result"], result["why"]) == ("refused", why)
        ok = _signed({**base, "id": " c-1 ", "ts": time.time()})
        await watcher.publish(f"{BASE}/commands", ok, qos=1)
        assert (await next_message(watcher, f"{BASE}/commands/result"))["result"] == "ok"
        again = _signed({**base, "id": "c-1", "ts": time.time()})  # the same id, normalised
        await watcher.publish(f"{BASE}/commands", again, qos=1)
        assert (await next_message(watcher, f"{BASE}/commands/result"))["why"] == "replayed id"
        assert len(barrier.openings) == 1
        assert daemon.supervisor.restarts["telemetry"] == 0
        assert daemon.health().ok is True
        audit = [(row.result, row.detail) for row in await daemon.store.audit_log()]
    assert [why for _, why in audit].count("id must be a non-empty string") == 3
    assert ("refused", "not a JSON object") in audit
    assert ("refused", "stale or missing ts") in audit


async def test_a_lost_broker_never_makes_the_gate_unhealthy(
    tmp_path: Path, platform_sim: CityPlatformSim, broker: MosquittoBroker
) -> None:
    mqtt = {"host": "127.0.0.1", "port": broker.port, "command_secret": SECRET}
    async with running_daemon(config_for(tmp_path, platform_sim, mqtt=mqtt)) as daemon:
        telemetry = daemon.telemetry
        assert telemetry is not None
        await eventually(lambda: telemetry.connected, 10)
        await broker.stop()
        await eventually(lambda: not telemetry.connected, 10)
        assert daemon.supervisor.restarts["telemetry"] == 0  # the task survived
        assert daemon.health().ok is True
        assert await daemon.healthy()


async def test_stopping_ends_telemetry_even_when_its_session_reports_errors_instead() -> None:
    """Python 3.11's task group reports its children's errors (an MQTT error as the
    connection goes down) instead of the cancellation that stopped them: telemetry must still
    stop when asked, never reconnect forever."""
    cfg = MqttTelemetryConfig(host="127.0.0.1", port=1)
    telemetry = Telemetry(cfg, "4110020001", {}, cast(Operator, None), cast(Any, None))
    entered = asyncio.Event()

    async def session() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ExceptionGroup("session", [aiomqtt.MqttError("Disconnected")]) from None

    telemetry._session = session  # type: ignore[method-assign]
    run = asyncio.create_task(telemetry.run())
    async with asyncio.timeout(5):
        await entered.wait()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run


#: A replica that checks fast, with a low alarm bound (the tests wait for it).
FAST_REPLICA = {"sync_interval_seconds": 0.1, "check_interval_seconds": 0.2, "lag_alarm_seconds": 2}


def _replica_config(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    broker: MosquittoBroker,
    share: Path,
    *,
    status_interval: float,
) -> Config:
    """A daemon with MQTT and a fast-checking replica (no photos) on a file target at
    ``share`` — not there yet: the NAS share is not mounted."""
    replica = {"type": "file", "path": str(share), "photos": False, **FAST_REPLICA}
    mqtt = {"host": "127.0.0.1", "port": broker.port, "status_interval_seconds": status_interval}
    return config_for(tmp_path, platform_sim, mqtt=mqtt, replica=replica)


async def test_the_replicas_lag_and_alarm_reach_the_broker_and_clear(
    tmp_path: Path, platform_sim: CityPlatformSim, broker: MosquittoBroker
) -> None:
    """Issue 17's health over MQTT: a replica whose directory is not there (the NAS share is
    not mounted) falls behind, the alarm is published (retained, on ``<base>/replica``) with
    the reason; once the share is there it clears."""
    share = tmp_path / "nas" / "gate-01"
    cfg = _replica_config(tmp_path, platform_sim, broker, share, status_interval=0.2)
    async with (
        aiomqtt.Client("127.0.0.1", broker.port) as watcher,
        running_daemon(cfg),
    ):
        await watcher.subscribe(f"{BASE}/replica", qos=1)
        behind = await next_message(watcher, f"{BASE}/replica", lambda p: p["alarm"], 30)
        assert behind["target"] == f"file://{share}"
        assert behind["last_sync_at"] is None
        assert behind["lag_seconds"] >= 2
        assert behind["errors"] > 0
        assert "is the share mounted" in behind["last_error"]
        assert not share.exists()  # never created on the local disk
        share.mkdir(parents=True)  # the share is mounted
        back = await next_message(watcher, f"{BASE}/replica", lambda p: not p["alarm"], 30)
        assert back["last_sync_at"] is not None
        assert back["lag_seconds"] < 2


async def test_the_replica_topic_is_published_when_its_state_changes_not_only_periodically(
    tmp_path: Path, platform_sim: CityPlatformSim, broker: MosquittoBroker
) -> None:
    """``<base>/replica`` is published at once when the alarm is raised or cleared and when the
    target is refused (another daemon's marker) or back — not only every
    ``status_interval_seconds`` (an hour here: no message below comes from the interval)."""
    share = tmp_path / "nas" / "gate-01"
    cfg = _replica_config(tmp_path, platform_sim, broker, share, status_interval=3600)
    async with (
        aiomqtt.Client("127.0.0.1", broker.port) as watcher,
        running_daemon(cfg),
    ):
        await watcher.subscribe(f"{BASE}/replica", qos=1)
        behind = await next_message(watcher, f"{BASE}/replica", lambda p: p["alarm"], 30)
        assert "is the share mounted" in behind["last_error"]
        share.mkdir(parents=True)  # the share is mounted: the alarm clears
        await next_message(watcher, f"{BASE}/replica", lambda p: not p["alarm"], 30)
        marker = share / ".edge-gate-replica"
        mine = marker.read_text("utf-8")
        other = {"host": "gate-02-id", "hostname": "gate-02", "ledger": "/x/edge.db"}
        marker.write_text(json.dumps({**other, "ledger_id": "0123456789abcdef"}), "utf-8")
        refused = await next_message(
            watcher, f"{BASE}/replica", lambda p: p["other_writer"] is not None, 30
        )
        assert refused["alarm"]
        assert "gate-02" in refused["other_writer"]
        marker.write_text(mine, "utf-8")  # the other PC's marker deleted, this one's back
        back = await next_message(watcher, f"{BASE}/replica", lambda p: not p["alarm"], 30)
        assert back["other_writer"] is None


async def test_the_daemon_stops_though_a_session_part_loses_its_cancellation(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    broker: MosquittoBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CI hung here: Python 3.11's ``wait_for`` inside aiomqtt's publish lost the one
    cancellation a task group sends its children, the part went on publishing, and the
    daemon's stop waited forever. Each part is now asked again until it ends."""
    lost: list[bool] = []
    sending = asyncio.Event()

    async def stubborn_status(_self: Telemetry, _client: aiomqtt.Client) -> None:
        sending.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            lost.append(True)  # swallowed, as the race does; publishing goes on
        await asyncio.Event().wait()

    monkeypatch.setattr(Telemetry, "_send_status", stubborn_status)
    mqtt = {"host": "127.0.0.1", "port": broker.port}
    async with asyncio.timeout(30):
        async with running_daemon(config_for(tmp_path, platform_sim, mqtt=mqtt)):
            await sending.wait()
    assert lost == [True]
