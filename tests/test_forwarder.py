from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bench.drain import SH, _fill
from drivers.backoff import Backoff
from edge.daemon import Daemon
from edge.domain.codes import GateSignal
from edge.domain.reports import PassReport, PhotoReport
from edge.ledger.photos import PhotoStore, read_cached
from edge.ledger.rows import NewWeighing
from edge.ledger.store import LatePhotos, NewPhoto, Store
from edge.sim.platform import CityPlatformSim, Fault
from edge.sim.province import ProvincePlatformSim
from edge.uplink.breaker import LinkMonitor
from edge.uplink.forwarder import Forwarder
from edge.uplink.platform.errors import PlatformUnavailableError
from tests.helpers import (
    camera,
    config_for,
    eventually,
    make_config,
    running_daemon,
    wait_records,
)
from tests.test_store import new_pass


@pytest.mark.parametrize(
    ("attempts", "rand", "expected"),
    [
        (0, 0.0, 1.0),
        (0, 1.0, 2.0),
        (3, 0.5, 12.0),
        (10, 1.0, 300.0),
        (10, 0.0, 150.0),
        (99, 1, 300),
    ],
)
def test_backoff_is_capped_exponential_with_jitter(
    attempts: int, rand: float, expected: float
) -> None:
    assert Backoff(2.0, 300.0, jitter=0.5, rand=lambda: rand).delay(attempts) == expected


