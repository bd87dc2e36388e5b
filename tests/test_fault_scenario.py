"""The fault scenario (issue 12's "done when"), in both platform modes against the strict
simulator: plates stream in over two lanes through real HTTP while the platform goes down,
hangs, answers HTML, refuses the token, and the daemon is SIGKILLed at random at least ten
times. At the end the simulator holds every pass the daemon committed (every row of its
ledger), with all photos: 0 missing, 0 rejected, 0 vehicles with two serials; a pass that
arrived twice (same serial) is explained only by a request in flight at a kill, and counted.

The electronic ledger's filings (issue 15) go through the same storm: before each daemon
starts, a clerk (in this process, as the command line would, beside the daemon) adds vehicles
and machines with their document images and changes an earlier one; at the end every filing
was accepted (none dead), the simulator holds each entry's latest change, and in province
mode each entry's stored licensePK is one the platform issued for that plate.

The camera behaves like a real one: a read the daemon did not answer (killed, restarting) is
pushed again with the same record id until it is answered.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import random
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.actions.filing import Filings
from edge.actions.operator import Actor, Face
from edge.domain.jpeg import is_jpeg
from edge.ledger.store import Store
from edge.sim.jpeg import sample_jpeg
from edge.sim.platform import CityPlatformSim, PlatformSim
from edge.sim.province import ProvincePlatformSim
from tests.helpers import eventually, plate_of
from tests.test_cli import EDGE, free_port
from tests.test_filing import LOADER, TRUCK, _operator

KILLS = 10
#: The ERP's token: its transport plans give the exit lane's trucks their goods records.
ERP_TOKEN = "fault-scenario-erp-token"
#: Gate secret codes the province simulator knows, one per lane.
LANES = (("in-1", "01", "in"), ("out-1", "02", "out"))
#: Token refusals and expired tokens are the platform's judgement of our login, not of a
#: record: the simulator logs them as rejections, the test does not count them.
TOKEN_WORDS = ("授权码", "身份授权", "账号或密码", "用户名或密码")


Sim = CityPlatformSim | ProvincePlatformSim


def _config(tmp_path: Path, sim: Sim, port: int, photo_port: int) -> Path:
    province = isinstance(sim, ProvincePlatformSim)
    platform = (
        f'mode = "province"\norg_secret_code = "{sim.org_secret_code}"\n'
        f'company_secret_code = "{sim.company_secret_code}"\n'
        if isinstance(sim, ProvincePlatformSim)
        else ""
    )
    lanes = "".join(
        f"""
[[lanes]]
id = "{lane}"
gate_code = "{gate}"
direction = "{direction}"
{f'gate_secret_code = "GATE-{gate}"' if province else ""}
camera = {{ kind = "generic-push", max_pushes_per_second = 1000 }}  # back to back
barrier = {{ driver = "virtual" }}
"""
        for lane, gate, direction in LANES
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[site]
enterprise_code = "4110020001"
enterprise_name = "测试企业"
[platform]
base_url = "{sim.base_url}"
organ = "4110020001"
username = "gate01"
password = "{sim.password}"
verify_deadline_seconds = 0.3
request_timeout_seconds = 5
breaker_failures = 2
breaker_probe_seconds = 0.2
{platform}
{lanes}
[decision]
offline_policy = "allow"
[forwarder]
backoff_initial_seconds = 0.05
backoff_max_seconds = 0.3
[storage]
database = "{tmp_path}/edge.db"
photo_dir = "{tmp_path}/photos"
fallback_journal = "{tmp_path}/fallback.jsonl"
[web]
port = {port}
[photo_web]
port = {photo_port}
[logging]
level = "warning"
[erp]
token = "{ERP_TOKEN}"
""",
        "utf-8",
    )
    return path


