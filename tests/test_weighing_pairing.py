"""Pairing a stable weight with its plate (issue 16): every plate read at the scale's lanes
is pending (in the ledger, across restarts and a SIGKILL) until a weighing uses it or it is
too old; one pending read ties the weighing, none leaves it unmatched, more than one holds it
as 待确认车牌 with the candidates; a plate given later continues as a tied weighing would."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager, closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from drivers.base import Detector
from drivers.scale import ScaleIndicator
from drivers.serial_link import SerialLink
from drivers.virtual import VirtualDetector
from drivers.weighing import YaohuaTf0Parser
from edge.domain.codes import GateSignal
from edge.domain.goods import tonnes
from edge.domain.weighing import StableRule
from edge.gate.weighbridge import Weighbridge
from edge.ledger.rows import NewScaleRead, NewWeighing, RecordedPass, StoredWeighing
from edge.ledger.store import Store
from edge.ledger.weighings import ReadDroppedError, ReadUsedError, WeighingStateError
from edge.sim.platform import CityPlatformSim
from edge.sim.scale import ScaleSim
from tests.helpers import eventually, free_port, wait_healthy, write_config
from tests.processes import Processes
from tests.test_store import new_pass

DAY = 86400.0
RULE = StableRule(band_kg=Decimal(20), hold_seconds=0.2, minimum_kg=Decimal(500))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "edge.db")
    try:
        yield s
    finally:
        await s.close()


def _pass(plate: str, serial: str, lane: str = "in-1") -> dict[str, object]:
    return {"plate": plate, "color": "2", "serial": serial, "lane": lane}


@asynccontextmanager
async def weighbridge(
    store: Store,
    tmp_path: Path,
    *,
    position: Sequence[Detector] = (),
    plate_max_age: float = 300.0,
    goods: str | None = None,
    kg: int = 0,
) -> AsyncIterator[tuple[Weighbridge, ScaleSim, list[StoredWeighing]]]:
    """A weighbridge on ``store`` over a pty scale simulator (Yaohua tF=0; ``kg`` on it from
    its first frame), started; the weighings it tells of are collected."""
    path = tmp_path / "scale"
    indicator = ScaleIndicator(SerialLink(str(path), backoff_initial=0.05), YaohuaTf0Parser())
    bridge = Weighbridge(
        "main",
        indicator,
        store,
        RULE,
        max_between_seconds=DAY,
        plate_max_age_seconds=plate_max_age,
        position=position,
        goods_for=lambda _plate, _lane: goods,
    )
    bridge.lanes.append("in-1")
    seen: list[StoredWeighing] = []
    bridge.weighing_listeners.append(seen.append)
    async with ScaleSim(path, "yaohua-tf0", period=0.02) as sim:
        sim.set_weight(Decimal(kg))  # before its first frame (the sim's task has not run)
        await bridge.resume()  # as the daemon starts it
        bridge.start()
        if not kg:  # the platform seen empty first: a weight put on it is watched
            await eventually(lambda: bridge.detector.seen_empty, timeout=5)
        try:
            yield bridge, sim, seen
        finally:
            await bridge.aclose()


def _weighings_in(database: Path, columns: str = "plate, first_kg, state") -> list[tuple[Any, ...]]:
    """``columns`` of the weighings a daemon process wrote to ``database``, oldest first."""
    with closing(sqlite3.connect(database)) as db:
        return db.execute(f"SELECT {columns} FROM weighings ORDER BY id").fetchall()  # noqa: S608


async def _scale_weighed(http: httpx.AsyncClient, port: int, weighed: bool = True) -> bool:
    """Whether the daemon on ``port`` says its (first) scale holds a weighed truck (with
    ``weighed`` False: that it does not)."""
    status = (await http.get(f"http://127.0.0.1:{port}/api/status")).json()
    return bool(status["scales"][0]["weighed"]) is weighed


async def weigh_truck(bridge: Weighbridge, sim: ScaleSim, kg: int) -> None:
    """A truck drives on, its weight settles and is taken, and it drives off."""
    count = bridge.weighings
    sim.set_weight(Decimal(kg))
    await eventually(lambda: bridge.weighings == count + 1, timeout=5)
    await bridge.drain()
    sim.set_weight(Decimal(0))
    await eventually(lambda: not bridge.detector.weighed, timeout=5)
    await bridge.drain()  # what the truck's leaving lets go (its goods record) is written


async def test_two_trucks_read_in_a_row_are_held_not_swapped(store: Store, tmp_path: Path) -> None:
    """Two trucks read before either weighs: the scale does not give the first weight to the
    last plate read (nor to the first: a car read at the lane may never weigh); the weighing is
    held with both candidates, and so is the next, until a clerk picks."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫A11111", "S-A"))
        bridge.heard_pass(_pass("豫B22222", "S-B"))
        await weigh_truck(bridge, sim, 30000)
        await weigh_truck(bridge, sim, 18000)
    first, second = seen
    assert (first.plate, second.plate, first.held, second.held) == (None, None, True, True)
    assert [r.read.plate for r in first.candidate_reads] == ["豫A11111", "豫B22222"]
    assert [r.read.serial for r in second.candidate_reads] == ["S-A", "S-B"]
    assert [w.id for w in await store.unmatched_weighings(0)] == [second.id, first.id]


async def test_a_car_read_that_never_weighs_is_not_the_next_trucks_plate(
    store: Store, tmp_path: Path
) -> None:
    """FIFO would be wrong: the car read first never weighs."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫C33333", "S-CAR"))
        bridge.heard_pass(_pass("豫D44444", "S-D"))
        await weigh_truck(bridge, sim, 25000)
        assert seen[-1].held
        assert {r.read.plate for r in seen[-1].candidate_reads} == {"豫C33333", "豫D44444"}


async def test_a_read_older_than_its_maximum_age_no_longer_counts(
    store: Store, tmp_path: Path
) -> None:
    async with weighbridge(store, tmp_path, plate_max_age=30) as (bridge, sim, seen):
        await store.note_scale_read(
            NewScaleRead("main", "豫C33333", "2", "S-OLD", "in-1", bridge._clock() - 60)
        )
        bridge.heard_pass(_pass("豫E55555", "S-E"))
        await weigh_truck(bridge, sim, 26000)
    assert (seen[-1].plate, seen[-1].state, seen[-1].first_serial) == ("豫E55555", "open", "S-E")


async def test_a_clerks_pick_continues_as_a_tied_weighing(store: Store, tmp_path: Path) -> None:
    """The held weighing given a candidate opens that plate's first weighing; the other
    truck's held weighing given the other candidate completes nothing of the first; a later
    weighing of the first plate completes its pair, with exactly one goods record."""
    entry_a = await store.record_pass(new_pass(plate="豫A11111"), [])
    entry_b = await store.record_pass(new_pass(plate="豫B22222"), [])
    leave_a = await store.record_pass(new_pass(plate="豫A11111"), [])
    async with weighbridge(store, tmp_path, goods="煤") as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫A11111", entry_a.serial))
        bridge.heard_pass(_pass("豫B22222", entry_b.serial))
        await weigh_truck(bridge, sim, 35000)
        await weigh_truck(bridge, sim, 32000)
        held_a, held_b = seen
        a_read, b_read = held_a.candidate_reads
        given = await bridge.assign(held_a.id, a_read.read.plate, "2", read=a_read)
        assert (given.id, given.plate, given.state, given.first_serial) == (
            held_a.id, "豫A11111", "open", entry_a.serial,
        )  # fmt: skip
        given_b = await bridge.assign(held_b.id, b_read.read.plate, "2", read=b_read)
        assert (given_b.plate, given_b.state) == ("豫B22222", "open")
        with pytest.raises(ValueError, match="has its plate"):
            await bridge.assign(held_a.id, "豫B22222", "2")
        assert await store.pending_reads("main", 0) == []  # both reads used
        bridge.heard_pass(_pass("豫A11111", leave_a.serial))
        await weigh_truck(bridge, sim, 15000)
    done = seen[-1]
    assert (done.id, done.state, done.net_kg, done.goods) == (held_a.id, "complete", 20000, "煤")
    assert done.second_serial == leave_a.serial
    goods = [e for e in await store.list_outbox("pending", 50) if e.kind == "goods"]
    assert [e.serial for e in goods] == [leave_a.serial]


async def test_a_plate_given_to_an_unmatched_second_weighing_completes_the_pair(
    store: Store,
) -> None:
    """An unmatched weighing given a plate with an open first weighing (before it, or after
    it) becomes that pair's second (or first) weighing: one row, one goods record; a typed
    plate ties the goods record to the pass of the other weighing."""
    entry = await store.record_pass(new_pass(plate="豫A12345"), [])
    opened = await store.weigh(
        NewWeighing("main", "豫A12345", "2", 35000, 1000, entry.serial), max_between_seconds=DAY
    )
    nobody = await store.weigh(
        NewWeighing("main", None, "", 15000, 2000, None), max_between_seconds=DAY
    )
    await store.set_weighing_photo(nobody.id, "2026/12/01/in-1-snap-1.jpg")
    done = await store.assign_plate(
        nobody.id, "豫A12345", "2", serial=None, max_between_seconds=DAY, goods="砂石"
    )
    # its snapshot goes with it: the second weighing's, shown after the first's plate read
    assert (done.first_photo, done.second_photo) == (None, "2026/12/01/in-1-snap-1.jpg")
    assert (await store.weighing_photos([done]))[done.id] == [f"/photos/weighing-{done.id}-2.jpg"]
    assert (done.id, done.state, done.gross_kg, done.tare_kg, done.net_kg) == (
        opened.id, "complete", 35000, 15000, 20000,
    )  # fmt: skip
    assert (done.first_at, done.second_at, done.second_serial) == (1000, 2000, None)
    assert (done.goods, done.ysl) == ("砂石", tonnes(20000))
    with pytest.raises(KeyError):
        await store.weighing(nobody.id)  # folded into the pair
    # the other way round: the unmatched weighing came first, the plate's open one after it
    early = await store.weigh(
        NewWeighing("main", None, "", 14000, 5000, None), max_between_seconds=DAY
    )
    later = await store.weigh(
        NewWeighing("main", "豫B54321", "2", 30000, 6000, entry.serial), max_between_seconds=DAY
    )
    pair = await store.assign_plate(
        early.id, "豫B54321", "2", serial=None, max_between_seconds=DAY, goods="砂石"
    )
    assert (pair.id, pair.first_kg, pair.second_kg, pair.net_kg) == (early.id, 14000, 30000, 16000)
    with pytest.raises(KeyError):
        await store.weighing(later.id)
    goods = [e for e in await store.list_outbox("pending", 50) if e.kind == "goods"]
    assert len(goods) == 2
    with pytest.raises(KeyError):
        await store.assign_plate(999, "豫B54321", "2", serial=None, max_between_seconds=DAY)


async def test_a_folded_weighings_number_is_never_given_again(store: Store) -> None:
    """A weighing folded into its pair is gone, and its number (the ticket's No.) is never
    another truck's: a clerk acting from a page that still shows it is told it is unknown,
    not acting on the next truck."""
    entry = await store.record_pass(new_pass(plate="豫A12345"), [])
    opened = await store.weigh(
        NewWeighing("main", "豫A12345", "2", 35000, 1000, entry.serial), max_between_seconds=DAY
    )
    nobody = await store.weigh(
        NewWeighing("main", None, "", 15000, 2000, None), max_between_seconds=DAY
    )
    await store.assign_plate(nobody.id, "豫A12345", "2", serial=None, max_between_seconds=DAY)
    after = await store.weigh(
        NewWeighing("main", None, "", 16000, 3000, None), max_between_seconds=DAY
    )
    assert after.id > nobody.id > opened.id
    with pytest.raises(KeyError):
        await store.discard_weighing(nobody.id, "王五: 旧页面")
    assert (await store.weighing(after.id)).state == "unmatched"


async def test_a_pending_read_survives_a_restart(tmp_path: Path) -> None:
    """A SIGKILL while the truck stands on the scale used to lose its plate read (memory
    only): the read is committed as it is heard, so the weighing after a restart (a new
    Weighbridge on the same ledger file) is still tied."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path) as (bridge, _sim, _seen):
            bridge.heard_pass(_pass("豫A12345", "S-KEPT"))
            await bridge.drain()  # committed; the process dies here
    finally:
        await store.close()
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path) as (bridge, sim, seen):
            await weigh_truck(bridge, sim, 30000)
    finally:
        await store.close()
    assert (seen[0].plate, seen[0].state, seen[0].first_serial) == ("豫A12345", "open", "S-KEPT")


