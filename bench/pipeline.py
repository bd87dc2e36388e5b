"""Plate event → barrier command latency through the real daemon.

1,000 generic JSON pushes over HTTP on 127.0.0.1, each with a photo; the simulated platform
answers at once. The platform simulator and the camera run in their own processes, so the
daemon's event loop carries only the daemon's work (including forwarding each record and photo
while the next vehicles arrive). Two runs: paced (default one vehicle per 20 ms, 50× a busy
gate's peak) and back-to-back (the next push as soon as the reply is in: a stress figure);
then paced again while a hostile camera (``bench.hostile``, its own process) floods another
lane with pushes that must be cheap to refuse.

For each event: the time from the HTTP handler having the body to the barrier command, the
part spent waiting for the platform (loopback HTTP to the simulator), and the daemon's own
overhead (the rest: dedup, decision, photo fsync, SQLite commit with synchronous=FULL, LED).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    bench_config,
    rss_mb,
    run_camera,
    run_longplate,
    start_hostile,
    start_platform,
)
from bench.drain import bench_drain
from bench.drain import report as drain_report
from bench.export import bench_export
from bench.floor import bench_floor
from bench.ledger import MONTHS as LEDGER_MONTHS
from bench.ledger import PER_DAY as LEDGER_PER_DAY
from bench.ledger import bench_ledger
from bench.pusher import bench_plates
from bench.relay import bench_relay
from bench.traffic import bench_traffic
from bench.weighing import bench_weighing
from drivers.virtual import VirtualBarrier
from edge.daemon import Daemon
from edge.domain.events import PlateEvent
from edge.domain.plates import PlateColor
from edge.domain.reports import VerifyAnswer
from edge.gate.lane import LaneOutcome
from edge.ledger.rows import HistoryCriteria
from edge.ops.logsetup import setup_logging
from edge.replica.replicator import Replicator
from edge.sim.jpeg import sample_4k_frame
from edge.uplink.photo_fit import fit_jpeg, read_header
from tests.processes import Processes


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@asynccontextmanager
async def _replica_section(replica: ReplicaSetup | None) -> AsyncIterator[dict[str, Any] | None]:
    """The ``[replica]`` section of a run with ``replica`` (None without): a directory beside,
    not in, the ledger's — in /tmp (the ledger's disk) or on another file system — or, with
    ``sftp``, Debian's OpenSSH server on 127.0.0.1 writing there (the tests' server). All of
    it removed afterwards."""
    if replica is None:
        yield None
        return
    base = Path(tempfile.mkdtemp(prefix="edge-bench-share-", dir=replica.share_in))
    procs = Processes()
    try:
        if replica.sftp:
            from tests.replica_targets import start_sshd  # noqa: PLC0415 - pytest with it

            server = await start_sshd(procs, base)
            yield server.replica(photo_interval_seconds=5)
            await server.stop()
        else:
            yield {"type": "file", "path": str(base), "photo_interval_seconds": 5}
    finally:
        await procs.reap()
        shutil.rmtree(base, ignore_errors=True)


def _row(name: str, values_ms: list[float]) -> str:
    return (
        f"  {name:<34} p50 {_pct(values_ms, 50):7.2f} ms   p99 {_pct(values_ms, 99):7.2f} ms"
        f"   max {max(values_ms):7.2f} ms"
    )


#: The lane the hostile camera pushes to in the hostile run (its own gate).
HOSTILE_LANE = {
    "id": "in-2",
    "gate_code": "02",
    "direction": "in",
    "camera": {"kind": "generic-push"},  # the default push rate: a flood beyond it gets 429
    "barrier": {"driver": "virtual"},
}
#: The lane the 100 KB plates go to: a push rate that lets each reach the plate check (on the
#: hostile lane most would be answered 429 by the rate alone).
LONGPLATE_LANE = {
    **HOSTILE_LANE,
    "id": "in-3",
    "gate_code": "03",
    "camera": {"kind": "generic-push", "max_pushes_per_second": 1000},
}


#: Quiet and attacked blocks of vehicles in the hostile run (each).
ATTACK_BLOCKS = 4


async def _run_phases(
    daemon: Daemon, phases: list[tuple[str, int]], interval: float, plate_kb: int
) -> tuple[float, dict[str, set[str]]]:
    """The camera's vehicles phase by phase, the hostile camera running during "attacked" and
    its page flood during "pages"; the seconds the camera took, and each phase's plates."""
    elapsed, offset = 0.0, 0
    plates: dict[str, set[str]] = {}
    for name, count in phases:
        attacker = None
        if name in ("attacked", "pages"):
            attacker = await start_hostile(daemon.web.port, "in-2", plate_kb, pages=name == "pages")
        started = time.monotonic()
        await run_camera(daemon.web.port, count, interval, start=offset)
        elapsed += time.monotonic() - started
        if attacker is not None:
            attacker.terminate()
            await attacker.wait()
        plates.setdefault(name, set()).update(bench_plates(count, offset))
        offset += count
    return elapsed, plates


