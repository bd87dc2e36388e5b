"""The field cases (../shared/field-cases, copied to tests/field_cases) sent to the daemon as a
site would — through its real HTTP server or the real Dahua pull stream — each asserting the
right result of the field-cases README; and more inputs of the same kinds, written from the
vendor documentation (research/anpr_formats.md)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from structlog.testing import capture_logs

from drivers.virtual import VirtualDisplay
from edge.daemon import Daemon
from edge.domain.events import PlateRead
from edge.ingest.hikvision import parse_hikvision
from edge.ingest.milesight import parse_milesight
from edge.ingest.payload import RawPush
from edge.sim.dahua_camera import DahuaCameraSim
from edge.sim.jpeg import jpeg_label, sample_jpeg
from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, eventually, make_config, running_daemon, wait_records

CASES = Path(__file__).parent / "field_cases"
SH = ZoneInfo("Asia/Shanghai")
TINY = (CASES / "tiny.jpg").read_bytes()
#: The cases are dated; the daemon's clock is today's. Trust any camera clock in these tests
#: (the skew rule has its own tests below).
TRUST_CLOCKS = {"camera_clock_max_skew_seconds": 20 * 365 * 86400}


@pytest.fixture
def host_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host's own zone is neither UTC nor the site's: times must not depend on it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def lane(kind: str, **camera: Any) -> dict[str, Any]:
    return {**GENERIC_LANE, "camera": {"kind": kind, **camera}}


@asynccontextmanager
async def site_daemon(
    tmp_path: Path, sim: CityPlatformSim, *lanes: dict[str, Any]
) -> AsyncIterator[Daemon]:
    cfg = make_config(tmp_path, sim.base_url, lanes=list(lanes), site=TRUST_CLOCKS)
    async with running_daemon(cfg) as daemon:
        yield daemon


@pytest.fixture
async def hik(tmp_path: Path, platform_sim: CityPlatformSim) -> AsyncIterator[Daemon]:
    async with site_daemon(tmp_path, platform_sim, lane("hikvision-push")) as daemon:
        yield daemon


def url(daemon: Daemon, path: str = "/push/in-1") -> str:
    return f"http://127.0.0.1:{daemon.web.port}{path}"


async def post(
    daemon: Daemon, body: bytes, content_type: str, path: str = "/push/in-1"
) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            url(daemon, path), content=body, headers={"Content-Type": content_type}
        )


MULTIPART = "multipart/form-data; boundary=boundary"


def multipart(*parts: tuple[str, str, bytes]) -> bytes:
    """A multipart body as Hikvision firmware writes it: (name, content type, data)."""
    out = b""
    for name, kind, data in parts:
        out += (
            (
                f'--boundary\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{name}"\r\nContent-Type: {kind}\r\n'
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + b"--boundary--\r\n"


async def only_pass(daemon: Daemon) -> Any:
    assert await daemon.store.count_passes() == 1
    row = await daemon.store.latest_pass("in-1")
    assert row is not None
    return row


async def photo(daemon: Daemon, row: Any, number: int = 1) -> bytes:
    photos = {p.number: p.path for p in await daemon.store.photos_of(row.id)}
    return await daemon.photos.read(photos[number])


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# -- case 02b: a resent Hikvision record whose dateTime has no zone --------------------------


@pytest.mark.usefixtures("host_in_new_york")
async def test_case_02b_naive_hikvision_time_is_site_wall_clock(
    hik: Daemon, platform_sim: CityPlatformSim
) -> None:
    body = (CASES / "case-02b-hik-naive-datetime-historical.xml").read_bytes()
    response = await post(hik, body, "application/xml")
    assert response.status_code == 200
    row = await only_pass(hik)
    assert row.camera_time == at("2026-11-30T08:10:00+08:00")
    assert row.received_at == at("2026-11-30T08:10:00+08:00")  # the pass time
    assert row.plate == "豫A7K2Q8"
    # no barrierGateCtrlType: nothing known about the camera's own barrier action
    assert row.barrier is None
    assert row.reason_code == "camera-offline-unknown"
    await wait_records(platform_sim, 1)


# -- case 03: a videoloss/inactive alert as a keep-alive ---------------------------------------


async def test_case_03_hikvision_keepalive_is_heard_not_a_pass(hik: Daemon) -> None:
    body = (CASES / "case-03-hik-videoloss-heartbeat.multipart").read_bytes()
    health = hik.lanes["in-1"].camera
    with capture_logs() as logs:
        response = await post(hik, body, MULTIPART)
    assert response.status_code == 200
    assert health.last_event_at is not None  # heard
    assert (health.rejected, health.events, health.ignored) == (0, 0, 1)
    assert not [e for e in logs if e["log_level"] in ("warning", "error")]
    assert await hik.store.count_passes() == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        # motion detection and a heartbeat event posted to the same listener (bare XML)
        (
            b'<EventNotificationAlert xmlns="http://www.isapi.org/ver20/XMLSchema">'
            b"<channelID>1</channelID><dateTime>2026-11-30T17:06:00+08:00</dateTime>"
            b"<eventType>VMD</eventType><eventState>active</eventState></EventNotificationAlert>",
            "application/xml",
        ),
        (
            b"<EventNotificationAlert><eventType>heartBeat</eventType>"
            b"<eventState>active</eventState></EventNotificationAlert>",
            "text/xml",
        ),
        # JSON firmware: a videoloss keep-alive as a bare JSON body
        (
            json.dumps(
                {"ipAddress": "192.0.2.21", "eventType": "videoloss", "eventState": "inactive"}
            ).encode(),
            "application/json",
        ),
        # an ANPR alert that says its event is over, without a read
        (
            b"<EventNotificationAlert><eventType>ANPR</eventType>"
            b"<eventState>inactive</eventState></EventNotificationAlert>",
            "application/xml",
        ),
    ],
)
async def test_other_hikvision_events_are_heard_not_passes(
    hik: Daemon, body: bytes, content_type: str
) -> None:
    health = hik.lanes["in-1"].camera
    response = await post(hik, body, content_type)
    assert response.status_code == 200
    assert health.last_event_at is not None
    assert (health.rejected, health.ignored) == (0, 1)
    assert await hik.store.count_passes() == 0


async def test_keepalives_and_alerts_do_not_use_up_the_lanes_push_rate(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """Hikvision posts motion alerts and keep-alives to the plate path: more of them than the
    lane's push rate lets through, and the next plate read is still taken (not 429)."""
    motion = (
        b"<EventNotificationAlert><eventType>VMD</eventType>"
        b"<eventState>active</eventState></EventNotificationAlert>"
    )
    rate = 5  # the product's default
    camera = lane("hikvision-push", max_pushes_per_second=rate)
    async with site_daemon(tmp_path, platform_sim, camera) as hik:
        started, sent = time.monotonic(), 0
        while sent <= 2 * rate + rate * (time.monotonic() - started) + 2:  # beyond what refills
            assert (await post(hik, motion, "application/xml")).status_code == 200
            sent += 1
            assert sent < 1000, "alerts slower than the push rate: nothing shown"
        body = (CASES / "case-04-hik-json-anpr.multipart").read_bytes()
        assert (await post(hik, body, MULTIPART)).status_code == 200
        assert await hik.store.count_passes() == 1


