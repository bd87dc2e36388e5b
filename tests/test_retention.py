from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from structlog.testing import capture_logs

from edge.domain.codes import GateSignal
from edge.ledger.photos import PhotoStore
from edge.ledger.retention import MB, Retention
from edge.ledger.store import NewPhoto, Store
from edge.sim.platform import CityPlatformSim
from tests.helpers import camera, eventually, make_config, running_daemon
from tests.test_store import new_pass

SH = ZoneInfo("Asia/Shanghai")
KB10 = b"\xff\xd8\xff" + b"\0" * (10 * 1024 - 3)
DAY = 86400.0


async def _ledger(tmp_path: Path, now: list[float]) -> tuple[Store, PhotoStore, list[str]]:
    """Six passes with a 10 KB photo each, one day apart: 0-3 forwarded, 4 a dead letter,
    5 still pending."""
    store = await Store.open(tmp_path / "edge.db", clock=lambda: now[0])
    photos = PhotoStore(tmp_path / "photos")
    paths = []
    for i in range(6):
        taken = now[0] - (6 - i) * DAY
        path = await photos.write(KB10, datetime.fromtimestamp(taken, SH), "in-1", 1)
        paths.append(path)
        recorded = await store.record_pass(
            new_pass(f"豫A{i:03d}{i:03d}"), [NewPhoto(1, 1, path, len(KB10), taken)]
        )
        await store.finalise(recorded.id, GateSignal.PASSED, taken, "barrier")
    for entry in await store.due_entries(100):  # the six records
        if entry.pass_id == 5:
            await store.mark_dead(entry.id, "952")
        elif entry.pass_id < 5:
            await store.mark_sent(entry.id)
    for entry in await store.due_entries(100):  # the photos of passes whose record went
        await store.mark_sent(entry.id)
    return store, photos, paths


async def test_tiny_budget_prunes_forwarded_oldest_first_and_never_unforwarded(
    tmp_path: Path,
) -> None:
    now = [1_800_000_000.0]
    store, photos, paths = await _ledger(tmp_path, now)
    free = [10_000 * MB]
    retention = Retention(
        store,
        photos.root,
        retention_days=365,
        budget_mb=31 / 1024,
        min_free_mb=0,
        clock=lambda: now[0],
        free_bytes=lambda _: free[0],
    )
    try:
        state = await retention.prune_once()
        assert state.accepting_photos
        assert state.photo_bytes == 3 * len(KB10)
        kept = [p for p in paths if (photos.root / p).exists()]
        assert kept == paths[3:]  # the three oldest forwarded ones went first
        assert await store.count_passes() == 6  # the ledger is never pruned

        retention.budget = 15 * 1024  # now only unforwarded photos could go: they never do
        with capture_logs() as logs:
            state = await retention.prune_once()
            await retention.prune_once()
        assert [p for p in paths if (photos.root / p).exists()] == paths[4:]
        assert not state.accepting_photos
        assert state.alarm is not None
        assert "only unforwarded" in state.alarm
        assert [e["event"] for e in logs] == ["photo storage full of unforwarded data"]

        retention.budget = None  # space is back (e.g. the platform took the backlog)
        with capture_logs() as logs:
            assert (await retention.prune_once()).accepting_photos
        assert logs[0]["event"] == "photo storage has room again; storing photos"
    finally:
        await store.close()


async def test_expiry_and_free_space_floor(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    store, photos, paths = await _ledger(tmp_path, now)
    free = [10_000 * MB]
    retention = Retention(
        store,
        photos.root,
        retention_days=3.5,
        budget_mb=0,
        min_free_mb=100,
        clock=lambda: now[0],
        free_bytes=lambda _: free[0],
    )
    try:
        await retention.prune_once()  # photos 0-2 are older than 3.5 days and forwarded
        assert [p for p in paths if (photos.root / p).exists()] == paths[3:]
        free[0] = 50 * MB  # below the floor: forwarded photo 3 goes, unforwarded stay
        state = await retention.prune_once()
        assert [p for p in paths if (photos.root / p).exists()] == paths[4:]
        assert not state.accepting_photos
        assert state.pruned == 4
    finally:
        await store.close()


async def test_pass_is_recorded_without_photo_while_storage_is_full(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = make_config(tmp_path, platform_sim.base_url, storage={"min_free_mb": 10**12})
    async with running_daemon(cfg) as daemon:
        await eventually(lambda: not daemon.disk.accepting_photos)  # the floor is unreachable
        cam = camera(daemon)
        result = await cam.push("豫A12345")
        await cam.aclose()
        row = await daemon.store.find_pass(result.body["serial"])
        assert row is not None
        assert row.flag == "photo-skipped"
        assert result.body["verdict"] == "open"
        assert await daemon.store.count_photos() == 0
        health = daemon.health()
        assert health.storage.accepting_photos is False