async def bench_pipeline(
    events: int,
    interval: float = 0.0,
    *,
    hostile: bool = False,
    plate_kb: int = 100,
    rounds: int = 100,
    replica: ReplicaSetup | None = None,
) -> dict[str, Any]:
    """One daemon, ``events`` vehicles on lane in-1. With ``hostile``: a second lane, and the
    vehicles in blocks, quiet and while the hostile camera floods the second lane in turn
    (:data:`ATTACK_BLOCKS` of each, in the same daemon; as many again while its page flood
    runs), then ``rounds`` pairs of a
    ``plate_kb`` KB plate on the second lane and a normal push on the first (bench.longplate).
    With ``replica``: replicating as it says."""
    async with _replica_section(replica) as section:
        return await _bench_pipeline(
            events,
            interval,
            hostile=hostile,
            plate_kb=plate_kb,
            rounds=rounds,
            section=section,
            litestream=() if replica is None else replica.litestream,
        )


async def _bench_pipeline(
    events: int,
    interval: float,
    *,
    hostile: bool,
    plate_kb: int,
    rounds: int,
    section: dict[str, Any] | None,
    litestream: tuple[str, ...],
) -> dict[str, Any]:
    setup_logging("critical", "json")
    workdir = Path(tempfile.mkdtemp(prefix="edge-bench-"))
    platform_proc, base_url = await start_platform()
    extra = (HOSTILE_LANE, LONGPLATE_LANE) if hostile else ()
    sections = None if section is None else {"replica": section}
    daemon = Daemon(bench_config(workdir, base_url, extra_lanes=extra, sections=sections))
    if daemon.replica is not None:
        _with_litestream_lines(daemon.replica, litestream)
    await daemon.start()
    lane = daemon.lanes["in-1"]
    barrier = lane.devices.barrier
    assert isinstance(barrier, VirtualBarrier)

    received: dict[str, float] = {}
    platform_ms: dict[str, float] = {}
    submit, verify = lane.submit, daemon.platform.verify

    def timed_submit(event: PlateEvent) -> asyncio.Future[LaneOutcome]:
        received[event.plate or ""] = event.received_mono
        return submit(event)

    async def timed_verify(
        plate: str, color: PlateColor, *, gate_secret_code: str = ""
    ) -> VerifyAnswer:
        started = time.monotonic()
        try:
            return await verify(plate, color, gate_secret_code=gate_secret_code)
        finally:
            platform_ms[plate] = (time.monotonic() - started) * 1000

    lane.submit = timed_submit  # type: ignore[method-assign]
    daemon.platform.verify = timed_verify  # type: ignore[method-assign]
    phases = [("all", events)]
    if hostile:  # alternating blocks: a machine whose load drifts slows all phases alike
        block = events // (2 * ATTACK_BLOCKS)
        rounds_of = ("quiet", "attacked", "quiet", "pages")
        phases = [(name, block) for _ in range(ATTACK_BLOCKS) for name in rounds_of]
    rss_before = rss_mb()
    elapsed, plates = await _run_phases(daemon, phases, interval, plate_kb)
    hostile_passes = len(await daemon.store.search_passes(HistoryCriteria(lane="in-2"), limit=5000))
    for lane_ in daemon.lanes.values():
        await lane_.drain()
    result: dict[str, Any] = {
        "events": events,
        "elapsed_s": elapsed,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_mb(),
        "hostile_refused": daemon.lanes["in-2"].camera.rejected if hostile else 0,
        "hostile_passes": hostile_passes,
        "connections_refused": daemon.web.guard.refused,
        "phases": {},
    }
    for name, wanted in plates.items():
        measured = [o for o in barrier.openings if o.plate in wanted]
        total = [(o.at - received[o.plate or ""]) * 1000 for o in measured]
        platform = [platform_ms[o.plate or ""] for o in measured]
        result["phases"][name] = {
            "opened": len(measured),
            "total_ms": total,
            "platform_ms": platform,
            "own_ms": [t - p for t, p in zip(total, platform, strict=True)],
        }
    if daemon.replica is not None:
        result["replica_lag_s"] = daemon.replica.report().lag_seconds
    if hostile:
        result["longplate"] = await run_longplate(daemon.web.port, "in-3", "in-1", rounds, plate_kb)
    await daemon.stop()
    platform_proc.terminate()
    await platform_proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)  # the bench leaves nothing behind in /tmp
    return result