# -- case 04: Hikvision's JSON event format -----------------------------------------------------


async def test_case_04_with_a_picture_that_is_no_jpeg_says_the_photo_was_refused(
    hik: Daemon,
) -> None:
    """HTML as the picture part: it was dropped before the photo check — the camera was told
    "none", the pass not flagged, nothing logged (a fresh verification, session 19)."""
    body = (CASES / "case-04-hik-json-anpr.multipart").read_bytes()
    assert TINY in body
    response = await post(hik, body.replace(TINY, b"<html>router login</html>"), MULTIPART)
    assert (response.status_code, response.json()["photo"]) == (200, "refused")
    row = await only_pass(hik)
    assert row.flag == "photo-skipped"


async def test_case_04_hikvision_json_part(hik: Daemon, platform_sim: CityPlatformSim) -> None:
    body = (CASES / "case-04-hik-json-anpr.multipart").read_bytes()
    response = await post(hik, body, MULTIPART)
    assert response.status_code == 200
    assert response.json()["verdict"] == "open"
    row = await only_pass(hik)
    assert (row.plate, row.plate_color) == ("豫B3M7X1", "0")
    assert row.camera_time == at("2026-11-30T17:07:00+08:00")
    assert await photo(hik, row) == TINY
    await wait_records(platform_sim, 1, photos=1)
    (record,) = next(iter(platform_sim.records.values()))
    assert (record["cphm"], record["cpys"]) == ("豫B3M7X1", "0")