class Daemons:
    """The daemon processes of one run: started, killed, and always reaped."""

    def __init__(self, config: Path, port: int) -> None:
        self.config, self.port = config, port
        self.log = config.parent / "daemons.log"
        self.proc: asyncio.subprocess.Process | None = None
        #: (killed at, next daemon started at), monotonic.
        self.kills: list[tuple[float, float]] = []
        self._killed_at: float | None = None

    async def start(self) -> None:
        if self._killed_at is not None:
            self.kills.append((self._killed_at, time.monotonic()))
            self._killed_at = None
        with self.log.open("ab") as log:  # every run's log, for a failure to show
            self.proc = await asyncio.create_subprocess_exec(
                *EDGE, "run", "--config", str(self.config), stdout=log
            )
        async with httpx.AsyncClient() as http:

            async def up() -> bool:
                try:
                    reply = await http.get(f"http://127.0.0.1:{self.port}/healthz")
                except httpx.TransportError:
                    return False
                return reply.status_code in (200, 503)

            try:
                await eventually(up, timeout=60)
            except TimeoutError:
                tail = self.log.read_text(errors="replace").splitlines()[-40:]
                raise AssertionError(
                    "the daemon did not come up; its log ends:\n" + "\n".join(tail)
                ) from None

    async def kill(self) -> None:
        assert self.proc is not None
        self._killed_at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def reap(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@contextlib.asynccontextmanager
async def daemons(config: Path, port: int) -> AsyncIterator[Daemons]:
    running = Daemons(config, port)
    try:
        yield running
    finally:
        await running.reap()


class Camera:
    """One lane's camera: each read pushed until the daemon answers it, same record id."""

    def __init__(self, port: int, lane: str, plates: list[str], photo: str) -> None:
        self.url = f"http://127.0.0.1:{port}/push/{lane}"
        self.lane, self.plates, self.photo = lane, plates, photo
        self.acknowledged: dict[str, str] = {}  # plate → serial the daemon answered with
        self.duplicate_replies = 0
        self.pushes = 0

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            for number, plate in enumerate(self.plates):
                read = {
                    "plate": plate,
                    "id": f"{self.lane}-{number}",
                    "images": {"scene": self.photo},
                }
                while not await self._push(http, read):
                    if stop.is_set():
                        return
                    await asyncio.sleep(0.05)  # the daemon is away: the camera tries again
                if stop.is_set():
                    return
                await asyncio.sleep(0.01)

    async def _push(self, http: httpx.AsyncClient, read: dict[str, Any]) -> bool:
        self.pushes += 1
        try:
            reply = await http.post(self.url, json=read)
        except httpx.TransportError:
            return False
        if reply.status_code != 200:
            return False
        body = reply.json()
        if body.get("duplicate"):
            self.duplicate_replies += 1
        else:
            self.acknowledged[read["plate"]] = body["serial"]
        return True


async def _push_plans(port: int, plates: list[str]) -> None:
    """The ERP's transport plans (goods, expected tonnage) for ``plates``, each pushed until
    the daemon answers it."""
    url = f"http://127.0.0.1:{port}/api/erp/plans"
    auth = {"Authorization": f"Bearer {ERP_TOKEN}"}
    async with httpx.AsyncClient(timeout=10) as http:
        for number, plate in enumerate(plates):
            plan = {
                "plan_no": f"PO-{number:04d}",
                "plate": plate,
                "goods": "水泥熟料",
                "expected_tonnes": 30 + number % 10,
                "valid_from": "2026-01-01T00:00+08:00",
                "valid_to": (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="minutes"),
            }
            reply = await http.post(url, json=plan, headers=auth)
            assert reply.status_code == 200, reply.text


class Faults:
    """The platform's faults as they happened: their names in order, and the outages."""

    def __init__(self) -> None:
        self.done: list[str] = []
        #: (went down at, came back at), monotonic.
        self.outages: list[tuple[float, float]] = []


async def _chaos(sim: Sim, rng: random.Random, stop: asyncio.Event, faults: Faults) -> None:
    """The platform's faults, one after another, each undone before the next."""
    password = sim.password

    async def down() -> None:
        went = time.monotonic()
        await sim.stop()
        await _pause(rng, stop)
        await sim.start()
        faults.outages.append((went, time.monotonic()))

    async def hang() -> None:
        sim.hang = True
        await _pause(rng, stop)
        sim.hang = False

    async def html() -> None:
        sim.answer_html = True
        await _pause(rng, stop)
        sim.answer_html = False

    async def token() -> None:
        sim.password = "changed-on-the-platform"
        sim.expire_tokens()
        await _pause(rng, stop)
        sim.password = password

    kinds: dict[str, Callable[[], Awaitable[None]]] = {
        "down": down,
        "hang": hang,
        "html": html,
        "token refused": token,
    }
    for name in itertools.cycle(kinds):
        if stop.is_set():
            break
        await kinds[name]()
        faults.done.append(name)
        await _pause(rng, stop)


async def _pause(rng: random.Random, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), rng.uniform(0.3, 1.2))