async def test_with_position_sensors_a_read_while_the_weighed_truck_stands_is_the_next_ones(
    store: Store, tmp_path: Path
) -> None:
    """The next-vehicle rule: with position sensors, a plate read while the weighed vehicle
    still stands in position is the next vehicle's (queued at the camera), never given to the
    one on the platform; without sensors it is taken as the weighed truck's (a slow camera)."""
    sensor = VirtualDetector()
    sensor.presence.sample(True)
    async with weighbridge(store, tmp_path, position=[sensor]) as (bridge, sim, seen):
        sim.set_weight(Decimal(30000))  # no plate read for this truck
        await eventually(lambda: bridge.weighings == 1, timeout=5)
        bridge.heard_pass(_pass("豫B22222", "S-NEXT"))  # the next truck, behind it
        await bridge.drain()
        assert (seen[-1].plate, seen[-1].state) == (None, "unmatched")
        sim.set_weight(Decimal(0))
        await eventually(lambda: not bridge.detector.weighed, timeout=5)
        await weigh_truck(bridge, sim, 18000)
    assert [(w.plate, w.first_kg) for w in seen] == [(None, 30000), ("豫B22222", 18000)]


async def test_a_sigkill_while_the_truck_stands_on_the_scale_keeps_its_plate(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    """The real daemon process: the truck's plate is read at the scale lane, the daemon is
    SIGKILLed before the weight settles, and the daemon started again ties the weighing to
    that plate read (it was in memory only before)."""
    port, scale_port, config = _scale_daemon_config(tmp_path, platform_sim)
    async with ScaleSim(scale_port, "toledo", period=0.02) as sim, httpx.AsyncClient() as http:
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)
        reply = await http.post(f"http://127.0.0.1:{port}/push/in-1", json={"plate": "豫A12345"})
        serial = reply.json()["serial"]

        def pending() -> list[tuple[str, str]]:
            with closing(sqlite3.connect(tmp_path / "edge.db")) as db:
                return db.execute("SELECT plate, serial FROM scale_reads").fetchall()

        await eventually(lambda: pending() == [("豫A12345", serial)], timeout=10)
        proc.send_signal(signal.SIGKILL)  # the truck is driving onto the scale
        await proc.wait()
        sim.set_weight(Decimal(30000))
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)

        def weighed() -> list[tuple[str | None, str, str | None]]:
            with closing(sqlite3.connect(tmp_path / "edge.db")) as db:
                query = "SELECT plate, state, first_serial FROM weighings"
                return db.execute(query).fetchall()

        await eventually(lambda: weighed() != [], timeout=10)
        await procs.stop(proc)
    assert weighed() == [("豫A12345", "open", serial)]


async def test_a_sigkill_with_a_weighed_truck_on_the_scale_does_not_weigh_it_again(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    """The real daemon process (``edge run``): a truck is weighed and still stands on the
    scale when the daemon is SIGKILLed; started again on the same ledger, the daemon takes
    the stable weight it finds (within the band of the last weighing) as that truck — not
    recorded again, not tied to the next truck's read heard meanwhile — and weighs the next
    truck once the platform has emptied."""
    port, scale_port, config = _scale_daemon_config(tmp_path, platform_sim)

    def weighed() -> list[tuple[Any, ...]]:
        return _weighings_in(tmp_path / "edge.db")

    async with ScaleSim(scale_port, "toledo", period=0.02) as sim, httpx.AsyncClient() as http:
        push = f"http://127.0.0.1:{port}/push/in-1"
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)
        await http.post(push, json={"plate": "豫A12345"})
        sim.set_weight(Decimal(30000))
        await eventually(lambda: weighed() == [("豫A12345", 30000, "open")], timeout=10)
        proc.send_signal(signal.SIGKILL)  # the weighed truck still stands on the scale
        assert await proc.wait() == -signal.SIGKILL
        sim.set_weight(Decimal(30020))  # the same truck, within the band (one division)
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)
        await http.post(push, json={"plate": "豫B22222"})  # the next truck, queued behind
        await eventually(lambda: _scale_weighed(http, port), timeout=10)
        sim.set_weight(Decimal(0))  # the truck drives off
        await eventually(lambda: _scale_weighed(http, port, weighed=False), timeout=10)
        sim.set_weight(Decimal(18000))  # the next truck
        await eventually(lambda: len(weighed()) >= 2, timeout=10)
        await procs.stop(proc)
    assert weighed() == [("豫A12345", 30000, "open"), ("豫B22222", 18000, "open")]


async def test_a_late_read_goes_to_the_truck_on_the_scale_not_one_that_left(
    store: Store, tmp_path: Path
) -> None:
    """Without position sensors a read heard after the weight settled is the weighed truck's
    only while it still stands on the scale: once it left and the next truck was weighed, a
    late read is the next truck's."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        sim.set_weight(Decimal(30000))  # no read: unmatched, and it leaves
        await eventually(lambda: bridge.weighings == 1, timeout=5)
        sim.set_weight(Decimal(0))
        await eventually(lambda: not bridge.detector.weighed, timeout=5)
        sim.set_weight(Decimal(25000))
        await eventually(lambda: bridge.weighings == 2, timeout=5)
        bridge.heard_pass(_pass("豫B22222", "S-LATE"))  # the second truck's slow camera
        await eventually(lambda: len(seen) == 3, timeout=5)
    assert [(w.id, w.plate, w.first_kg) for w in seen] == [
        (1, None, 30000), (2, None, 25000), (2, "豫B22222", 25000),
    ]  # fmt: skip


async def test_a_refused_trucks_read_is_not_pending(store: Store, tmp_path: Path) -> None:
    """The refused-vehicle rule: a truck refused at the scale lane does not drive on, so its
    read does not hold the next truck's weighing."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        bridge.heard_pass({**_pass("豫C33333", "S-REFUSED"), "verdict": "refuse"})
        bridge.heard_pass({**_pass("豫D44444", "S-D"), "verdict": "open"})
        await weigh_truck(bridge, sim, 25000)
    assert [(w.plate, w.state) for w in seen] == [("豫D44444", "open")]


async def test_one_plate_read_is_used_by_one_weighing_only(store: Store) -> None:
    """Two weighings held with the same candidates: the read given to the first is no longer
    a candidate of the second — refused (该车牌识别已被使用), nothing changes, and the
    status page no longer offers it."""
    read = await store.note_scale_read(NewScaleRead("main", "豫A11111", "2", "S-A", "in-1", 10))
    other = await store.note_scale_read(NewScaleRead("main", "豫B22222", "2", "S-B", "in-1", 11))
    held = [
        await store.weigh(
            NewWeighing("main", None, "", kg, 20 + kg / 1000, None),
            max_between_seconds=DAY, candidates=[read, other],
        )
        for kg in (35000, 15000)
    ]  # fmt: skip
    first = await store.assign_plate(
        held[0].id, "豫A11111", "2", serial="S-A", read_id=read.id, max_between_seconds=DAY
    )
    assert first.state == "open"
    with pytest.raises(ReadUsedError, match="used by another weighing") as refused:
        await store.assign_plate(
            held[1].id, "豫A11111", "2", serial="S-A", read_id=read.id, max_between_seconds=DAY
        )
    assert refused.value.said == "该车牌识别已被使用"
    assert (await store.weighing(held[1].id)).state == "unmatched"
    assert (await store.weighing(first.id)).state == "open"
    assert await store.used_reads([read.id, other.id]) == {read.id}