async def test_rejected_record_becomes_dead_letter_and_the_rest_go_on(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    platform_sim.faults.append(Fault("code", "952", "shareDrivingRecord"))
    async with running_daemon(make_config(tmp_path, platform_sim.base_url)) as daemon:
        cam = camera(daemon)
        rejected = (await cam.push("豫A12345")).body["serial"]
        accepted = (await cam.push("豫A88888")).body["serial"]
        await cam.aclose()
        await eventually(lambda: _counts_are(daemon, {"dead": 1, "pending": 1, "sent": 2}))
        assert set(platform_sim.records) == {accepted}
        assert rejected not in platform_sim.photos  # photos never go before their record
        dead = await daemon.store.get_pass(1)
        assert dead.serial == rejected


async def _counts_are(daemon: Daemon, expected: dict[str, int]) -> bool:
    return await daemon.store.outbox_counts() == expected


async def _dead(daemon: Daemon) -> bool:
    return bool((await daemon.store.outbox_counts()).get("dead"))


async def test_retryable_failures_are_retried_until_sent(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    platform_sim.faults += [
        Fault("http", 502, "shareDrivingRecord"),
        Fault("garbage", 0, "sharePhotoInfo"),
    ]
    async with running_daemon(make_config(tmp_path, platform_sim.base_url)) as daemon:
        cam = camera(daemon)
        serial = (await cam.push("豫A12345")).body["serial"]
        await cam.aclose()
        await wait_records(platform_sim, 1, photos=1)
        assert platform_sim.calls["shareDrivingRecord"] == 2
        assert platform_sim.calls["sharePhotoInfo"] == 2
        assert list(platform_sim.photos) == [serial]


async def test_missing_photo_file_is_a_dead_letter(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lane_detector_slow = {
        "id": "in-1",
        "gate_code": "01",
        "direction": "in",
        "confirm_timeout_seconds": 0.2,
        "camera": {"kind": "generic-push"},
        "barrier": {"driver": "virtual"},
        "detector": {"driver": "virtual", "pass_after_seconds": 30},
    }
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane_detector_slow])
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        await cam.push("豫A12345")
        await cam.aclose()
        for photo in (tmp_path / "photos").rglob("*.jpg"):
            photo.unlink()  # someone deleted the photo folder before the pass was confirmed
        await wait_records(platform_sim, 1)
        await eventually(lambda: _dead(daemon))


async def test_province_backlog_goes_in_batches_and_a_rejected_batch_is_split(
    tmp_path: Path,
) -> None:
    sim = ProvincePlatformSim()
    await sim.start()
    cfg = config_for(
        tmp_path, sim, decision={"offline_policy": "allow"}, forwarder={"batch_size": 5}
    )
    async with running_daemon(cfg) as daemon:
        await sim.stop()  # a backlog builds up while the platform is away
        cam = camera(daemon)
        serials = [(await cam.push(f"豫A{i:03d}{i:03d}")).body["serial"] for i in range(12)]
        await cam.aclose()
        sim.faults.append(Fault("code", "记录格式校验失败", "SendEnterExitDataEx"))
        await sim.start()
        await wait_records(sim, 12)
        await eventually(lambda: _counts_are(daemon, {"sent": 12}))
    await sim.stop()
    assert set(sim.records) == set(serials)
    assert sim.duplicates() == 0
    # One rejected batch of 5 re-sent one by one; the other 7 in batches of at most 5, formed
    # as their retries fall due (each entry's backoff has its own jitter, so how they group
    # varies): fewer calls than sending each alone.
    assert sim.calls["SendEnterExitDataEx"] < 1 + 5 + 7


class RecordingPlatform:
    """A city-like platform (one record a call, photos uploaded) that keeps what it got and
    can be made unreachable."""

    uploads_photos = True
    max_batch = 1
    reports_corrections = False
    sends_license_pk = False

    def __init__(self) -> None:
        self.records: list[str] = []
        self.photos: list[tuple[str, int]] = []
        self.calls = 0
        self.calls_while_down = 0
        self.down_after: int | None = None  # unreachable from this many calls on
        self.down = False

    async def _call(self) -> None:
        self.calls += 1
        await asyncio.sleep(0)
        if self.down_after is not None and self.calls > self.down_after:
            self.down, self.down_after = True, None
        if self.down:
            self.calls_while_down += 1
            raise PlatformUnavailableError("connection refused")

    async def send_pass(self, report: PassReport) -> None:
        await self._call()
        self.records.append(report.serial)

    async def send_photo(self, report: PassReport, photo: PhotoReport) -> None:
        await self._call()
        self.photos.append((report.serial, photo.number))


async def _drain(
    tmp_path: Path, platform: RecordingPlatform, passes: int, link: LinkMonitor, until: Any
) -> tuple[Store, list[int]]:
    """``passes`` passes with two photos each forwarded until ``until(store)``; the sizes of
    the ledger's answers to the forwarder's query of due entries."""
    (tmp_path / "photos").mkdir()
    store = await Store.open(tmp_path / "edge.db")
    await _fill(store, tmp_path / "photos", passes)
    asked: list[int] = []
    due_and_next = store.due_and_next

    async def counted(limit: int, exclude: Sequence[int] = ()) -> Any:
        found = await due_and_next(limit, exclude)
        asked.append(len(found[0]))
        return found

    store.due_and_next = counted  # type: ignore[method-assign]
    forwarder = Forwarder(
        store, platform, PhotoStore(tmp_path / "photos"), link, passes=store,  # type: ignore[arg-type]
        enterprise_name="测试企业", zone=SH, concurrency=4, backoff_initial=0.05,
        backoff_max=0.1,
    )  # fmt: skip
    task = asyncio.create_task(forwarder.run())
    try:
        await eventually(lambda: until(store), timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return store, asked


async def _all_sent(store: Store, total: int) -> bool:
    return await store.outbox_counts() == {"sent": total}


async def test_a_backlog_sent_one_by_one_is_read_from_the_ledger_in_a_few_queries(
    tmp_path: Path,
) -> None:
    """Each round's query of due entries serves every entry it finds: a city platform takes
    records and photos one by one, and a round that queued only what the workers had room
    for (4) read the ledger again for each few sends — most of a drain's time (issue 19)."""
    platform = RecordingPlatform()
    store, asked = await _drain(tmp_path, platform, 60, LinkMonitor(), lambda s: _all_sent(s, 180))
    await store.close()
    assert len(platform.records) == len(set(platform.records)) == 60
    assert len(platform.photos) == len(set(platform.photos)) == 120
    found = [n for n in asked if n]
    assert sum(found) == 180  # each entry found once: none claimed twice, none sent twice
    assert len(found) <= 30  # queued 4 at a time it took at least 45


async def test_entries_claimed_ahead_go_back_when_the_link_goes_down(tmp_path: Path) -> None:
    """The link goes down with entries found and claimed but not queued: only a probe goes
    while it is down, and once it is back every entry is sent, each once."""
    platform = RecordingPlatform()
    platform.down_after = 10
    link = LinkMonitor(probe_interval=0.2)

    async def back_up_then_all_sent(store: Store) -> bool:
        if platform.down and platform.calls_while_down >= 6:
            platform.down = False  # the platform is reachable again: the next probe succeeds
        return await _all_sent(store, 90)

    store, _ = await _drain(tmp_path, platform, 30, link, back_up_then_all_sent)
    await store.close()
    assert len(platform.records) == len(set(platform.records)) == 30
    assert len(platform.photos) == len(set(platform.photos)) == 60
    # failures until the breaker opened (3, with the 4 workers' sends under way), then one
    # probe at a time: the entries claimed ahead did not go out while the link was down
    assert platform.calls_while_down <= 6 + 4


async def test_a_photo_in_the_page_cache_is_read_without_a_thread_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forwarder reads each photo it sends: a worker thread and back for each cost the
    event loop more than the read (issue 19). A photo the page cache holds is read at once;
    one it does not hold, in a worker thread; a missing one still raises."""
    data = bytes(range(256)) * 400
    (tmp_path / "a.jpg").write_bytes(data)
    if read_cached(tmp_path / "a.jpg") is None:
        pytest.skip("this file system does not read without waiting (RWF_NOWAIT)")
    hops: list[object] = []
    to_thread = asyncio.to_thread

    async def counted(function: Any, *args: Any) -> Any:
        hops.append(function)
        return await to_thread(function, *args)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    store = PhotoStore(tmp_path)
    assert await store.read("a.jpg") == data
    assert hops == []

    def not_cached(*_args: Any) -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "preadv", not_cached)
    assert await store.read("a.jpg") == data
    assert len(hops) == 1
    with pytest.raises(FileNotFoundError):
        await store.read("gone.jpg")


async def test_a_photo_healed_after_its_record_was_sent_goes_out(tmp_path: Path) -> None:
    """A pass committed without its photo (the daemon stopped in between) is sent; the
    camera's re-push brings the photo later: it goes out too, although the pass's report —
    photos and all — was kept from when its record went (it was retried for ever: the photo
    was looked for in the kept report's rows only)."""
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "late.jpg").write_bytes(b"\xff\xd8late\xff\xd9")
    store = await Store.open(tmp_path / "edge.db")
    platform = RecordingPlatform()
    forwarder = Forwarder(
        store, platform, PhotoStore(tmp_path / "photos"), LinkMonitor(), passes=store,  # type: ignore[arg-type]
        enterprise_name="测试企业", zone=SH, concurrency=2, backoff_initial=0.05,
        backoff_max=0.1,
    )  # fmt: skip
    forwarder.poll_seconds = 0.05
    task = asyncio.create_task(forwarder.run())
    try:
        recorded = await store.record_pass(new_pass(flag="photo-skipped"), [])
        await store.finalise(recorded.id, GateSignal.PASSED, 1.0, "barrier")
        store.outbox_changed.set()
        await eventually(lambda: _all_sent(store, 1))
        photo = NewPhoto(1, 1, "late.jpg", 8, 1.0)
        assert await store.heal_photos(recorded.id, LatePhotos([photo], True, None))
        await eventually(lambda: _all_sent(store, 2))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()
    assert platform.photos == [(platform.records[0], 1)]


class GatedPlatform(RecordingPlatform):
    """A RecordingPlatform whose every call waits for ``gate`` (a slow link), and that keeps
    the goods records it got."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.goods: list[str] = []

    async def _call(self) -> None:
        await self.gate.wait()
        await super()._call()

    async def send_goods_records(self, items: Sequence[tuple[PassReport, Any]]) -> None:
        for report, _goods in items:
            await self._call()
            self.goods.append(report.serial)


async def test_a_goods_record_is_never_claimed_ahead_so_a_clerks_hold_still_holds_it(
    tmp_path: Path,
) -> None:
    """A drain claims records and photos ahead of the queue, never goods records: a clerk may
    still hold one (请核对) or a split withdraw it until it goes. 20 goods records due behind
    a backlog on a slow link, all held by the clerk meanwhile: only those already on their way
    (at most the 4 workers' and the queue's) reach the platform — before, every goods record
    the round had claimed ahead went out, held or not."""
    (tmp_path / "photos").mkdir()
    store = await Store.open(tmp_path / "edge.db")
    await _fill(store, tmp_path / "photos", 40)
    pairs = []
    for pass_id in range(1, 21):
        seen = await store.get_pass(pass_id)
        for kg, at in ((35000, seen.received_at - 600), (15000, seen.received_at)):
            pair = await store.weigh(
                NewWeighing("main", seen.plate, "1", kg, at, seen.serial),
                max_between_seconds=86400.0, goods="煤",
            )  # fmt: skip
        pairs.append(pair)
    records = [e.id for e in await store.list_outbox("pending", 1000) if e.kind == "record"]
    await store.mark_sent_many(records)  # the pass records went: their goods records are due
    platform = GatedPlatform()
    forwarder = Forwarder(
        store, platform, PhotoStore(tmp_path / "photos"), LinkMonitor(), passes=store,  # type: ignore[arg-type]
        enterprise_name="测试企业", zone=SH, concurrency=4, backoff_initial=0.05,
        backoff_max=0.1, weighings=store,
    )  # fmt: skip
    task = asyncio.create_task(forwarder.run())
    try:
        await eventually(lambda: len(getattr(forwarder, "_ahead", ())) > 0, timeout=10)
        for pair in pairs:  # the clerk holds every goods record not yet on its way
            await store.check_weight(pair, 15000, 15600)
        platform.gate.set()
        await eventually(lambda: not forwarder._claimed and not forwarder._ahead, timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    counts = await store.outbox_counts()
    await store.close()
    # the 4 workers' (waiting at the gate) and the queue's (4) only: not the 20
    assert len(platform.goods) <= 4 + 4
    assert counts.get("held", 0) == 20 - len(platform.goods)
