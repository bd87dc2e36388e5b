"""The real daemon (its HTTP server and SQLite file) against the platform and camera simulators."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from drivers import olm_led
from drivers.virtual import VirtualBarrier, VirtualDisplay
from edge.daemon import Daemon
from edge.domain.serials import is_valid_serial
from edge.sim.camera import PushResult
from edge.sim.jpeg import jpeg_label
from edge.sim.platform import CityPlatformSim, PlatformSim
from edge.sim.province import ProvincePlatformSim
from tests.helpers import (
    GENERIC_LANE,
    VZENITH_LANE,
    camera,
    config_for,
    eventually,
    lifted_and_passed,
    make_config,
    plate_of,
    running_daemon,
    wait_records,
)


async def _outbox_is(daemon: Daemon, counts: dict[str, int]) -> bool:
    return await daemon.store.outbox_counts() == counts


def barrier_of(daemon: Daemon, lane: str = "in-1") -> VirtualBarrier:
    barrier = daemon.lanes[lane].devices.barrier
    assert isinstance(barrier, VirtualBarrier)
    return barrier


async def test_allowed_opens_controlled_does_not_and_everything_arrives(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    sim = any_platform
    async with running_daemon(config_for(tmp_path, sim)) as daemon:
        cam = camera(daemon)
        allowed = await cam.push("豫A12345")
        controlled = await cam.push("豫B6789G")
        await cam.aclose()
        assert allowed.body["verdict"] == "open"
        assert allowed.body["barrier"] == "opened"
        assert controlled.body["verdict"] == "refuse"
        assert controlled.body["reason"] == "国四柴油 重污染管控"
        assert [o.plate for o in barrier_of(daemon).openings] == ["豫A12345"]
        display = daemon.lanes["in-1"].devices.display
        assert isinstance(display, VirtualDisplay)
        assert display.shown == [
            ["豫A12345", "国六 未管控", "请通行"],
            ["豫B6789G", "国四柴油 重污染管控", "禁止通行"],
        ]

        await wait_records(sim, 2, photos=2)
        serial = allowed.body["serial"]
        assert is_valid_serial(serial)
        assert serial.startswith("411002000101A")
        (record,) = sim.records[serial]
        assert plate_of(record) == "豫A12345"
        assert lifted_and_passed(record)
        assert not lifted_and_passed(sim.records[controlled.body["serial"]][0])
        (photo,) = sim.photos[serial]
        assert photo.info["lsh"] == serial
        row = await daemon.store.find_pass(serial)
        assert row is not None
        assert (row.gate_signal, row.confirmed_by, row.barrier) == (
            0,
            "detector",
            "opened",
        )
        assert sim.duplicates() == 0
        if isinstance(sim, ProvincePlatformSim):
            # the record carries the photo's URL; the daemon serves it
            # the record carries the photo's signed URL on the photo listener (issue 20)
            assert record["imgURL1"].endswith(f"/{serial}-1.jpg")
            assert len(record["imgURL1"]) <= 64
            assert record["licensePK"] == "PK-A12345"
            assert record["islicensePK"] == "1"
            assert daemon.photo_listener is not None
            photos = f"http://127.0.0.1:{daemon.photo_listener.port}"
            async with httpx.AsyncClient() as http:
                image = await http.get(photos + record["imgURL1"])
                missing = await http.get(f"{photos}/photos/x-1.jpg")
            assert image.headers["content-type"] == "image/jpeg"
            assert jpeg_label(image.content) == "豫A12345#1"
            assert missing.status_code == 404
        else:
            assert photo.multipart
            assert photo.info["zplx"] == "1"


async def test_duplicate_read_makes_no_second_pass(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, any_platform)) as daemon:
        cam = camera(daemon)
        first = await cam.push("豫A12345")
        again = await cam.push("豫A12345")

        async def first_passed() -> bool:
            row = await daemon.store.find_pass(str(first.body["serial"]))
            return row is not None and row.state == "final"

        await eventually(first_passed)
        # one character off after the first vehicle has passed: the next
        # vehicle of a fleet, not a refined read (edge.domain.dedup)
        other = await cam.push("豫A12346")
        await cam.aclose()
        assert first.body["duplicate"] is False
        assert again.body["duplicate"] is True
        assert again.body["merged"] == "same-plate"
        assert again.body["serial"] == first.body["serial"]
        assert again.body["verdict"] == first.body["verdict"]
        assert other.body["duplicate"] is False
        assert len(barrier_of(daemon).openings) == 2
        assert await daemon.store.count_passes() == 2


async def test_misread_of_a_refused_truck_is_that_truck_not_a_new_vehicle(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """A refused truck stays at the barrier: a read one character off (晋E55128 for the
    blacklisted 晋E55123, which the platform does not know) is merged into its refused pass
    and never decided afresh — also after a restart, from the ledger."""
    for restart in (False, True):
        cfg = config_for(tmp_path / str(restart), any_platform)
        async with running_daemon(cfg) as daemon:
            cam = camera(daemon)
            refused = await cam.push("晋E55123")
            serial = str(refused.body["serial"])
            await eventually(lambda: _final(daemon, serial))  # noqa: B023 - awaited here
            await cam.aclose()
            if not restart:
                misread = await _push_and_count(daemon, "晋E55128")
        if restart:
            async with running_daemon(cfg) as daemon:
                misread = await _push_and_count(daemon, "晋E55128")
        assert refused.body["verdict"] != "open"
        assert misread.body["duplicate"] is True, restart
        assert misread.body["merged"] == "near-plate"
        assert misread.body["serial"] == refused.body["serial"]
        assert misread.body["verdict"] == refused.body["verdict"]


async def _final(daemon: Daemon, serial: str) -> bool:
    row = await daemon.store.find_pass(serial)
    return row is not None and row.state == "final"


async def _push_and_count(daemon: Daemon, plate: str) -> PushResult:
    """Push ``plate`` on in-1 and check it made no pass and moved no barrier."""
    cam = camera(daemon)
    try:
        pushed = await cam.push(plate)
    finally:
        await cam.aclose()
    assert await daemon.store.count_passes() == 1
    assert barrier_of(daemon).openings == []
    return pushed


async def test_platform_killed_mid_stream_records_arrive_after_it_returns(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    sim = any_platform
    cfg = config_for(tmp_path, sim, decision={"offline_policy": "allow"})
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        plates = ["豫A12345", "豫A88888", "豫K23456", "冀D77777", "豫G90872", "鲁H1234S"]
        serials = [(await cam.push(plates[0])).body["serial"]]
        sent_per_pass = 2 if isinstance(sim, CityPlatformSim) else 1  # record (+ photo)
        await eventually(lambda: _outbox_is(daemon, {"sent": sent_per_pass}))
        await sim.stop()
        for plate in plates[1:4]:
            result = await cam.push(plate)
            assert result.body["verdict"] == "open"  # decided offline, within the deadline
            assert result.body["reason"] == "平台离线 放行"
            serials.append(result.body["serial"])
        assert daemon.link.state.value == "down"
        await sim.start()
        for plate in plates[4:]:
            serials.append((await cam.push(plate)).body["serial"])
        await cam.aclose()
        await wait_records(sim, len(plates), photos=len(plates))
        assert set(sim.records) == set(serials)
        assert sim.duplicates() == 0
        await asyncio.wait_for(daemon.link.up_again.wait(), 5)


async def test_token_expiry_in_the_middle_of_a_run(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    sim = any_platform
    async with running_daemon(config_for(tmp_path, sim)) as daemon:
        cam = camera(daemon)
        first = [(await cam.push(p)).body for p in ("豫A12345", "豫A88888")]
        await wait_records(sim, 2, photos=2)
        sim.expire_tokens()  # the platform forgets every token it issued
        later = [(await cam.push(p)).body for p in ("豫K23456", "冀D77777", "豫G90872")]
        await cam.aclose()
        await wait_records(sim, 5, photos=5)
        assert [b["verdict"] for b in first + later] == ["open"] * 5
        assert all(b["reason"] == "未管控" for b in later)  # answered by the platform
        auth = "getAccessToken" if isinstance(sim, CityPlatformSim) else "GetAuthorizationOrg"
        assert sim.calls[auth] == 2
        assert sim.rejected  # the refused calls were retried with the new token
        assert sim.duplicates() == 0


async def test_vzenith_camera_opens_through_its_own_reply(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[VZENITH_LANE])
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon, "vz-1", "vzenith")
        allowed = await cam.push("豫A12345")
        controlled = await cam.push("豫B6789G")
        duplicate = await cam.push("豫A12345")
        await cam.aclose()
        assert allowed.relay_opened
        assert not controlled.relay_opened
        assert not duplicate.relay_opened
        assert cam.relay_pulses == ["豫A12345"]
        reply = allowed.body["Response_AlarmInfoPlate"]
        assert reply["info"] == "ok"
        assert reply["content"] == "retransfer_stop"
        assert reply["plateid"] == 1
        shown = [d.text for d in olm_led.decode(allowed.serial_data[0])]
        assert shown == ["豫A12345", "国六 未管控", "请通行"]
        assert "禁止通行" in [d.text for d in olm_led.decode(controlled.serial_data[0])]
        await wait_records(platform_sim, 2, photos=2)
        rows = {r[0]["cphm"]: r[0] for r in platform_sim.records.values()}
        assert rows["豫A12345"]["bgzt"] == "1"
        assert rows["豫B6789G"]["bgzt"] == "0"
        assert all(s.startswith("411002000102A") for s in platform_sim.records)


async def test_unreadable_plate_still_leaves_a_flagged_row_with_photo(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(make_config(tmp_path, platform_sim.base_url)) as daemon:
        cam = camera(daemon)
        first = await cam.push(None)
        # read again while it stands refused at the barrier: the same vehicle, one row
        second = await cam.push(None)
        await cam.aclose()
        assert first.body["verdict"] == "refuse"
        assert first.body["reason"] == "无牌车 请联系门卫"
        assert (second.body["merged"], second.body["serial"]) == ("plateless", first.body["serial"])
        row = await daemon.store.find_pass(first.body["serial"])
        assert row is not None
        assert row.plate is None
        assert row.flag == "no-plate"
        await wait_records(platform_sim, 1, photos=1)
        record = platform_sim.records[first.body["serial"]][0]
        assert record["cphm"] == "无牌车"
        assert platform_sim.calls["getCheckVehicle"] == 0  # nothing to check
        photo = await daemon.photos.read((await daemon.store.get_photo(1)).path)
        assert jpeg_label(photo) == "无牌#1"


async def test_late_answer_is_logged_never_acted_on(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = make_config(
        tmp_path,
        platform_sim.base_url,
        platform={"verify_deadline_seconds": 0.2},
        decision={"offline_policy": "deny"},
    )
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        await cam.push("豫A12345")  # fetch the token while the platform is fast
        platform_sim.delay = 0.5
        with capture_logs() as logs:
            result = await cam.push("豫A88888")
            assert result.body["verdict"] == "refuse"
            assert result.body["reason"] == "平台离线 禁止"
            await eventually(
                lambda: any(e["event"] == "late platform answer ignored" for e in logs)
            )
        await cam.aclose()
        late = next(e for e in logs if e["event"] == "late platform answer ignored")
        assert late["late_plate"] == "豫A88888"
        assert late["control"] == 0
        assert [o.plate for o in barrier_of(daemon).openings] == ["豫A12345"]


async def test_vehicle_that_never_passes_is_lifted_not_passed(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lane = {
        **GENERIC_LANE,
        "confirm_timeout_seconds": 0.1,
        "detector": {"driver": "virtual", "pass_after_seconds": 30},
    }
    async with running_daemon(make_config(tmp_path, platform_sim.base_url, lanes=[lane])) as d:
        cam = camera(d)
        result = await cam.push("豫A12345")
        await cam.aclose()
        await d.lanes["in-1"].drain()
        row = await d.store.find_pass(result.body["serial"])
        assert row is not None
        assert (row.gate_signal, row.confirmed_by) == (2, "timeout")
        await wait_records(platform_sim, 1)
        assert platform_sim.records[result.body["serial"]][0]["bgzt"] == "0"


async def test_camera_reply_deadline_missed_means_not_lifted(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lane = {**VZENITH_LANE, "camera": {"kind": "vzenith-push", "reply_deadline_seconds": 0.1}}
    cfg = make_config(
        tmp_path,
        platform_sim.base_url,
        lanes=[lane],
        platform={"verify_deadline_seconds": 0.5},
        decision={"offline_policy": "allow"},
    )
    async with running_daemon(cfg) as daemon:
        platform_sim.delay = 0.3  # slower than the camera's deadline, faster than ours
        cam = camera(daemon, "vz-1", "vzenith")
        result = await cam.push("豫A12345")
        await cam.aclose()
        assert not result.relay_opened
        await asyncio.sleep(0)
        await wait_records(platform_sim, 1)
        row = next(iter(platform_sim.records.values()))[0]
        assert row["bgzt"] == "0"
        stored = await daemon.store.find_pass(row["lsh"])
        assert stored is not None
        # The camera was answered before the verdict: the read is recorded as stale and the
        # barrier is never moved for it (issue 20).
        assert stored.barrier == "not-commanded"
        assert stored.flag == "stale-read"
        assert stored.verdict == "refuse"


async def test_unconfirmed_passes_are_finalised_after_restart(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lane = {**GENERIC_LANE, "detector": {"driver": "virtual", "pass_after_seconds": 30}}
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane])
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        serial = (await cam.push("豫A12345")).body["serial"]
        await cam.aclose()
        # stopped while the detector is still waiting for the vehicle
    assert platform_sim.records == {}
    async with running_daemon(cfg) as daemon:
        row = await daemon.store.find_pass(serial)
        assert row is not None
        assert (row.state, row.gate_signal, row.confirmed_by) == ("final", 0, "restart")
        await wait_records(platform_sim, 1, photos=1)
        assert serial in platform_sim.records
        cam = camera(daemon)
        after_restart = (await cam.push("豫A88888")).body["serial"]
        await cam.aclose()
        assert after_restart > serial  # numbering continues; nothing is reused


async def test_bad_requests_get_clear_4xx_and_the_daemon_carries_on(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "token": "s3cret"}}
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane], web={"max_body_bytes": 4096})
    async with running_daemon(cfg) as daemon:
        url = f"http://127.0.0.1:{daemon.web.port}/push/in-1?token=s3cret"
        async with httpx.AsyncClient() as http:
            malformed = await http.post(url, content=b"{not json")
            wrong = await http.post(url, json={"plate": 12})
            big = await http.post(url, content=b"x" * 10_000)
            unknown = await http.post(f"http://127.0.0.1:{daemon.web.port}/push/nope", json={})
            no_token = await http.post(url.replace("s3cret", "guess"), json={"plate": "豫A12345"})
            header = await http.post(
                url.split("?", maxsplit=1)[0],
                json={"plate": "豫A12345"},
                headers={"X-Edge-Token": "s3cret"},
            )
            health = await http.get(f"http://127.0.0.1:{daemon.web.port}/healthz")
        assert malformed.status_code == 400
        assert "not valid JSON" in malformed.json()["error"]
        assert wrong.status_code == 400
        assert "'plate' must be a string" in wrong.json()["error"]
        assert big.status_code == 413
        assert unknown.status_code == 404
        assert no_token.status_code == 401
        assert header.status_code == 200
        assert header.json()["verdict"] == "open"
        assert health.status_code == 200
        assert health.json()["ok"] is True
        assert set(health.json()["outbox"]) >= {"pending", "dead", "oldest_unsent_age_seconds"}
        assert await daemon.store.count_passes() == 1


async def test_every_line_about_a_pass_carries_serial_and_lane(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = make_config(tmp_path, platform_sim.base_url, platform={"verify_deadline_seconds": 0.1})
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            fast = (await cam.push("豫A12345")).body["serial"]
            platform_sim.delay = 0.3
            slow = (await cam.push("豫A88888")).body["serial"]
            await eventually(
                lambda: (
                    sum(e["event"] == "forwarded to platform" for e in logs) == 4
                    and any(e["event"] == "late platform answer ignored" for e in logs)
                )
            )
        await cam.aclose()
    about_a_pass = [e for e in logs if "plate" in e or "outbox_id" in e]
    events = {e["event"] for e in about_a_pass}
    assert {"pass decided", "pass confirmed", "forwarded to platform"} <= events
    assert "platform answer missed the deadline" in events
    for entry in about_a_pass:
        assert entry.get("lane") == "in-1", entry
        assert entry.get("serial") in {fast, slow}, entry


async def test_photo_write_failure_still_records_the_pass(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(make_config(tmp_path, platform_sim.base_url)) as daemon:
        # a file where the photo folder should be: every photo write fails
        (tmp_path / "photos").write_text("not a folder")
        cam = camera(daemon)
        result = await cam.push("豫A12345")
        await cam.aclose()
        assert result.body["verdict"] == "open"
        await wait_records(platform_sim, 1)
        assert platform_sim.photos == {}


async def test_unexpected_client_error_decides_offline(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = make_config(tmp_path, platform_sim.base_url, decision={"offline_policy": "allow"})
    async with running_daemon(cfg) as daemon:

        async def broken(*_args: object, **_kwargs: object) -> object:
            raise ZeroDivisionError

        daemon.lanes["in-1"].verifier.platform.verify = broken  # type: ignore[assignment,method-assign]
        cam = camera(daemon)
        result = await cam.push("豫A12345")
        await cam.aclose()
        assert result.body["reason"] == "平台离线 放行"


async def test_background_failure_is_logged(tmp_path: Path, platform_sim: CityPlatformSim) -> None:
    async with running_daemon(make_config(tmp_path, platform_sim.base_url)) as daemon:
        lane = daemon.lanes["in-1"]

        async def broken(*args: object) -> None:
            raise OSError("disk went away")

        lane.store.finalise = broken  # type: ignore[assignment,method-assign]
        cam = camera(daemon)
        with capture_logs() as logs:
            await cam.push("豫A12345")
            await lane.drain()
        await cam.aclose()
        failed = next(e for e in logs if e["event"] == "background step failed")
        assert "disk went away" in failed["error"]


async def test_outage_refused_then_hanging_then_back(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """Connection refused for a stretch, then a platform that accepts and never answers:
    every pass is still decided within the offline bound, and everything arrives once the
    platform is back, each pass record before its photo."""
    deadline = 0.2
    cfg = make_config(
        tmp_path,
        platform_sim.base_url,
        platform={"verify_deadline_seconds": deadline, "request_timeout_seconds": 0.5},
        decision={"offline_policy": "allow"},
    )
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        serials, slowest = [], 0.0

        async def truck(plate: str) -> dict[str, object]:
            nonlocal slowest
            started = asyncio.get_running_loop().time()
            body = (await cam.push(plate)).body
            slowest = max(slowest, asyncio.get_running_loop().time() - started)
            serials.append(body["serial"])
            return body

        await truck("豫A12345")
        await platform_sim.stop()  # refused
        for i in range(5):
            assert (await truck(f"豫A{i:03d}{i:03d}"))["reason"] == "平台离线 放行"
        assert daemon.link.down
        platform_sim.hang = True
        hang_from = time.monotonic()
        await platform_sim.start()  # accepts, never answers
        calls_before = sum(platform_sim.calls.values())
        for i in range(5, 10):
            assert (await truck(f"豫A{i:03d}{i:03d}"))["reason"] == "平台离线 放行"
        assert slowest < deadline + 0.5  # the breaker spares trucks the deadline wait
        platform_sim.hang = False  # recovery: the next probe succeeds (held calls answered)
        hang_to = time.monotonic()
        await daemon.link.up_again.wait()
        await truck("豫A999999")
        await cam.aclose()
        await wait_records(platform_sim, len(serials), photos=len(serials), timeout=20)
        assert set(platform_sim.records) == set(serials)
        for serial in serials:  # each record, then its photo
            order = [kind for kind, s, _ in platform_sim.arrivals if s == serial]
            assert list(dict.fromkeys(order)) == ["record", "photo"], (serial, order)
            # twice only when the first send was held by the hang and given up on by the
            # daemon's request timeout (processed once the platform recovered: a lost reply)
            records = [
                at for kind, s, at in platform_sim.arrivals if (kind, s) == ("record", serial)
            ]
            assert len(records) == 1 or hang_from <= records[0] <= hang_to, (serial, records)
            photos = [at for kind, s, at in platform_sim.arrivals if (kind, s) == ("photo", serial)]
            assert len(photos) == 1 or hang_from <= photos[0] <= hang_to, (serial, photos)
        assert sum(platform_sim.calls.values()) > calls_before  # probes went out


async def test_vzenith_offline_records_are_recorded_without_moving_the_barrier(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[VZENITH_LANE])
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon, "vz-1", "vzenith")
        an_hour_ago = time.time() - 3600
        first = await cam.push("豫A12345", plate_id=77, offline_at=an_hour_ago, camera_opened=True)
        again = await cam.push("豫A12345", plate_id=77, offline_at=an_hour_ago, camera_opened=True)
        refused = await cam.push("晋E55123", plate_id=78, offline_at=an_hour_ago + 60)
        live = await cam.push("豫A12345", plate_id=79)  # the same truck, now, at the gate
        async with httpx.AsyncClient() as http:
            beat = await http.post(
                f"http://127.0.0.1:{daemon.web.port}/push/vz-1/heartbeat",
                data={"device_name": "IVS", "serialno": "sim-00000001"},
            )
        await cam.aclose()
        for reply, plate_id in ((first, 77), (again, 77), (refused, 78)):
            body = reply.body["Response_AlarmInfoPlate"]
            assert body["ContinuePushOffline"] == {"plateid": plate_id, "continue": 1}
            assert body["info"] == "no"  # the barrier is never moved for the past
        assert "ContinuePushOffline" not in live.body["Response_AlarmInfoPlate"]
        assert cam.relay_pulses == ["豫A12345"]  # only the live read opened it
        assert beat.json()["Response_AlarmInfoPlate"]["info"] == "no"
        await wait_records(platform_sim, 3, photos=3)
        by_plate: dict[str, list[dict[str, str]]] = {}
        for records in platform_sim.records.values():
            by_plate.setdefault(records[0]["cphm"], []).append(records[0])
        assert len(by_plate["豫A12345"]) == 2  # the offline pass and the live one
        past = min(by_plate["豫A12345"], key=lambda r: r["tgsjq"])
        assert past["bgzt"] == "1"  # the camera had let it in
        assert by_plate["晋E55123"][0]["bgzt"] == "0"
        row = await daemon.store.find_pass(past["lsh"])
        assert row is not None
        assert (row.flag, row.decided_by) == ("offline-repush", "camera")
        assert row.received_at == pytest.approx(an_hour_ago, abs=1)
        assert platform_sim.calls["getCheckVehicle"] == 1  # only the live read was checked
