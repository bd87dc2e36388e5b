"""Traffic on a big ledger with a guard browsing, an export and retention (issue 19).

The real daemon (``edge run``, the config ``bench.floor`` gives it: a generic-push lane, a
Waveshare board-timed pulse on the Modbus TCP relay double) runs on a ledger of N months
(``bench.ledger``'s generator, or a kept one: ``--db``), a second one on an empty ledger, both
against the same platform simulator and relay double, each in its own process; systemd's
watchdog is played by a ``NOTIFY_SOCKET`` datagram socket per daemon (``WATCHDOG_USEC`` 2 s:
a ping a second — the unit's 30 s would ping every 15 s, too seldom to see a 5 s gap).

Pushes (a ~93 KB photo each) are paced at 20/s, one at a time, in blocks that alternate, in
the same run, between:

- **quiet**: the big ledger's daemon, nothing else;
- **empty**: the empty ledger's daemon, nothing else (the reference for plate → coil);
- **browsing**: the big one while a guard's browser (its own process, logged in as the README
  says) hits the status page's history search — a part of a plate, a day months ago and the
  page after it, a pass's reads — and ``/api/status``, a request every 0.2 s;
- **export**: the big one while a client (its own process) downloads a month of passes as
  CSV (``/api/passes.csv``), again and again.

Before the blocks: **retention + export** — the week of photos past their retention that the
generator leaves (the catch-up; made prunable again after the daemon's own round at its start,
which runs before it answers a push, and after each run) pruned by the daemon's retention code
in a process of its own on the same ledger file, while the month's CSV export streams and
pushes are paced as above. Then, optionally (``--outage``), the **drain after an
outage**: the platform simulator stopped while N passes arrive at 20/s, then started again on
the same port; the rate at which the backlog goes (outbox entries a second, from the first
sent after the restart to the last) against the simulator's capacity measured alone in the
same run (``bench.drain``'s method: the same mix, a record and its photos, at the forwarder's
concurrency, before the outage and after the drain).

Measured per phase: push round trip and plate → coil on (as ``bench.floor``: from starting to
send to the relay double's coil write), p50/p99; the event loop's stalls over 100 ms and its
worst lag (the daemon's loop-lag probe, ``/metrics``); the longest gap between watchdog pings.

    python -m bench --only traffic                          # small: 2 months at 200 a day
    python -m bench.traffic --db /path/edge.db --blocks 6 --block 200 --outage 1200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import free_port
from bench.floor import (
    PACED_INTERVAL,
    Camera,
    Relay,
    cpu_seconds,
    edge_config,
    photo,
    push_body,
    quiet,
)
from bench.ledger import DAY, MONTH, SH, Ledger, fleet, generate, kept, retained
from edge.ops.logsetup import setup_logging

#: Issue 19's bounds.
STALL_S = 0.1
WATCHDOG_GAP_S = 5.0
COIL_RATIO = 1.10  # big ledger's plate → coil p99 ÷ the empty ledger's
BROWSE_RATIO = 1.20  # push p99 while browsing ÷ quiet
DRAIN_SHARE = 0.90  # the drain ÷ the simulator's capacity
#: The watchdog as the bench plays it: WatchdogSec=2, a ping every second.
WATCHDOG_USEC = 2_000_000
#: A guard's browser: one request, then this many seconds before the next.
THINK_S = 0.2
#: A push not answered within this fails the run.
PUSH_TIMEOUT = 30.0
USER, PASSWORD = "guard", "bench-password"
PLATFORM_PASSWORD = "sim-password"  # noqa: S105 - the simulator's test account


def pct(values: list[float], p: float) -> float:
    """Nearest rank (the maximum of fewer than 100 values at p99)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# -- the watchdog's socket -------------------------------------------------------------------