async def test_a_truck_still_on_the_scale_after_a_restart_is_not_weighed_again(
    tmp_path: Path,
) -> None:
    """The daemon restarts (or is killed) while the weighed truck still stands on the scale:
    the Weighbridge started again on the same ledger file takes the first stable weight like
    the last weighing as that truck — not weighed again, not tied to the next truck's read
    heard meanwhile — and waits for the platform to empty; the next truck is weighed."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path) as (bridge, sim, _seen):
            bridge.heard_pass(_pass("豫A12345", "S-A"))
            sim.set_weight(Decimal(30000))
            await eventually(lambda: bridge.weighings == 1, timeout=5)
            await bridge.drain()  # the daemon stops here, the truck still on the scale
    finally:
        await store.close()
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path, kg=30010) as (bridge, sim, seen):
            # the restart took a minute: a read now is past the tie-in-doubt rule's window
            bridge._clock = lambda: time.time() + 60
            bridge.heard_pass(_pass("豫B22222", "S-B"))  # the next truck, queued behind
            sim.set_weight(Decimal(30010))  # the same truck, within the band
            await eventually(lambda: bridge.detector.weighed, timeout=5)
            await bridge.drain()
            assert (bridge.weighings, seen) == (0, [])
            sim.set_weight(Decimal(0))
            await eventually(lambda: not bridge.detector.weighed, timeout=5)
            await weigh_truck(bridge, sim, 18000)
        assert [(w.plate, w.first_kg) for w in seen] == [("豫B22222", 18000)]
        assert [w.plate for w in await store.recent_weighings()] == ["豫B22222", "豫A12345"]
    finally:
        await store.close()


def _scale_daemon_config(tmp_path: Path, platform_sim: CityPlatformSim) -> tuple[int, Path, Path]:
    """(web port, the scale's pty path, the config file) of a daemon process with one scale
    (Toledo on a pty, 8N1) under lane in-1."""
    port, scale_port = free_port(), tmp_path / "scale"
    config = write_config(
        tmp_path / "config.toml",
        platform_sim.base_url,
        port=port,
        extra=(
            f'[scales.main]\nport = "{scale_port}"\nprotocol = "toledo"\nframing = "8N1"\n'
            # a read heard 0.2 s after a weight settled is the next truck's (the tie-in-doubt
            # rule's window: a restarted daemon is never that quick)
            'stable_seconds = 0.3\nreread_seconds = 0.2\nlanes = ["in-1"]\n'
            '[logging]\nlevel = "warning"'
        ),
    )
    return port, scale_port, config


async def test_a_camera_that_refines_its_read_does_not_hold_the_weighings(
    store: Store, tmp_path: Path
) -> None:
    """The re-read rule: a camera that refines its read after the pass was confirmed gives
    two passes (豫G90872, then 豫G90878); the later read supersedes the earlier one, so the
    truck's weighing is tied, and so is the next truck's (before, both were held for ever)."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫G90872", "S-1"))
        bridge.heard_pass(_pass("豫G90878", "S-2"))
        await weigh_truck(bridge, sim, 30000)
        bridge.heard_pass(_pass("豫K23456", "S-3"))
        await weigh_truck(bridge, sim, 31000)
    assert [(w.plate, w.held, w.first_serial) for w in seen] == [
        ("豫G90878", False, "S-2"), ("豫K23456", False, "S-3"),
    ]  # fmt: skip


async def test_a_near_read_at_another_lane_or_later_is_another_vehicle(
    store: Store, tmp_path: Path
) -> None:
    """The re-read rule is narrow: a near plate at another lane, or after ``reread_seconds``,
    is another vehicle — the weighing is held as before."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        await store.note_scale_read(
            NewScaleRead("main", "豫G90872", "2", "S-OLD", "in-1", bridge._clock() - 40),
            reread_seconds=bridge.reread,
        )
        bridge.heard_pass(_pass("豫G90878", "S-2"))
        bridge.heard_pass(_pass("豫G90877", "S-3", lane="out-1"))
        await weigh_truck(bridge, sim, 30000)
    assert seen[-1].held
    assert [r.read.serial for r in seen[-1].candidate_reads] == ["S-OLD", "S-2", "S-3"]


async def test_a_fleets_next_truck_is_not_a_re_read(store: Store, tmp_path: Path) -> None:
    """豫G88362挂 read 8 s after 豫G88361挂 (the barrier closed and opened between them) is the
    fleet's next truck, not a re-read: both wait, the first truck's weighing is held for a
    clerk — never given the second truck's plate."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        await store.note_scale_read(
            NewScaleRead("main", "豫G88361挂", "2", "S-1", "in-1", bridge._clock() - 8),
            reread_seconds=bridge.reread,
        )
        bridge.heard_pass(_pass("豫G88362挂", "S-2"))
        await weigh_truck(bridge, sim, 30000)
    assert seen[-1].held
    assert [r.read.serial for r in seen[-1].candidate_reads] == ["S-1", "S-2"]


async def _held_behind_an_earlier_read(
    store: Store, bridge: Any, sim: Any, seen: list[Any], age: float
) -> Any:
    """豫C33333 read at the lane ``age`` s ago, 豫D44444 read now; the truck weighed: held."""
    await store.note_scale_read(
        NewScaleRead("main", "豫C33333", "2", "S-C", "in-1", bridge._clock() - age)
    )
    bridge.heard_pass(_pass("豫D44444", "S-D"))
    await weigh_truck(bridge, sim, 25000)
    return seen[-1]


async def test_a_stray_read_goes_stale_once_a_later_read_at_its_lane_is_weighed(
    store: Store, tmp_path: Path
) -> None:
    """The stale rule: a car read at the lane 200 s before (more than the drive-on time) and
    a truck read now hold the truck's weighing; the clerk picks the truck, and the car's read
    is stale — the next truck is weighed with its plate, not held. A read after the one
    taken stays pending."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        held = await _held_behind_an_earlier_read(store, bridge, sim, seen, 200)
        assert [r.read.plate for r in held.candidate_reads] == ["豫C33333", "豫D44444"]
        truck = held.candidate_reads[1]
        await bridge.assign(held.id, "豫D44444", "2", read=truck)
        assert await store.pending_reads("main", 0) == []
        assert await store.dropped_reads([held.candidate_reads[0].id]) == {
            held.candidate_reads[0].id
        }
        bridge.heard_pass(_pass("豫E55555", "S-E"))
        await weigh_truck(bridge, sim, 26000)
    assert (seen[-1].plate, seen[-1].held, seen[-1].first_serial) == ("豫E55555", False, "S-E")


async def test_the_stale_rule_keeps_reads_within_the_drive_on_time(
    store: Store, tmp_path: Path
) -> None:
    """Two trucks read 60 s apart (within the drive-on time): picking the later one leaves
    the earlier pending — the daemon never guesses between two real trucks."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        held = await _held_behind_an_earlier_read(store, bridge, sim, seen, 60)
        await bridge.assign(held.id, "豫D44444", "2", read=held.candidate_reads[1])
    assert [r.read.plate for r in await store.pending_reads("main", 0)] == ["豫C33333"]


async def _stops_twice(
    bridge: Weighbridge,
    sim: ScaleSim,
    seen: list[StoredWeighing],
    second: Callable[[], bool] | None = None,
) -> None:
    """A truck drives on (10000 kg, moving), stops with some axles off (21000 kg, steady: a
    weighing), drives fully on (30000 kg, moving), stops again (39000 kg, steady: its weighing
    told again, or ``second`` true), leaves."""

    def shown(kg: int) -> bool:
        latest = bridge.indicator.latest
        return latest is not None and latest.kg == kg

    sim.set_weight(Decimal(10000), moving=True)
    await eventually(lambda: shown(10000), timeout=5)
    sim.set_weight(Decimal(21000))
    await eventually(lambda: len(seen) == 1, timeout=5)
    before = len(seen)
    sim.set_weight(Decimal(30000), moving=True)
    await eventually(lambda: shown(30000), timeout=5)
    sim.set_weight(Decimal(39000))
    await eventually(second or (lambda: len(seen) > before), timeout=5)
    await bridge.drain()
    sim.set_weight(Decimal(0))
    await eventually(lambda: not bridge.detector.weighed, timeout=5)
    await bridge.drain()  # what the truck's leaving lets go (its goods record) is written


async def test_a_truck_that_stops_twice_is_weighed_fully_on_the_scale(
    store: Store, tmp_path: Path
) -> None:
    """The truck-stopped-twice rule: a higher stable weight before the platform empties is
    the truck's — its first weighing takes 39000 kg, not the partial 21000 kg; one weighing."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫A11111", "S-A"))
        await _stops_twice(bridge, sim, seen)
    assert bridge.weighings == 1
    assert [(w.id, w.first_kg) for w in seen] == [(seen[0].id, 21000), (seen[0].id, 39000)]
    row = await store.weighing(seen[0].id)
    assert (row.plate, row.state, row.first_kg) == ("豫A11111", "open", 39000)


async def _weighed_in_empty(store: Store) -> RecordedPass:
    """豫A11111 weighed in empty (14000 kg) ten minutes ago; its exit pass, recorded (the
    pass its weighing out completes the pair with)."""
    return await _weighed_in(store, "豫A11111", 14000)


async def _weighed_in(store: Store, plate: str, kg: int) -> RecordedPass:
    """``plate`` weighed in at ``kg`` ten minutes ago; its exit pass, recorded (the pass its
    weighing out completes the pair with)."""
    truck = await store.record_pass(new_pass(plate, direction="out"), [])
    await store.weigh(
        NewWeighing("main", plate, "2", kg, time.time() - 600, None), max_between_seconds=DAY
    )
    return truck


async def test_a_pair_completed_at_a_partial_weight_keeps_its_weights(
    store: Store, tmp_path: Path
) -> None:
    """The truck weighed in empty (14000 kg); on its way out it stops twice: the pair it
    completed at 21000 kg is never recomputed (its goods record may be on its way to the
    authority) — it keeps its weights, and a warning says so once for the clerk."""
    truck = await _weighed_in_empty(store)
    with capture_logs() as logs:

        def warned() -> list[MutableMapping[str, Any]]:
            return [e for e in logs if e["event"].startswith("truck stopped twice")]

        async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
            bridge.heard_pass(_pass("豫A11111", truck.serial))
            await _stops_twice(bridge, sim, seen, lambda: bool(warned()))
    row = await store.weighing(seen[-1].id)
    assert (row.state, row.gross_kg, row.tare_kg, row.net_kg) == ("complete", 21000, 14000, 7000)
    assert (row.second_kg, row.ysl) == (21000, tonnes(7000))
    assert [(e["log_level"], e["weighing"], e["kg"]) for e in warned()] == [
        ("warning", row.id, "39000")
    ]
    [check] = row.checks  # 请核对重量 for the clerk; its goods record held meanwhile
    assert (check.kind, check.hold) == ("weight", True)
    assert "21000" in check.why
    assert "39000" in check.why
    assert "39000" in check.said
    assert [e.kind for e in await store.list_outbox("held", 50)].count("goods") == 1


async def test_a_late_read_goes_to_a_truck_that_stopped_twice(store: Store, tmp_path: Path) -> None:
    """A truck weighed without its plate stops twice (the same vehicle, not a new one): a
    plate read heard afterwards, while it still stands on the scale, is still its own."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        sim.set_weight(Decimal(21000))  # no read yet: unmatched
        await eventually(lambda: len(seen) == 1, timeout=5)
        sim.set_weight(Decimal(30000), moving=True)
        await eventually(lambda: bridge.indicator.latest is not None
                         and bridge.indicator.latest.kg == 30000, timeout=5)  # fmt: skip
        sim.set_weight(Decimal(39000))
        await eventually(lambda: len(seen) == 2, timeout=5)  # the higher weight taken
        bridge.heard_pass(_pass("豫A11111", "S-SLOW"))  # the slow camera's read
        await eventually(lambda: seen[-1].plate is not None, timeout=5)
    assert bridge.vehicles == 1
    row = await store.weighing(seen[0].id)
    assert (row.plate, row.state, row.first_kg) == ("豫A11111", "open", 39000)


