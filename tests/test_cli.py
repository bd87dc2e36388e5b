"""The ``edge`` command as a technician runs it: real processes, real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from pathlib import Path

import httpx
import pytest

from edge.sim.platform import CityPlatformSim
from tests.helpers import free_port, wait_healthy, wait_records, write_config
from tests.processes import EDGE, Processes

__all__ = ["EDGE", "free_port"]  # tests written before tests.processes import them from here


async def test_run_serves_logs_json_and_stops_on_sigterm(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "config.toml",
        platform_sim.base_url,
        port=port,
        password="will-be-overridden",
        state="state/",
    )
    env = {**os.environ, "EDGE_PLATFORM__PASSWORD": platform_sim.password}
    proc = await procs.edge("run", "--config", str(config), env=env, stdout=asyncio.subprocess.PIPE)
    try:
        async with httpx.AsyncClient() as http:
            await wait_healthy(http, port, timeout=20)
            reply = await http.post(
                f"http://127.0.0.1:{port}/push/in-1", json={"plate": "豫A12345"}
            )
        assert reply.json()["verdict"] == "open"
        await wait_records(platform_sim, 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in out.decode().splitlines()]
    events = [line["event"] for line in lines]
    assert events[:3] == [
        "config warning",  # the simulator's password is the example's placeholder
        "no password for the status page: its actions are disabled until one is set "
        "with: edge set-password --config <config file>",
        "daemon ready",
    ]
    assert lines[0]["key"] == "platform.password"
    assert all(line["timestamp"].endswith("+08:00") for line in lines)  # the site's zone
    assert events[-1] == "daemon stopped"
    decided = next(line for line in lines if line["event"] == "pass decided")
    assert decided["plate"] == "豫A12345"
    assert decided["lane"] == "in-1"
    assert decided["serial"]
    assert "will-be-overridden" not in out.decode()
    assert platform_sim.password not in out.decode()
    assert (tmp_path / "state" / "edge.db").exists()


@pytest.mark.parametrize(
    ("platform", "camera"),
    [
        ("city", "vzenith"),
        ("province", "vzenith"),
        ("city", "hikvision"),
        ("city", "dahua"),
        ("city", "onvif"),
        ("province", "dahua-pull"),
        ("city", "serial"),
        ("city", "mqtt"),  # mosquitto comes from scripts/system-packages
    ],
)
async def test_demo_runs_a_short_stream(platform: str, camera: str, procs: Processes) -> None:
    proc = await procs.edge(
        "demo",
        "--trucks",
        "12",
        "--interval",
        "0.02",
        "--platform",
        platform,
        "--camera",
        camera,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, text
    opened = {"vzenith": "相机抬杆 open", "dahua": "Dahua push taken"}.get(camera, "放行 open")
    assert opened in text
    assert "platform goes DOWN" in text
    assert re.search(r"^\d{4}-\d\d-\d\dT[\d:.]+\+08:00 \[", text, re.M)  # the site's clock
    assert not re.search(r"^\d{4}-\d\d-\d\dT[\d:.]+\+00:00 \[", text, re.M)
    summary = next(line for line in text.splitlines() if "platform received" in line)
    assert " 0 duplicates, 0 rejected" in summary
    records, photos = (int(n) for n in re.findall(r"(\d+) (?:pass records|photos)", summary))
    if camera in ("dahua-pull", "serial"):  # no photo in these reads (and no snapshot set)
        assert records > 0
    else:
        assert records == photos > 0  # every truck's photo arrived too
    assert "some records are still waiting" not in text


async def test_sim_platform_runs_on_its_own(procs: Processes) -> None:
    port = free_port()
    proc = await procs.edge("sim", "platform", "--port", str(port), stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert f"127.0.0.1:{port}/ysgk" in line.decode()
        async with httpx.AsyncClient() as http:
            stats = (await http.get(f"http://127.0.0.1:{port}/sim/stats")).json()
        assert stats["records"] == 0
    finally:
        await procs.stop(proc)


async def test_the_demo_shows_its_page_recovers_and_ends_on_sigterm_with_a_summary(
    procs: Processes,
) -> None:
    proc = await procs.edge(
        "demo", "--camera", "generic", "--interval", "0.05",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    seen: list[str] = []
    async with asyncio.timeout(60):
        while not any("平台恢复" in line for line in seen[:-2]):  # two trucks after recovery
            seen.append((await proc.stdout.readline()).decode())
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = "".join(seen) + out.decode()
    assert proc.returncode == 0, text
    assert re.search(
        r"status page: http://127\.0\.0\.1:\d+/ \(登录密码 password for this run: ", text
    )
    assert "no password for the status page" not in text
    back = text.index("平台恢复")
    after = [line for line in text[back:].splitlines() if "进厂 entry:" in line]
    assert after, text
    assert "离线" not in after[0]  # the first truck after the recovery is verified online
    assert "platform received" in text  # the summary, also on SIGTERM
    workdir = re.search(r"generated config and ledger in (\S+)", text)
    assert workdir is not None
    assert not await asyncio.to_thread(Path(workdir.group(1)).exists)  # nothing left behind
