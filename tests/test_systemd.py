"""systemd: READY and watchdog pings over a real notify socket from a real `edge run`, the
watchdog withheld while unhealthy, and SIGHUP reloading what is safe."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.config.model import load_config
from edge.ops.systemd import Notifier, feed_watchdog, watchdog_interval
from edge.sim.platform import CityPlatformSim
from tests.helpers import free_port, running_daemon, write_config
from tests.processes import Processes


def notify_socket(tmp_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    return sock


async def received(sock: socket.socket, want: str, timeout: float = 20) -> list[str]:
    loop, got = asyncio.get_running_loop(), list[str]()
    async with asyncio.timeout(timeout):
        while not any(want in m for m in got):
            got.append((await loop.sock_recv(sock, 4096)).decode())
    return got


async def test_ready_and_watchdog_from_a_real_service(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    sock = notify_socket(tmp_path)
    config = write_config(
        tmp_path / "config.toml", platform_sim.base_url, port=free_port(), state=f"{tmp_path}/"
    )
    env = {
        **os.environ,
        "EDGE_PLATFORM__PASSWORD": platform_sim.password,
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
        "WATCHDOG_USEC": "400000",  # WatchdogSec=0.4: a ping every 0.2 s
    }
    proc = await procs.edge(
        "run", "--config", str(config), env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        messages = await received(sock, "READY=1")
        assert "STATUS=serving 1 lane(s)" in messages[-1]
        await received(sock, "WATCHDOG=1")
        proc.send_signal(signal.SIGTERM)
        await received(sock, "STOPPING=1")
        assert await procs.stop(proc, signal.SIGTERM) == 0
    finally:
        sock.close()


async def test_the_watchdog_is_withheld_while_unhealthy(tmp_path: Path) -> None:
    sock = notify_socket(tmp_path)
    notifier = Notifier(str(tmp_path / "notify"))
    healthy = [False]

    async def check() -> bool:
        return healthy[0]

    task = asyncio.create_task(feed_watchdog(notifier, 0.02, check))
    try:
        await asyncio.sleep(0.1)
        with pytest.raises(BlockingIOError):
            sock.recv(100)  # nothing while unhealthy
        healthy[0] = True
        assert "WATCHDOG=1" in (await received(sock, "WATCHDOG=1", 2))[-1]
    finally:
        task.cancel()
        notifier.close()
        sock.close()


def test_outside_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    Notifier().send("READY=1")  # no socket: a no-op
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None  # meant for another process


async def test_sighup_applies_what_is_safe_and_names_the_rest(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    path = write_config(tmp_path / "config.toml", platform_sim.base_url, state=f"{tmp_path}/")

    async with running_daemon(load_config(path)) as daemon:
        text = path.read_text("utf-8")
        path.write_text(
            text + '\n[led_text]\nrefuse = ["{plate}", "{reason}", "请掉头"]\n'
            '[lists]\nin_plant = [{ plate = "豫A00001" }]\n',
            "utf-8",
        )
        assert daemon.reload_from(path) == []
        assert daemon.lanes["in-1"].led_text.refuse[-1] == "请掉头"
        now = datetime.now(ZoneInfo("Asia/Shanghai"))
        assert (await daemon.lists.current()).match("豫A00001", now) is not None
        path.write_text(path.read_text("utf-8").replace('gate_code = "01"', 'gate_code = "02"'))
        assert daemon.reload_from(path) == ["lanes"]
        path.write_text("not toml [", "utf-8")
        assert daemon.reload_from(path) == []  # errors: nothing changes


def test_the_unit_rates_ok_or_better() -> None:
    unit = Path(__file__).resolve().parent.parent / "systemd" / "edge-gate.service"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (scripts/system-packages installs it)")
        pytest.skip("systemd-analyze is not installed")
    result = subprocess.run(
        [analyze, "security", "--offline=yes", str(unit)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    verdict = result.stdout.strip().splitlines()[-1]
    score = float(verdict.split("level for edge-gate.service:")[1].split()[0])
    assert score <= 2.0, verdict  # "OK" and better
    settings = [
        line.strip() for line in unit.read_text("utf-8").splitlines() if not line.startswith("#")
    ]
    assert "Type=notify" in settings
    assert "WatchdogSec=30" in settings
    assert "PrivateDevices=yes" not in settings  # it would hide the serial ports
    assert "MemoryDenyWriteExecute=yes" not in settings  # it breaks cffi callbacks


def test_the_unit_parses(tmp_path: Path) -> None:
    """``systemd-analyze verify`` (with ExecStart pointed at a binary that exists here)."""
    unit = Path(__file__).resolve().parent.parent / "systemd" / "edge-gate.service"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (scripts/system-packages installs it)")
        pytest.skip("systemd-analyze is not installed")
    text = "\n".join(
        "ExecStart=/bin/true" if line.startswith("ExecStart=") else line
        for line in unit.read_text("utf-8").splitlines()
    )
    copy = tmp_path / "edge-gate.service"
    copy.write_text(text, "utf-8")
    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr


_STUBS = {  # what install-service runs as root, each logging its arguments
    "id": 'echo "id $*" >> "$LOG"; [ "${1:-}" = -u ] && echo 0; exit 0',
    "useradd": 'echo "useradd $*" >> "$LOG"',
    "install": 'echo "install $*" >> "$LOG"',
    "systemctl": 'echo "systemctl $*" >> "$LOG"',
    "python3": (  # python3 -m venv DIR: a venv whose pip and edge only log
        'echo "python3 $*" >> "$LOG"; mkdir -p "$3/bin"\n'
        'for tool in pip edge; do printf \'#!/bin/sh\\necho "%s $*" >> "$LOG"\\n\' "$tool"'
        ' > "$3/bin/$tool"; chmod +x "$3/bin/$tool"; done'
    ),
}


@pytest.mark.parametrize("no_start", [True, False])
def test_install_service_no_start_neither_enables_nor_starts(
    tmp_path: Path, no_start: bool
) -> None:
    """``--no-start`` (a new PC about to restore its ledger) leaves the unit disabled: a reboot
    before ``edge restore`` must not start a daemon that creates an empty ledger. Without it
    the unit is enabled and started once the config checks."""
    stubs, root, log = tmp_path / "bin", tmp_path / "root", tmp_path / "calls.log"
    stubs.mkdir()
    for name, body in _STUBS.items():
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    (root / "usr" / "local" / "bin").mkdir(parents=True)
    script = Path(__file__).resolve().parent.parent / "scripts" / "install-service"
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "EDGE_GATE_ROOT": str(root),
        "LOG": str(log),
    }
    result = subprocess.run(
        [str(script), *(["--no-start"] if no_start else [])],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    calls = [line for line in log.read_text().splitlines() if line.startswith("systemctl")]
    if no_start:
        assert calls == ["systemctl daemon-reload"]
        assert "systemctl enable --now edge-gate" in result.stdout
    else:
        assert calls == [
            "systemctl daemon-reload",
            "systemctl enable edge-gate.service",
            "systemctl restart edge-gate.service",
        ]
        assert "edge-gate is running" in result.stdout
    assert (root / "opt" / "edge-gate" / "config.example.toml").is_file()
    assert (root / "usr" / "local" / "bin" / "edge").is_symlink()
