"""Startup fails fast (issue 12): any error before READY logs one line naming the cause and
the process exits non-zero at once — it never hangs on, half started, with a traceback."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

from edge.sim.platform import CityPlatformSim
from tests.helpers import free_port, write_config
from tests.processes import Processes

#: Bound on the whole run (a cold interpreter importing the daemon on a busy 2-core machine).
RUN_BOUND = 60.0
#: From the failure's log line to the process's exit (the issue's "within a second").
EXIT_BOUND = 1.0


async def _failed_start(
    procs: Processes, config: Path
) -> tuple[int, list[dict[str, object]], float]:
    """Run ``edge run``; its exit status, JSON log lines, and the seconds from the
    "startup failed" line to the exit."""
    proc = await procs.edge(
        "run",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[dict[str, object]] = []
    failed_at: float | None = None
    async with asyncio.timeout(RUN_BOUND):  # the procs fixture reaps it if not
        async for raw in proc.stdout:
            line = json.loads(raw)
            lines.append(line)
            if line["event"] == "startup failed":
                failed_at = time.monotonic()
        code = await proc.wait()
        exited_at = time.monotonic()
    assert proc.stderr is not None
    assert await proc.stderr.read() == b""  # no traceback
    assert failed_at is not None, lines
    return code, lines, exited_at - failed_at


async def test_a_busy_port_ends_the_start_at_once(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        config = write_config(
            tmp_path / "config.toml", platform_sim.base_url, port=port, state=f"{tmp_path}/"
        )
        code, lines, lag = await _failed_start(procs, config)
    assert code != 0
    failed = [line for line in lines if line["level"] == "error"]
    assert len(failed) == 1
    assert "already in use" in str(failed[0]["cause"])
    assert lag < EXIT_BOUND


async def test_a_corrupt_ledger_ends_the_start_at_once(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    (tmp_path / "edge.db").write_bytes(b"this is not a database, it is a text file\n" * 100)
    config = write_config(
        tmp_path / "config.toml", platform_sim.base_url, port=free_port(), state=f"{tmp_path}/"
    )
    code, lines, lag = await _failed_start(procs, config)
    assert code != 0
    failed = [line for line in lines if line["level"] == "error"]
    assert len(failed) == 1
    assert "ledger cannot be opened" in str(failed[0]["cause"])
    assert lag < EXIT_BOUND