async def test_the_stale_rule_leaves_reads_that_aged_out_alone(store: Store) -> None:
    """Reads older than the read maximum age before the one taken are no candidates anyway
    (after migration 20 every unused read of the past days had no ``dropped``): the stale
    rule neither marks nor reports them — only the stray read within that age."""
    at = 1_000_000.0
    old = [
        await store.note_scale_read(NewScaleRead("main", f"豫C{i:05d}", "2", f"S{i}", "in-1", t))
        for i, t in enumerate([at - 86400, at - 3600, at - 301])
    ]
    stray = await store.note_scale_read(
        NewScaleRead("main", "豫D44444", "2", "S-D", "in-1", at - 200)
    )
    taken = await store.note_scale_read(NewScaleRead("main", "豫E55555", "2", "S-E", "in-1", at))
    stale = await store.drop_stale_reads(taken, 120, 300)
    assert [r.id for r in stale] == [stray.id]
    assert await store.dropped_reads([r.id for r in old]) == set()


async def test_a_re_read_stored_before_the_original_is_not_superseded(store: Store) -> None:
    """The re-read rule looks back only: a refined read (豫G90878 at t) stored before the
    camera's original (豫G90872 at t − 2, delivered late) stays the candidate; the late
    original is the superseded one."""
    t = 1_000_000.0
    refined = await store.note_scale_read(
        NewScaleRead("main", "豫G90878", "2", "S-2", "in-1", t), reread_seconds=5
    )
    original = await store.note_scale_read(
        NewScaleRead("main", "豫G90872", "2", "S-1", "in-1", t - 2), reread_seconds=5
    )
    assert [r.id for r in await store.pending_reads("main", 0)] == [refined.id]
    assert await store.dropped_reads([refined.id, original.id]) == {original.id}


async def test_a_read_superseded_after_it_was_chosen_is_not_taken(
    store: Store, tmp_path: Path
) -> None:
    """A read chosen for a weighing and superseded by a re-read before the weighing is
    written is like a used one: the ledger refuses it (nothing written), and the weighbridge
    picks again — the refined read ties the weighing, not the misread plate."""
    first = await store.note_scale_read(NewScaleRead("main", "豫G90872", "2", "S-1", "in-1", 10))
    await store.note_scale_read(
        NewScaleRead("main", "豫G90878", "2", "S-2", "in-1", 12), reread_seconds=5
    )
    new = NewWeighing("main", "豫G90872", "2", 30000, 20, "S-1")
    with pytest.raises(ReadDroppedError, match="no candidate") as refused:
        await store.weigh(new, max_between_seconds=DAY, read_id=first.id)
    assert refused.value.said == "该车牌识别已不是候选"
    assert await store.recent_weighings() == []

    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        weigh = store.weigh

        async def refined_meanwhile(new: NewWeighing, **kw: Any) -> StoredWeighing:
            if new.plate == "豫K23450":  # the camera refines its read while this is written
                await store.note_scale_read(
                    NewScaleRead("main", "豫K23456", "2", "S-4", "in-1", bridge._clock()),
                    reread_seconds=5,
                )
            return await weigh(new, **kw)

        store.weigh = refined_meanwhile  # type: ignore[method-assign]
        bridge.heard_pass(_pass("豫K23450", "S-3"))
        await weigh_truck(bridge, sim, 31000)
    assert [(w.plate, w.first_serial, w.held) for w in seen] == [("豫K23456", "S-4", False)]


async def test_a_read_dropped_twice_while_the_weight_settles_leaves_the_weighing_unmatched(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the scale's look at the pending reads and its weighing, a clerk drops the read
    it chose (排除); it picks again among the reads pending then — a second truck's read,
    heard meanwhile, dropped too before it is used. The weighing is kept without a plate
    (未识别车牌): never lost, never tied to a dropped read, and said once as such."""
    weigh = store.weigh
    dropped: list[int] = []

    async def clerk_drops_first(new: NewWeighing, **kwargs: Any) -> StoredWeighing:
        read_id = kwargs.get("read_id")
        if read_id is not None and len(dropped) < 2:
            await store.drop_read(read_id, "stray read")
            dropped.append(read_id)
            if len(dropped) == 1:
                bridge.heard_pass(_pass("豫B22222", "S-B"))  # the only one pending on the pick
        return await weigh(new, **kwargs)

    monkeypatch.setattr(store, "weigh", clerk_drops_first)
    with capture_logs() as logs:
        async with weighbridge(store, tmp_path) as (bridge, sim, seen):
            bridge.heard_pass(_pass("豫A11111", "S-A"))
            sim.set_weight(Decimal(30000))
            await eventually(lambda: bridge.weighings == 1, timeout=5)
            sim.set_weight(Decimal(0))  # it drives off: no late read is waited for any more
            await eventually(lambda: not bridge.detector.weighed, timeout=5)
            await bridge.drain()
    assert len(dropped) == 2
    assert [(w.plate, w.state, w.first_kg) for w in seen] == [(None, "unmatched", 30000)]
    assert await store.used_reads(dropped) == set()
    events = [entry["event"] for entry in logs]
    assert events.count("the plate read was used or superseded meanwhile: picking again") == 1
    assert (
        events.count("the plate read was used meanwhile: weighing kept without its plate") == 1
    ), events


async def test_a_truck_read_after_a_weighing_is_weighed_on_its_own_not_as_a_second_stop(
    store: Store, tmp_path: Path
) -> None:
    """The review's case: 豫K30001 weighed at 12000 kg; 豫K30002 read at the lane, and the
    scale settles at 19000 kg within the stopped-twice window, the platform never empty.
    豫K30001 keeps its 12000 kg; 19000 kg is a weighing of its own — 豫K30002's, or
    豫K30001's after a second stop, no rule can tell: held for the clerk with 豫K30002's
    read as its candidate, never tied on its own."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫K30001", "S-1"))
        sim.set_weight(Decimal(12000))
        await eventually(lambda: len(seen) == 1, timeout=5)
        bridge.heard_pass(_pass("豫K30002", "S-2"))
        sim.set_weight(Decimal(19000))
        await eventually(lambda: len(seen) == 2, timeout=5)
        await bridge.drain()
        sim.set_weight(Decimal(0))
        await eventually(lambda: not bridge.detector.weighed, timeout=5)
    assert [(w.plate, w.first_kg, w.state, w.held) for w in seen] == [
        ("豫K30001", 12000, "open", False),
        (None, 19000, "unmatched", True),
    ]
    assert [r.read.plate for r in seen[1].candidate_reads] == ["豫K30002"]
    assert bridge.vehicles == 2


# -- reads heard after the weighing took one: the clerk checks (请核对车牌 / 请核对重量) -----------
async def _settle(bridge: Weighbridge, sim: ScaleSim, kg: int) -> None:
    """A truck drives on and its weight is taken; it stays on the scale."""
    count = bridge.weighings
    sim.set_weight(Decimal(kg))
    await eventually(lambda: bridge.weighings == count + 1, timeout=5)


async def _leave(bridge: Weighbridge, sim: ScaleSim) -> None:
    sim.set_weight(Decimal(0))
    await eventually(lambda: not bridge.detector.weighed, timeout=5)
    await bridge.drain()  # what the truck's leaving lets go (its goods record) is written


async def test_a_camera_refining_its_read_after_the_weighing_took_it_ties_no_next_truck(
    store: Store, tmp_path: Path
) -> None:
    """The re-read rule after the weighing: 豫G90872 ties the weighing, the camera refines it
    to 豫G90878 2 s later at the same lane while the truck stands — that truck, not pending
    (the next truck, not read, is not opened as 豫G90878); the weighing is marked for the
    clerk to check its plate, with both plates, said once in the log."""
    with capture_logs() as logs:
        async with weighbridge(store, tmp_path) as (bridge, sim, seen):
            bridge.heard_pass(_pass("豫G90872", "S-1"))
            await _settle(bridge, sim, 30000)
            await bridge.drain()
            bridge.heard_pass(_pass("豫G90878", "S-2"))  # the refined read
            await bridge.drain()
            await _leave(bridge, sim)
            await _settle(bridge, sim, 31000)  # the next truck: no read
            await eventually(lambda: len({w.id for w in seen}) == 2, timeout=5)
    first = await store.weighing(seen[0].id)
    assert (first.plate, first.state, first.first_serial) == ("豫G90872", "open", "S-1")
    [check] = first.checks
    assert check.kind == "plate"
    assert check.hold
    assert "豫G90872" in check.why
    assert "豫G90878" in check.why
    assert "豫G90878" in check.said
    assert (seen[-1].id, seen[-1].plate, seen[-1].state) == (first.id + 1, None, "unmatched")
    assert await store.pending_reads("main", 0) == []
    reread = [e for e in logs if e["event"].startswith("plate read re-reads a truck")]
    assert [(e["plate"], e["weighed_as"], e["weighing"]) for e in reread] == [
        ("豫G90878", "豫G90872", first.id)
    ]