def _ledger(path: Path) -> dict[str, tuple[str, int]]:
    """serial → (plate, photos) of every pass the daemon committed."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT serial, plate, (SELECT count(*) FROM photos WHERE pass_id = passes.id) "
            "FROM passes"
        ).fetchall()
        dead = db.execute("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()[0]
    assert dead == 0, f"{dead} dead letters"
    return {serial: (plate, photos) for serial, plate, photos in rows}


def _goods_ledger(path: Path) -> tuple[dict[str, str], set[str]]:
    """serial → ysl of every goods record the daemon committed; and the serials of the exit
    passes whose plate had a plan before them (each owed exactly one goods record)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        goods = db.execute(
            "SELECT p.serial, w.ysl FROM outbox o JOIN passes p ON p.id = o.pass_id "
            "JOIN weighings w ON w.id = o.weighing_id WHERE o.kind = 'goods'"
        ).fetchall()
        owed = db.execute(
            "SELECT p.serial FROM passes p WHERE p.lane_id = 'out-1' AND EXISTS (SELECT 1 "
            "FROM transport_plans t WHERE t.plate = p.plate AND t.received_at <= p.received_at)"
        ).fetchall()
    return dict(goods), {serial for (serial,) in owed}


CLERK = Actor("文员", "cli", Face.CLI)


async def _file(db: Path, photos: Path, mode: str, round_: int) -> None:
    """A clerk's round, beside the daemon: two vehicles and a machine, each with its image,
    and a change of the first vehicle of the round before (queued again)."""
    store = await Store.open(db)
    try:
        filings = Filings(_operator(store), photos, platform=mode)
        licence = {"driving_license": sample_jpeg(f"licence {round_}")}
        for n in range(2):
            form = {
                **TRUCK,
                "plate": f"豫F{round_:02d}{n:03d}",
                "vin": f"LZZAELJD5KF{round_:02d}{n:04d}",
            }
            await filings.add(CLERK, "vehicle", form, licence)
        machine = {**LOADER, "plate": f"豫F{round_:02d}99Z", "code": f"LG-{round_}"}
        await filings.add(CLERK, "machine", machine, {"nameplate": sample_jpeg("铭牌")})
        if round_:
            earlier = await store.find_entry("vehicle", f"豫F{round_ - 1:02d}000", "1")
            assert earlier is not None
            await filings.modify(CLERK, earlier.id, {"owner": f"改-{round_}"})
    finally:
        await store.close()


def _filings_ledger(path: Path) -> tuple[int, dict[str, tuple[str, str | None]]]:
    """Filings not yet accepted (pending or dead); plate → (owner, licensePK) of every
    entry."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        (unsent,) = db.execute(
            "SELECT count(*) FROM filing_outbox WHERE state != 'sent'"
        ).fetchone()
        entries = db.execute(
            "SELECT e.plate, e.owner, f.license_pk FROM filing_entries e "
            "LEFT JOIN filings f ON f.entry_id = e.id AND f.state = 'accepted'"
        ).fetchall()
    return unsent, {plate: (owner, pk) for plate, owner, pk in entries}


def _check_filings(sim: Sim, path: Path) -> int:
    """Every entry filed as it is now; province: with a licensePK the platform issued."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        (dead,) = db.execute("SELECT count(*) FROM filing_outbox WHERE state = 'dead'").fetchone()
    assert dead == 0, f"{dead} filings dead"
    unsent, entries = _filings_ledger(path)
    assert unsent == 0
    latest: dict[str, dict[str, Any]] = {}
    for _, body in sim.filings:
        latest[body.get("license") or body["mhyPlate"]] = body
    assert set(latest) == set(entries)
    for plate, (owner, pk) in entries.items():
        assert latest[plate].get("onwer", "") == owner, plate
        if isinstance(sim, ProvincePlatformSim):
            assert pk is not None, plate
            issued = sim.accounts[pk]
            assert (issued.get("license") or issued["mhyPlate"]) == plate
    return len(entries)