async def test_hikvision_bare_json_and_wrapped_json(hik: Daemon) -> None:
    scene, crop = sample_jpeg("scene"), sample_jpeg("crop")
    alert: dict[str, Any] = {
        "ipAddress": "192.0.2.22",
        "dateTime": "2026-11-30T17:20:00+08:00",
        "eventType": "ANPR",
        "eventState": "active",
        "UUID": "00000000-aaaa-bbbb-cccc-000000000041",
        "ANPR": {
            "licensePlate": "黄豫A12345",
            "plateColor": "yellow",
            "confidenceLevel": "96",
            "pictureInfoList": [
                {"fileName": "licensePlatePicture.jpg", "type": "licensePlatePicture"},
                {"fileName": "detectionPicture.jpg", "type": "detectionPicture"},
            ],
        },
    }
    bare = await post(hik, json.dumps(alert, ensure_ascii=False).encode(), "application/json")
    assert bare.status_code == 200
    first = await only_pass(hik)
    assert (first.plate, first.plate_color) == ("豫A12345", "1")

    wrapped = {"EventNotificationAlert": {**alert, "UUID": "x-42"}}
    wrapped["EventNotificationAlert"]["ANPR"] = {**alert["ANPR"], "licensePlate": "豫B54321"}
    body = multipart(
        ("event.json", "application/json", json.dumps(wrapped, ensure_ascii=False).encode()),
        ("licensePlatePicture.jpg", "image/jpeg", crop),
        ("detectionPicture.jpg", "image/jpeg", scene),
    )
    response = await post(hik, body, MULTIPART)
    assert response.status_code == 200
    row = await hik.store.latest_pass("in-1")
    assert row is not None
    assert row.plate == "豫B54321"
    assert jpeg_label(await photo(hik, row)) == "scene"  # the scene is photo 1, not the crop


# -- case 05: byte-order marks ------------------------------------------------------------------


async def test_case_05_generic_body_with_bom(tmp_path: Path, platform_sim: CityPlatformSim) -> None:
    async with site_daemon(tmp_path, platform_sim, GENERIC_LANE) as daemon:
        body = (CASES / "case-05-generic-utf8-bom.json").read_bytes()
        assert body.startswith(b"\xef\xbb\xbf")
        with_bom = await post(daemon, body, "application/json")
        assert with_bom.status_code == 200
        assert with_bom.json()["verdict"] == "open"
        row = await only_pass(daemon)
        assert (row.plate, row.plate_color, row.vendor_id) == ("豫A5T8R2", "1", "rec-1001")
        assert row.camera_time == at("2026-11-30T17:08:00+08:00")


BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize(
    ("kind", "body", "content_type", "plate"),
    [
        (
            "hikvision-push",
            BOM
            + b'<?xml version="1.0" encoding="UTF-8"?><EventNotificationAlert>'
            + "<eventType>ANPR</eventType><ANPR><licensePlate>豫A11111</licensePlate>"
            "<plateColor>yellow</plateColor></ANPR></EventNotificationAlert>".encode(),
            "application/xml; charset=UTF-8",
            "豫A11111",
        ),
        (
            "dahua-push",
            BOM + json.dumps({"Picture": {"Plate": {"PlateNumber": "豫A22222"}}}).encode(),
            "application/json",
            "豫A22222",
        ),
        (
            "milesight-push",
            BOM + json.dumps({"plate": "豫A33333", "confidence": "91"}).encode(),
            "text/plain",
            "豫A33333",
        ),
        (
            "vzenith-push",
            BOM
            + json.dumps(
                {"AlarmInfoPlate": {"result": {"PlateResult": {"license": "豫A44444"}}}},
                ensure_ascii=False,
            ).encode(),
            "application/json",
            "豫A44444",
        ),
    ],
)
async def test_bom_on_every_vendor(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    kind: str,
    body: bytes,
    content_type: str,
    plate: str,
) -> None:
    async with site_daemon(tmp_path, platform_sim, lane(kind)) as daemon:
        response = await post(daemon, body, content_type)
        assert response.status_code == 200, response.text
        assert (await only_pass(daemon)).plate == plate


