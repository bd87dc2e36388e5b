from __future__ import annotations

from pathlib import Path

import pytest

from drivers.backoff import Backoff
from edge.daemon import Daemon
from edge.sim.platform import CityPlatformSim, Fault
from edge.sim.province import ProvincePlatformSim
from tests.helpers import (
    camera,
    config_for,
    eventually,
    make_config,
    running_daemon,
    wait_records,
)


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
