"""Vendor push formats through the daemon's real HTTP server: each gives the same normalised
pass; malformed, oversized and hostile bodies get a 4xx and the daemon carries on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.domain.events import PlateRead
from edge.domain.plates import PlateColor
from edge.ingest.dahua import dahua_color
from edge.ingest.hikvision import parse_hikvision
from edge.ingest.payload import PayloadError, RawPush
from edge.sim.camera import CameraFormat
from edge.sim.jpeg import jpeg_label
from edge.sim.platform import CityPlatformSim
from tests.helpers import GENERIC_LANE, camera, make_config, running_daemon, wait_records

KINDS: dict[CameraFormat, str] = {
    "hikvision": "hikvision-push",
    "dahua": "dahua-push",
    "milesight": "milesight-push",
}


@pytest.mark.parametrize("fmt", list(KINDS))
async def test_vendor_push_records_the_same_pass(
    tmp_path: Path, platform_sim: CityPlatformSim, fmt: CameraFormat
) -> None:
    lane = {**GENERIC_LANE, "camera": {"kind": KINDS[fmt]}}
    async with running_daemon(make_config(tmp_path, platform_sim.base_url, lanes=[lane])) as d:
        cam = camera(d, fmt=fmt)
        result = await cam.push("豫A12345", PlateColor.YELLOW)
        await cam.aclose()
        assert result.status == 200
        if fmt == "dahua":
            assert result.body == {"Result": True}
        else:
            assert result.body["verdict"] == "open"
        await wait_records(platform_sim, 1, photos=1)
        (record,) = next(iter(platform_sim.records.values()))
        assert (record["cphm"], record["cpys"]) == ("豫A12345", "1")
        row = await d.store.find_pass(record["lsh"])
        assert row is not None
        assert row.source == KINDS[fmt]
        photo = await d.photos.read((await d.store.photos_of(row.id))[0].path)
        assert jpeg_label(photo) == "豫A12345#1"


async def test_dahua_fixed_paths_find_the_lane_by_device_id(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lanes = [
        {**GENERIC_LANE, "camera": {"kind": "dahua-push", "device_id": "other"}},
        {
            **GENERIC_LANE,
            "id": "in-2",
            "gate_code": "02",
            "camera": {"kind": "dahua-push", "device_id": "sim-dahua"},
        },
    ]
    async with running_daemon(make_config(tmp_path, platform_sim.base_url, lanes=lanes)) as d:
        base = f"http://127.0.0.1:{d.web.port}/NotificationInfo"
        cam = camera(d, fmt="dahua")
        cam.url = f"{base}/TollgateInfo"
        result = await cam.push("豫A12345")
        await cam.aclose()
        assert result.body == {"Result": True}
        async with httpx.AsyncClient() as http:
            alive = await http.post(f"{base}/KeepAlive", json={"Active": "keepAlive"})
            unknown = await http.post(
                f"{base}/TollgateInfo",
                json={"Picture": {"Plate": {"PlateNumber": "豫A1"}, "SnapInfo": {"DeviceID": "x"}}},
            )
            garbage = await http.post(f"{base}/TollgateInfo", content=b"{")
        assert alive.json() == {"Result": True}
        assert unknown.status_code == 404
        assert garbage.status_code == 400
        await wait_records(platform_sim, 1)
        row = await d.store.find_pass(next(iter(platform_sim.records)))
        assert row is not None
        assert row.lane_id == "in-2"


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<EventNotificationAlert><ANPR><licensePlate>&lol3;</licensePlate></ANPR></EventNotificationAlert>"""


