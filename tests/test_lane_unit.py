"""The lane on its own, with in-memory fakes: a fake platform, the virtual barrier, LED and loop
detector, and a real SQLite ledger in ``tmp_path``. No daemon, no HTTP; the whole module runs
in a few seconds. Each kind of pass: a read, a duplicate, a stale read, an offline decision, a
guard's override, a gate crash, a camera's stored record; and the command channel of a camera
that takes its commands only in its replies.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from drivers.base import Actuation, CameraReply
from drivers.camera_reply import CameraMailbox, CameraRelayBarrier
from drivers.virtual import VirtualBarrier, VirtualDetector, VirtualDisplay
from edge.domain.codes import ControlFlag, Direction, GateSignal
from edge.domain.events import Image, PlateEvent
from edge.domain.plates import PlateColor
from edge.domain.reports import VerifyAnswer
from edge.gate.devices import LaneDevices
from edge.gate.lane import Lane, LaneBusyError, LaneOutcome, LaneParts, LaneSettings
from edge.gate.pass_photos import PassPhotos
from edge.gate.verifier import Verifier
from edge.ledger.photos import PhotoStore
from edge.ledger.store import Store
from edge.uplink.breaker import LinkMonitor
from edge.uplink.platform.base import Platform
from edge.uplink.platform.errors import PlatformUnavailableError
from tests.helpers import eventually, make_config

CLEAR = VerifyAnswer(ControlFlag.CLEAR, fuel="B", emission="6")
CONTROLLED = VerifyAnswer(ControlFlag.CONTROLLED, "国四柴油 重污染管控", "B", "4")


@dataclass
class FakePlatform:
    """Answers ``verify`` from a table (a plate not in it: clear); ``down`` raises a link
    failure, ``hang`` never answers."""

    answers: dict[str, VerifyAnswer] = field(default_factory=dict)
    down: bool = False
    hang: asyncio.Event | None = None
    uploads_photos: bool = False
    asked: list[str] = field(default_factory=list)

    async def verify(
        self,
        plate: str,
        color: PlateColor,  # noqa: ARG002
        *,
        gate_secret_code: str = "",  # noqa: ARG002 - Platform.verify
    ) -> VerifyAnswer:
        self.asked.append(plate)
        if self.hang is not None:
            await self.hang.wait()
        if self.down:
            raise PlatformUnavailableError("connection refused")
        return self.answers.get(plate, CLEAR)


class LedgerCheckingBarrier(VirtualBarrier):
    """A virtual barrier that notes, as it opens, whether the pass is already committed."""

    def __init__(self, database: Path) -> None:
        super().__init__()
        self.database = database
        self.committed_when_opened: list[bool] = []

    async def open(self, ctx: Actuation) -> None:
        with sqlite3.connect(self.database) as db:
            rows = db.execute("SELECT count(*) FROM passes WHERE plate IS ?", (ctx.plate,))
            self.committed_when_opened.append(rows.fetchone()[0] > 0)
        await super().open(ctx)


@dataclass
class Rig:
    lane: Lane
    platform: FakePlatform
    barrier: LedgerCheckingBarrier
    display: VirtualDisplay
    detector: VirtualDetector
    database: Path

    async def read(self, plate: str | None, *, age: float = 0.0, **kw: Any) -> LaneOutcome:
        return await self.lane.submit(self.event(plate, age=age, **kw))

    def event(self, plate: str | None, *, age: float = 0.0, **kw: Any) -> PlateEvent:
        now = datetime.now(self.lane.site.zone)
        return PlateEvent(
            lane_id=self.lane.id,
            plate=plate,
            color=kw.pop("color", PlateColor.YELLOW),
            camera_time=kw.pop("camera_time", now),
            received_at=now,
            received_mono=time.monotonic() - age,
            source="generic-push",
            **kw,
        )

    def passes(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.database) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM passes ORDER BY id")]


@pytest.fixture
async def rig_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[Rig, asyncio.Task[None], Store]] = []

    async def make(
        *,
        deadline: float = 5.0,
        commands: CameraMailbox | None = None,
        relay_barrier: bool = False,
        **sections: Any,
    ) -> Rig:
        cfg = make_config(tmp_path, "http://127.0.0.1:9", **sections)
        database = tmp_path / "edge.db"
        store = await Store.open(database)
        platform = FakePlatform()
        barrier = LedgerCheckingBarrier(database)
        # a vehicle the barrier opens for drives over the loop a moment later
        display, detector = VirtualDisplay(), VirtualDetector(barrier, pass_after=0.001)
        devices = LaneDevices(CameraRelayBarrier() if relay_barrier else barrier, display, detector)
        lane_cfg = cfg.lanes[0]
        parts = LaneParts(
            store=store,
            devices=devices,
            verifier=Verifier(cast(Platform, platform), LinkMonitor(), deadline=deadline),
            photos=PassPhotos(lane_cfg.id, Direction(lane_cfg.direction), PhotoStore(tmp_path)),
            commands=commands,
        )
        lane = Lane(
            lane_cfg,
            LaneSettings(cfg.site, cfg.decision, cfg.led_text),
            parts,
        )
        await lane.load()
        task = asyncio.create_task(lane.run())
        rig = Rig(lane, platform, barrier, display, detector, database)
        made.append((rig, task, store))
        return rig

    yield make
    for rig, task, store in made:
        task.cancel()
        await rig.lane.cancel_background()
        await store.close()


async def test_a_read_is_committed_before_the_barrier_opens(rig_factory: Any) -> None:
    rig = await rig_factory()
    outcome = await rig.read("豫A12345")
    assert not outcome.duplicate
    assert outcome.decision is not None
    assert outcome.decision.open
    assert outcome.barrier == "opened"
    assert rig.barrier.committed_when_opened == [True]
    assert rig.display.shown[-1][-1] == "请通行"
    await rig.lane.drain()
    [row] = rig.passes()
    assert (row["serial"], row["verdict"], row["decided_by"]) == (
        outcome.serial,
        "open",
        "platform",
    )
    assert (row["barrier"], row["state"], row["gate_signal"]) == ("opened", "final", 0)


async def test_a_controlled_vehicle_is_refused(rig_factory: Any) -> None:
    rig = await rig_factory()
    rig.platform.answers["豫A88888"] = CONTROLLED
    outcome = await rig.read("豫A88888")
    assert outcome.decision is not None
    assert not outcome.decision.open
    assert outcome.barrier == "not-commanded"
    assert rig.barrier.openings == []
    await rig.lane.drain()
    [row] = rig.passes()
    assert (row["verdict"], row["gate_signal"]) == ("refuse", int(GateSignal.NOT_LIFTED))


async def test_a_repeated_read_is_kept_with_the_first_pass(rig_factory: Any) -> None:
    rig = await rig_factory()
    first = await rig.read("豫A12345")
    again = await rig.read("豫A12345")
    assert again.duplicate
    assert again.merged == "same-plate"
    assert again.serial == first.serial
    assert len(rig.barrier.openings) == 1
    assert rig.platform.asked == ["豫A12345"]
    assert len(rig.passes()) == 1


async def test_a_stale_read_is_recorded_and_moves_nothing(rig_factory: Any) -> None:
    rig = await rig_factory()
    outcome = await rig.read("豫A12345", age=rig.lane.max_read_age + 1)
    assert outcome.decision is not None
    assert outcome.decision.code == "stale-read"
    assert outcome.barrier == "not-commanded"
    assert rig.barrier.openings == []
    assert rig.platform.asked == []
    assert "识别超时 请等候门卫" in rig.display.shown[-1]
    await rig.lane.drain()
    [row] = rig.passes()
    assert (row["barrier"], row["barrier_error"]) == ("not-commanded", "the read was too old")
    assert row["flag"] == "stale-read"
    # a stale read is not learnt: a fresh read of the same vehicle still opens
    fresh = await rig.read("豫A12345")
    assert not fresh.duplicate
    assert fresh.barrier == "opened"


async def test_offline_the_policy_decides(rig_factory: Any) -> None:
    rig = await rig_factory(decision={"offline_policy": "allow"})
    rig.platform.down = True
    outcome = await rig.read("豫A12345")
    assert outcome.decision is not None
    assert (outcome.decision.source, outcome.decision.reason) == ("offline", "平台离线 放行")
    assert outcome.barrier == "opened"


async def test_a_missed_deadline_decides_offline_at_once(rig_factory: Any) -> None:
    rig = await rig_factory(decision={"offline_policy": "deny"}, deadline=0.05)
    rig.platform.hang = asyncio.Event()
    outcome = await rig.read("豫A12345")
    assert outcome.decision is not None
    assert (outcome.decision.source, outcome.decision.open) == ("offline", False)
    assert rig.barrier.openings == []
    rig.platform.hang.set()  # the late answer is logged, never acted on
    await rig.lane.drain()
    assert rig.barrier.openings == []


async def test_a_guards_override_is_a_pass_of_its_own(rig_factory: Any) -> None:
    rig = await rig_factory()
    rig.platform.answers["豫A88888"] = CONTROLLED
    await rig.read("豫A88888")
    outcome = await rig.lane.override(
        "豫A88888", open_barrier=True, reason="急救车", operator="张三"
    )
    assert outcome.decision is not None
    assert outcome.decision.source == "guard"
    assert outcome.barrier == "opened"
    assert [o.plate for o in rig.barrier.openings] == [None]  # a command between vehicles
    with pytest.raises(ValueError, match="reason"):
        await rig.lane.override("豫A88888", open_barrier=True, reason=" ", operator="张三")
    await rig.lane.drain()
    rows = rig.passes()
    assert [(r["decided_by"], r["operator"], r["barrier"]) for r in rows] == [
        ("platform", None, "not-commanded"),
        ("guard", "张三", "opened"),
    ]


async def test_a_vehicle_on_the_loop_without_an_opening_is_a_gate_crash(rig_factory: Any) -> None:
    rig = await rig_factory()
    rig.platform.answers["豫A88888"] = CONTROLLED
    await rig.read("豫A88888")
    rig.detector.vehicle_passed()  # the refused vehicle drives through the closed barrier
    # through the lane's queue; recorded, then finalised (a second write)
    await eventually(lambda: len(rig.passes()) == 2 and rig.passes()[1]["confirmed_by"] is not None)
    crash = rig.passes()[1]
    assert (crash["plate"], crash["reason_code"], crash["flag"]) == (
        "豫A88888",
        "gate-crash",
        "gate-crash",
    )
    assert (crash["barrier"], crash["gate_signal"], crash["confirmed_by"]) == (
        "not-commanded",
        int(GateSignal.PASSED),
        "detector",
    )


async def test_an_opened_vehicle_on_the_loop_is_no_gate_crash(rig_factory: Any) -> None:
    rig = await rig_factory()
    await rig.read("豫A12345")
    await rig.lane.drain()  # confirmed by the vehicle on the loop
    [row] = rig.passes()
    assert row["confirmed_by"] == "detector"


async def test_a_stored_record_is_recorded_as_the_camera_decided(rig_factory: Any) -> None:
    rig = await rig_factory()
    then = datetime(2026, 11, 30, 8, 0, tzinfo=rig.lane.site.zone)
    outcome = await rig.read(
        "豫A12345", historical=True, camera_opened=True, camera_time=then, vendor_id="77"
    )
    assert outcome.barrier == "camera"
    assert outcome.decision is not None
    assert outcome.decision.source == "camera"
    assert rig.barrier.openings == []
    assert rig.platform.asked == []
    again = await rig.read(
        "豫A12345", historical=True, camera_opened=True, camera_time=then, vendor_id="77"
    )
    assert again.duplicate
    assert again.merged == "re-push"
    [row] = rig.passes()
    assert (row["barrier"], row["gate_signal"], row["flag"]) == ("camera", 0, "offline-repush")
    assert row["received_at"] == then.timestamp()


async def test_a_full_queue_refuses_reads_but_not_overrides(rig_factory: Any) -> None:
    rig = await rig_factory(decision={"lane_queue_size": 1})
    rig.platform.hang = asyncio.Event()
    first = rig.lane.submit(rig.event("豫A11111"))
    await asyncio.sleep(0)  # the lane takes it and waits for the platform
    second = rig.lane.submit(rig.event("豫A22222"))
    with pytest.raises(LaneBusyError):
        rig.lane.submit(rig.event("豫A33333"))
    override = asyncio.ensure_future(
        rig.lane.override("豫A44444", open_barrier=False, reason="检查", operator="李四")
    )
    rig.platform.hang.set()
    assert not (await first).duplicate
    assert not (await second).duplicate
    assert (await override).decision is not None
    assert rig.lane.busy_refusals == 1


async def test_a_steady_flood_logs_its_refusals_once_and_its_end_once(rig_factory: Any) -> None:
    """Distinct plates, five a (monotonic) second for 20 s, on a lane allowed 8 s of serial
    lead: one read a second gets in once the lead is full, and the lane says "refusing reads"
    once and "taking reads again" once — only when the lead has run off below a quarter of
    the limit, after the flood, with how many it refused. (Fails without: the pair was logged
    each second a read got in, 54 times a minute under a fresh verification's flood.)"""
    rig = await rig_factory(decision={"max_serial_lead_seconds": 8})
    start, refused, plates = time.monotonic(), 0, iter(range(10_000, 99_999, 37))

    async def read(at: float) -> None:
        nonlocal refused
        event = replace(rig.event(f"豫A{next(plates)}"), received_mono=start + at)
        try:
            await rig.lane.submit(event)
        except LaneBusyError:
            refused += 1

    with capture_logs() as logs:
        for second in range(20):
            for fifth in range(5):
                await read(second + fifth / 5)
        during = [e["event"] for e in logs if "reads" in e["event"]]
        await read(25.0)  # 5 s later: still about 4 s ahead (with this read's second)
        quiet = [e["event"] for e in logs if "reads" in e["event"]]
        await read(30.0)  # 10 s later: run off, 1 s (this read's), under a quarter of 8
        await read(31.0)
    said = [e for e in logs if "reads" in e["event"]]
    assert during == quiet == ["refusing reads: too many passes too fast"]
    assert [e["event"] for e in said] == [*during, "taking reads again"]
    assert said[-1]["refused"] == refused == rig.lane.busy_refusals
    assert 60 <= refused <= 85  # about 4 of every 5 once the lead is full


async def test_commands_through_a_camera_reply_wait_for_its_poll(rig_factory: Any) -> None:
    mailbox = CameraMailbox()
    rig = await rig_factory(commands=mailbox, relay_barrier=True)
    delivered = asyncio.create_task(rig.lane.command(open_barrier=True, lines=["欢迎"]))
    reply: CameraReply = await mailbox.collect(hold=5)
    assert await delivered
    assert reply.relay_channel == 0
    assert reply.sealed
    # nobody polls: the command is withdrawn, not carried out late
    assert not await rig.lane.command(open_barrier=True, timeout=0.01)


async def test_commands_go_direct_without_a_command_channel(rig_factory: Any) -> None:
    rig = await rig_factory()
    assert await rig.lane.command(open_barrier=True, lines=["欢迎"])
    assert len(rig.barrier.openings) == 1
    assert rig.display.shown[-1] == ["欢迎"]


async def test_a_gate_crash_gets_into_a_full_queue(rig_factory: Any) -> None:
    rig = await rig_factory(decision={"lane_queue_size": 1})
    rig.platform.hang = asyncio.Event()
    first = rig.lane.submit(rig.event("豫A11111"))
    await asyncio.sleep(0)  # the lane takes it and waits for the platform
    second = rig.lane.submit(rig.event("豫A22222"))
    rig.detector.vehicle_passed()  # no opening is expected: a gate crash, queued behind them
    rig.platform.hang.set()
    await first, await second
    await eventually(lambda: len(rig.passes()) == 3)
    assert [r["reason_code"] for r in rig.passes()][-1] == "gate-crash"
    assert rig.lane.busy_refusals == 0


def _jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, buffer = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    return bytes(buffer.tobytes())


def _held_photo_writes(rig: Rig) -> asyncio.Event:
    """Photo writes of ``rig``'s lane wait until the returned event is set."""
    store = rig.lane.photos.store
    write = store.write
    release = asyncio.Event()

    async def held(data: bytes, when: datetime, lane_id: str, number: int) -> str:
        await release.wait()
        return await write(data, when, lane_id, number)

    store.write = held  # type: ignore[method-assign]
    return release


def _ledger_now(database: Path) -> dict[str, Any]:
    """What a kill -9 now would leave: the committed passes, photos and outbox entries."""
    with sqlite3.connect(database) as db:
        return {
            "passes": db.execute("SELECT id, flag, state FROM passes").fetchall(),
            "photos": db.execute("SELECT pass_id, path FROM photos").fetchall(),
            "outbox": db.execute("SELECT kind, photo_id, state FROM outbox").fetchall(),
        }


async def test_the_barrier_does_not_wait_for_the_photo(rig_factory: Any) -> None:
    """The photo's write and fsync run while the barrier moves: the pass is committed and the
    barrier opened with the photo still being written; the photo is committed (with its
    outbox entry) before the camera gets its reply."""
    rig = await rig_factory()
    rig.platform.uploads_photos = True
    release = _held_photo_writes(rig)
    read = asyncio.create_task(rig.read("豫A12345", images=(Image(_jpeg()),)))
    async with asyncio.timeout(5):  # before: the pass waited for its photo, the barrier too
        await eventually(lambda: len(rig.barrier.openings) == 1)
    assert rig.barrier.committed_when_opened == [True]
    await asyncio.sleep(0.05)
    assert not read.done()  # the camera is not answered before the photo is committed
    release.set()
    outcome = await read
    assert (outcome.barrier, outcome.photos) == ("opened", 1)
    await rig.lane.drain()
    ledger = _ledger_now(rig.database)
    [(pass_id, flag, state)] = ledger["passes"]
    assert (flag, state) == (None, "final")
    [(photo_pass, path)] = ledger["photos"]
    assert photo_pass == pass_id
    assert (rig.lane.photos.store.root / path).is_file()
    assert sorted(ledger["outbox"], key=str) == [
        ("photo", 1, "pending"),
        ("record", None, "pending"),
    ]


async def test_a_kill_between_the_barrier_and_the_photo_leaves_the_pass_marked(
    rig_factory: Any, tmp_path: Path
) -> None:
    """A crash while the photo is written, after the barrier moved: the ledger holds the pass
    flagged ``photo-skipped`` with no photo row and no photo entry (never a row pointing at a
    file that may not be there), and a restart finalises it and sends it without a photo."""
    rig = await rig_factory()
    rig.platform.uploads_photos = True
    release = _held_photo_writes(rig)
    read = asyncio.create_task(rig.read("豫A12345", images=(Image(_jpeg()),)))
    await eventually(lambda: len(rig.barrier.openings) == 1)
    crashed = tmp_path / "crashed.db"  # the committed state, as a kill -9 now leaves it
    with sqlite3.connect(rig.database) as live, sqlite3.connect(crashed) as copy:
        live.backup(copy)
    left = _ledger_now(crashed)
    assert [(flag, state) for _, flag, state in left["passes"]] == [("photo-skipped", "open")]
    assert left["photos"] == []
    assert left["outbox"] == [("record", None, "held")]
    # the next start finalises it as Daemon._recover does; the record goes without a photo
    restarted = await Store.open(crashed)
    try:
        [row] = await restarted.open_passes()
        await restarted.finalise(row.id, GateSignal.PASSED, time.time(), "restart")
    finally:
        await restarted.close()
    after = _ledger_now(crashed)
    assert [(flag, state) for _, flag, state in after["passes"]] == [("photo-skipped", "final")]
    assert after["outbox"] == [("record", None, "pending")]
    release.set()
    assert (await read).photos == 1  # (the process that was not killed goes on)


async def test_a_re_push_brings_the_photo_of_a_pass_recorded_without_it(
    rig_factory: Any,
) -> None:
    """The camera was never answered (the daemon stopped between the pass's commit and its
    photo's — here: the photo's write failed) and pushes the same record again: its photo
    becomes the pass's, the flag goes, and the photo is forwarded (the pass was finalised
    meanwhile: its entry pending at once). A further re-push adds nothing."""
    rig = await rig_factory()
    rig.platform.uploads_photos = True
    store = rig.lane.photos.store
    write = store.write

    async def broken(*_args: Any) -> str:
        raise OSError("disk gone")

    store.write = broken
    first = await rig.read("豫A12345", images=(Image(_jpeg()),), vendor_id="CAM-7")
    await rig.lane.drain()
    assert first.photos == 0
    [(pass_id, flag, state)] = _ledger_now(rig.database)["passes"]
    assert (flag, state) == ("photo-skipped", "final")
    store.write = write
    again = await rig.read("豫A12345", images=(Image(_jpeg()),), vendor_id="CAM-7")
    assert (again.duplicate, again.serial) == (True, first.serial)
    ledger = _ledger_now(rig.database)
    assert [(flag, state) for _, flag, state in ledger["passes"]] == [(None, "final")]
    [(photo_pass, path)] = ledger["photos"]
    assert photo_pass == pass_id
    assert (store.root / path).is_file()
    assert ("photo", 1, "pending") in ledger["outbox"]
    await rig.read("豫A12345", images=(Image(_jpeg()),), vendor_id="CAM-7")
    assert len(_ledger_now(rig.database)["photos"]) == 1


async def test_the_platform_is_asked_while_the_ledger_is_searched_for_a_record_id(
    rig_factory: Any,
) -> None:
    """A read with the camera's record id: the ledger's search for that record (a re-push
    is never a second pass) and the platform's check run at once; the barrier waits for
    both. A repeat found there is merged, its early answer unused."""
    rig = await rig_factory(decision={"duplicate_window_seconds": 0})
    store = rig.lane.store
    find_read = store.find_read
    searched = asyncio.Event()

    async def slow_search(*args: Any) -> Any:
        await searched.wait()
        return await find_read(*args)

    store.find_read = slow_search
    read = asyncio.create_task(rig.read("豫A12345", vendor_id="cam-7"))
    await eventually(lambda: rig.platform.asked == ["豫A12345"])  # before: after the search
    assert rig.barrier.openings == []
    searched.set()
    first = await read
    assert (first.duplicate, first.barrier) == (False, "opened")
    searched.set()
    again = await rig.read("豫A12345", vendor_id="cam-7")  # beyond the window: in the ledger
    assert (again.duplicate, again.merged, again.serial) == (True, "re-push", first.serial)
    assert len(rig.barrier.openings) == 1
    assert len(rig.passes()) == 1


async def test_a_photo_that_came_with_the_read_is_written_once_the_pass_is_committed(
    rig_factory: Any,
) -> None:
    """Its write and fsync no longer run beside the platform's check and the pass's commit,
    which the barrier waits for (issue 19); it is still committed before the reply."""
    rig = await rig_factory()
    rig.platform.uploads_photos = True
    store = rig.lane.photos.store
    write = store.write
    committed_when_written: list[bool] = []

    async def noting(data: bytes, when: datetime, lane_id: str, number: int) -> str:
        with sqlite3.connect(rig.database) as db:
            [(passes,)] = db.execute("SELECT count(*) FROM passes").fetchall()
        committed_when_written.append(passes == 1)
        path: str = await write(data, when, lane_id, number)
        return path

    store.write = noting
    outcome = await rig.read("豫A12345", images=(Image(_jpeg()),))
    assert (outcome.barrier, outcome.photos) == ("opened", 1)
    assert committed_when_written == [True]
    assert len(_ledger_now(rig.database)["photos"]) == 1  # committed before the reply


async def test_after_a_restart_a_plateless_vehicle_is_merged_only_if_nothing_lifted_since(
    rig_factory: Any,
) -> None:
    """The duplicate filter is rebuilt from the ledger at start: a vehicle without a plate
    still standing refused is the same vehicle after a restart; once the barrier lifted for
    a later pass, the next such read is another vehicle. (Fails without replaying the lifts:
    the third read is merged into the first unplated vehicle's pass.)"""
    first = await (await rig_factory()).read(None)
    again = await (await rig_factory()).read(None)  # restarted: the vehicle is still there
    assert (again.duplicate, again.merged, again.serial) == (True, "plateless", first.serial)
    rig = await rig_factory()
    truck = await rig.read("豫A12345")
    assert truck.barrier == "opened"
    await rig.lane.drain()  # it drove over the loop
    later = await (await rig_factory()).read(None)  # restarted after the lift
    assert not later.duplicate