def _undelivered(sim: PlatformSim, ledger: dict[str, tuple[str, int]], path: Path) -> str:
    """What the platform has not got of ``ledger`` (records, photos, goods records, filings),
    with the outbox rows of the first few passes missing; empty when it has everything."""
    records = sorted(set(ledger) - set(sim.records))
    photos = sorted(s for s, (_, n) in ledger.items() if n and s in sim.records
                    and not _photos_arrived(sim, s))  # fmt: skip
    goods = sorted(set(_goods_ledger(path)[0]) - set(sim.goods))
    filings = _filings_ledger(path)[0]
    if not (records or photos or goods or filings):
        return ""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT p.serial, o.kind, o.state, o.attempts, o.next_attempt_at, o.last_error "
            "FROM outbox o JOIN passes p ON p.id = o.pass_id WHERE p.serial IN (?, ?, ?)",
            (*(records + photos + goods + ["", "", ""])[:3],),
        ).fetchall()
    return (
        f"{len(records)} records {records[:3]}, {len(photos)} photos {photos[:3]}, "
        f"{len(goods)} goods records {goods[:3]}, {filings} filings unsent; the outbox of the "
        f"first: {rows} (now {time.time():.1f})"
    )


def _photos_arrived(sim: PlatformSim, serial: str) -> bool:
    if isinstance(sim, CityPlatformSim):
        return bool(sim.photos.get(serial))
    return bool(sim.records[serial][0].get("imgURL1"))