async def test_hostile_and_malformed_hikvision_bodies_get_400(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lane = {**GENERIC_LANE, "camera": {"kind": "hikvision-push"}}
    cfg = make_config(tmp_path, platform_sim.base_url, lanes=[lane], web={"max_body_bytes": 65536})
    async with running_daemon(cfg) as d:
        url = f"http://127.0.0.1:{d.web.port}/push/in-1"
        async with httpx.AsyncClient() as http:
            bomb = await http.post(url, content=BOMB, headers={"Content-Type": "application/xml"})
            broken = await http.post(url, content=b"<EventNotificationAlert><ANPR>")
            no_anpr = await http.post(url, content=b"<EventNotificationAlert/>")
            big = await http.post(url, content=b"<a>" + b"x" * 70_000 + b"</a>")
            no_xml_part = await http.post(
                url, files={"pic.jpg": ("pic.jpg", b"\xff\xd8\xff", "image/jpeg")}
            )
        assert bomb.status_code == 400
        assert "entity" in bomb.json()["error"]
        assert broken.status_code == 400
        assert no_anpr.status_code == 400
        assert big.status_code == 413
        assert no_xml_part.status_code == 400
        cam = camera(d, fmt="hikvision")
        assert (await cam.push("豫A12345")).body["verdict"] == "open"  # and it carries on
        await cam.aclose()


def _alert(body: str, ns: str = "http://www.hikvision.com/ver20/XMLSchema") -> bytes:
    return f'<EventNotificationAlert xmlns="{ns}">{body}</EventNotificationAlert>'.encode()


@pytest.mark.parametrize(
    ("xml", "plate", "color"),
    [
        # colour-prefixed plate, namespace of another firmware, GA/T colour as the fallback
        (
            _alert(
                "<ANPR><licensePlate>蓝苏A8HK52</licensePlate></ANPR>"
                "<VehicleGATInfo><plateColorByGAT>2</plateColorByGAT></VehicleGATInfo>"
            ),
            "苏A8HK52",
            PlateColor.BLUE,
        ),
        (
            _alert(
                "<ANPR><licensePlate>苏A8HK52</licensePlate></ANPR>"
                "<VehicleGATInfo><plateColorByGAT>0</plateColorByGAT></VehicleGATInfo>"
            ),
            "苏A8HK52",
            PlateColor.WHITE,
        ),
        (
            _alert(
                "<ANPR><licensePlate>黄豫A12345</licensePlate><plateColor>other</plateColor></ANPR>"
            ),
            "豫A12345",
            PlateColor.YELLOW,
        ),
        (
            _alert(
                "<ANPR><licensePlate>豫AD12345</licensePlate>"
                "<plateColor>newEnergyYellowGreen</plateColor></ANPR>",
                ns="urn:x",
            ),
            "豫AD12345",
            PlateColor.NEW_ENERGY,
        ),
        (_alert("<ANPR><licensePlate>noPlate</licensePlate></ANPR>"), None, PlateColor.OTHER),
    ],
)
def test_hikvision_plates_and_colours(xml: bytes, plate: str | None, color: PlateColor) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    read = parse_hikvision(RawPush(xml, "application/xml"), datetime.now(ZoneInfo("Asia/Shanghai")))
    assert isinstance(read, PlateRead)
    assert (read.plate, read.color) == (plate, color)


def test_hikvision_bad_time_and_dahua_colours() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    with pytest.raises(PayloadError, match="ISO 8601"):
        parse_hikvision(
            RawPush(_alert("<dateTime>yesterday</dateTime><ANPR/>"), "application/xml"),
            datetime.now(ZoneInfo("Asia/Shanghai")),
        )
    colors: dict[Any, PlateColor] = {
        "Blue": PlateColor.BLUE,
        "Yellow": PlateColor.YELLOW,
        "White": PlateColor.WHITE,
        "Black": PlateColor.BLACK,
        "YellowGreen": PlateColor.NEW_ENERGY,
        "Red": PlateColor.OTHER,
        None: PlateColor.OTHER,
    }
    for value, expected in colors.items():
        assert dahua_color(value) is expected


def test_hikvision_resend_is_historical() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    xml = _alert(
        "<ANPR><licensePlate>豫A12345</licensePlate><alarmDataType>1</alarmDataType>"
        "<barrierGateCtrlType>0</barrierGateCtrlType></ANPR>"
    )
    read = parse_hikvision(RawPush(xml, "text/xml"), datetime.now(ZoneInfo("Asia/Shanghai")))
    assert isinstance(read, PlateRead)
    assert read.historical
    assert read.camera_opened
    live = parse_hikvision(
        RawPush(_alert("<ANPR><licensePlate>豫A12345</licensePlate></ANPR>"), "text/xml"),
        datetime.now(ZoneInfo("Asia/Shanghai")),
    )
    assert isinstance(live, PlateRead)
    assert not live.historical
