"""edge-gate beside the floor (issue 19): one load generator, the same simulators, one run.

The **floor** is a minimal asyncio script doing only what a pass cannot do without: receive
the camera's HTTP push (aiohttp), one vehicle check on the platform simulator, one SQLite insert
+ commit (WAL, ``synchronous=FULL``), one Modbus TCP coil write to the relay board double, the
reply. **edge-gate** runs as ``edge run`` with a real config (a generic-push lane, a Waveshare
board-timed barrier pulse on the same relay double — one coil write per opening —, the LED
driver virtual, no loop detector, logging at ``info`` as shipped) against the same platform
simulator, which it also forwards every record and photo to.

Each target, the platform simulator, the relay double and this load generator are processes
of their own. The generator pushes the same JSON (a ~93 KB photo in it) to both, in blocks
that alternate between the two (the machine is shared and noisy: a drifting load touches both
alike), one push at a time: paced (a vehicle every 50 ms) and back-to-back (the next as soon as
the reply is in). Measured:

- **plate → coil on**: from the generator starting to send the push to the relay double
  receiving the coil write (both clocks are ``CLOCK_MONOTONIC``);
- **push round trip**: from starting to send to having the whole reply;
- **back-to-back throughput**: pushes answered per second of the back-to-back blocks;
- **CPU per pass**: the target process's CPU time (user + system, ``/proc/PID/stat``) from the
  start of a back-to-back block until it is quiet again (edge-gate's forwarding of the block's
  passes included) ÷ passes;
- **steady RSS**: the target's ``VmRSS`` after the run, once it is quiet, and its two parts:
  ``RssAnon`` (the process's own memory) and ``RssFile`` (libraries' pages mapped, which vary
  with the page cache: a freshly installed venv showed 18 MiB more). Printed beside it,
  not taken off it: how much of edge-gate's is libraries only the development venv has
  (:data:`DEV_ONLY`), measured on ``edge run``'s imports in a fresh interpreter with and
  without them.

``python -m bench --only floor [--runs N]``; the parts here: ``python -m bench.floor relay``
(the relay double), ``python -m bench.floor serve …`` (the floor).
"""

from __future__ import annotations

import asyncio
import base64
import compileall
import json
import os
import shutil
import sqlite3
import struct
import sys
import tempfile
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import drivers
import edge
from bench.common import free_port, start_platform
from bench.pusher import bench_plates

#: Paced blocks: one vehicle per this many seconds (20/s, the issue's paced rate).
PACED_INTERVAL = 0.05
#: Pushes before measuring (tokens, connections, caches), per target.
WARM_UP = 20
#: Targets (issue 19): plate → coil p50 and p99 ≤ 1.25× the floor, back-to-back ≥ 100
#: passes/s, CPU per pass ≤ 2× the floor, steady RSS ≤ 90 MiB (OpenCV loaded).
COIL_RATIO = 1.25
THROUGHPUT = 100.0
CPU_RATIO = 2.0
RSS_MIB = 90.0
#: A target is quiet when it used at most this share of one CPU over QUIET_WINDOW seconds.
QUIET_SHARE = 0.05
QUIET_WINDOW = 0.3

#: A push not answered within this is a failed run (the camera's own timeout is 5 s).
PUSH_TIMEOUT = 10.0

ORGAN, USERNAME, PASSWORD = "4110020001", "gate01", "sim-password"
PATH_GET = "/restapi/transportControl/get_data"

#: Libraries the development venv brings that edge-gate's imports then load (each optional to
#: the library importing it) but a production install does not have: click (Flask, for moto's
#: server; loaded by httpx), Pygments (pytest; httpx), rich (structlog, when present) and
#: greenlet (playwright; structlog).
DEV_ONLY = ("click", "pygments", "rich", "greenlet")


# -- the floor ----------------------------------------------------------------------------