class Watchdog:
    """A ``NOTIFY_SOCKET``: the times (monotonic) of the daemon's ``WATCHDOG=1`` datagrams."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)  # noqa: FBT003 - the socket API
        self.pings: list[float] = []
        self.ready: float | None = None
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = (await loop.sock_recv(self.sock, 4096)).decode()
            now = time.monotonic()
            if "READY=1" in message:
                self.ready = now
            if "WATCHDOG=1" in message:
                self.pings.append(now)

    def max_gap(self, start: float, end: float) -> float:
        """The longest time without a ping within [start, end] (a gap open at either end
        counted up to it)."""
        inside = [t for t in self.pings if start <= t <= end]
        before = [t for t in self.pings if t < start]
        marks = ([before[-1]] if before else [start]) + inside + [end]
        return max(b - a for a, b in itertools.pairwise(marks))

    def close(self) -> None:
        self._task.cancel()
        self.sock.close()


# -- the daemons -----------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    proc: asyncio.subprocess.Process
    port: int
    camera: Camera
    watchdog: Watchdog
    database: Path
    pushes: int = 0
    #: The camera's ids of this run's pushes start here: a kept ledger holds the ids of
    #: earlier runs, and a push with a known id is a re-push (merged, no barrier opened).
    first_id: int = field(default_factory=lambda: int(time.time() * 1000) % 10**12 * 100)


def _config(
    workdir: Path, database: Path, port: int, platform_url: str, relay_port: int, backoff: float
) -> Path:
    from edge.web.auth import hash_password  # noqa: PLC0415 - scrypt: only when running

    workdir.mkdir(parents=True, exist_ok=True)
    path = edge_config(workdir, port, platform_url, relay_port)
    text = path.read_text(encoding="utf-8")
    text = text.replace(f'database = "{workdir / "edge.db"}"', f'database = "{database}"')
    text = text.replace("[web]\n", f'[web]\npassword_hash = "{hash_password(PASSWORD)}"\n')
    text += f"\n[forwarder]\nbackoff_max_seconds = {backoff}\n"
    path.write_text(text, encoding="utf-8")
    (workdir / "edge.log").touch()
    return path


async def start_target(
    name: str, workdir: Path, database: Path, platform_url: str, relay_port: int, backoff: float
) -> Target:
    port = free_port()
    config = await asyncio.to_thread(
        _config, workdir, database, port, platform_url, relay_port, backoff
    )
    watchdog = Watchdog(workdir / "notify")
    env = {**os.environ, "NOTIFY_SOCKET": str(watchdog.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    env.pop("WATCHDOG_PID", None)
    proc = await asyncio.create_subprocess_exec(
        "sh", "-c", 'exec "$0" -m edge run --config "$1" >>"$2" 2>&1', sys.executable,
        str(config), str(workdir / "edge.log"), env=env,
    )  # fmt: skip
    return Target(name, proc, port, Camera(port), watchdog, database)


async def until_ready(target: Target, jpeg: bytes, limit: float = 900.0) -> float:
    """Until the daemon answers a push; the seconds it took from now."""
    started = time.monotonic()
    while True:
        try:
            await _push(target, jpeg)
            return time.monotonic() - started
        except OSError:
            target.camera.close()
            target.camera._streams = None
            if target.proc.returncode is not None:
                raise SystemExit(
                    f"{target.name}: edge run ended ({target.proc.returncode})"
                ) from None
            if time.monotonic() - started > limit:
                raise SystemExit(f"{target.name} did not come up") from None
            await asyncio.sleep(0.5)


def plate(n: int) -> str:
    """Plates that differ pairwise in at least two characters over 8,000 pushes (the
    daemon's duplicate window is 60 s: 1,200 pushes at 20/s)."""
    letter, i = "ABCDEFGH"[(n // 1000) % 8], n % 1000
    return f"豫{letter}{(i + n // 1000) % 1000:03d}{i:03d}"


async def _push(target: Target, jpeg: bytes) -> tuple[float, float, int]:
    body = push_body(plate(target.pushes), target.first_id + target.pushes, jpeg)
    target.pushes += 1
    sent = time.monotonic()
    status, _ = await asyncio.wait_for(target.camera.post("/push/in-1", body), PUSH_TIMEOUT)
    return sent, time.monotonic(), status


async def lag_counts(target: Target) -> tuple[float, float, float]:
    """(lags measured, of them over 100 ms, worst since the start) from ``/metrics``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    text = (await reader.read()).decode()
    writer.close()
    got: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in (
            "edge_loop_lag_seconds_count",
            'edge_loop_lag_seconds_bucket{le="0.1"}',
            "edge_loop_lag_max_seconds",
        ):
            got[name] = float(value)
    count = got.get("edge_loop_lag_seconds_count", float("nan"))
    under = got.get('edge_loop_lag_seconds_bucket{le="0.1"}', float("nan"))
    return count, count - under, got.get("edge_loop_lag_max_seconds", float("nan"))


# -- phases ----------------------------------------------------------------------------------
@dataclass
class Phase:
    """What the pushes of one kind of block met, over all its blocks."""

    trip_ms: list[float] = field(default_factory=list)
    coil_ms: list[float] = field(default_factory=list)
    missing_coils: int = 0
    refused: int = 0
    stalls: float = 0.0
    lags: float = 0.0
    gap_s: float = 0.0
    seconds: float = 0.0
    cpu_s: float = 0.0  # the daemon's CPU time in the blocks
    blocks: int = 0
    p99_per_block: list[float] = field(default_factory=list)


async def paced_block(
    target: Target, relay: Relay, jpeg: bytes, phase: Phase, count: int, until: Any = None
) -> None:
    """``count`` pushes at 20/s (or, with ``until``, pushes until it answers true, at least
    ``count``)."""
    lags_before = await lag_counts(target)
    coils = len(relay.on)
    cpu = cpu_seconds(target.proc.pid)
    pushes = []
    started = time.monotonic()
    i = 0
    while i < count or (until is not None and not await until()):
        await asyncio.sleep(max(0.0, started + i * PACED_INTERVAL - time.monotonic()))
        pushes.append(await _push(target, jpeg))
        i += 1
    ended = time.monotonic()
    phase.cpu_s += cpu_seconds(target.proc.pid) - cpu
    await relay.settle(coils + len(pushes))
    block: list[float] = []
    for sent, answered, status in pushes:
        if status != 200:
            phase.refused += 1
            continue
        phase.trip_ms.append((answered - sent) * 1000)
        coil = relay.first_between(sent, answered)
        if coil is None:
            phase.missing_coils += 1
        else:
            phase.coil_ms.append((coil - sent) * 1000)
            block.append((coil - sent) * 1000)
    phase.p99_per_block.append(pct(block, 99))
    lags_after = await lag_counts(target)
    phase.lags += lags_after[0] - lags_before[0]
    phase.stalls += lags_after[1] - lags_before[1]
    phase.gap_s = max(phase.gap_s, target.watchdog.max_gap(started, ended))
    phase.seconds += ended - started
    phase.blocks += 1


class Client:
    """The browser or the exporter: ``python -m bench.traffic browse|export URL …`` in its own
    process; started, told to stop (SIGTERM), its figures read (one JSON line)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, *args: str) -> Client:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.traffic", *args, stdout=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None
        await proc.stdout.readline()  # "ready": logged in, or its first bytes received
        return cls(proc)

    async def stop(self) -> dict[str, Any]:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = await self.proc.communicate()
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return result


# -- the browser and the exporter (their own processes) -------------------------------------
async def browse(base: str, months: int) -> None:
    """A guard at the status page: logged in, then the history searched again and again."""
    import aiohttp  # noqa: PLC0415 - its own process

    rng = random.Random(os.getpid())
    plates = fleet(random.Random(19))
    times: dict[str, list[float]] = {}
    busy = 0
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/login", data={"user": USER, "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
        print("ready", flush=True)

        async def get(kind: str, path: str) -> tuple[Any, Any]:
            nonlocal busy
            started = time.monotonic()
            async with http.get(base + path) as response:
                body = await response.read()
                times.setdefault(kind, []).append((time.monotonic() - started) * 1000)
                busy += response.status == 503
                return (json.loads(body) if response.status == 200 else None), response.headers

        while not stop.is_set():
            step = rng.randrange(4)
            if step == 0:
                await get("status", "/api/status")
            elif step == 1:
                part = rng.choice(plates)[rng.randrange(1, 5) :][:3]
                await get("plate", f"/api/passes?plate={part}")
            else:
                back = rng.uniform(0, months * MONTH - DAY)
                day = datetime.fromtimestamp(time.time() - back, SH).strftime("%Y-%m-%d")
                rows, headers = await get("day", f"/api/passes?from={day}&to={day}")
                if after := headers.get("X-Next-Page"):
                    await get("next page", f"/api/passes?from={day}&to={day}&after={after}")
                if rows:
                    await get("reads", f"/api/passes/{rows[0]['serial']}/reads")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), THINK_S)
    print(json.dumps({"requests": {k: [len(v), pct(v, 50), pct(v, 99)] for k, v in
                                   times.items()}, "busy": busy}))  # fmt: skip