def _report(title: str, r: dict[str, Any], phase: str = "all") -> tuple[float, float]:
    """Prints one run; returns its own-overhead p99 and loopback platform check p99 (ms)."""
    p = r["phases"][phase]
    print(
        f"{title}: {len(p['total_ms'])} events, {p['opened']} barrier openings, "
        f"{r['events'] / r['elapsed_s']:.0f} events/s"
    )
    print(_row("total (received → barrier)", p["total_ms"]))
    print(_row("platform check (loopback sim)", p["platform_ms"]))
    print(_row("daemon's own overhead", p["own_ms"]))
    print(f"  RSS {r['rss_before_mb']:.0f} MiB before, {r['rss_after_mb']:.0f} MiB after")
    return _pct(p["own_ms"], 99), _pct(p["platform_ms"], 99)


#: The issue's absolute bound (ms) for a 100 KB plate's refusal and another lane's push.
LONG_PLATE_TARGET_MS = 50.0
#: … and the bound relative to a quiet push measured in the same run (as in the unit test).
LONG_PLATE_RATIO = 3.0
#: The paced own-overhead target (10 ms) over the loopback platform check's p99 on a quiet
#: machine (~4 ms): both are scheduling-bound, so a loaded machine stretches them alike.
QUIET_LOOPBACK_P99_MS = 4.0
OWN_TO_LOOPBACK = 10.0 / QUIET_LOOPBACK_P99_MS