async def test_a_stray_read_and_a_slow_camera_do_not_cascade_silently(
    store: Store, tmp_path: Path
) -> None:
    """A car's read (豫AC1234, never weighs) is pending; each truck's own read comes after its
    weight settled. Truck 1 takes the car's read; its own read, heard while it still stands
    on the scale, puts that in doubt: once it left, its open first weighing is held with both
    reads (请核对车牌); truck 2 is then held too — never tied to truck 1's read — and its own
    read, heard while it stood there, is one more of its candidates once it left."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        await store.note_scale_read(
            NewScaleRead("main", "豫AC1234", "2", "S-CAR", "in-1", bridge._clock() - 30)
        )
        await _settle(bridge, sim, 31000)
        await eventually(lambda: bool(seen) and seen[-1].plate == "豫AC1234", timeout=5)
        bridge.heard_pass(_pass("豫B11111", "S-T1"))  # truck 1's slow camera
        await bridge.drain()
        await _leave(bridge, sim)  # truck 1 left: the read was heard while it stood there
        await eventually(lambda: seen[-1].held, timeout=5)
        await _settle(bridge, sim, 32000)
        await eventually(lambda: len({w.id for w in seen}) == 2, timeout=5)
        bridge.heard_pass(_pass("豫B22222", "S-T2"))  # truck 2's slow camera
        await bridge.drain()
        await _leave(bridge, sim)  # truck 2 left: its late read is one more candidate
        await eventually(lambda: len(seen[-1].candidate_reads) == 3, timeout=5)
    truck1 = await store.weighing(seen[0].id)
    assert (truck1.state, truck1.plate, truck1.first_serial) == ("unmatched", None, None)
    assert [r.read.plate for r in truck1.candidate_reads] == ["豫AC1234", "豫B11111"]
    assert [c.kind for c in truck1.checks] == ["plate"]
    assert "豫AC1234" in truck1.checks[0].said
    assert "豫B11111" in truck1.checks[0].said
    truck2 = seen[-1]
    assert truck2.id not in (truck1.id, None)
    assert truck2.held
    assert truck2.plate is None
    assert [r.read.plate for r in truck2.candidate_reads] == ["豫AC1234", "豫B11111", "豫B22222"]


async def test_a_completed_pair_in_doubt_holds_its_goods_record_until_the_clerk_clears_it(
    store: Store, tmp_path: Path
) -> None:
    """A truck weighed in empty (14000 kg) weighs out on its read; another plate is read while
    it still stands: its pair is marked for the clerk (请核对车牌, both plates) and its goods
    record is held — not sent on a plate in doubt — until the clerk clears the check; then
    it goes out."""
    truck = await _weighed_in_empty(store)
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫A11111", truck.serial))
        await _settle(bridge, sim, 35000)
        await eventually(lambda: bool(seen) and seen[-1].state == "complete", timeout=5)
        bridge.heard_pass(_pass("豫C33333", "S-C"))
        await eventually(lambda: bool(seen[-1].checks), timeout=5)
        await _leave(bridge, sim)  # the truck left: the check keeps its record held
        await bridge.drain()
    pair = await store.weighing(seen[-1].id)
    assert (pair.state, pair.plate, pair.net_kg) == ("complete", "豫A11111", 21000)
    assert "豫C33333" in pair.checks[0].why
    # measured from the weighing that took the read (the pair's second), not its first
    assert re.search(r"\(read \d+, \d+ s before the weight settled\); 豫C33333 read \d+ s after",
                     pair.checks[0].why), pair.checks[0].why  # fmt: skip
    assert "already sent" not in pair.checks[0].why  # it was not: held since it was made
    assert pair.checks[0].hold
    assert [e.kind for e in await store.list_outbox("pending", 50)].count("goods") == 0
    assert [e.kind for e in await store.list_outbox("held", 50)].count("goods") == 1
    await store.finalise(truck.id, GateSignal.PASSED, time.time(), "detector")  # not released
    assert [e.kind for e in await store.list_outbox("held", 50)].count("goods") == 1
    before, released = await store.clear_checks(pair.id)
    assert (before.checks[0].kind, released) == ("plate", 1)
    assert (await store.weighing(pair.id)).checks == []
    assert [e.kind for e in await store.list_outbox("pending", 50)].count("goods") == 1


async def test_a_held_weighings_last_candidate_ties_no_later_weighing(
    store: Store, tmp_path: Path
) -> None:
    """Two reads held a weighing; a clerk drops one (排除). The other is still the held
    weighing's candidate: the next truck, not read, is held with it rather than tied to it
    (it was the held truck's read — or not: the clerk decides)."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫A11111", "S-A"))
        bridge.heard_pass(_pass("豫B22222", "S-B"))
        await weigh_truck(bridge, sim, 30000)
        held = seen[-1]
        a_read, b_read = held.candidate_reads
        await store.drop_read(a_read.id, "dropped by clerk")
        await _settle(bridge, sim, 28000)
        await eventually(lambda: len(seen) == 2, timeout=5)
    later = seen[-1]
    assert (later.plate, later.held) == (None, True)
    assert [r.id for r in later.candidate_reads] == [b_read.id]
    assert (await store.weighing(held.id)).held  # still offered B
    assert await store.used_reads([b_read.id]) == set()


async def test_a_weighing_tied_through_a_superseded_near_read_is_checked(
    store: Store, tmp_path: Path
) -> None:
    """Two fleet trucks read 4 s apart (豫G88361挂, then 豫G88362挂: within the re-read rule's
    window): the second read supersedes the first and ties the first truck's weighing — which
    is marked for the clerk to check its plate, naming both plates, its goods record held (a
    camera refining its read looks the same, but so does the fleet's next truck)."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        await store.note_scale_read(
            NewScaleRead("main", "豫G88361挂", "2", "S-1", "in-1", bridge._clock() - 4),
            reread_seconds=bridge.reread,
        )
        bridge.heard_pass(_pass("豫G88362挂", "S-2"))
        await weigh_truck(bridge, sim, 35000)
    row = await store.weighing(seen[-1].id)
    assert (row.plate, row.state) == ("豫G88362挂", "open")
    [check] = row.checks
    assert (check.kind, check.hold) == ("plate", True)
    assert "豫G88361挂" in check.why
    assert "豫G88362挂" in check.why
    assert "豫G88361挂" in check.said


async def test_a_tie_in_doubt_survives_a_restart_while_the_truck_stands(tmp_path: Path) -> None:
    """The review's case: a stray car's read (豫AK1234) ties truck 1's weighing (36000 kg);
    the truck's own read (豫K88888) comes at once while it stands — and the daemon is killed
    (or restarts) while it still stands. Once the truck left, the weighing is held with both
    reads, as without the restart (it stayed 豫AK1234, open, and 豫K88888 tied the next
    truck)."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path) as (bridge, sim, seen):
            bridge.heard_pass(_pass("豫AK1234", "S-CAR"))
            sim.set_weight(Decimal(36000))
            await eventually(lambda: len(seen) == 1, timeout=5)
            bridge.heard_pass(_pass("豫K88888", "S-TRUCK"))  # the slow camera's own read
            await bridge.drain()  # the daemon stops here, the truck on the scale
    finally:
        await store.close()
    assert (seen[0].plate, seen[0].state) == ("豫AK1234", "open")
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path, kg=36000) as (bridge, sim, seen):  # still there
            await eventually(lambda: bridge.detector.weighed, timeout=5)
            sim.set_weight(Decimal(0))  # it leaves
            await eventually(lambda: bool(seen) and seen[-1].held, timeout=5)
        assert bridge.weighings == 0  # not weighed again
        row = await store.weighing(seen[-1].id)
        assert (row.plate, row.held) == (None, True)
        assert sorted(r.read.plate for r in row.candidate_reads) == ["豫AK1234", "豫K88888"]
    finally:
        await store.close()


def _goods(entries: Sequence[Any]) -> int:
    return [e.kind for e in entries].count("goods")


async def _goods_states(store: Store) -> tuple[int, int]:
    """(held, pending) goods records in the outbox."""
    return (
        _goods(await store.list_outbox("held", 50)),
        _goods(await store.list_outbox("pending", 50)),
    )


async def test_a_completed_pairs_goods_record_waits_until_the_truck_left(
    store: Store, tmp_path: Path
) -> None:
    """The pair a weighing completes makes its goods record at once, committed held: doubt
    arises while the truck stands (a plate read then, a second higher stop), so it goes out
    only once the platform emptied after the weighing — before, it was sent ~7 ms after the
    weight settled and a later doubt only marked it."""
    truck = await _weighed_in_empty(store)
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫A11111", truck.serial))
        await _settle(bridge, sim, 35000)
        await bridge.drain()
        assert (seen[-1].state, seen[-1].ysl) == ("complete", tonnes(21000))
        assert await _goods_states(store) == (1, 0)  # the truck still stands on the scale
        await _leave(bridge, sim)
        await bridge.drain()
        assert await _goods_states(store) == (0, 1)
        assert (await store.weighing(seen[-1].id)).checks == []


async def test_a_second_higher_stop_holds_the_goods_record_not_said_sent(
    store: Store, tmp_path: Path
) -> None:
    """A pair completed at a partial weight, then a higher stop: the goods record was never
    sent (held while the truck stood), so the check holds it and does not say it was sent —
    the page and the CLI say 暂缓上报 only (never 已上报 as well); it stays held after the truck
    left, until the clerk clears the check."""
    truck = await _weighed_in_empty(store)
    with capture_logs() as logs:
        async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
            bridge.heard_pass(_pass("豫A11111", truck.serial))
            await _stops_twice(bridge, sim, seen,
                               lambda: any(e["event"].startswith("truck stopped twice")
                                           for e in logs))  # fmt: skip
            await bridge.drain()
    [check] = (await store.weighing(seen[-1].id)).checks
    assert (check.kind, check.hold) == ("weight", True)
    assert "已上报" not in check.said
    assert await _goods_states(store) == (1, 0)


async def test_a_check_on_a_record_already_sent_says_so_and_holds_nothing(store: Store) -> None:
    """A check added once the goods record was sent (a clerk's weighing, sent at once): it
    says 货物台账已上报, and holds nothing — never 暂缓上报 beside it."""
    truck = await _weighed_in_empty(store)
    row = await store.weigh(
        NewWeighing("main", "豫A11111", "2", 21000, time.time(), truck.serial),
        max_between_seconds=DAY,
        goods="石灰石",
    )
    [entry] = [e for e in await store.list_outbox("pending", 50) if e.kind == "goods"]
    await store.mark_sent(entry.id)
    checked = await store.check_weight(row, 21000, 39000)
    assert checked is not None
    [check] = checked.checks
    assert check.hold is False
    assert check.said.endswith("（货物台账已上报）")
    assert check.why.endswith("(goods record already sent)")


async def _fleet_exit(store: Store, bridge: Weighbridge, sim: ScaleSim, serials: Sequence[str],
                      kg: int) -> None:  # fmt: skip
    """豫G88361挂 read 4 s ago, 豫G88362挂 now (the fleet's next truck, within the re-read
    window: it supersedes the first); a truck weighs ``kg`` and leaves."""
    await store.note_scale_read(
        NewScaleRead("main", "豫G88361挂", "2", serials[0], "in-1", bridge._clock() - 4),
        reread_seconds=bridge.reread,
    )
    bridge.heard_pass(_pass("豫G88362挂", serials[1]))
    await weigh_truck(bridge, sim, kg)
    await bridge.drain()


async def test_a_fleet_trucks_superseding_read_holds_the_pair_it_completes(
    store: Store, tmp_path: Path
) -> None:
    """The review's case: fleet trucks with near plates 4 s apart at the exit (豫G88361挂,
    then 豫G88362挂, which supersedes it). The truck weighed is tied to 豫G88362挂 and completes
    its pair — perhaps 豫G88361挂's load: the goods record is held for the clerk (请核对车牌),
    also after the truck left — never sent as 16 t on a plate in doubt."""
    first = await store.record_pass(new_pass("豫G88361挂", direction="out"), [])
    second = await store.record_pass(new_pass("豫G88362挂", direction="out"), [])
    await store.weigh(
        NewWeighing("main", "豫G88362挂", "2", 14000, time.time() - 900, None),
        max_between_seconds=DAY,
    )
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        await _fleet_exit(store, bridge, sim, (first.serial, second.serial), 30000)
    pair = await store.weighing(seen[-1].id)
    assert (pair.state, pair.plate, pair.net_kg) == ("complete", "豫G88362挂", 16000)
    [check] = pair.checks
    assert (check.kind, check.hold) == ("plate", True)
    assert await _goods_states(store) == (1, 0)
    _, released = await store.clear_checks(pair.id)
    assert released == 1