@pytest.mark.timeout(420)  # ten kills, four faults, enough passes and the drain, when loaded
@pytest.mark.parametrize("mode", ["city", "province"])
async def test_nothing_is_lost_under_every_fault(tmp_path: Path, mode: str) -> None:
    started = time.monotonic()
    sim: Sim = CityPlatformSim() if mode == "city" else ProvincePlatformSim()
    port = free_port()
    photo = base64.b64encode(sample_jpeg("fault scenario")).decode()
    plates = [f"豫A{i:03d}{i:03d}" for i in range(1000)]  # pairwise ≥ 2 characters apart
    cameras = [Camera(port, lane, plates[i::2], photo) for i, (lane, _, _) in enumerate(LANES)]
    await sim.start()
    try:
        kills, faults, ledger = await _scenario(tmp_path, sim, port, cameras, mode, plates[1::2])
    finally:
        await sim.stop()
    goods, owed = _goods_ledger(tmp_path / "edge.db")
    goods_missing = set(goods) - set(sim.goods)
    filed = _check_filings(sim, tmp_path / "edge.db")

    acknowledged = {s for camera in cameras for s in camera.acknowledged.values()}
    missing = set(ledger) - set(sim.records)
    record_rejections = [
        (method, reason)
        for method, reason in sim.rejected
        if not any(word in reason for word in TOKEN_WORDS)
    ]
    serials_by_plate: dict[str, set[str]] = {}
    for serial, records in sim.records.items():
        serials_by_plate.setdefault(plate_of(records[0]), set()).add(serial)
    twice = {plate: s for plate, s in serials_by_plate.items() if len(s) > 1}
    at_kill, at_outage = _explained_duplicates(sim, kills, faults.outages)
    print(  # noqa: T201 - the issue asks the test to print this
        f"\nfault scenario ({mode}): {len(kills)} kills, faults {dict(Counter(faults.done))}, "
        f"{sum(c.pushes for c in cameras)} pushes, {len(acknowledged)} passes acknowledged, "
        f"{len(ledger)} committed, {len(sim.records)} at the platform, {len(missing)} missing, "
        f"{len(record_rejections)} rejected, {len(twice)} vehicles with two serials, "
        f"{len(goods)} goods records committed, {len(goods_missing)} of them missing, "
        f"{filed} ledger entries filed ({len(sim.filings)} filings received), "
        f"same-serial duplicates: {at_kill} in flight at a kill, "
        f"{at_outage} in flight when the platform went down (its reply lost), "
        f"{time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    assert len(kills) >= KILLS
    assert len(acknowledged) >= ENOUGH_PASSES, "the cameras should have got many passes through"
    assert set(faults.done) == {"down", "hang", "html", "token refused"}
    assert acknowledged <= set(ledger)
    assert not missing
    assert record_rejections == []
    assert twice == {}
    assert len(goods) >= ENOUGH_GOODS, "the ERP's plans should have given many goods records"
    assert set(goods) == owed  # every exit pass with a plan before it: one goods record
    assert not goods_missing
    assert {s: records[0]["ysl"] for s, records in sim.goods.items()} == goods


async def _scenario(
    tmp_path: Path, sim: Sim, port: int, cameras: list[Camera], mode: str, planned: list[str]
) -> tuple[list[tuple[float, float]], Faults, dict[str, tuple[str, int]]]:
    """Run the cameras, the platform's faults and the kills; then let the last daemon
    forward everything. Returns the kills, the faults and the ledger. The ERP's plans for
    every fourth ``planned`` plate are pushed first (goods records at the exit)."""
    rng = random.Random(f"issue-12-{mode}")
    photo_port = free_port()  # the listener the province platform fetches photos from
    async with daemons(_config(tmp_path, sim, port, photo_port), port) as run:
        await run.start()
        await _push_plans(port, planned[::4])
        await run.kill()
        stop = asyncio.Event()
        pushing = [asyncio.create_task(camera.run(stop)) for camera in cameras]
        faults = Faults()
        chaos = asyncio.create_task(_chaos(sim, rng, stop, faults))
        try:
            for round_ in range(KILLS):
                await _file(tmp_path / "edge.db", tmp_path / "photos", mode, round_)
                await run.start()
                await asyncio.sleep(rng.uniform(0.5, 2.0))  # a random moment…
                await run.kill()  # …to pull the plug
            await run.start()  # a last run, left to run until enough got through (however
            await eventually(  # loaded the machine, the checks below then have their numbers)
                lambda: _enough(cameras, tmp_path / "edge.db"), 120
            )
        finally:
            stop.set()
            await chaos
            await asyncio.gather(*pushing)
        sim.hang, sim.answer_html = False, False
        if not sim.running:
            await sim.start()
        ledger = _ledger(tmp_path / "edge.db")
        try:  # polled: the last change may be the ledger's (a filing marked sent), not the sim's
            await eventually(  # each look reads the ledger: not at every turn of the loop
                lambda: not _undelivered(sim, ledger, tmp_path / "edge.db"), 90, every=0.25
            )
        except TimeoutError:  # say what did not arrive, and the outbox's rows behind it
            missing = _undelivered(sim, ledger, tmp_path / "edge.db")
            raise AssertionError(f"not delivered within 90 s: {missing}") from None
        ledger = _ledger(tmp_path / "edge.db")  # the last run's passes too
        if isinstance(sim, ProvincePlatformSim):
            await _fetch_province_photos(sim, photo_port, ledger)
    return run.kills, faults, ledger


#: What the scenario must have got through for its checks to mean something.
ENOUGH_PASSES, ENOUGH_GOODS = 100, 20


def _enough(cameras: list[Camera], db: Path) -> bool:
    acknowledged = {s for camera in cameras for s in camera.acknowledged.values()}
    return len(acknowledged) >= ENOUGH_PASSES and len(_goods_ledger(db)[0]) >= ENOUGH_GOODS


def _explained_duplicates(
    sim: PlatformSim, kills: list[tuple[float, float]], outages: list[tuple[float, float]]
) -> tuple[int, int]:
    """Count same-serial duplicates by cause; each must be a send in flight when its answer
    was lost: the daemon was killed (the first copy received before the next daemon started,
    the second after), or the platform went down while answering (the first copy
    received before it went down, the second after it came back)."""
    times: dict[tuple[str, str], list[float]] = {}
    for kind, serial, at in sim.arrivals:
        times.setdefault((kind, serial), []).append(at)
    at_kill = at_outage = 0
    for (kind, serial), arrivals in times.items():
        for first, second in itertools.pairwise(sorted(arrivals)):
            # before the next daemon started, only the killed one can have sent it: a copy
            # it wrote just before the SIGKILL is read by the simulator (on this test's event
            # loop) only after the kill was timed
            if any(first <= respawned <= second for _killed, respawned in kills):
                at_kill += 1
            elif any(first <= went and second >= back for went, back in outages):
                at_outage += 1
            else:
                raise AssertionError(("unexplained duplicate", kind, serial, first, second))
    return at_kill, at_outage


async def _fetch_province_photos(
    sim: ProvincePlatformSim, port: int, ledger: dict[str, tuple[str, int]]
) -> None:
    """Province records carry photo URLs: each must serve the JPEG from the daemon's photo
    listener."""
    async with httpx.AsyncClient() as http:
        for serial, (_, photos) in ledger.items():
            if photos:
                url = sim.records[serial][0]["imgURL1"]
                reply = await http.get(f"http://127.0.0.1:{port}{url}")
                assert reply.status_code == 200, (serial, url)
                assert is_jpeg(reply.content)
