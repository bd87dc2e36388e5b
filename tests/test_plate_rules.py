"""The plate rules through the real HTTP server: a province that is also a colour word (field
case 01), near-duplicates that are other vehicles (field case 13), duplicates kept with the
pass they belong to, reads that are not plates, and CSV cells that are not formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from drivers.virtual import VirtualDisplay
from edge.actions.inspection import spreadsheet_cell
from edge.actions.operator import Actor, Face
from edge.daemon import Daemon
from edge.domain.plates import PlateColor
from edge.domain.serials import serial_time
from edge.gate.lane import UNUSUAL_SHAPES
from edge.sim.camera import CameraSim
from edge.sim.platform import PlatformSim, SimVehicle
from tests.helpers import (
    GENERIC_LANE,
    VZENITH_LANE,
    camera,
    config_for,
    eventually,
    plate_of,
    running_daemon,
    wait_records,
)

FIELD = Path(__file__).parent / "field_cases"
HIK_LANE = {**GENERIC_LANE, "id": "hik-1", "gate_code": "03", "camera": {"kind": "hikvision-push"}}


def _url(daemon: Daemon, path: str) -> str:
    return f"http://127.0.0.1:{daemon.web.port}{path}"


async def _post(daemon: Daemon, lane: str, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            _url(daemon, f"/push/{lane}"), content=body,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip


async def _get(daemon: Daemon, path: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(_url(daemon, path), params=params)


async def _final(daemon: Daemon, serial: str) -> bool:
    row = await daemon.store.find_pass(serial)
    return row is not None and row.state == "final"


async def _plates(daemon: Daemon) -> list[str | None]:
    return [row.plate for row in reversed(await daemon.store.search_passes(limit=100))]


# -- kind 1: 黑 is Heilongjiang ---------------------------------------------------------------


async def test_case_01_heilongjiang_keeps_its_province_everywhere(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """Field case 01: the platform is asked about 黑AF2793 (its table refuses that plate, and
    only that one), the ledger and the platform's record say 黑AF2793."""
    any_platform.vehicles["黑AF2793"] = SimVehicle(is_control="1", reason="国三柴油车")
    cfg = config_for(tmp_path, any_platform, lanes=[VZENITH_LANE])
    async with running_daemon(cfg) as daemon:
        response = await _post(
            daemon, "vz-1", (FIELD / "case-01-vz-heilongjiang.json").read_bytes()
        )
        assert response.status_code == 200
        reply = response.json()["Response_AlarmInfoPlate"]
        assert reply["info"] == "no"  # refused, as the platform says of 黑AF2793
        row = await daemon.store.latest_pass("vz-1")
        assert row is not None
        assert (row.plate, row.verdict, row.decided_by) == (
            "黑AF2793",
            "refuse",
            "platform",
        )
        await wait_records(any_platform, 1)
        (records,) = any_platform.records.values()
        assert plate_of(records[0]) == "黑AF2793"


@pytest.mark.parametrize(
    ("sent", "plate", "color"),
    [
        ("黑AF2793", "黑AF2793", PlateColor.YELLOW),  # Hikvision without a prefix
        ("黄黑AF2793", "黑AF2793", PlateColor.YELLOW),  # with one: only the colour goes
        ("绿黑AD12345", "黑AD12345", PlateColor.NEW_ENERGY),  # a Heilongjiang NEV
        ("黑AD12345", "黑AD12345", PlateColor.NEW_ENERGY),  # not black "AD12345"
    ],
)
async def test_heilongjiang_from_a_source_that_adds_colour_words(
    tmp_path: Path, any_platform: PlatformSim, sent: str, plate: str, color: PlateColor
) -> None:
    """The lists see the whole plate too: 黑AF2793 / 黑AD12345 are on the deny list."""
    cfg = config_for(
        tmp_path, any_platform, lanes=[HIK_LANE],
        lists={"deny": [{"plate": "黑AF2793", "reason": "名单禁止"},
                        {"plate": "黑AD12345", "reason": "名单禁止"}]},
    )  # fmt: skip
    async with running_daemon(cfg) as daemon:
        cam = CameraSim(_url(daemon, "/push/hik-1"), "hikvision")
        files = cam.hikvision_parts(None, color, image=False, plate_id=9)
        xml = files["anpr.xml"][1].decode().replace("noPlate", sent)
        async with httpx.AsyncClient() as client:
            response = await client.post(
                _url(daemon, "/push/hik-1"),
                files={"anpr.xml": ("anpr.xml", xml.encode(), "application/xml")},
            )
        assert response.status_code == 200, response.text
        row = await daemon.store.latest_pass("hik-1")
        assert row is not None
        assert (row.plate, row.plate_color) == (plate, color.value)
        assert (row.reason_code, row.reason) == ("deny-list", "名单禁止")