async def test_a_superseded_read_mark_on_the_first_weighing_holds_the_pair(
    store: Store, tmp_path: Path
) -> None:
    """The mark is on the first weighing (weighed in through the superseding read); the truck
    weighs out later on a clean read: the pair it completes keeps the mark, and its goods
    record is held after the truck left."""
    first = await store.record_pass(new_pass("豫G88361挂"), [])
    second = await store.record_pass(new_pass("豫G88362挂"), [])
    out = await store.record_pass(new_pass("豫G88362挂", direction="out"), [])
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        await _fleet_exit(store, bridge, sim, (first.serial, second.serial), 40000)
        assert (seen[-1].state, [c.hold for c in seen[-1].checks]) == ("open", [True])
        bridge.heard_pass(_pass("豫G88362挂", out.serial))
        await weigh_truck(bridge, sim, 14000)
        await bridge.drain()
    pair = await store.weighing(seen[-1].id)
    assert (pair.state, pair.net_kg, [c.hold for c in pair.checks]) == ("complete", 26000, [True])
    assert await _goods_states(store) == (1, 0)


async def test_after_a_restart_held_goods_records_of_trucks_gone_go_out(tmp_path: Path) -> None:
    """Goods records held while their truck stood, then the daemon stopped: started again,
    those of weighings whose truck cannot stand there any more go out at once — older than
    the resume window, or not the scale's last weighing; the last one's once the platform is
    seen empty. A record held by a check stays held for the clerk."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        now = time.time()
        for plate, at in (("豫A11111", now - 900), ("豫C33333", now - 300), ("豫B22222", now - 60)):
            done = await store.record_pass(new_pass(plate, direction="out"), [])
            await store.weigh(NewWeighing("main", plate, "2", 14000, at - 3600, None),
                              max_between_seconds=DAY)  # fmt: skip
            row = await store.weigh(NewWeighing("main", plate, "2", 30000, at, done.serial),
                                    max_between_seconds=DAY, goods="石灰石",
                                    standing=True)  # fmt: skip
            if plate == "豫C33333":
                assert await store.check_weight(row, 30000, 39000) is not None
        assert await _goods_states(store) == (3, 0)
    finally:
        await store.close()
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path, kg=30000) as (bridge, sim, _seen):
            # the last weighing's truck (豫B22222) may still stand there: held
            await eventually(lambda: bridge.detector.weighed, timeout=5)
            assert await _goods_states(store) == (2, 1)
            assert bridge.weighings == 0
            await _leave(bridge, sim)
            await bridge.drain()
            assert await _goods_states(store) == (1, 2)  # 豫C33333's: the clerk's
    finally:
        await store.close()


async def test_a_clerk_saying_a_held_weight_is_the_weighed_trucks_second_stop(
    store: Store, tmp_path: Path
) -> None:
    """The review's case: 豫Q11111 weighed at 21000 kg, 豫Q22222 read, 39000 kg before the
    platform emptied: held (either truck's). The clerk says it was 豫Q11111 after a second
    stop: its weighing takes 39000 kg and the held one is set aside as that stop — before,
    the two stops of one truck became a pair (net 18 t) and a goods record went out. A lower
    weight given the weighed truck's plate is refused; 豫Q22222's read stays pending."""
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫Q11111", "S-1"))
        sim.set_weight(Decimal(21000))
        await eventually(lambda: len(seen) == 1, timeout=5)
        bridge.heard_pass(_pass("豫Q22222", "S-2"))
        sim.set_weight(Decimal(39000))
        await eventually(lambda: len(seen) == 2 and seen[1].held, timeout=5)
        first, held = seen
        row = await bridge.assign(held.id, "豫Q11111", "2")
        assert (row.id, row.plate, row.state, row.first_kg) == (first.id, "豫Q11111", "open", 39000)
        assert (await store.weighing(held.id)).state == "discarded"
        sim.set_weight(Decimal(0))
        await eventually(lambda: not bridge.detector.weighed, timeout=5)
        await bridge.drain()
    assert [r.read.plate for r in await store.pending_reads("main", 0)] == ["豫Q22222"]
    assert (await store.weighing(held.id)).stop_of == first.id  # kept when it was weighed
    lower = await store.weigh(
        NewWeighing("main", None, "", 20000, first.first_at + 30, None),
        max_between_seconds=DAY,
        stop_of=first.id,  # taken before the platform emptied since the first
    )
    with pytest.raises(WeighingStateError, match="the same truck, not its second weighing"):
        await bridge.assign(lower.id, "豫Q11111", "2")
    assert (await store.weighing(first.id)).first_kg == 39000


async def test_a_sigkill_while_the_truck_stands_holds_its_goods_record_until_it_left(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    """The real daemon process: a preset-tare truck is weighed (its goods record made, held)
    and the daemon is SIGKILLed while it stands; started again, the record stays held while
    the truck is still there, and reaches the platform once it drove off."""
    port, scale_port = free_port(), tmp_path / "scale"
    config = write_config(
        tmp_path / "config.toml", platform_sim.base_url, port=port,
        extra=(
            f'[scales.main]\nport = "{scale_port}"\nprotocol = "toledo"\nframing = "8N1"\n'
            'stable_seconds = 0.3\nlanes = ["in-1"]\n[weighing]\ndefault_goods = "石灰石"\n'
            'preset_tare_kg = { "豫A12345" = 15000 }\n[logging]\nlevel = "warning"'
        ),
    )  # fmt: skip

    def goods() -> list[tuple[str, str | None]]:
        with closing(sqlite3.connect(tmp_path / "edge.db")) as db:
            return db.execute("SELECT state, (SELECT ysl FROM weighings w "
                              "WHERE w.id = o.weighing_id) FROM outbox o "
                              "WHERE kind = 'goods'").fetchall()  # fmt: skip

    async def weighed(http: httpx.AsyncClient) -> bool:
        return await _scale_weighed(http, port)

    async with ScaleSim(scale_port, "toledo", period=0.02) as sim, httpx.AsyncClient() as http:
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)
        reply = await http.post(f"http://127.0.0.1:{port}/push/in-1", json={"plate": "豫A12345"})
        serial = reply.json()["serial"]
        sim.set_weight(Decimal(30000))
        await eventually(lambda: goods() == [("held", tonnes(15000))], timeout=10)
        proc.send_signal(signal.SIGKILL)  # the weighed truck still stands on the scale
        assert await proc.wait() == -signal.SIGKILL
        sim.set_weight(Decimal(30020))  # the same truck, within the band
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)
        await eventually(lambda: weighed(http), timeout=10)
        assert goods() == [("held", tonnes(15000))]
        assert serial not in platform_sim.goods
        sim.set_weight(Decimal(0))  # it drives off
        await platform_sim.wait_for(lambda: serial in platform_sim.goods, 20)
        await procs.stop(proc)
    [record] = platform_sim.goods[serial]
    assert record["ysl"] == tonnes(15000)


@asynccontextmanager
async def _restarted(
    path: Path, tmp_path: Path, kg: int, *, goods: str | None = None
) -> AsyncIterator[tuple[Store, Weighbridge, ScaleSim, list[StoredWeighing]]]:
    """The daemon started again on the ledger ``path`` (after a kill -9: nothing in memory)
    while the truck weighed last still stands on the scale at ``kg``."""
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path, kg=kg, goods=goods) as (bridge, sim, seen):
            await eventually(lambda: bridge.detector.weighed, timeout=5)
            yield store, bridge, sim, seen
    finally:
        await store.close()


async def _higher_stop(bridge: Weighbridge, sim: ScaleSim, kg: int) -> None:
    """The truck standing on the scale drives fully on (moving) and stops at ``kg``."""
    sim.set_weight(Decimal(kg - 1000), moving=True)
    await eventually(lambda: bridge.indicator.latest is not None
                     and bridge.indicator.latest.kg == kg - 1000, timeout=5)  # fmt: skip
    sim.set_weight(Decimal(kg))
    await eventually(lambda: bridge.indicator.latest is not None
                     and bridge.indicator.latest.kg == kg, timeout=5)  # fmt: skip


async def test_after_a_restart_an_open_weighing_takes_the_trucks_higher_stop(
    tmp_path: Path,
) -> None:
    """The review's case (S3a): 豫E60008 weighed at 21000 kg (partly on), the daemon killed,
    started again; the truck drives fully on, 39000 kg steady: its weighing takes 39000 kg as
    without the restart (before: `not recorded`, and the weighing out sent 7 t for 25 t)."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path) as (bridge, sim, seen):
            bridge.heard_pass(_pass("豫E60008", "S-IN"))
            await _settle(bridge, sim, 21000)
            await bridge.drain()  # killed here, the truck partly on the scale
    finally:
        await store.close()
    first = seen[0]
    with capture_logs() as logs:
        async with _restarted(path, tmp_path, 21000) as (store, bridge, sim, seen):
            await _higher_stop(bridge, sim, 39000)
            await eventually(lambda: bool(seen) and seen[-1].first_kg == 39000, timeout=5)
            await _leave(bridge, sim)
            bridge.heard_pass(_pass("豫E60008", "S-OUT"))
            await weigh_truck(bridge, sim, 14000)
            pair = await store.weighing(first.id)
    assert (pair.state, pair.first_kg, pair.second_kg, pair.net_kg) == (
        "complete", 39000, 14000, 25000,
    )  # fmt: skip
    assert bridge.weighings == 1  # the higher stop replaced; the weighing out
    assert not [e for e in logs if e["log_level"] == "error"], logs


async def test_after_a_restart_a_completed_pair_is_checked_on_the_trucks_higher_stop(
    tmp_path: Path,
) -> None:
    """The review's case (S3b): the truck weighed in loaded; its weighing out (14000 kg)
    completes the pair, the daemon is killed, started again; 14600 kg steady before the
    platform empties: the pair keeps its weights and is marked 请核对重量, its goods record held
    after the truck left (before: `not recorded`, and 21 t went out unchecked)."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        truck = await _weighed_in(store, "豫H80001", 35000)
        async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
            bridge.heard_pass(_pass("豫H80001", truck.serial))
            await _settle(bridge, sim, 14000)
            await bridge.drain()  # killed here, the truck still on the scale
        assert (seen[-1].state, seen[-1].net_kg) == ("complete", 21000)
    finally:
        await store.close()
    async with _restarted(path, tmp_path, 14000, goods="石灰石") as (store, bridge, sim, seen):
        await _higher_stop(bridge, sim, 14600)
        await eventually(lambda: bool(seen) and bool(seen[-1].checks), timeout=5)
        await _leave(bridge, sim)
        await bridge.drain()
        pair = await store.weighing(seen[-1].id)
        assert (pair.state, pair.second_kg, pair.net_kg) == ("complete", 14000, 21000)
        [check] = pair.checks
        assert (check.kind, check.hold) == ("weight", True)
        assert "14600" in check.why
        assert await _goods_states(store) == (1, 0)  # held for the clerk, not sent


async def test_a_completed_pairs_higher_stop_given_its_plate_is_checked_not_a_new_weighing(
    store: Store, tmp_path: Path
) -> None:
    """The review's case (S5): 豫H80002 weighed in loaded; its weighing out (14000 kg) completes
    the pair; a stray read is heard while it stands and it stops again higher (14600 kg): held.
    The clerk gives the held weighing 豫H80002: the pair is marked 请核对重量 (its goods record
    held) and the held one set aside as its second stop — before, it became a new first
    weighing on the exit pass, which paired with the truck's next loaded entry."""
    truck = await _weighed_in(store, "豫H80002", 35000)
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫H80002", truck.serial))
        await _settle(bridge, sim, 14000)
        await bridge.drain()
        pair = seen[-1]
        assert (pair.state, pair.net_kg) == ("complete", 21000)
        bridge.heard_pass(_pass("豫C33333", "S-STRAY"))
        await bridge.drain()
        await _higher_stop(bridge, sim, 14600)
        await eventually(lambda: seen[-1].held, timeout=5)
        held = seen[-1]
        assert held.stop_of == pair.id
        await _leave(bridge, sim)
        await bridge.drain()
        row = await bridge.assign(held.id, "豫H80002", "2", serial=truck.serial)
    assert (row.id, row.state, row.second_kg, row.net_kg) == (pair.id, "complete", 14000, 21000)
    assert "weight" in [c.kind for c in row.checks]
    assert all(c.hold for c in row.checks)
    gone = await store.weighing(held.id)
    assert gone.state == "discarded"
    assert f"second stop of weighing {pair.id}" in (gone.discarded or "")
    assert [w for w in await store.open_weighings(0) if w.plate == "豫H80002"] == []
    assert await _goods_states(store) == (1, 0)
    assert [r.read.plate for r in await store.pending_reads("main", 0)] == ["豫C33333"]


@pytest.mark.parametrize(("entry_kg", "exit_kg"), [(35000, 14000), (14000, 35000)])
async def test_a_held_weighing_after_the_platform_emptied_pairs_with_its_trucks_first(
    store: Store, tmp_path: Path, entry_kg: int, exit_kg: int
) -> None:
    """The review's cases (S6): a truck weighs in and leaves, the platform empties; within
    two minutes it weighs again, held (a stray read pending too). The clerk picks its own
    read: the pair completes (net 21 t) — before, a lower weight was refused for good ("the
    same truck") and a higher one replaced the first weighing (the tare lost, no goods
    record): the second-stop rule applies only when the platform never emptied."""
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        bridge.heard_pass(_pass("豫E60012", "S-IN"))
        await weigh_truck(bridge, sim, entry_kg)
        first = seen[-1]
        bridge.heard_pass(_pass("豫C33333", "S-STRAY"))
        bridge.heard_pass(_pass("豫E60012", "S-OUT"))
        await weigh_truck(bridge, sim, exit_kg)
        held = seen[-1]
        assert (held.held, held.stop_of) == (True, None)
        own = next(r for r in held.candidate_reads if r.read.serial == "S-OUT")
        row = await bridge.assign(held.id, "豫E60012", "2", read=own)
    assert (row.id, row.state, row.gross_kg, row.tare_kg, row.net_kg) == (
        first.id, "complete", 35000, 14000, 21000,
    )  # fmt: skip
    assert row.goods == "石灰石"


async def test_a_held_weighings_second_stop_link_follows_its_weighing_into_the_pair(
    store: Store,
) -> None:
    """The weighing a held one followed (``stop_of``) is folded into its pair (given its plate
    later): the held one follows the pair's number, so the clerk's second-stop rule still
    finds that truck's weighing."""
    opened = await store.weigh(
        NewWeighing("main", "豫A12345", "2", 35000, 1000, None), max_between_seconds=DAY
    )
    nobody = await store.weigh(
        NewWeighing("main", None, "", 14000, 2000, None), max_between_seconds=DAY
    )
    held = await store.weigh(
        NewWeighing("main", None, "", 14600, 2010, None), max_between_seconds=DAY,
        stop_of=nobody.id,
    )  # fmt: skip
    pair = await store.assign_plate(nobody.id, "豫A12345", "2", serial=None,
                                    max_between_seconds=DAY)  # fmt: skip
    assert (pair.id, pair.state) == (opened.id, "complete")
    assert (await store.weighing(held.id)).stop_of == opened.id


async def test_a_sigkill_between_a_trucks_two_stops_keeps_the_higher_one(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    """The real daemon process (review S3a): 豫E60008 weighed at 21000 kg (partly on), the
    daemon SIGKILLed; started again, the truck drives fully on: 39000 kg steady is its weight
    (before: `not recorded`, the first weighing kept 21000 kg)."""
    port, scale_port, config = _scale_daemon_config(tmp_path, platform_sim)

    def weighed() -> list[tuple[Any, ...]]:
        return _weighings_in(tmp_path / "edge.db")

    async with ScaleSim(scale_port, "toledo", period=0.02) as sim, httpx.AsyncClient() as http:
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)
        await http.post(f"http://127.0.0.1:{port}/push/in-1", json={"plate": "豫E60008"})
        sim.set_weight(Decimal(21000))
        await eventually(lambda: weighed() == [("豫E60008", 21000, "open")], timeout=10)
        proc.send_signal(signal.SIGKILL)  # the truck partly on the scale
        assert await proc.wait() == -signal.SIGKILL
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)
        await eventually(lambda: _scale_weighed(http, port), timeout=10)  # found still there
        sim.set_weight(Decimal(30000), moving=True)  # it drives fully on
        await asyncio.sleep(0.5)
        sim.set_weight(Decimal(39000))
        await eventually(lambda: weighed() == [("豫E60008", 39000, "open")], timeout=10)
        await procs.stop(proc)
    assert weighed() == [("豫E60008", 39000, "open")]


