"""What the benchmarks share: ports, the platform simulator process, memory, the config."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path
from typing import Any

from edge.config.model import Config


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), not its lifetime peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover - not Linux


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_platform(delay: float = 0.0) -> tuple[asyncio.subprocess.Process, str]:
    """The city platform simulator in its own process; returns it and its base URL."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge",
        "sim",
        "platform",
        "--port",
        str(port),
        "--delay",
        str(delay),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    await proc.stdout.readline()  # "simulated city platform at …": it is listening
    return proc, f"http://127.0.0.1:{port}/ysgk"


async def start_hostile(
    daemon_port: int, lane: str, plate_kb: int = 100, *, pages: bool = False
) -> asyncio.subprocess.Process:
    """The hostile camera (``bench.hostile``) in its own process, pushing to ``lane`` — or,
    with ``pages``, its page flood; returns once the daemon has answered its first request."""
    url = f"http://127.0.0.1:{daemon_port}/push/{lane}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.hostile",
        *(("--pages", url) if pages else (url, str(plate_kb))),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    await proc.stdout.readline()  # "attacking": its first push was answered
    return proc


async def run_longplate(
    daemon_port: int, hostile_lane: str, other_lane: str, rounds: int, plate_kb: int
) -> dict[str, Any]:
    """``bench.longplate`` in its own process; its measurements."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.longplate",
        f"http://127.0.0.1:{daemon_port}",
        hostile_lane,
        other_lane,
        str(rounds),
        str(plate_kb),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit("the long-plate cameras failed")
    result: dict[str, Any] = json.loads(out)
    return result


async def run_camera(daemon_port: int, events: int, interval: float, start: int = 0) -> None:
    """The simulated camera in its own process: ``events`` pushes (plates from number
    ``start``), then it exits."""
    pusher = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.pusher",
        f"http://127.0.0.1:{daemon_port}/push/in-1",
        str(events),
        str(interval),
        str(start),
    )
    if await pusher.wait() != 0:
        raise SystemExit("the camera process failed")


def bench_config(
    workdir: Path,
    base_url: str,
    modbus: dict[str, Any] | None = None,
    extra_lanes: tuple[dict[str, Any], ...] = (),
    sections: dict[str, Any] | None = None,
    **lane: Any,
) -> Config:
    """One generic-push lane (virtual barrier, LED, detector unless ``lane`` says otherwise),
    ``extra_lanes`` and other config ``sections`` as given."""
    sections = dict(sections or {})
    # vehicles 50× a gate's busiest: their serial numbers (a second apart) run ahead
    decision = {"max_serial_lead_seconds": 86_400, **sections.pop("decision", {})}
    return Config(
        **sections,
        decision=decision,
        modbus=modbus or {},
        site={"enterprise_code": "4110020001", "enterprise_name": "基准测试企业"},
        platform={
            "base_url": base_url,
            "organ": "4110020001",
            "username": "gate01",
            "password": "sim-password",
        },
        lanes=[
            {
                "id": "in-1",
                "gate_code": "01",
                "direction": "in",
                # vehicles 50× a gate's busiest (or back to back): above the default push rate
                # its address given, as the README advises: a flood from other addresses
                # shares the listener's rates and caps, not with it
                "camera": {
                    "kind": "generic-push",
                    "max_pushes_per_second": 1000,
                    "allow_from": ["127.0.0.1"],
                },
                "barrier": {"driver": "virtual"},
                "led": {"driver": "virtual"},
                "detector": {"driver": "virtual", "pass_after_seconds": 0},
                **lane,
            },
            *extra_lanes,
        ],
        storage={"database": str(workdir / "edge.db"), "photo_dir": str(workdir / "photos")},
        web={"port": 0},
        logging={"level": "error"},
    )