async def export(base: str, start: str, end: str) -> None:
    """The month's CSV, downloaded again and again until told to stop."""
    import aiohttp  # noqa: PLC0415 - its own process

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    done: list[tuple[float, int]] = []
    ready = False
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
        while not stop.is_set():
            started, lines = time.monotonic(), 0
            async with http.get(f"{base}/api/passes.csv?from={start}&to={end}") as response:
                async for chunk in response.content.iter_any():
                    lines += chunk.count(b"\n")
                    if not ready:
                        print("ready", flush=True)
                        ready = True
                    if stop.is_set():
                        break
                else:
                    done.append((time.monotonic() - started, lines - 1))
    print(json.dumps({"exports": done}))


# -- a run -----------------------------------------------------------------------------------
def _expired_photos(database: Path) -> int:
    """Photos past the 365 days' retention not pruned yet (the daemon's retention at work)."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT count(*) FROM photos WHERE pruned_at IS NULL AND taken_at < ?",
            (time.time() - 365 * DAY,),
        ).fetchone()
        return int(row[0])
    finally:
        db.close()


def _undo_catch_up(database: Path, since: float) -> int:
    """The photos the run's retention pruned made prunable again (the next run prunes the
    same catch-up)."""
    db = sqlite3.connect(database)
    try:
        with db:
            return db.execute(
                "UPDATE photos SET pruned_at = NULL WHERE pruned_at >= ?", (since,)
            ).rowcount
    finally:
        db.close()


async def _spawn_platform(port: int, delay: float = 0.0) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge", "sim", "platform", "--port", str(port), "--delay", str(delay),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    await proc.stdout.readline()
    return proc


async def _stop(proc: asyncio.subprocess.Process | None) -> None:
    if proc is not None and proc.returncode is None:
        proc.terminate()
        await proc.wait()


@dataclass
class Run:
    phases: dict[str, Phase] = field(default_factory=dict)
    startup_s: float = 0.0
    retention_s: float | None = None
    pruned: int = 0
    expired_at_start: int = 0
    browse: dict[str, Any] = field(default_factory=dict)
    exports: list[tuple[float, int]] = field(default_factory=list)
    max_lag_s: dict[str, float] = field(default_factory=dict)
    max_gap_s: dict[str, float] = field(default_factory=dict)
    drain: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)


async def one_run(  # noqa: PLR0915 - a run, in the order it happens
    ledger: Ledger, blocks: int, block: int, outage: int, latency: float = 0.0
) -> Run:
    run = Run(load=(os.getloadavg()[0], 0.0))
    jpeg = photo()
    work = Path(tempfile.mkdtemp(prefix="edge-bench-traffic-"))
    platform_port = free_port()
    platform_url = f"http://127.0.0.1:{platform_port}/ysgk"
    platform = {"sim": await _spawn_platform(platform_port)}
    relay_proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.floor", "relay", stdout=asyncio.subprocess.PIPE
    )
    assert relay_proc.stdout is not None
    relay = Relay(relay_proc, int(await relay_proc.stdout.readline()))
    backoff = 5.0
    started = time.time()
    begun = time.monotonic()
    big = await start_target("big", work / "big", ledger.path, platform_url, relay.port, backoff)
    empty = await start_target(
        "empty", work / "empty", work / "empty" / "edge.db", platform_url, relay.port, backoff
    )
    targets = (big, empty)
    month_start = datetime.fromtimestamp(ledger.end - 2 * MONTH, SH)
    month_end = datetime.fromtimestamp(month_start.timestamp() + MONTH - DAY, SH)
    month = (month_start.strftime("%Y-%m-%d"), month_end.strftime("%Y-%m-%d"))
    base = f"http://127.0.0.1:{big.port}"
    clients: list[Client] = []
    try:
        run.startup_s = await until_ready(big, jpeg)
        # the daemon's own retention round at its start ends (before its first answer, or
        # soon after); then the catch-up again, pruned by the daemon's retention code in a
        # process of its own while the month's export streams and pushes are paced
        await until_ready(empty, jpeg)
        for target in targets:  # warm-up
            for _ in range(20):
                await _push(target, jpeg)
        run.expired_at_start = await asyncio.to_thread(_expired_photos, big.database)
        await quiet([big.proc.pid])
        await asyncio.to_thread(_undo_catch_up, ledger.path, started)
        exporter = await Client.start("export", base, *month)
        clients.append(exporter)
        retainer = await Client.start("retain", str(ledger.path))
        clients.append(retainer)

        async def retained_all() -> bool:
            return retainer.proc.returncode is not None

        phase = run.phases.setdefault("retention + export", Phase())
        await paced_block(big, relay, jpeg, phase, block // 2, until=retained_all)
        done = await retainer.stop()
        clients.remove(retainer)
        run.retention_s, run.pruned = done["seconds"], done["pruned"]
        run.exports += (await exporter.stop())["exports"]
        clients.remove(exporter)
        await _blocks(
            run, big=big, empty=empty, relay=relay, jpeg=jpeg, ledger=ledger, month=month,
            blocks=blocks, block=block,
        )  # fmt: skip
        if outage:
            run.drain = await outage_drain(big, platform, platform_port, jpeg, outage, latency)
        now = time.monotonic()
        for target in targets:
            run.max_lag_s[target.name] = (await lag_counts(target))[2]
            ready = target.watchdog.ready or begun
            run.max_gap_s[target.name] = target.watchdog.max_gap(ready, now)
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.stop()
        for target in targets:
            target.camera.close()
            await _stop(target.proc)
            target.watchdog.close()
        await _stop(platform.get("sim"))
        await _stop(relay_proc)
        _undo_catch_up(ledger.path, started)
        shutil.rmtree(work, ignore_errors=True)
        run.load = (run.load[0], os.getloadavg()[0])
    return run


async def _blocks(  # noqa: PLR0913 - the run's parts
    run: Run,
    *,
    big: Target,
    empty: Target,
    relay: Relay,
    jpeg: bytes,
    ledger: Ledger,
    month: tuple[str, str],
    blocks: int,
    block: int,
) -> None:
    """``blocks`` rounds of the four blocks, their order reversed every other round."""
    base = f"http://127.0.0.1:{big.port}"
    pids = [big.proc.pid, empty.proc.pid]
    for n in range(blocks):
        order = ["quiet", "empty", "browsing", "export"]
        for kind in order if n % 2 == 0 else order[::-1]:
            await quiet(pids)
            client = None
            if kind == "browsing":
                client = await Client.start("browse", base, str(ledger.months))
            elif kind == "export":
                client = await Client.start("export", base, *month)
            target = empty if kind == "empty" else big
            try:
                await paced_block(target, relay, jpeg, run.phases.setdefault(kind, Phase()), block)
            finally:
                result = {} if client is None else await client.stop()
            if kind == "export":
                run.exports += result["exports"]
            elif kind == "browsing":
                for key, (count, p50, p99) in result["requests"].items():
                    had = run.browse.setdefault(key, [0, [], []])
                    had[0] += count
                    had[1].append(p50)
                    had[2].append(p99)
                run.browse["busy"] = run.browse.get("busy", 0) + result["busy"]


async def outage_drain(
    big: Target,
    platform: dict[str, asyncio.subprocess.Process],
    port: int,
    jpeg: bytes,
    passes: int,
    latency: float,
) -> dict[str, float]:
    """The simulator stopped while ``passes`` arrive at 20/s, started again (answering after
    ``latency`` seconds from now on, as a platform over a network does); the drain's rate
    against the simulator's capacity alone (before the outage and after the drain)."""
    from bench.drain import _capacity  # noqa: PLC0415 - its measure of capacity
    from edge.uplink.platform.city import CityPlatform  # noqa: PLC0415

    url = f"http://127.0.0.1:{port}/ysgk"
    client = CityPlatform(base_url=url, organ="4110020001", username="gate01",
                          password=PLATFORM_PASSWORD, zone=SH)  # fmt: skip
    rounds = max(50, passes // 10)
    await _stop(platform.pop("sim"))
    platform["sim"] = await _spawn_platform(port, latency)
    before = await _capacity(client, 4, rounds, month=8)
    await client.aclose()
    await quiet([big.proc.pid])
    await _stop(platform.pop("sim"))  # the outage
    pending0 = await _pending(big)
    started = time.monotonic()
    for i in range(passes):
        await asyncio.sleep(max(0.0, started + i * PACED_INTERVAL - time.monotonic()))
        *_, status = await _push(big, jpeg)
        if status != 200:
            raise SystemExit(f"push refused during the outage: {status}")
    await asyncio.sleep(2)
    backlog = await _pending(big)
    platform["sim"] = await _spawn_platform(port, latency)
    restarted = time.monotonic()
    series = [(restarted, backlog)]
    while series[-1][1] > pending0 and time.monotonic() - restarted < 600:
        await asyncio.sleep(0.1)
        series.append((time.monotonic(), await _pending(big)))
    # from the first poll that saw entries sent (the part before it is not counted)
    first, at_first = next(((t, n) for t, n in series if n < backlog), series[-1])
    last = series[-1][0]
    drained = at_first - series[-1][1]
    client = CityPlatform(base_url=url, organ="4110020001", username="gate01",
                          password=PLATFORM_PASSWORD, zone=SH)  # fmt: skip
    after = await _capacity(client, 4, rounds, month=7)
    await client.aclose()
    return {
        "passes": passes, "backlog": backlog, "drained": drained,
        "wait_s": first - restarted, "drain_s": last - first,
        "rate": drained / max(1e-9, last - first),
        "capacity": (before + after) / 2, "capacity_before": before, "capacity_after": after,
        "latency": latency,
    }  # fmt: skip


async def _pending(target: Target) -> int:
    """Outbox entries not sent yet (pending or held: the outbox's own tallies)."""
    return await asyncio.to_thread(_unsent, target.database)


def _unsent(database: Path) -> int:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT coalesce(sum(n), 0) FROM tallies WHERE name IN ('outbox:pending', "
            "'outbox:held')"
        ).fetchone()
        return int(row[0])
    finally:
        db.close()


# -- the report --------------------------------------------------------------------------------
def _span(values: list[float], digits: int = 1) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "-"
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return low if low == high else f"{low}–{high}"


def _ratio(runs: list[Run], key: str, top: str, bottom: str) -> list[float]:
    out = []
    for run in runs:
        a, b = run.phases.get(top), run.phases.get(bottom)
        if a is not None and b is not None:
            values_a = a.coil_ms if key == "coil" else a.trip_ms
            values_b = b.coil_ms if key == "coil" else b.trip_ms
            out.append(pct(values_a, 99) / pct(values_b, 99))
    return out


def _verdict(ok: bool) -> str:  # noqa: FBT001 - a verdict
    return "met" if ok else "MISSED"


def report(ledger: Ledger, runs: list[Run], blocks: int, block: int) -> None:
    size = ledger.path.stat().st_size
    print(
        f"\nTraffic on a ledger of {ledger.months} months at {ledger.per_day} passes a day "
        f"({ledger.passes:,} passes, {size / 2**20:,.0f} MiB) beside an empty one (issue 19): "
        f"{len(runs)} run(s), each {blocks} rounds of alternating blocks of {block} pushes at "
        f"{1 / PACED_INTERVAL:.0f}/s (quiet, empty ledger, browsing, export); load average "
        + ", ".join(f"{r.load[0]:.1f}→{r.load[1]:.1f}" for r in runs)
    )
    print(
        f"  {'phase (ms; ranges across runs)':<26} {'pushes':>7} {'trip p50':>11} "
        f"{'trip p99':>11} {'coil p50':>11} {'coil p99':>11} {'block p99s':>13} "
        f"{'stalls':>6} {'wd gap s':>8} {'CPU':>5}"
    )
    for name in ("retention + export", "quiet", "empty", "browsing", "export"):
        phases = [r.phases[name] for r in runs if name in r.phases]
        if not phases:
            continue
        print(
            f"  {name:<26} {sum(len(p.trip_ms) for p in phases):7d} "
            f"{_span([pct(p.trip_ms, 50) for p in phases]):>11} "
            f"{_span([pct(p.trip_ms, 99) for p in phases]):>11} "
            f"{_span([pct(p.coil_ms, 50) for p in phases]):>11} "
            f"{_span([pct(p.coil_ms, 99) for p in phases]):>11} "
            f"{_span([v for p in phases for v in p.p99_per_block], 0):>13} "
            f"{sum(p.stalls for p in phases):6.0f} {_span([p.gap_s for p in phases]):>8} "
            f"{sum(p.cpu_s for p in phases) / sum(p.seconds for p in phases):5.0%}"
            + (f"  ({sum(p.missing_coils for p in phases)} coil writes not seen)"
               if any(p.missing_coils for p in phases) else "")
        )  # fmt: skip
    coil = _ratio(runs, "coil", "quiet", "empty")
    busy = _ratio(runs, "coil", "retention + export", "empty")
    export_coil = _ratio(runs, "coil", "export", "empty")
    browse = _ratio(runs, "trip", "browsing", "quiet")
    print(
        f"  plate → coil p99, big ÷ empty ledger: quiet {_span(coil, 2)}, browsing "
        f"{_span(_ratio(runs, 'coil', 'browsing', 'empty'), 2)}, export {_span(export_coil, 2)},"
        f" retention + export {_span(busy, 2)} (target ≤ {COIL_RATIO:.2f}: quiet "
        f"{_verdict(bool(coil) and max(coil) <= COIL_RATIO)}, with all of it "
        f"{_verdict(bool(busy + export_coil) and max(coil + busy + export_coil) <= COIL_RATIO)})"
    )
    print(
        f"  push round trip p99, browsing ÷ quiet: {_span(browse, 2)} (target ≤ "
        f"{BROWSE_RATIO:.2f}: {_verdict(bool(browse) and max(browse) <= BROWSE_RATIO)})"
    )
    stalls = sum(p.stalls for r in runs for name, p in r.phases.items() if name != "empty")
    lags = [r.max_lag_s.get("big", float("nan")) * 1000 for r in runs]
    print(
        f"  event loop (big ledger's daemon): {stalls:.0f} stalls over {STALL_S * 1000:.0f} ms "
        f"in its blocks, worst lag since its start {_span(lags, 0)} ms (empty ledger's: "
        f"{_span([r.max_lag_s.get('empty', float('nan')) * 1000 for r in runs], 0)} ms) — "
        f"target no stall over {STALL_S * 1000:.0f} ms: "
        f"{_verdict(bool(lags) and max(lags) <= STALL_S * 1000)}"
    )
    gaps = [r.max_gap_s.get("big", float("nan")) for r in runs]
    print(
        f"  watchdog (a ping a second): longest gap {_span(gaps, 2)} s since READY (empty "
        f"ledger's {_span([r.max_gap_s.get('empty', float('nan')) for r in runs], 2)} s) — "
        f"target ≤ {WATCHDOG_GAP_S:.0f} s: {_verdict(bool(gaps) and max(gaps) <= WATCHDOG_GAP_S)}"
    )
    print(
        "  start-up (first push answered): "
        + ", ".join(f"{r.startup_s:.1f} s" for r in runs)
        + "; retention round at the start: "
        + ", ".join(
            (f"{r.retention_s:.1f} s" if r.retention_s is not None else "not seen")
            + f" ({r.pruned:,} photos pruned)"
            for r in runs
        )
    )
    exports = [e for r in runs for e in r.exports]
    if exports:
        print(
            f"  month's CSV export: {len(exports)} whole, {_span([e[1] for e in exports], 0)} "
            f"rows in {_span([e[0] for e in exports], 1)} s"
        )
    for run in runs:
        if run.browse:
            print(
                "  browser: "
                + ", ".join(
                    f"{k} {v[0]}× p50 {_span(v[1], 0)} / p99 {_span(v[2], 0)} ms"
                    for k, v in run.browse.items()
                    if k != "busy"
                )
                + f"; {run.browse.get('busy', 0)} answered 503 (the ledger's budget)"
            )
    for run in runs:
        d = run.drain
        if d:
            share = d["rate"] / d["capacity"]
            print(
                f"  drain after an outage ({d['passes']:.0f} passes at 20/s, platform down; "
                f"then answering in {d.get('latency', 0) * 1000:.0f} ms): "
                f"{d['drained']:.0f} entries in {d['drain_s']:.1f} s = {d['rate']:.0f}/s, first "
                f"sent {d['wait_s']:.1f} s after the restart; the simulator alone "
                f"{d['capacity']:.0f}/s (before {d['capacity_before']:.0f}, after "
                f"{d['capacity_after']:.0f}) → {share:.0%} (target ≥ {DRAIN_SHARE:.0%}: "
                f"{_verdict(share >= DRAIN_SHARE)})"
            )


# -- entry points ----------------------------------------------------------------------------
#: ``make bench``'s size: past the photo retention (its catch-up), short.
MONTHS, PER_DAY, BLOCKS, BLOCK, OUTAGE = 13, 100, 1, 100, 100
#: The platform's latency after the outage (as ``python -m bench``'s drain: 20 ms).
LATENCY = 0.02


def prepare(ledger: Ledger) -> None:
    """Once per kept ledger: the daemon's retention with the default settings (what a site's
    ledger holds — sent outbox entries after 30 days, camera messages after 90 — not the
    generator's every entry of 24 months), the photo catch-up then undone."""
    about = ledger.path.with_suffix(".json")
    meta = json.loads(about.read_text()) if about.exists() else {}
    if meta.get("retained"):
        return
    started = time.time()
    asyncio.run(retained(ledger.path))
    _undo_catch_up(ledger.path, started)
    print(f"retention with the defaults run once on the ledger: {time.time() - started:.0f} s")
    if about.exists():
        meta["retained"] = started
        about.write_text(json.dumps(meta))


def bench_traffic(
    ledger: Ledger | None = None,
    runs: int = 1,
    blocks: int = BLOCKS,
    block: int = BLOCK,
    outage: int = OUTAGE,
    latency: float = LATENCY,
) -> None:
    """The bench on ``ledger`` (None: a small one generated and deleted)."""
    with tempfile.TemporaryDirectory(prefix="edge-traffic-") as tmp:
        if ledger is None:
            ledger = generate(Path(tmp) / "edge.db", MONTHS, PER_DAY)
        prepare(ledger)
        setup_logging("error", "json")  # the capacity's platform client: quiet
        results = [
            asyncio.run(one_run(ledger, blocks, block, outage, latency)) for _ in range(runs)
        ]
        report(ledger, results, blocks, block)
    if out := os.environ.get("BENCH_TRAFFIC_JSON"):
        Path(out).write_text(json.dumps([asdict(r) for r in results], indent=1))


def main(argv: list[str]) -> None:
    if argv[:1] == ["browse"]:
        asyncio.run(browse(argv[1], int(argv[2])))
        return
    if argv[:1] == ["retain"]:
        print("ready", flush=True)
        started = time.monotonic()
        state = asyncio.run(retained(Path(argv[1])))
        print(json.dumps({"seconds": time.monotonic() - started, "pruned": state.pruned}))
        return
    if argv[:1] == ["export"]:
        asyncio.run(export(argv[1], argv[2], argv[3]))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.traffic")
    parser.add_argument("--db", type=Path, help="a kept ledger (bench.ledger --db; generated "
                        "there if missing)")  # fmt: skip
    parser.add_argument("--months", type=int, default=MONTHS)
    parser.add_argument("--per-day", type=int, default=PER_DAY)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--blocks", type=int, default=BLOCKS, help="rounds of the four blocks")
    parser.add_argument("--block", type=int, default=BLOCK, help="pushes a block")
    parser.add_argument("--outage", type=int, default=OUTAGE,
                        help="passes during the platform's outage (0: no outage)")  # fmt: skip
    parser.add_argument("--latency", type=float, default=LATENCY,
                        help="seconds the platform takes to answer after the outage")  # fmt: skip
    parser.add_argument("--report", type=Path, help="only print the report of the runs in "
                        "this file (BENCH_TRAFFIC_JSON of an earlier run on --db)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.report is not None and args.db is not None:
        saved = json.loads(args.report.read_text())
        runs = [Run(**{**r, "phases": {k: Phase(**v) for k, v in r["phases"].items()}})
                for r in saved]  # fmt: skip
        report(kept(args.db, args.months, args.per_day), runs, args.blocks, args.block)
        return
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    ledger = None if args.db is None else kept(args.db, args.months, args.per_day)
    bench_traffic(ledger, args.runs, args.blocks, args.block, args.outage, args.latency)


if __name__ == "__main__":
    main(sys.argv[1:])