# -- a read heard while an unread truck stands; the same plate read again while its truck stands
async def test_a_read_long_after_an_unread_trucks_weight_settled_is_in_doubt_not_its_plate(
    store: Store, tmp_path: Path
) -> None:
    """The review's case: 豫D50003 weighed in at 35000 kg three minutes ago (its open first
    weighing). An unread truck weighs 20000 kg; 8 s after its weight settled, while it still
    stands, 豫D50003 is read at the exit — the unread truck's late read, or the next truck's:
    no rule tells. Before, the unread truck took it (net 15 t sent, truth 21 t) and the real
    weighing out stayed 未识别车牌. Now the read is one more candidate of the unread truck's
    weighing once it left (held as 待确认车牌) and stays pending: 豫D50003's weighing out
    (14000 kg) takes it — the pair is 21 t, marked 请核对车牌, its goods record held for the
    clerk, never sent on a silent pair."""
    out = await store.record_pass(new_pass("豫D50003", direction="out", lane_id="out-1"), [])
    first = await store.weigh(
        NewWeighing("main", "豫D50003", "2", 35000, time.time() - 180, None),
        max_between_seconds=DAY,
    )
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        await _settle(bridge, sim, 20000)  # truck X: no read
        unread = seen[-1]
        assert (unread.plate, unread.state) == (None, "unmatched")
        bridge._clock = lambda: time.time() + 8  # 8 s after its weight settled
        bridge.heard_pass(_pass("豫D50003", out.serial, lane="out-1"))
        await bridge.drain()
        await _leave(bridge, sim)
        await eventually(lambda: seen[-1].id == unread.id and seen[-1].held, timeout=5)
        await _settle(bridge, sim, 14000)  # 豫D50003 weighs out, its read already heard
        await eventually(lambda: seen[-1].state == "complete", timeout=5)
        await _leave(bridge, sim)
        await bridge.drain()
    x = await store.weighing(unread.id)
    assert (x.plate, x.state, x.held) == (None, "unmatched", True)
    assert [r.read.plate for r in x.candidate_reads] == ["豫D50003"]
    pair = await store.weighing(first.id)
    assert (pair.plate, pair.state, pair.net_kg) == ("豫D50003", "complete", 21000)
    [check] = pair.checks
    assert (check.kind, check.hold) == ("plate", True)
    assert f"weighing {unread.id} (20000 kg)" in check.why
    assert f"过磅 {unread.id}" in check.said
    assert await _goods_states(store) == (1, 0)  # held for the clerk after the truck left
    assert await store.pending_reads("main", 0) == []


async def test_an_unread_trucks_own_late_read_is_taken_only_within_the_reread_window(
    store: Store, tmp_path: Path
) -> None:
    """The late-read rule's other side: a read within ``reread_seconds`` of the unread truck's
    weight settling is its own late read (the camera slower than the scale) — given at once,
    no check; the same plate read again later while it stands is that truck (dropped)."""
    async with weighbridge(store, tmp_path) as (bridge, sim, seen):
        await _settle(bridge, sim, 20000)
        bridge._clock = lambda: time.time() + 2
        bridge.heard_pass(_pass("豫E11111", "S-LATE"))
        await eventually(lambda: seen[-1].plate == "豫E11111", timeout=5)
        bridge._clock = lambda: time.time() + 40
        bridge.heard_pass(_pass("豫E11111", "S-AGAIN"))
        await bridge.drain()
        await _leave(bridge, sim)
        await _settle(bridge, sim, 14000)  # the next truck: not read
        await eventually(lambda: len({w.id for w in seen}) == 2, timeout=5)
    late = await store.weighing(seen[0].id)
    assert (late.plate, late.state, late.checks) == ("豫E11111", "open", [])
    assert (seen[-1].plate, seen[-1].held) == (None, False)
    assert await store.pending_reads("main", 0) == []


async def test_the_same_plate_read_again_while_its_truck_stands_ties_no_next_truck(
    store: Store, tmp_path: Path
) -> None:
    """The review's case: 豫T60003 weighed in at 35000 kg stands 65 s on the scale; the
    entry camera reads it again (a new pass after the 60 s duplicate window). Before, that
    read was kept as the next truck's: an unread truck weighing 14000 kg took it and
    completed 豫T60003's pair (21 t sent; it never unloaded). A read of exactly the plate the
    standing truck's weighing was tied to is that truck read again — dropped, said once in
    the log — however long it stands; the next truck is weighed unmatched."""
    with capture_logs() as logs:
        async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
            bridge.heard_pass(_pass("豫T60003", "S-IN"))
            await _settle(bridge, sim, 35000)
            await bridge.drain()
            bridge._clock = lambda: time.time() + 65
            bridge.heard_pass(_pass("豫T60003", "S-AGAIN"))
            await bridge.drain()
            await _leave(bridge, sim)
            await _settle(bridge, sim, 14000)
            await eventually(lambda: len({w.id for w in seen}) == 2, timeout=5)
            await _leave(bridge, sim)
            await bridge.drain()
    t60003 = await store.weighing(seen[0].id)
    assert (t60003.plate, t60003.state, t60003.checks) == ("豫T60003", "open", [])
    assert (seen[-1].plate, seen[-1].state, seen[-1].first_kg) == (None, "unmatched", 14000)
    assert await _goods_states(store) == (0, 0)
    assert await store.pending_reads("main", 0) == []
    reread = [e for e in logs if e["event"].startswith("plate read re-reads a truck")]
    assert [(e["plate"], e["weighing"]) for e in reread] == [("豫T60003", t60003.id)]