async def serve_floor(port: int, platform_url: str, relay_port: int, database: str) -> None:
    """The floor: push → vehicle check → insert + commit → coil on → reply."""
    from aiohttp import ClientSession, web  # noqa: PLC0415 - the floor's own process
    from pymodbus.client import AsyncModbusTcpClient  # noqa: PLC0415

    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS passes (id INTEGER PRIMARY KEY, plate TEXT, color TEXT,"
        " received_at REAL, verdict TEXT)"
    )
    http = ClientSession()
    async with http.post(
        platform_url + PATH_GET,
        json={"organ": ORGAN, "ipctype": "getAccessToken", "username": USERNAME,
              "password": PASSWORD},
    ) as response:  # fmt: skip
        token = (await response.json())["access_token"]
    relay = AsyncModbusTcpClient("127.0.0.1", port=relay_port)
    await relay.connect()

    async def push(request: web.Request) -> web.Response:
        received = time.time()
        body = json.loads(await request.read())
        plate, color = body["plate"], str(body["color"])
        check = {"organ": ORGAN, "ipctype": "getCheckVehicle", "access_token": token,
                 "value": {"license": plate, "licenseColor": color}}  # fmt: skip
        async with http.post(platform_url + PATH_GET, json=check) as response:
            answer = await response.json()
        verdict = "open" if answer["value"]["isControl"] == "0" else "refuse"
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO passes (plate, color, received_at, verdict) VALUES (?, ?, ?, ?)",
            (plate, color, received, verdict),
        )
        db.execute("COMMIT")
        if verdict == "open":
            await relay.write_coil(0, True, device_id=1)  # noqa: FBT003 - pymodbus
        return web.json_response({"result": "ok", "verdict": verdict})

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_post("/push/{lane}", push)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("listening", flush=True)
    await asyncio.Event().wait()


async def serve_relay() -> None:
    """The relay board double; prints its port, then the monotonic time of each coil write
    that closes a contact (a plain coil on, or a Waveshare flash-on)."""
    from edge.sim.relay_board import Command, RelayBoardSim  # noqa: PLC0415

    def note(command: Command) -> None:
        if command.function == 5 and command.value:
            sys.stdout.write(f"{time.monotonic():.6f}\n")
            sys.stdout.flush()

    board = RelayBoardSim(on_command=note, drive_through=False)
    await board.start(free_port())
    print(board.port, flush=True)
    await asyncio.Event().wait()


# -- the load generator -------------------------------------------------------------------