# -- case 06: where the scene picture is ----------------------------------------------------------


async def test_case_06_dahua_vehiclepic_is_photo_1(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with site_daemon(tmp_path, platform_sim, lane("dahua-push")) as daemon:
        body = (CASES / "case-06-dahua-itsapi-vehiclepic.json").read_bytes()
        data = json.loads(body)
        scene = base64.b64decode(data["Picture"]["VehiclePic"]["Content"])
        response = await post(daemon, body, "application/json", "/NotificationInfo/TollgateInfo")
        assert response.json() == {"Result": True}
        row = await only_pass(daemon)
        assert row.plate == "豫C6N4W8"
        assert row.camera_time == at("2026-11-30T17:09:00.120+08:00")
        assert await photo(daemon, row) == scene
        # the case's two pictures are the same bytes: again with a crop that differs
        data["Picture"]["CutoutPic"]["Content"] = base64.b64encode(sample_jpeg("crop")).decode()
        data["Picture"]["SnapInfo"]["SnapTime"] = "2026-11-30 17:09:30"
        data["Picture"]["Plate"]["PlateNumber"] = "豫K90210"
        response = await post(
            daemon, json.dumps(data).encode(), "application/json", "/NotificationInfo/TollgateInfo"
        )
        assert response.json() == {"Result": True}
        row = await daemon.store.latest_pass("in-1")
        assert row is not None
        assert row.plate == "豫K90210"
        assert await photo(daemon, row) == scene


async def test_dahua_two_jpegs_back_to_back_and_milesight_evidence(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lanes = [
        lane("dahua-push"),
        {**lane("milesight-push"), "id": "in-2", "gate_code": "02"},
    ]
    async with site_daemon(tmp_path, platform_sim, *lanes) as daemon:
        vehicle, crop = sample_jpeg("vehicle"), sample_jpeg("plate")
        dahua = {  # CP Plus: the vehicle then the plate crop in one VehiclePic, no CutoutPic
            "Picture": {
                "Plate": {"PlateNumber": "豫A55555", "PlateColor": "Yellow"},
                "SnapInfo": {"DeviceID": "CP-1", "SnapTime": "2026-11-30 17:30:00"},
                "VehiclePic": {"Content": base64.b64encode(vehicle + crop).decode()},
            }
        }
        response = await post(daemon, json.dumps(dahua).encode(), "application/json")
        assert response.status_code == 200
        row = await daemon.store.latest_pass("in-1")
        assert row is not None
        assert await photo(daemon, row) == vehicle

        milesight = {
            "plate": "豫A66666",
            "plate_image": base64.b64encode(crop).decode(),
            "evidence_image0": base64.b64encode(vehicle).decode(),
        }
        response = await post(
            daemon, json.dumps(milesight).encode(), "application/json", "/push/in-2"
        )
        assert response.status_code == 200
        row = await daemon.store.latest_pass("in-2")
        assert row is not None
        assert await photo(daemon, row) == vehicle


# -- case 07: Dahua's UTC holds local time; non-motor snaps -------------------------------------


def pull_lane(cam: DahuaCameraSim) -> dict[str, Any]:
    return lane("dahua-pull", url=cam.url, username=cam.username, password=cam.password)


@pytest.mark.usefixtures("host_in_new_york")
async def test_case_07_dahua_stream_times_and_a_tricycle(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    dahua: DahuaCameraSim,
) -> None:
    async with site_daemon(tmp_path, platform_sim, pull_lane(dahua)) as daemon:
        health = daemon.lanes["in-1"].camera
        await eventually(lambda: health.connected is True)
        dahua.send_raw((CASES / "case-07-dahua-stream-utc-is-local.txt").read_bytes())
        await eventually(lambda: health.ignored == 1)
        await wait_records(platform_sim, 1)
        row = await only_pass(daemon)
        assert row.plate == "豫D2H6K5"
        assert row.camera_time == at("2026-11-30T17:11:00+08:00")
        display = daemon.lanes["in-1"].devices.display
        assert isinstance(display, VirtualDisplay)
        assert len(display.shown) == 1  # the truck's; nothing for the tricycle
        assert len(platform_sim.records) == 1
        assert health.rejected == 0


async def test_dahua_stream_other_firmwares(
    tmp_path: Path, platform_sim: CityPlatformSim, dahua: DahuaCameraSim
) -> None:
    def part(data: dict[str, Any]) -> bytes:
        text = "Code=TrafficJunction;action=Pulse;index=0;data=" + json.dumps(
            data, ensure_ascii=False, indent=2
        )
        return f"--myboundary\r\nContent-Type: text/plain\r\n\r\n{text}\r\n".encode()

    async with site_daemon(tmp_path, platform_sim, pull_lane(dahua)) as daemon:
        health = daemon.lanes["in-1"].camera
        await eventually(lambda: health.connected is True)
        # only LocaleTime (wall clock), UTC holding the same wall clock
        dahua.send_raw(
            part(
                {
                    "CommInfo": {"SnapCategory": "Motor"},
                    "LocaleTime": "2026-11-30 18:00:00",
                    "TrafficCar": {"PlateNumber": "豫E10001", "PlateColor": "Blue"},
                    "UTC": int(datetime(2026, 11, 30, 18, 0, tzinfo=UTC).timestamp()),
                    "GroupID": 1,
                }
            )
        )
        # an e-bike: no SnapCategory, a NonMotor object and an empty Object text
        dahua.send_raw(
            part(
                {
                    "NonMotor": {"Category": "E-Bike"},
                    "Object": {"ObjectType": "Plate", "Text": ""},
                    "RealUTC": 1796040000,
                    "GroupID": 2,
                }
            )
        )
        # a bicycle snapped by category, with the plate field absent
        dahua.send_raw(part({"CommInfo": {"SnapCategory": "Bicycle"}, "GroupID": 3}))
        # a motor vehicle without a readable plate stays a 无牌车 pass
        dahua.send_raw(
            part(
                {
                    "CommInfo": {"SnapCategory": "Motor"},
                    "Object": {"ObjectType": "Plate", "Text": ""},
                    "RealUTC": 1796040100,
                    "GroupID": 4,
                }
            )
        )
        await eventually(lambda: health.ignored == 2)
        await wait_records(platform_sim, 2)
        rows = [await daemon.store.find_pass(r.serial) for r in await daemon.store.search_passes()]
        by_plate = {r.plate: r for r in rows if r is not None}
        assert set(by_plate) == {"豫E10001", None}
        assert by_plate["豫E10001"].camera_time == at("2026-11-30T18:00:00+08:00")
        assert by_plate[None].camera_time == 1796040100


async def test_dahua_push_non_motor_snap_is_answered_not_a_pass(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with site_daemon(tmp_path, platform_sim, lane("dahua-push")) as daemon:
        health = daemon.lanes["in-1"].camera
        for picture in (
            {"Plate": {"PlateNumber": ""}, "CommInfo": {"SnapCategory": "NonMotor"}},
            {
                "Plate": {"PlateNumber": "", "PlateColor": "Unknown"},
                "Vehicle": {"VehicleType": "Tricycle"},
            },
        ):
            response = await post(
                daemon, json.dumps({"Picture": picture}).encode(), "application/json"
            )
            assert response.json() == {"Result": True}
        assert (health.ignored, health.rejected) == (2, 0)
        assert health.last_event_at is not None
        assert await daemon.store.count_passes() == 0


# -- kind 5: a camera clock that lies -------------------------------------------------------------


@pytest.mark.usefixtures("host_in_new_york")
async def test_a_camera_clock_off_by_hours_is_logged_once_and_the_receive_time_used(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane("hikvision-push")])
    async with running_daemon(cfg) as daemon:
        health = daemon.lanes["in-1"].camera

        def alert(plate: str, when: datetime) -> bytes:
            return (
                "<EventNotificationAlert><eventType>ANPR</eventType>"
                f"<dateTime>{when.isoformat(timespec='seconds')}</dateTime>"
                f"<ANPR><licensePlate>{plate}</licensePlate></ANPR></EventNotificationAlert>"
            ).encode()

        # a camera on UTC without a zone in its time: 8 hours behind the site's clock
        utc_wall = datetime.now(UTC).replace(tzinfo=None)
        with capture_logs() as logs:
            for plate in ("豫A10001", "豫B10002"):
                before = time.time()
                response = await post(daemon, alert(plate, utc_wall), "application/xml")
                assert response.status_code == 200
                row = await daemon.store.latest_pass("in-1")
                assert row is not None
                assert before - 1 <= row.camera_time <= time.time() + 1
                assert row.camera_time == row.received_at
            # its clock set right: its own time is used again, and that is logged once
            right = datetime.now(SH) - timedelta(seconds=30)
            response = await post(daemon, alert("豫C10003", right), "application/xml")
            assert response.status_code == 200
        row = await daemon.store.latest_pass("in-1")
        assert row is not None
        assert row.camera_time == int(right.timestamp())
        events = [e["event"] for e in logs]
        assert events.count("camera clock is off; using the receive time for its reads") == 1
        assert events.count("camera clock agrees again") == 1
        assert health.clock_off is False


# -- issue 20: numbers from cameras ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "reason"),
    [
        ("generic-push", b'{"plate": "\\u8c6bA12345", "time": NaN}', "time nan is out of range"),
        ("generic-push", b'{"plate": "\\u8c6bA12345", "time": 1e20}', "time 1e+20 is out of range"),
        ("generic-push", b'{"plate": "\\u8c6bA12345", "confidence": Infinity}', "confidence inf"),
        ("generic-push", b'{"plate": "\\u8c6bA12345", "confidence": 101}', "confidence 101"),
        ("generic-push", b'{"plate": "\\u8c6bA12345", "time": -1e308}', "out of range"),
        ("milesight-push", b'{"plate": "\\u8c6bA12345", "confidence": "NaN"}', "confidence 'NaN'"),
        (
            "vzenith-push",
            b'{"AlarmInfoPlate": {"result": {"PlateResult": {"license": "\\u8c6bA12345",'
            b' "timeStamp": {"Timeval": {"sec": 100000000000000000000}}}}}}',
            "Timeval.sec",
        ),
        (
            "dahua-push",
            b'{"Picture": {"Plate": {"PlateNumber": "\\u8c6bA12345", "Confidence": -Infinity}}}',
            "Plate.Confidence",
        ),
        (
            "hikvision-push",
            b"<EventNotificationAlert><ANPR><licensePlate>\xe8\xb1\xabA12345</licensePlate>"
            b"<confidenceLevel>NaN</confidenceLevel></ANPR></EventNotificationAlert>",
            "confidenceLevel",
        ),
        (
            "hikvision-push",
            b"<EventNotificationAlert><dateTime>9999-12-31T23:59:59-23:59</dateTime><ANPR>"
            b"<licensePlate>\xe8\xb1\xabA12345</licensePlate></ANPR></EventNotificationAlert>",
            "dateTime",
        ),
    ],
)
async def test_numbers_that_cannot_be_get_400_with_a_one_line_reason(
    tmp_path: Path, platform_sim: CityPlatformSim, kind: str, body: bytes, reason: str
) -> None:
    async with site_daemon(tmp_path, platform_sim, lane(kind)) as daemon:
        content_type = "application/xml" if body.startswith(b"<") else "application/json"
        with capture_logs() as logs:
            response = await post(daemon, body, content_type)
        assert response.status_code == 400
        error = response.json()["error"]
        assert reason in error
        assert "\n" not in error
        assert not [e for e in logs if e["log_level"] == "error"]
        assert await daemon.store.count_passes() == 0
        assert daemon.lanes["in-1"].camera.rejected == 1


# -- kind 9: Milesight numbers as strings; Hikvision barrierGateCtrlType --------------------------


async def test_milesight_numbers_as_strings(tmp_path: Path, platform_sim: CityPlatformSim) -> None:
    async with site_daemon(tmp_path, platform_sim, lane("milesight-push")) as daemon:
        body = {
            "device": "Network Camera",
            "time": "2026-11-30 17:40:00",
            "time_msec": "120",
            "plate": "豫A77777",
            "confidence": "93",
            "speed": "0",
            "resolution_width": "1920",
            "plate_color": "yellow",
        }
        response = await post(daemon, json.dumps(body).encode(), "application/json")
        assert response.status_code == 200
        row = await only_pass(daemon)
        assert row.camera_time == at("2026-11-30T17:40:00+08:00")
        raw = json.loads(await daemon.store.camera_message(row.id) or "")
        assert raw["confidence"] == "93"
        read = parse_milesight(RawPush(json.dumps(body).encode()), datetime.now(SH))
        assert isinstance(read, PlateRead)
        assert read.confidence == 93
        as_unix = parse_milesight(
            RawPush(json.dumps({**body, "time": "1796031600"}).encode()), datetime.now(SH)
        )
        assert isinstance(as_unix, PlateRead)
        assert as_unix.camera_time == datetime(2026, 11, 30, 17, 40, tzinfo=SH)


GATE = "<barrierGateCtrlType>{}</barrierGateCtrlType>"
LIVE, RESENT = "<alarmDataType>0</alarmDataType>", "<alarmDataType>1</alarmDataType>"


@pytest.mark.parametrize(
    ("anpr", "historical", "opened"),
    [
        # live records: HCNetSDK documents the flag only for historical data; a 0 there is the
        # field's default, not "the camera opened"
        ("<barrierGateCtrlType>0</barrierGateCtrlType>", False, None),
        ("<barrierGateCtrlType>1</barrierGateCtrlType>", False, None),
        (
            "<alarmDataType>0</alarmDataType><barrierGateCtrlType>0</barrierGateCtrlType>",
            False,
            None,
        ),
        # historical records: 0 opened, 1 not opened, absent or other unknown
        (
            "<alarmDataType>1</alarmDataType><barrierGateCtrlType>0</barrierGateCtrlType>",
            True,
            True,
        ),
        (
            "<alarmDataType>1</alarmDataType><barrierGateCtrlType>1</barrierGateCtrlType>",
            True,
            False,
        ),
        ("<alarmDataType>1</alarmDataType>", True, None),
        (
            "<alarmDataType>1</alarmDataType><barrierGateCtrlType>9</barrierGateCtrlType>",
            True,
            None,
        ),
    ],
)
def test_barrier_gate_ctrl_type(anpr: str, historical: bool, opened: bool | None) -> None:
    xml = (
        "<EventNotificationAlert><eventType>ANPR</eventType><ANPR>"
        f"<licensePlate>豫A12345</licensePlate>{anpr}</ANPR></EventNotificationAlert>"
    ).encode()
    read = parse_hikvision(RawPush(xml, "application/xml"), datetime.now(SH))
    assert isinstance(read, PlateRead)
    assert (read.historical, read.camera_opened) == (historical, opened)


async def test_a_resent_record_the_camera_opened_for(hik: Daemon) -> None:
    xml = (
        "<EventNotificationAlert><eventType>ANPR</eventType>"
        "<dateTime>2026-11-30T06:00:00+08:00</dateTime><ANPR>"
        "<licensePlate>豫A12345</licensePlate><alarmDataType>1</alarmDataType>"
        "<barrierGateCtrlType>0</barrierGateCtrlType></ANPR></EventNotificationAlert>"
    ).encode()
    response = await post(hik, xml, "application/xml")
    assert response.status_code == 200
    row = await only_pass(hik)
    assert (row.barrier, row.reason_code) == ("camera", "camera-offline-open")