async def test_a_sigkill_while_an_unread_truck_stands_keeps_its_late_reads_in_doubt(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    """The real daemon process: an unread truck weighs 20000 kg; the next truck's read
    (豫B22222) is heard while it stands, past the re-read window, and the daemon is
    SIGKILLed. Started again with the truck still there, the read is one more candidate of
    its weighing once it left, and the next truck's weighing that takes it is marked for the
    clerk (请核对车牌) — as without the restart; before, the late-read wait was not resumed and
    the read tied the next truck silently."""
    port, scale_port, config = _scale_daemon_config(tmp_path, platform_sim)

    def weighed() -> list[tuple[Any, ...]]:
        return _weighings_in(
            tmp_path / "edge.db", "plate, first_kg, state, candidates, check_plate"
        )

    async with ScaleSim(scale_port, "toledo", period=0.02) as sim, httpx.AsyncClient() as http:
        push = f"http://127.0.0.1:{port}/push/in-1"
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)
        sim.set_weight(Decimal(20000))  # not read
        await eventually(lambda: [w[:3] for w in weighed()] == [(None, 20000, "unmatched")],
                         timeout=10)  # fmt: skip
        await asyncio.sleep(0.5)  # past the re-read window (0.2 s)
        await http.post(push, json={"plate": "豫B22222"})  # the next truck, queued behind

        def pending() -> int:
            with closing(sqlite3.connect(tmp_path / "edge.db")) as db:
                return int(db.execute("SELECT count(*) FROM scale_reads").fetchone()[0])

        await eventually(lambda: pending() == 1, timeout=10)
        proc.send_signal(signal.SIGKILL)  # the unread truck still stands on the scale
        assert await proc.wait() == -signal.SIGKILL
        sim.set_weight(Decimal(20010))  # the same truck, within the band
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
        await wait_healthy(http, port)
        await eventually(lambda: _scale_weighed(http, port), timeout=10)
        sim.set_weight(Decimal(0))  # it drives off
        await eventually(lambda: _scale_weighed(http, port, weighed=False), timeout=10)
        await eventually(lambda: weighed()[0][3] is not None, timeout=10)
        sim.set_weight(Decimal(18000))  # the next truck
        await eventually(lambda: len(weighed()) == 2, timeout=10)
        await procs.stop(proc)
    (x_plate, _, x_state, x_candidates, _), (plate, kg, state, _, check) = weighed()
    assert (x_plate, x_state) == (None, "unmatched")
    assert [c["plate"] for c in json.loads(x_candidates or "[]")] == ["豫B22222"]
    assert (plate, kg, state) == ("豫B22222", 18000, "open")
    assert check is not None
    assert json.loads(check)["hold"] is True


async def test_a_read_heard_before_a_restart_while_an_unread_truck_stood_stays_in_doubt(
    tmp_path: Path,
) -> None:
    """An unread truck weighs 20000 kg; 8 s later, while it stands, 豫B22222 is read; the
    daemon stops, and the truck drives off meanwhile (the platform is empty at the start).
    The read may have been heard while it stood: it is one more candidate of its weighing,
    and the next weighing that takes it is marked for the clerk — never a silent pair."""
    path = tmp_path / "edge.db"
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path) as (bridge, sim, seen):
            bridge._clock = lambda: time.time() - 20  # weighed 20 s before the restart
            await _settle(bridge, sim, 20000)
            bridge._clock = lambda: time.time() - 12  # 8 s after its weight settled
            bridge.heard_pass(_pass("豫B22222", "S-B"))
            await bridge.drain()  # the daemon stops here, the truck on the scale
        unread = seen[-1]
    finally:
        await store.close()
    store = await Store.open(path)
    try:
        async with weighbridge(store, tmp_path) as (bridge, sim, seen):  # the platform empty
            await eventually(lambda: bool(seen) and seen[-1].held, timeout=5)
            await _settle(bridge, sim, 18000)
            await eventually(lambda: seen[-1].plate == "豫B22222", timeout=5)
        x = await store.weighing(unread.id)
        assert (x.plate, x.held) == (None, True)
        assert [r.read.plate for r in x.candidate_reads] == ["豫B22222"]
        [check] = (await store.weighing(seen[-1].id)).checks
        assert (check.kind, check.hold) == ("plate", True)
        assert f"weighing {unread.id}" in check.why
    finally:
        await store.close()


def _clock_after(seconds: float) -> Callable[[], float]:
    """A clock ``seconds`` ahead of now."""
    return lambda: time.time() + seconds


async def _weighed_in_unread_out(
    store: Store, tmp_path: Path, reads: Sequence[tuple[str, float]], *, one_by_one: bool = True
) -> tuple[RecordedPass, list[StoredWeighing]]:
    """The review's case: 豫G75001 weighed in at 35000 kg (its open first weighing) comes back
    unread and weighs 14000 kg; ``reads`` (plate, seconds after its weight settled) are heard
    while it stands — 豫G75001's own at the exit, the car 豫AC1234 at the entry — each after
    the one before was taken (``one_by_one``) or all at once; it leaves, and an unread truck
    weighs 20000 kg. The weighings told of, and 豫G75001's exit pass."""
    out = await _weighed_in(store, "豫G75001", 35000)
    async with weighbridge(store, tmp_path, goods="石灰石") as (bridge, sim, seen):
        await _settle(bridge, sim, 14000)  # the truck back: not read
        unread = seen[-1]
        assert (unread.plate, unread.state) == (None, "unmatched")
        for plate, after in reads:
            bridge._clock = _clock_after(after)
            own = plate == "豫G75001"
            bridge.heard_pass(_pass(plate, out.serial if own else "S-CAR",
                                    lane="out-1" if own else "in-1"))  # fmt: skip
            if one_by_one:
                await eventually(lambda: seen[-1].plate is not None or seen[-1].held, timeout=5)
        await bridge.drain()
        await _leave(bridge, sim)
        await _settle(bridge, sim, 20000)  # an unread truck
        await eventually(lambda: seen[-1].first_kg == 20000, timeout=5)
        await _leave(bridge, sim)
        await bridge.drain()
    return out, seen


async def _kept(store: Store, seen: Sequence[StoredWeighing]) -> dict[int, StoredWeighing]:
    """The weighings told of as they are now (one folded into its pair: gone), by id."""
    kept: dict[int, StoredWeighing] = {}
    for wid in sorted({w.id for w in seen}):
        try:
            kept[wid] = await store.weighing(wid)
        except KeyError:
            continue
    return kept


async def test_a_late_read_tie_is_put_in_doubt_by_another_read_after_it(
    store: Store, tmp_path: Path
) -> None:
    """The review's case: the car's read comes 1 s after the unread truck's weight settled and
    is taken as its late read; 豫G75001's own read 2 s after. Before, the 14000 kg weighing
    became 豫AC1234's open first weighing, unmarked, and the next unread truck took
    豫G75001's read (15 t sent). The tie-in-doubt rule holds for a late read too: the weighing
    is held as 待确认车牌 with both reads, and no pair, no goods record, is made on a guess."""
    _, seen = await _weighed_in_unread_out(store, tmp_path, [("豫AC1234", 1), ("豫G75001", 2)])
    weighings = await _kept(store, seen)
    g75001 = await store.weighing(1)
    assert (g75001.plate, g75001.state, g75001.second_kg) == ("豫G75001", "open", None)
    unread = weighings[seen[0].id]
    assert (unread.plate, unread.state, unread.held) == (None, "unmatched", True)
    assert [r.read.plate for r in unread.candidate_reads] == ["豫AC1234", "豫G75001"]
    assert [c.kind for c in unread.checks] == ["plate"]
    assert "its late read" in unread.checks[0].why
    assert await _goods_states(store) == (0, 0)
    assert not [w for w in weighings.values() if w.state == "complete"]


async def test_a_late_read_completing_a_pair_is_checked_when_another_read_follows(
    store: Store, tmp_path: Path
) -> None:
    """The other order: 豫G75001's own read 1 s after the weight settled completes its pair
    (21 t); the car's read 2 s after, while the truck stands, marks the pair 请核对车牌 — its
    goods record held for the clerk — as it would a pair tied by a read heard before. The
    next unread truck that takes the car's read (the next truck's, or a stray one) is marked
    too (the fourth review: it took it unmarked)."""
    _, seen = await _weighed_in_unread_out(store, tmp_path, [("豫G75001", 1), ("豫AC1234", 2)])
    kept = await _kept(store, seen)
    pair = next(w for w in kept.values() if w.state == "complete")
    assert (pair.plate, pair.net_kg) == ("豫G75001", 21000)
    [check] = pair.checks
    assert (check.kind, check.hold) == ("plate", True)
    assert "豫AC1234" in check.why
    assert "its late read, 1 s after" in check.why
    next_truck = next(w for w in kept.values() if w.first_kg == 20000)
    assert (next_truck.plate, next_truck.state) == ("豫AC1234", "open")
    [mark] = next_truck.checks
    assert (mark.kind, mark.hold) == ("plate", True)
    assert f"heard while the truck of weighing {pair.id} (豫G75001) stood" in mark.why
    assert await _goods_states(store) == (1, 0)


async def test_two_reads_right_after_an_unread_trucks_weight_settled_hold_it(
    store: Store, tmp_path: Path
) -> None:
    """Both reads are heard before the late-read rule picks one: no guess — the unread truck's
    weighing is held with both as candidates once it left, and both stay pending."""
    _, seen = await _weighed_in_unread_out(
        store, tmp_path, [("豫AC1234", 1), ("豫G75001", 2)], one_by_one=False
    )
    unread = await store.weighing(seen[0].id)
    assert (unread.plate, unread.state, unread.held) == (None, "unmatched", True)
    assert sorted(r.read.plate for r in unread.candidate_reads) == ["豫AC1234", "豫G75001"]
    assert await _goods_states(store) == (0, 0)
    assert all(w.state != "complete" for w in (await _kept(store, seen)).values())