def photo(size: int = 93_000) -> bytes:
    """A JPEG of about ``size`` bytes (a noisy 640×480 scene, as camera scene photos are)."""
    import cv2  # noqa: PLC0415 - only the generator makes photos
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(19)
    y, x = np.mgrid[0:480, 0:640]
    base = np.dstack([x * 255 // 640, y * 255 // 480, (x + y) % 256]).astype(np.uint8)
    best = b""
    for noise in range(4, 80, 2):
        image = cv2.add(base, rng.integers(0, noise, base.shape, dtype=np.uint8))
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        best = bytes(buffer.tobytes())
        if len(best) >= size:
            break
    return best


def push_body(plate: str, number: int, jpeg: bytes) -> bytes:
    """The generic push JSON, the photo tagged with the plate (every photo differs)."""
    label = f"{plate}#{number}".encode()
    tagged = jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(label) + 2) + label + jpeg[2:]
    return json.dumps(
        {"plate": plate, "color": "1", "time": time.time(), "confidence": 95, "id": str(number),
         "images": {"scene": base64.b64encode(tagged).decode()}},
        ensure_ascii=False,
    ).encode()  # fmt: skip


class Camera:
    """One keep-alive HTTP/1.1 connection, written by hand: the lightest client there is, so
    the generator takes as little of the shared CPU as it can."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        reused = self._streams is not None
        if self._streams is None:
            self._streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self._streams
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        first = await reader.readline()
        if not first and reused:  # the server closed the idle kept-alive connection: anew
            writer.close()
            self._streams = None
            return await self.post(path, body)
        status = int(first.split()[1])
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        reply = await reader.readexactly(length)
        if close:
            writer.close()
            self._streams = None
        return status, reply

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int, kind: str = "VmRSS") -> float:
    """A process's resident memory (MiB) as ``/proc/PID/status`` gives it: ``VmRSS`` (all),
    ``RssAnon`` (its own heap and stacks) or ``RssFile`` (mapped files' pages: the libraries'
    code, which counts only as far as the page cache has it mapped — a venv installed minutes
    ago showed 18 MiB more of it than an older copy of the same files)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover - not Linux


async def quiet(pids: list[int], limit: float = 30.0) -> None:
    """Until every process in ``pids`` is idle (its background work done), at most ``limit``
    seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = [cpu_seconds(pid) for pid in pids]
        await asyncio.sleep(QUIET_WINDOW)
        used = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
        if max(used) <= QUIET_SHARE * QUIET_WINDOW:
            return


@dataclass
class Figures:
    """What one target did in one run."""

    coil_ms: dict[str, list[float]] = field(default_factory=lambda: {"paced": [], "b2b": []})
    trip_ms: dict[str, list[float]] = field(default_factory=lambda: {"paced": [], "b2b": []})
    b2b_passes: int = 0
    b2b_seconds: float = 0.0
    b2b_cpu: float = 0.0
    rss_mib: float = 0.0
    rss_anon_mib: float = 0.0
    rss_file_mib: float = 0.0
    refused: int = 0

    def summary(self) -> dict[str, float]:
        return {
            "coil_p50": pct(self.coil_ms["paced"], 50),
            "coil_p99": pct(self.coil_ms["paced"], 99),
            "trip_p50": pct(self.trip_ms["paced"], 50),
            "trip_p99": pct(self.trip_ms["paced"], 99),
            "b2b_coil_p50": pct(self.coil_ms["b2b"], 50),
            "b2b_trip_p99": pct(self.trip_ms["b2b"], 99),
            "throughput": self.b2b_passes / self.b2b_seconds,
            "cpu_ms": self.b2b_cpu / self.b2b_passes * 1000,
            "rss": self.rss_mib,
            "rss_anon": self.rss_anon_mib,
            "rss_file": self.rss_file_mib,
        }


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Target:
    name: str
    proc: asyncio.subprocess.Process
    camera: Camera
    plates: int = 0
    figures: Figures = field(default_factory=Figures)


class Relay:
    """The relay double's process and the coil writes it saw."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port = proc, port
        self.on: list[float] = []
        self._more = asyncio.Event()
        self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.on.append(float(line))
            self._more.set()

    async def settle(self, count: int) -> None:
        """Until ``count`` coil writes were read (at most 2 s: a missing one is counted)."""
        deadline = time.monotonic() + 2
        while len(self.on) < count and (left := deadline - time.monotonic()) > 0:
            self._more.clear()
            try:
                await asyncio.wait_for(self._more.wait(), left)
            except TimeoutError:
                return

    def first_between(self, start: float, end: float) -> float | None:
        at = bisect_left(self.on, start)
        return self.on[at] if at < len(self.on) and self.on[at] <= end else None


async def _spawn(*args: str, **kwargs: Any) -> asyncio.subprocess.Process:
    kwargs.setdefault("stdout", asyncio.subprocess.PIPE)
    return await asyncio.create_subprocess_exec(sys.executable, *args, **kwargs)


def edge_config(workdir: Path, port: int, platform_url: str, relay_port: int) -> Path:
    """A real config: as an installer writes it for one lane on this board."""
    path = workdir / "edge.toml"
    path.write_text(
        f"""[site]
enterprise_code = "{ORGAN}"
enterprise_name = "基准测试企业"

[platform]
base_url = "{platform_url}"
organ = "{ORGAN}"
username = "{USERNAME}"
password = "{PASSWORD}"

[storage]
database = "{workdir / "edge.db"}"
photo_dir = "{workdir / "photos"}"

[web]
host = "127.0.0.1"
port = {port}

[decision]
max_serial_lead_seconds = 86400  # vehicles back to back: their serial numbers run ahead

[logging]
level = "info"

[[lanes]]
id = "in-1"
gate_code = "01"
direction = "in"

[lanes.camera]
kind = "generic-push"
max_pushes_per_second = 1000  # vehicles back to back: above a gate's default push rate

[lanes.barrier]
driver = "modbus-relay"
bus = "board"
board = "waveshare"
pulse_ms = 500

[lanes.led]
driver = "virtual"

[lanes.detector]
driver = "none"

[modbus.board]
transport = "tcp"
host = "127.0.0.1"
port = {relay_port}
""",
        encoding="utf-8",
    )
    return path


async def _ready(target: Target, jpeg: bytes) -> None:
    """Until the target answers a push (it is up), then the warm-up pushes."""
    deadline = time.monotonic() + 60
    while True:
        try:
            await _push(target, jpeg)
            break
        except OSError:
            target.camera.close()
            target.camera._streams = None
            if time.monotonic() > deadline:
                raise SystemExit(f"{target.name} did not come up") from None
            await asyncio.sleep(0.2)
    for _ in range(WARM_UP):
        await _push(target, jpeg)


async def _push(target: Target, jpeg: bytes) -> tuple[float, float, int]:
    """One push; (sent, answered) monotonic times and the status."""
    plate = bench_plates(1, target.plates)[0]
    body = push_body(plate, target.plates, jpeg)
    target.plates += 1
    sent = time.monotonic()
    status, _ = await asyncio.wait_for(target.camera.post("/push/in-1", body), PUSH_TIMEOUT)
    return sent, time.monotonic(), status


async def _block(target: Target, relay: Relay, jpeg: bytes, mode: str, count: int) -> None:
    """``count`` pushes to ``target``, paced or back-to-back, and what they cost."""
    figures = target.figures
    pushes = []
    cpu, coils = cpu_seconds(target.proc.pid), len(relay.on)
    started = time.monotonic()
    for i in range(count):
        if mode == "paced":
            await asyncio.sleep(max(0.0, started + i * PACED_INTERVAL - time.monotonic()))
        pushes.append(await _push(target, jpeg))
    elapsed = time.monotonic() - started
    await relay.settle(coils + count)  # every plate here is let in
    if mode == "b2b":
        figures.b2b_passes += count
        figures.b2b_seconds += elapsed
    for sent, answered, status in pushes:
        if status != 200:
            figures.refused += 1
            continue
        figures.trip_ms[mode].append((answered - sent) * 1000)
        coil = relay.first_between(sent, answered)
        if coil is not None:
            figures.coil_ms[mode].append((coil - sent) * 1000)
    if mode == "b2b":
        await quiet([target.proc.pid])
        figures.b2b_cpu += cpu_seconds(target.proc.pid) - cpu


async def start_rss(without: tuple[str, ...] = ()) -> float:
    """``VmRSS`` (MiB) of a fresh interpreter after ``edge run``'s imports, the packages
    ``without`` made unimportable (as where they are not installed)."""
    code = (
        "import sys\n"
        f"class Absent:\n"
        f"    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.partition('.')[0] in {without!r}:\n"
        f"            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Absent())\n"
        "import edge.cli.main, edge.daemon\n"
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS')))\n"
    )
    proc = await _spawn("-c", code)
    out, _ = await proc.communicate()
    return int(out) / 1024


async def dev_only_mib(samples: int = 3) -> float:
    """How much of ``edge run``'s start RSS the :data:`DEV_ONLY` libraries are here (median
    of ``samples`` alternating pairs)."""
    differences = []
    for _ in range(samples):
        differences.append(await start_rss() - await start_rss(DEV_ONLY))
    return max(0.0, sorted(differences)[len(differences) // 2])  # none loaded: noise, ±0.3


def byte_compile() -> None:
    """edge-gate's modules compiled to bytecode beside their sources, as ``pip install``
    leaves an installed daemon (whose unit could not write any: ``ProtectSystem=strict``). A
    process that compiles them from their sources as it starts — ``PYTHONDONTWRITEBYTECODE``
    set, or an editable install that nothing has run yet — measures how the bench was
    started, not the daemon: ``edge run``'s imports 3.4 MiB more ``RssAnon`` (57.1 against
    53.7), the steady RSS after traffic ~0.3 MiB more (the compiler's memory is reused)."""
    for package in (edge, drivers):
        compileall.compile_dir(Path(package.__path__[0]), quiet=1)


async def one_run(paced: int, b2b: int, blocks: int) -> dict[str, dict[str, float]]:
    """Both targets up, ``blocks`` alternating blocks of each mode; each target's figures."""
    jpeg = photo()
    await asyncio.to_thread(byte_compile)
    workdir = Path(tempfile.mkdtemp(prefix="edge-bench-floor-"))
    platform_proc, platform_url = await start_platform()
    relay_proc = await _spawn("-m", "bench.floor", "relay")
    assert relay_proc.stdout is not None
    relay = Relay(relay_proc, int(await relay_proc.stdout.readline()))
    floor_port, edge_port = free_port(), free_port()
    floor_proc = await _spawn(
        "-m", "bench.floor", "serve", str(floor_port), platform_url, str(relay.port),
        str(workdir / "floor.db"),
    )  # fmt: skip
    config = edge_config(workdir, edge_port, platform_url, relay.port)
    quiet_output = {"stdout": asyncio.subprocess.DEVNULL, "stderr": asyncio.subprocess.DEVNULL}
    edge_proc = await _spawn("-m", "edge", "run", "--config", str(config), **quiet_output)
    targets = [
        Target("floor", floor_proc, Camera(floor_port)),
        Target("edge-gate", edge_proc, Camera(edge_port)),
    ]
    try:
        for target in targets:
            await _ready(target, jpeg)
        pids = [t.proc.pid for t in targets]
        for mode, count in (("paced", paced), ("b2b", b2b)):
            for block in range(blocks):
                for target in targets if block % 2 == 0 else targets[::-1]:
                    await quiet(pids)
                    await _block(target, relay, jpeg, mode, count // blocks)
        await quiet(pids)
        for target in targets:
            pid = target.proc.pid
            target.figures.rss_mib = rss_mib(pid)
            target.figures.rss_anon_mib = rss_mib(pid, "RssAnon")
            target.figures.rss_file_mib = rss_mib(pid, "RssFile")
    finally:
        for target in targets:
            target.camera.close()
        for proc in (floor_proc, edge_proc, relay_proc, platform_proc):
            if proc.returncode is None:
                proc.terminate()
            await proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)  # its ledgers and 1,600 photos (~150 MB)
    for target in targets:
        if target.figures.refused:
            raise SystemExit(f"{target.name} refused {target.figures.refused} pushes")
    return {t.name: t.figures.summary() for t in targets}


#: (figure key, label, unit) as printed
ROWS: list[tuple[str, str, str]] = [
    ("coil_p50", "plate → coil on, p50 (paced)", "ms"),
    ("coil_p99", "plate → coil on, p99 (paced)", "ms"),
    ("trip_p50", "push round trip p50 (paced)", "ms"),
    ("trip_p99", "push round trip p99 (paced)", "ms"),
    ("b2b_coil_p50", "plate → coil on, p50 (back-to-back)", "ms"),
    ("b2b_trip_p99", "push round trip p99 (back-to-back)", "ms"),
    ("throughput", "back-to-back throughput", "/s"),
    ("cpu_ms", "CPU per pass (back-to-back)", "ms"),
    ("rss", "steady RSS", "MiB"),
    ("rss_anon", "… of it anonymous (RssAnon)", "MiB"),
    ("rss_file", "… of it file pages (RssFile)", "MiB"),
]


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    digits = 0 if high >= 100 else 1 if high >= 10 else 2
    return (
        f"{low:.{digits}f}"
        if f"{low:.{digits}f}" == f"{high:.{digits}f}"
        else (f"{low:.{digits}f}–{high:.{digits}f}")
    )


def _verdict(key: str, edge: list[float], ratio: list[float]) -> str:
    """Judged on the worst run."""
    if key in ("coil_p50", "coil_p99"):
        return f"≤ {COIL_RATIO}× floor → " + ("meets" if max(ratio) <= COIL_RATIO else "MISSES")
    if key == "throughput":
        return f"≥ {THROUGHPUT:.0f}/s → " + ("meets" if min(edge) >= THROUGHPUT else "MISSES")
    if key == "cpu_ms":
        return f"≤ {CPU_RATIO:.0f}× floor → " + ("meets" if max(ratio) <= CPU_RATIO else "MISSES")
    if key == "rss":
        return f"≤ {RSS_MIB:.0f} MiB → " + ("meets" if max(edge) <= RSS_MIB else "MISSES")
    return ""


def report(
    runs: list[dict[str, dict[str, float]]],
    paced: int,
    b2b: int,
    blocks: int,
    dev_only: float | None = None,
) -> None:
    print(
        f"\nedge-gate beside the floor (issue 19): {len(runs)} run(s), each {paced} paced "
        f"pushes (every {PACED_INTERVAL * 1000:.0f} ms) and {b2b} back-to-back per target, "
        f"{blocks} alternating blocks of each; ~{len(photo()) // 1000} KB photo in each push; "
        "the same platform simulator and Modbus TCP relay double; ranges are across runs"
    )
    print(f"  {'figure':<38} {'floor':>13} {'edge-gate':>13} {'edge ÷ floor':>13}  target")
    for key, label, unit in ROWS:
        floor = [r["floor"][key] for r in runs]
        edge = [r["edge-gate"][key] for r in runs]
        ratio = [e / f for e, f in zip(edge, floor, strict=True)]
        print(
            f"  {label:<38} {_span(floor) + ' ' + unit:>13} {_span(edge) + ' ' + unit:>13} "
            f"{_span(ratio):>13}  {_verdict(key, edge, ratio)}"
        )
    if dev_only is not None:
        print(
            f"  of edge-gate's RSS, {dev_only:.1f} MiB are libraries only the development venv "
            f"has ({', '.join(DEV_ONLY)}: loaded by httpx and structlog when present; not in a "
            "production install) — counted above, as measured"
        )


async def bench_floor(runs: int = 2, paced: int = 300, b2b: int = 500, blocks: int = 4) -> None:
    results = []
    for _ in range(runs):
        results.append(await one_run(paced, b2b, blocks))
    report(results, paced, b2b, blocks, await dev_only_mib())
    if out := os.environ.get("BENCH_FLOOR_JSON"):
        await asyncio.to_thread(Path(out).write_text, json.dumps(results, indent=1))


def main(argv: list[str]) -> None:
    if argv[:1] == ["relay"]:
        asyncio.run(serve_relay())
    elif argv[:1] == ["serve"]:
        port, platform_url, relay_port, database = argv[1:5]
        asyncio.run(serve_floor(int(port), platform_url, int(relay_port), database))
    else:
        runs = int(argv[0]) if argv else 2
        asyncio.run(bench_floor(runs))


if __name__ == "__main__":
    main(sys.argv[1:])