# -- kind 2: near plates of other vehicles ----------------------------------------------------


async def test_case_13_sequential_fleet_trailers_are_two_vehicles(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """Field case 13: 豫G88362挂 after 豫G88361挂 has passed gets its own verdict, barrier
    command and record."""
    cfg = config_for(tmp_path, any_platform, lanes=[VZENITH_LANE])
    lines = (FIELD / "case-13-vz-sequential-fleet-plates.jsonl").read_bytes().splitlines()
    async with running_daemon(cfg) as daemon:
        first = await _post(daemon, "vz-1", lines[0])
        assert first.json()["Response_AlarmInfoPlate"]["info"] == "ok"
        row = await daemon.store.latest_pass("vz-1")
        assert row is not None
        await eventually(lambda: _final(daemon, row.serial))  # the first has passed
        second = await _post(daemon, "vz-1", lines[1])
        assert second.json()["Response_AlarmInfoPlate"]["info"] == "ok"  # its own opening
        assert await _plates(daemon) == ["豫G88361挂", "豫G88362挂"]
        await wait_records(any_platform, 2)
        assert sorted(plate_of(r[0]) for r in any_platform.records.values()) == [
            "豫G88361挂", "豫G88362挂",
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("a", "b"),
    [("豫A12345", "豫A12346"), ("豫A3K7学", "豫A3K7警"), ("豫AD12345", "豫AD12346")],
)
async def test_near_plate_after_the_first_passed_is_another_vehicle(
    tmp_path: Path, any_platform: PlatformSim, a: str, b: str
) -> None:
    async with running_daemon(config_for(tmp_path, any_platform)) as daemon:
        cam = camera(daemon)
        first = await cam.push(a)
        await eventually(lambda: _final(daemon, first.body["serial"]))
        second = await cam.push(b)
        await cam.aclose()
        assert second.body["duplicate"] is False
        assert second.body["serial"] != first.body["serial"]
        assert await _plates(daemon) == [a, b]


async def test_near_plate_while_the_first_is_open_is_kept_with_it_and_shown(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """A refined read while the vehicle is still in the lane (the loop has not seen it pass)
    is merged into its pass: no second pass, no second opening, but kept and on the page."""
    lane = {**GENERIC_LANE, "detector": {"driver": "virtual", "pass_after_seconds": 60}}
    cfg = config_for(tmp_path, any_platform, lanes=[lane])
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        first = await cam.push("豫A12345")
        refined = await cam.push("豫A12346")
        other_colour = await cam.push("豫A12346", PlateColor.BLUE)  # colour counts
        await cam.aclose()
        assert refined.body["duplicate"] is True
        assert refined.body["merged"] == "near-plate"
        assert refined.body["serial"] == first.body["serial"]
        assert other_colour.body["duplicate"] is False
        history = (await _get(daemon, "/api/passes")).json()
        by_serial = {p["serial"]: p for p in history}
        assert by_serial[first.body["serial"]]["merged_reads"] == 1
        reads = (await _get(daemon, f"/api/passes/{first.body['serial']}/reads")).json()
        assert [(r["plate"], r["merged"]) for r in reads] == [
            ("豫A12345", None), ("豫A12346", "near-plate"),
        ]  # fmt: skip
        assert any(r.get("merged_into") == first.body["serial"] for r in daemon.status_page.recent)


async def test_same_record_id_is_always_the_same_read(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """A re-push of a read already recorded (same camera record id, plate, colour) returns
    that pass's outcome, also after the pass was confirmed and the window has passed."""
    cfg = config_for(tmp_path, any_platform, decision={"duplicate_window_seconds": 0})
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        first = await cam.push("豫A12345", plate_id=77)
        await eventually(lambda: _final(daemon, first.body["serial"]))
        again = await cam.push("豫A12345", plate_id=77)
        other_vehicle = await cam.push("豫B6789G", plate_id=77)  # a reused id, another plate
        await cam.aclose()
        assert again.body["duplicate"] is True
        assert again.body["merged"] == "re-push"
        assert (again.body["serial"], again.body["verdict"]) == (
            first.body["serial"], first.body["verdict"],
        )  # fmt: skip
        assert other_vehicle.body["duplicate"] is False
        assert await daemon.store.count_passes() == 2


# -- reads that are not plates ----------------------------------------------------------------


@pytest.mark.parametrize(
    "plate", ["X'); DROP TABLE passes;--", "豫A12345\x00", "豫\u202eA12345", "豫A1" * 10]
)
async def test_a_read_that_is_not_a_plate_is_kept_but_never_used_as_one(
    tmp_path: Path, any_platform: PlatformSim, plate: str
) -> None:
    async with running_daemon(config_for(tmp_path, any_platform)) as daemon:
        cam = camera(daemon)
        result = await cam.push(plate)
        await cam.aclose()
        assert result.status == 200
        assert (result.body["verdict"], result.body["reason"]) == (
            "refuse",
            "车牌无法识别 请联系门卫",
        )
        row = await daemon.store.find_pass(result.body["serial"])
        assert row is not None
        assert (row.plate, row.flag, row.reason_code) == (
            None, "plate-unreadable", "plate-unreadable",
        )  # fmt: skip
        (read,) = await daemon.store.reads_of(row.id)
        assert read.text is not None
        assert all(ch.isprintable() for ch in read.text)
        display = daemon.lanes["in-1"].devices.display
        assert isinstance(display, VirtualDisplay)
        assert display.shown[-1][0] == "车牌未识别"  # never the read itself
        (shown,) = (await _get(daemon, "/api/passes")).json()
        assert (shown["plate"], shown["read"]) == (None, read.text)
        await wait_records(any_platform, 1)
        (records,) = any_platform.records.values()
        assert plate_of(records[0]) == "无牌车"  # never the text as a plate


async def test_a_flood_of_unreadable_reads_is_one_vehicle_and_the_serials_keep_time(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """Reads without a plate while that vehicle stands refused at the barrier are that
    vehicle again (merged, ``plateless``): a camera or host sending unreadable reads faster
    than one a second no longer takes the lane's serial numbers ahead of the clock. Once
    the barrier lifts (here a guard's opening), the next such read is a new vehicle."""
    async with running_daemon(config_for(tmp_path, any_platform)) as daemon:
        cam = camera(daemon)
        first = await cam.push("豫A\x1b[2J")
        flood = [await cam.push(f"X'); DROP TABLE t{n};--") for n in range(12)]
        flood.append(await cam.push(None))  # a no-plate read of the same vehicle
        truck = await cam.push("豫A12345")
        assert first.body["duplicate"] is False
        assert {(r.body["duplicate"], r.body["merged"]) for r in flood} == {(True, "plateless")}
        assert {r.body["serial"] for r in flood} == {first.body["serial"]}
        assert (first.body["verdict"], flood[-1].body["verdict"]) == ("refuse", "refuse")
        # the truck's serial is at most a second on (the pass before it may have had this
        # second), not a second on for each of the 14 reads before it
        zone = daemon.lanes["in-1"].site.zone
        ahead = serial_time(truck.body["serial"], zone) - datetime.now(zone)
        assert ahead <= timedelta(seconds=1)
        row = await daemon.store.find_pass(first.body["serial"])
        assert row is not None
        assert len(await daemon.store.reads_of(row.id)) == 14  # every read kept
        assert await daemon.store.count_passes() == 2
        # the barrier lifted for the truck: the next such read is another vehicle ...
        await eventually(lambda: _final(daemon, truck.body["serial"]))
        second = await cam.push("豫A\x00")
        again = await cam.push("豫A\x00")
        assert second.body["duplicate"] is False
        assert (again.body["merged"], again.body["serial"]) == ("plateless", second.body["serial"])
        # ... as it is once a guard let that one through
        done = await daemon.operator.open_barrier(
            Actor("门卫张三", "127.0.0.1", Face.PAGE), "in-1", "无牌车 已登记"
        )
        assert done.ok
        await eventually(lambda: _final(daemon, done.serial or ""))
        after = await cam.push("豫A\x00")
        await cam.aclose()
        assert after.body["duplicate"] is False
        assert await daemon.store.count_passes() == 5


async def test_a_flood_of_plates_cannot_take_the_serial_numbers_far_ahead_of_the_clock(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """Distinct plates faster than one a second take a lane's serial numbers ahead of the
    clock, a second a pass; beyond ``max_serial_lead_seconds`` (here 3) a read is refused as
    when the lane is busy (503, not recorded: the camera sends it again), so no pass is
    numbered far in the future. (Fails without: all 12 recorded, the last 11 s ahead.)"""
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "max_pushes_per_second": 1000}}
    decision = {"max_serial_lead_seconds": 3}
    cfg = config_for(tmp_path, any_platform, [lane], decision=decision)
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        # two edits apart at least: a plate one edit from an open pass is that vehicle
        replies = [await cam.push(f"豫A{n:02d}{n:02d}{n % 10}") for n in range(12)]
        await cam.aclose()
        taken = [r for r in replies if r.status == 200]
        assert 4 <= len(taken) < 12
        assert {r.status for r in replies} == {200, 503}
        zone = daemon.lanes["in-1"].site.zone
        ahead = max(serial_time(r.body["serial"], zone) for r in taken) - datetime.now(zone)
        assert ahead <= timedelta(seconds=4)
        assert await daemon.store.count_passes() == len(taken)


async def test_a_100_kb_plate_is_refused_fast_and_the_lane_goes_on(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, any_platform)) as daemon:
        body = json.dumps({"plate": "豫A" * 50_000, "color": "1", "id": "big"}).encode()
        async with httpx.AsyncClient() as client:
            await client.get(_url(daemon, "/healthz"))  # connection warm
            response = await client.post(
                _url(daemon, "/push/in-1"), content=body,
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
        assert response.status_code == 200
        assert response.json()["verdict"] == "refuse"
        # under a generous bound for a shared CI machine; typically a few milliseconds
        assert response.elapsed.total_seconds() < 0.5
        cam = camera(daemon)
        normal = await cam.push("豫A12345")
        await cam.aclose()
        assert normal.body["verdict"] == "open"


async def test_plate_of_no_known_pattern_is_used_flagged_and_logged_once(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    UNUSUAL_SHAPES.clear()
    async with running_daemon(config_for(tmp_path, any_platform)) as daemon:
        cam = camera(daemon)
        with capture_logs() as logs:
            first = await cam.push("豫A123456")
            second = await cam.push("豫B654321")  # the same shape
        await cam.aclose()
        assert first.body["verdict"] == second.body["verdict"] == "open"
        row = await daemon.store.find_pass(first.body["serial"])
        assert row is not None
        assert (row.plate, row.flag) == ("豫A123456", "plate-unusual")
        warnings = [e for e in logs if e["event"].startswith("plate fits no known pattern")]
        assert [w["shape"] for w in warnings] == ["省A999999"]
        assert UNUSUAL_SHAPES == {"省A999999": 2}
        status = (await _get(daemon, "/api/status")).json()
        assert status["unusual_plates"] == {"省A999999": 2}
        metrics = (await _get(daemon, "/metrics")).text
        assert 'edge_plate_reads_total{kind="unusual",lane="in-1"} 2.0' in metrics


# -- exports ---------------------------------------------------------------------------------


async def test_csv_export_cells_are_never_formulas(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """Reasons come from the platform and the lists, plates from cameras: none may reach a
    spreadsheet as a formula."""
    reasons = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx"]
    plates = ["豫A12345", "豫B23456", "豫C34567", "豫D45678", "豫E56789", "豫F67890"]
    allow = [{"plate": p, "reason": r} for p, r in zip(plates, reasons, strict=True)]
    cfg = config_for(tmp_path, any_platform, lists={"allow": allow})
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        for plate in plates:
            assert (await cam.push(plate)).body["reason"] in reasons
        await cam.aclose()
        text = (await _get(daemon, "/api/passes.csv")).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(plates)
    reason_cells = sorted(row[6] for row in rows[1:])
    assert reason_cells == sorted("'" + r for r in reasons)
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for row in rows for cell in row)


def test_spreadsheet_cell() -> None:
    assert [spreadsheet_cell(v) for v in ("=1", "豫A12345", None, 3, "-", "a=b")] == [
        "'=1", "豫A12345", "", "3", "'-", "a=b",
    ]  # fmt: skip