def _report_attack(r: dict[str, Any], paced: float | None, interval: float, plate_kb: int) -> None:
    print(
        f"\n[paced, hostile stream on lane in-2] one vehicle every {interval * 1000:.0f} ms on "
        f"in-1, one daemon, {2 * ATTACK_BLOCKS} quiet blocks of vehicles alternating with "
        f"{ATTACK_BLOCKS} while another camera (its process at the lowest CPU priority: an "
        f"attacker's CPU is not the gate's) sends fake JPEGs, bombs, NaNs, {plate_kb} KB "
        f"plates, garbage and 100 slow connections, and with {ATTACK_BLOCKS} while 8 "
        "connections from another address ask for the pages that need no login (/healthz, "
        "/api/status, 5,000-row /api/passes) back to back"
    )
    quiet, attacked = (_pct(r["phases"][n]["own_ms"], 99) for n in ("quiet", "attacked"))
    for name in ("quiet", "attacked", "pages"):
        p = r["phases"][name]
        print(_row(f"{name}: total", p["total_ms"]))
        print(_row(f"{name}: daemon's own overhead", p["own_ms"]))
    print(
        f"  hostile lane: {r['hostile_refused']} pushes refused, {r['hostile_passes']} recorded "
        f"(photos refused, plates unreadable); {r['connections_refused']} connections refused "
        f"as they were accepted; RSS {r['rss_before_mb']:.0f} → {r['rss_after_mb']:.0f} MiB"
    )
    verdict = "meets" if attacked - quiet <= 2 else "MISSES"
    print(
        f"\ntarget: own overhead p99 under attack within 2 ms of the quiet figure (same daemon, "
        f"same run) → {verdict}: {attacked:.2f} ms vs {quiet:.2f} ms, difference "
        f"{attacked - quiet:+.2f} ms"
        + (f" (the separate paced run above: {paced:.2f} ms)" if paced is not None else "")
    )
    pages = _pct(r["phases"]["pages"]["own_ms"], 99)
    print(
        f"  page flood (no target of its own in issue 20, shown against the same 2 ms): own "
        f"overhead p99 {pages:.2f} ms vs {quiet:.2f} ms, difference {pages - quiet:+.2f} ms"
    )
    # The own overhead is the total less the platform check's wall time as the daemon saw it:
    # a stall of the loop while the check was out is not in it. The total's is (platform
    # included, as noisy as the check's own time on a loaded machine).
    phases = r["phases"]
    total_quiet, total_attacked = (_pct(phases[n]["total_ms"], 99) for n in ("quiet", "attacked"))
    print(
        f"  plate → barrier total p99 (stalls during the check included): attacked "
        f"{total_attacked:.2f} ms vs quiet {total_quiet:.2f} ms, difference "
        f"{total_attacked - total_quiet:+.2f} ms; max {max(phases['attacked']['total_ms']):.1f}"
        f" vs {max(phases['quiet']['total_ms']):.1f} ms"
    )
    lp = r["longplate"]
    print(
        f"\n{plate_kb} KB plate on in-3 and a normal push on in-1 at the same moment, "
        f"{len(lp['refusal_ms'])} times (round trips at the client, its own process):"
    )
    print(_row("quiet push on in-1 (alone)", lp["quiet_ms"]))
    print(_row(f"{plate_kb} KB plate on in-3 (not a plate)", lp["refusal_ms"]))
    print(_row("push on in-1 meanwhile", lp["other_ms"]))
    codes = sorted({status for status, _ in lp["statuses"]})
    worst = max(_pct(lp["refusal_ms"], 99), _pct(lp["other_ms"], 99))
    ratio = worst / _pct(lp["quiet_ms"], 99)
    absolute = "meets" if worst < LONG_PLATE_TARGET_MS else "MISSES"
    relative = "meets" if ratio <= LONG_PLATE_RATIO else "MISSES"
    print(
        f"target: both p99 < {LONG_PLATE_TARGET_MS:.0f} ms (absolute, issue 20) → {absolute}; "
        f"the worse p99 ≤ {LONG_PLATE_RATIO:.0f}× the quiet push's p99 in this run → "
        f"{relative} ({ratio:.1f}×; long plates answered {codes}, kept as unreadable reads)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument(
        "--interval",
        type=float,
        default=0.02,
        help="seconds between vehicles in the paced run (default 50/s)",
    )
    parser.add_argument("--passes", type=int, default=10_000, help="backlog size for the drain")
    parser.add_argument("--latency", type=float, default=0.02, help="platform latency (s)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--trucks", type=int, default=100, help="weighings timed")
    parser.add_argument(
        "--plate-kb", type=int, default=100, help="the hostile camera's long plates (KB)"
    )
    parser.add_argument(
        "--only",
        choices=[
            "floor",
            "pipeline",
            "attack",
            "photo",
            "relay",
            "drain",
            "weighing",
            "replica",
            "ledger",
            "export",
            "traffic",
        ],
        help="run one part (e.g. to repeat the attack figures)",
    )
    parser.add_argument(
        "--runs", type=int, default=2, help="runs of the side-by-side with the floor"
    )
    parser.add_argument(
        "--replica-setups",
        default=DEFAULT_REPLICA_SETUPS,
        help=f"the replica part's targets and settings, of {', '.join(REPLICA_SETUPS)}",
    )
    args = parser.parse_args()
    unknown = set(args.replica_setups.split(",")) - set(REPLICA_SETUPS)
    if unknown:
        parser.error(f"--replica-setups: unknown {', '.join(sorted(unknown))}")
    part = args.only
    load = os.getloadavg()[0]
    print(f"load average at the start: {load:.1f} on {os.cpu_count()} CPUs")
    paced = None
    if part in (None, "floor"):
        await bench_floor(args.runs)
    if part in (None, "pipeline"):
        print("\nPlate event → barrier command through the real daemon (HTTP push, photo fsync,")
        print("SQLite synchronous=FULL); platform simulator and camera in their own processes.")
        paced, loopback = _report(
            f"\n[paced] one vehicle every {args.interval * 1000:.0f} ms",
            await bench_pipeline(args.events, args.interval),
        )
        _report(
            "\n[back-to-back] next vehicle as soon as the camera has its reply (stress)",
            await bench_pipeline(args.events),
        )
        ratio = paced / loopback
        verdict = "meets" if ratio <= OWN_TO_LOOPBACK else "MISSES"
        print(
            f"\ntarget: own overhead p99 < 10 ms at the paced rate on a quiet machine, where the "
            f"loopback platform check takes ~{QUIET_LOOPBACK_P99_MS:.0f} ms at p99; judged as a "
            f"ratio to that check in this run (≤ {OWN_TO_LOOPBACK:.1f}×) → {verdict}: "
            f"{paced:.2f} ms ÷ {loopback:.2f} ms = {ratio:.2f}× (absolute: "
            f"{'under' if paced < 10 else 'OVER'} 10 ms; load average now "
            f"{os.getloadavg()[0]:.1f})"
        )
    if part in (None, "attack"):
        _report_attack(
            await bench_pipeline(args.events, args.interval, hostile=True, plate_kb=args.plate_kb),
            paced,
            args.interval,
            args.plate_kb,
        )
    if part in (None, "replica"):
        await report_replica_cost(args.events, args.interval, args.replica_setups)
    if part in (None, "photo"):
        report_photo_fit()
    if part in (None, "relay"):
        relay = await bench_relay(args.events // 2, args.interval)
        print(
            f"\nPlate event → relay coil on (Modbus TCP board on loopback, {len(relay)} events, "
            f"paced): p50 {_pct(relay, 50):.2f} ms, p99 {_pct(relay, 99):.2f} ms"
        )
    if part in (None, "drain"):
        drain_report(await bench_drain(args.passes, args.latency, args.concurrency))
    if part in (None, "weighing"):
        weighed = await bench_weighing(args.trucks)
        print(
            f"\nStable weight → goods record committed (scale on a pty, {len(weighed)} trucks): "
            f"p50 {_pct(weighed, 50):.2f} ms, p99 {_pct(weighed, 99):.2f} ms, "
            f"max {max(weighed):.2f} ms"
        )
    await _ledger_parts(part)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


async def _ledger_parts(part: str | None) -> None:
    """The parts on a generated ledger: its queries, the export, traffic on it."""
    if part in (None, "ledger"):
        await bench_ledger(LEDGER_MONTHS, LEDGER_PER_DAY)
    if part in (None, "export"):
        await bench_export()
    if part in (None, "traffic"):
        await asyncio.to_thread(bench_traffic)  # its own event loops, one a run


#: A run whose alike blocks differ by more than this share of p99 cannot judge the replica.
NOISE_TOO_LARGE = 0.25


@dataclass(frozen=True)
class ReplicaSetup:
    """One way of replicating the bench's ledger: a file target's directory made under
    ``share_in`` (None: /tmp, the ledger's own disk; with ``sftp``, written by an OpenSSH
    server on 127.0.0.1), and ``litestream`` lines added to the
    generated config's database entry (Litestream's checkpoint settings)."""

    label: str
    share_in: str | None = None
    litestream: tuple[str, ...] = ()
    sftp: bool = False


#: Another file system than the ledger's: Debian's /dev/shm is a tmpfs, always mounted.
OTHER_FILE_SYSTEM = "/dev/shm"  # noqa: S108 - a directory the bench makes and removes
#: Fewer, larger checkpoints: Litestream checkpoints (PASSIVE) every 1,000 WAL pages and
#: every minute by default; here every 10,000 pages (~40 MB) and every 10 minutes.
RARE_CHECKPOINTS = ("checkpoint-interval: 10m", "min-checkpoint-page-count: 10000")
#: Litestream looks at the WAL every 5 s instead of every second (fewer local syncs, each
#: with its fsync on the ledger's disk; the replica then lags up to 5 s more).
SLOW_MONITOR = ("monitor-interval: 5s",)
#: The replica bench's setups by name (``--replica-setups``); the default: all but "quiet".
REPLICA_SETUPS = {
    "disk": ReplicaSetup("a directory on the ledger's disk (/tmp)"),
    "tmpfs": ReplicaSetup(
        f"a directory on another file system ({OTHER_FILE_SYSTEM}, tmpfs)", OTHER_FILE_SYSTEM
    ),
    "rare-checkpoints": ReplicaSetup(
        "another file system, rare checkpoints (10,000 pages / 10 min)",
        OTHER_FILE_SYSTEM,
        RARE_CHECKPOINTS,
    ),
    "sftp": ReplicaSetup(
        "SFTP: OpenSSH on 127.0.0.1, its directory on another file system",
        OTHER_FILE_SYSTEM,
        sftp=True,
    ),
    "quiet": ReplicaSetup(
        "another file system, rare checkpoints, the WAL looked at every 5 s",
        OTHER_FILE_SYSTEM,
        RARE_CHECKPOINTS + SLOW_MONITOR,
    ),
}
DEFAULT_REPLICA_SETUPS = "disk,tmpfs,rare-checkpoints,sftp"


def _with_litestream_lines(replica: Replicator, lines: tuple[str, ...]) -> None:
    """``replica``'s generated Litestream config carries ``lines`` in the database's entry
    (it is written again at every start of Litestream, so they stay for the run)."""
    if not lines:
        return
    write = replica.write_config

    def write_with_lines() -> None:
        write()
        anchor = "    busy-timeout: 5s\n"
        text = replica.config_file.read_text("utf-8")
        added = "".join(f"    {line}\n" for line in lines)
        replica.config_file.write_text(text.replace(anchor, anchor + added), "utf-8")

    replica.write_config = write_with_lines  # type: ignore[method-assign]


async def report_replica_cost(
    events: int, interval: float, setups: str = DEFAULT_REPLICA_SETUPS
) -> None:
    """The paced plate → barrier path without and with replication off the box, in one run,
    for each of ``setups`` (names in :data:`REPLICA_SETUPS`, comma-separated): blocks
    alternate (off, on, on, off) so that a drifting machine load touches both alike."""
    print(
        f"\nReplication cost (issue 17): paced, one vehicle every {interval * 1000:.0f} ms, "
        "without and with [replica] (Litestream + rclone to each target below), blocks alternating"
    )
    for name in setups.split(","):
        await _replica_cost(events, interval, REPLICA_SETUPS[name])


async def _replica_cost(events: int, interval: float, setup: ReplicaSetup) -> None:
    totals: dict[bool, list[float]] = {False: [], True: []}
    blocks: dict[bool, list[float]] = {False: [], True: []}
    synced = 0.0
    for with_replica in (False, True, True, False):
        run = await bench_pipeline(events // 2, interval, replica=setup if with_replica else None)
        measured = run["phases"]["all"]["total_ms"]
        totals[with_replica] += measured
        blocks[with_replica].append(_pct(measured, 99))
        synced = max(synced, run.get("replica_lag_s", 0.0))
    off, on = _pct(totals[False], 99), _pct(totals[True], 99)
    # What this machine's noise alone moves p99 by: the spread between two blocks run alike.
    noise = max(abs(blocks[False][0] - blocks[False][1]), abs(blocks[True][0] - blocks[True][1]))
    print(f"  target: {setup.label}")
    print(_row("without a replica (received → barrier)", totals[False]))
    print(_row("with a replica    (received → barrier)", totals[True]))
    if on - off > noise:
        verdict = "MEASURABLE (misses)"
    elif off - on > noise:  # faster with the replica: the machine's load moved meanwhile
        verdict = "INCONCLUSIVE (faster with a replica: the machine's load moved; run it quieter)"
    elif noise > NOISE_TOO_LARGE * off:  # this run cannot see a difference below its noise
        verdict = f"INCONCLUSIVE (the machine's noise hides up to {noise:.0f} ms; run it quieter)"
    else:
        verdict = "no measurable difference"
    print(
        f"  p99 difference {on - off:+.2f} ms ({on / off:.2f}×); blocks alike differ by up to "
        f"{noise:.2f} ms at p99 in this run → {verdict}. The replica's lag at the end of the "
        f"busiest run: {synced:.1f} s. Target: no measurable difference at 50/s."
    )


def report_photo_fit() -> None:
    """Judged on the CPU time the re-encode took (what another process on a shared machine
    cannot inflate), the wall time beside it."""
    frame = sample_4k_frame()
    wall, cpu = [], []
    for _ in range(5):
        started, started_cpu = time.perf_counter(), time.process_time()
        fitted = fit_jpeg(frame)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    verdict = "meets" if statistics.median(cpu) < 100 else "MISSES"
    print(
        f"\nPhoto under 1 MB: a 4K frame of {len(frame) / 1e6:.1f} MB becomes "
        f"{len(fitted) / 1e3:.0f} KB in {statistics.median(cpu):.0f} ms of CPU "
        f"({statistics.median(wall):.0f} ms wall), median of 5; target < 100 ms of CPU → "
        f"{verdict}"
    )
    # Every photo is decoded (at 1/8, libjpeg's warnings as errors) before it is stored: a
    # 1080p camera frame under 1 MB, kept as it is.
    camera = fitted if read_header(fitted).width <= 1920 else frame
    checks = []
    for _ in range(21):
        started_cpu = time.process_time()
        kept = fit_jpeg(camera)
        checks.append((time.process_time() - started_cpu) * 1000)
    assert kept is camera
    check = statistics.median(checks)
    print(
        f"Every photo decoded to check it: a {read_header(camera).width} px frame of "
        f"{len(camera) / 1e3:.0f} KB in {check:.1f} ms of CPU, median of 21 "
        f"({check / statistics.median(cpu):.2f}× a 4K frame's re-encode)"
    )
