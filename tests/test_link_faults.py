"""Every failure class is heard (issue 12): a refused login or an HTML page with HTTP 200 makes
the link ``down`` with its reason on ``/healthz``, the status page and ``/metrics``, logged once
with the platform's words and once when it clears; and the lanes verify online again on the
first truck after the platform answers, without waiting for the breaker's next probe."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
from structlog.testing import capture_logs

from edge.daemon import Daemon
from edge.sim.platform import Fault, PlatformSim
from edge.sim.province import ProvincePlatformSim
from tests.helpers import camera, config_for, eventually, running_daemon

CLEAR = "未管控"
#: Plates pairwise two characters apart (one apart would be the same vehicle misread).
PLATES = iter(f"豫A{i:03d}{i:03d}" for i in range(1000))


def _verify_method(sim: PlatformSim) -> str:
    return "VehVerifyEx" if isinstance(sim, ProvincePlatformSim) else "getCheckVehicle"


async def _seen(daemon: Daemon) -> tuple[dict[str, Any], dict[str, Any], str]:
    """/healthz, /api/status and /metrics, over HTTP."""
    base = f"http://127.0.0.1:{daemon.web.port}"
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"{base}/healthz")).json()
        status = (await http.get(f"{base}/api/status")).json()
        metrics = (await http.get(f"{base}/metrics")).text
    return health, status, metrics


def _failing(logs: list[MutableMapping[str, Any]], event: str) -> list[str]:
    return [e["reason"] for e in logs if e["event"] == event]


async def test_refused_login_then_html_reply_are_heard_once_and_clear(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    sim = any_platform
    cfg = config_for(tmp_path, sim, decision={"offline_policy": "allow"})
    real_password = sim.password  # type: ignore[attr-defined]
    with capture_logs() as logs:
        async with running_daemon(cfg) as daemon:
            cam = camera(daemon)
            sim.password = "changed-on-the-platform"  # type: ignore[attr-defined]
            sim.expire_tokens()
            for _ in range(3):
                assert (await cam.push(next(PLATES))).body["reason"] == "平台离线 放行"
            health, status, metrics = await _seen(daemon)
            assert (health["link"], health["link_reason"]) == ("down", "auth-refused")
            assert health["link_error"]  # the platform's own words
            assert status["link_reason"] == "账号或授权码被拒"
            assert 'edge_platform_link_down_reason{reason="auth-refused"} 1.0' in metrics
            assert _failing(logs, "platform call failing") == ["auth-refused"]  # once

            sim.password = real_password  # type: ignore[attr-defined]
            sim.answer_html = True
            for _ in range(3):
                assert (await cam.push(next(PLATES))).body["reason"] == "平台离线 放行"
            health, status, metrics = await _seen(daemon)
            assert (health["link"], health["link_reason"]) == ("down", "unreadable-reply")
            assert "html" in health["link_error"]
            assert status["link_reason"] == "平台回复无法识别"
            assert 'reason="unreadable-reply"' in metrics

            sim.answer_html = False
            answered = await cam.push(next(PLATES))  # the platform answers again
            assert answered.body["reason"] == CLEAR
            health, status, metrics = await _seen(daemon)
            assert (health["link"], health["link_reason"], status["link_reason"]) == (
                "up",
                None,
                None,
            )
            assert "edge_platform_link_down_reason{" not in metrics
            await cam.aclose()
    assert _failing(logs, "platform call failing") == ["auth-refused", "unreadable-reply"]
    cleared = _failing(logs, "platform failure cleared")
    assert sorted(cleared) == ["auth-refused", "unreadable-reply"]
    refused = next(e for e in logs if e.get("reason") == "auth-refused")
    assert "用户名或密码错误" in refused["error"] or "账号或密码错误" in refused["error"]


async def test_lanes_verify_online_on_the_first_truck_after_the_platform_answers(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    sim = any_platform
    cfg = config_for(
        tmp_path,
        sim,
        decision={"offline_policy": "allow"},
        platform={
            "verify_deadline_seconds": 1.0,  # the clear answers must fit on a loaded machine
            "request_timeout_seconds": 30,
            "breaker_failures": 2,
            "breaker_probe_seconds": 600,  # no probe within the test: only answers close it
        },
    )
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        assert (await cam.push(next(PLATES))).body["reason"] == CLEAR
        sim.hang = True
        for _ in range(3):
            assert (await cam.push(next(PLATES))).body["reason"] == "平台离线 放行"
        assert daemon.link.down
        health, _, _ = await _seen(daemon)
        assert (health["link"], health["link_reason"]) == ("down", "timeout")
        sim.hang = False  # the platform answers the calls it held: late answers close the link
        await eventually(lambda: not daemon.link.down)
        assert (await cam.push(next(PLATES))).body["reason"] == CLEAR  # the very next truck
        await cam.aclose()


async def test_refused_connection_and_server_errors_are_named(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    sim = any_platform
    cfg = config_for(tmp_path, sim, decision={"offline_policy": "allow"})
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        sim.faults.append(Fault("http", 502, ipctype=_verify_method(sim)))
        await cam.push(next(PLATES))
        assert (await _seen(daemon))[0]["link_reason"] == "server-error"
        await sim.stop()
        await cam.push(next(PLATES))
        assert (await _seen(daemon))[0]["link_reason"] == "no-connection"
        await sim.start()
        await cam.aclose()
