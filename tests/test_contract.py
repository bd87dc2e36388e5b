"""Contract tests, both APIs: what our client sends for the spec's example values is accepted by
the strict simulators; each kind of violation is stopped by our client before sending *and*
rejected by the simulator when forced through (posted raw, bypassing the client)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from edge.domain.codes import ControlFlag
from edge.domain.plates import PlateColor
from edge.domain.reports import PhotoReport, VerifyAnswer
from edge.sim.jpeg import sample_jpeg
from edge.sim.platform import CityPlatformSim
from edge.sim.province import ProvincePlatformSim
from edge.uplink.platform.city import CityPlatform
from edge.uplink.platform.errors import InvalidMessageError, build_message
from edge.uplink.platform.province import ProvincePlatform
from edge.uplink.platform.province_models import EnterExitRecord
from tests.helpers import REPORT as BASE_REPORT
from tests.helpers import WHEN, city_client, province_client

ANSWER = VerifyAnswer(
    ControlFlag.CLEAR, "", "B", "5", blacklist="", exempt="1", license_pk="PK00000001"
)
REPORT = replace(
    BASE_REPORT, answer=ANSWER, photo_urls=("/photos/411002000101A261121080000-1.jpg", "")
)
LICENCE_IMAGE = base64.b64encode(sample_jpeg("行驶证")).decode()
VEHICLE = {
    "license": "豫A12345",
    "licenseColor": PlateColor.YELLOW,
    "vehicleType": "H11",
    "vin": "LFV2A21K5D3123456",
    "useCharacter": "F",
    "engineNo": "E123456",
    "onwer": "许昌示例运输有限公司",
    "address": "河南省许昌市魏都区",
    "model": "解放牌CA4250",
    "registerDate": "20200101000000",
    "issueDate": "20200101000000",
    "emissionStandard": "5",
    "drivingLicenseImg": LICENCE_IMAGE,
}


@pytest.fixture
async def city() -> AsyncIterator[tuple[CityPlatformSim, CityPlatform]]:
    sim = CityPlatformSim()
    await sim.start()
    client = city_client(sim)
    yield sim, client
    await client.aclose()
    await sim.stop()


@pytest.fixture
async def province() -> AsyncIterator[tuple[ProvincePlatformSim, ProvincePlatform]]:
    sim = ProvincePlatformSim()
    await sim.start()
    client = province_client(sim)
    yield sim, client
    await client.aclose()
    await sim.stop()


# -- accepted ------------------------------------------------------------------------------


async def test_every_city_method_is_accepted(city: tuple[CityPlatformSim, CityPlatform]) -> None:
    sim, client = city
    answer = await client.verify("豫A12345", PlateColor.YELLOW)
    assert answer.control is ControlFlag.CLEAR
    await client.send_pass(REPORT)
    await client.send_photo(REPORT, PhotoReport(1, 1, WHEN, sample_jpeg("front")))
    await client.send_goods(REPORT, "水泥熟料", "32.5", WHEN)
    await client.share_vehicle(companySecretCode="COMPANY", **VEHICLE)
    assert sim.rejected == []
    assert list(sim.records) == list(sim.photos) == list(sim.goods) == [REPORT.serial]
    assert sim.calls["shareVehInfo"] == 1


async def test_every_province_method_is_accepted(
    province: tuple[ProvincePlatformSim, ProvincePlatform],
) -> None:
    sim, client = province
    answer = await client.verify("豫A12345", PlateColor.YELLOW, gate_secret_code="GATE-01")
    assert (answer.control, answer.license_pk, answer.gvm) == (
        ControlFlag.CLEAR,
        "PK-A12345",
        "49000",
    )
    second = replace(REPORT, serial="411002000101A261121080001", answer=None)
    await client.send_passes([REPORT, second])
    from edge.uplink.platform.province_models import GoodsRecord

    goods = GoodsRecord(
        serialNum=REPORT.serial,
        companyCode="4110020001",
        gateCode="01",
        license="豫A12345",
        licenseColor=PlateColor.YELLOW,
        hwmc="水泥熟料",
        ysl="32",
    )
    await client.send_goods([goods])
    added = await client.add_vehicle(**VEHICLE)
    modified = await client.modify_vehicle(licensePK=added.licensePK, **VEHICLE)
    gained = await client.gain_vehicle("豫A12345", PlateColor.YELLOW, added.licensePK)
    await client.check_feedback(
        serialNum=REPORT.serial,
        companyCode="4110020001",
        gateCode="01",
        license="豫A12845",
        licenseColor=PlateColor.YELLOW,
        fuelType="B",
        emissionStandard="3",
        isControl="1",
        gateSignal="1",
        date="261121080000",
        licenseB="豫A12345",
        licenseColorB=PlateColor.YELLOW,
        fuelTypeB="B",
        emissionStandardB="5",
        isControlB="0",
        gateSignalB="0",
        imgURL1B=LICENCE_IMAGE,
        dateB="2026-11-21 09:30:00",
        reviewer="王工",
    )
    assert sim.rejected == []
    assert modified.licensePK == gained.licensePK == added.licensePK
    assert gained.vin == VEHICLE["vin"]
    entry = sim.records[REPORT.serial][0]
    assert entry["date"] == "261121080000"
    assert entry["imgURL1"] == "/photos/411002000101A261121080000-1.jpg"
    assert (entry["isExempt"], entry["islicensePK"], entry["licensePK"]) == ("1", "1", "PK00000001")
    no_answer = sim.records[second.serial][0]
    assert (no_answer["isControl"], no_answer["islicensePK"]) == ("0", "0")
    assert len(sim.feedback) == 1
    assert sim.feedback[0]["reviewer"] == "王工"


# -- stopped by the client -------------------------------------------------------------------

BAD_REPORTS = {
    "over-long plate": {"plate": "豫A" + "1" * 40},
    "malformed serial": {"serial": "411002000101C261121080000"},
    "gate code": {"gate_code": "1"},
}


@pytest.mark.parametrize("change", BAD_REPORTS.values(), ids=BAD_REPORTS.keys())
async def test_city_client_stops_bad_records(
    city: tuple[CityPlatformSim, CityPlatform], change: dict[str, Any]
) -> None:
    sim, client = city
    with pytest.raises(InvalidMessageError):
        await client.send_pass(replace(REPORT, **change))
    assert sim.calls["shareDrivingRecord"] == 0


@pytest.mark.parametrize("change", BAD_REPORTS.values(), ids=BAD_REPORTS.keys())
async def test_province_client_stops_bad_records(
    province: tuple[ProvincePlatformSim, ProvincePlatform], change: dict[str, Any]
) -> None:
    sim, client = province
    with pytest.raises(InvalidMessageError, match="EnterExitRecord"):
        await client.send_passes([REPORT, replace(REPORT, **change)])
    assert sim.calls["SendEnterExitDataEx"] == 0
    assert sim.calls["GetAuthorizationOrg"] == 0  # stopped before any traffic at all


async def test_clients_stop_bad_codes_and_photos(
    city: tuple[CityPlatformSim, CityPlatform],
    province: tuple[ProvincePlatformSim, ProvincePlatform],
) -> None:
    city_sim, city_client = city
    province_sim, province_client = province
    bad_color = "7"
    with pytest.raises(InvalidMessageError, match="licenseColor"):
        await city_client.verify("豫A12345", bad_color)  # type: ignore[arg-type]
    with pytest.raises(InvalidMessageError, match="licenseColor"):
        await province_client.verify("豫A12345", bad_color, gate_secret_code="GATE-01")  # type: ignore[arg-type]
    big = sample_jpeg("big") + b"\0" * 1_000_000
    with pytest.raises(InvalidMessageError, match="1 MB"):
        await city_client.send_photo(REPORT, PhotoReport(1, 1, WHEN, big))
    with pytest.raises(InvalidMessageError, match="isControl"):  # only 0/1 (§4.2.11)
        build_message(EnterExitRecord, **{**_province_entry(), "isControl": "2"})
    with pytest.raises(InvalidMessageError, match="vehicleType"):
        await province_client.add_vehicle(**{**VEHICLE, "vehicleType": "ZZZ"})
    with pytest.raises(InvalidMessageError, match="cannot both be empty"):
        await province_client.add_vehicle(**{**VEHICLE, "drivingLicenseImg": ""})
    assert sum(city_sim.calls.values()) == 0
    assert sum(province_sim.calls.values()) == 0


# -- rejected by the simulators when forced through ------------------------------------------


async def _city_raw(
    sim: CityPlatformSim,
    client: CityPlatform,
    path: str,
    ipctype: str,
    value: dict[str, Any],
    **files: Any,
) -> dict[str, Any]:
    token = await client.tokens.token()
    envelope = {"organ": sim.organ, "ipctype": ipctype, "access_token": token, "value": value}
    async with httpx.AsyncClient() as http:
        if files:
            import json

            response = await http.post(
                sim.base_url + path, files=files, data={"info": json.dumps(envelope)}
            )
        else:
            response = await http.post(sim.base_url + path, json=envelope)
    body: dict[str, Any] = response.json()
    return body


def _city_record(**change: str) -> dict[str, str]:
    record = {
        "lsh": "411002000101A261121080000",
        "qybh": "4110020001",
        "qymc": "许昌示例建材有限公司",
        "dzbh": "01",
        "cphm": "豫A12345",
        "cpys": "1",
        "tgsjq": "2026-11-21 08:00:00",
        "tgsjz": "2026-11-21 08:00:05",
        "tgzt": "1",
        "bgzt": "1",
    }
    record.update(change)
    return record


CITY_FORCED = {
    "over-long plate": {"cphm": "豫A" + "1" * 40},
    "bad colour code": {"cpys": "7"},
    "malformed serial": {"lsh": "411002000101X261121080000"},
    "serial of another gate": {"lsh": "411002000102A261121080000"},
    "serial A for an exit": {"tgzt": "2"},
    "impossible time": {"tgsjq": "2026-13-45 08:00:00"},
    "unknown field": {"extra": "x"},
}


@pytest.mark.parametrize("change", CITY_FORCED.values(), ids=CITY_FORCED.keys())
async def test_city_simulator_rejects_forced_violations(
    city: tuple[CityPlatformSim, CityPlatform], change: dict[str, str]
) -> None:
    sim, client = city
    reply = await _city_raw(
        sim,
        client,
        "/restapi/transportControl/put_data",
        "shareDrivingRecord",
        _city_record(**change),
    )
    assert reply["code"] == "952", reply
    assert sim.records == {}


async def test_city_simulator_accepts_the_reference_record_and_rejects_big_photos(
    city: tuple[CityPlatformSim, CityPlatform],
) -> None:
    sim, client = city
    ok = await _city_raw(
        sim, client, "/restapi/transportControl/put_data", "shareDrivingRecord", _city_record()
    )
    assert ok["code"] == "200"
    info = {k: v for k, v in _city_record().items() if k not in {"tgsjq", "tgsjz", "tgzt", "bgzt"}}
    info |= {"zpbh": "1", "zplx": "1", "pzsj": "2026-11-21 08:00:00"}
    big = sample_jpeg("big") + b"\0" * 1_000_000
    reply = await _city_raw(
        sim,
        client,
        "/restapi/transportControl/put_file",
        "sharePhotoInfo",
        info,
        file=("p.jpg", big, "image/jpeg"),
    )
    assert reply["code"] == "952"
    assert "1M" in reply["status"]
    reply = await _city_raw(
        sim,
        client,
        "/restapi/transportControl/put_file",
        "sharePhotoInfo",
        info,
        file=("p.jpg", b"GIF89a", "image/gif"),
    )
    assert reply["code"] == "952"
    assert sim.photos == {}


def _province_entry(**change: str) -> dict[str, str]:
    entry = {
        "serialNum": "411002000101A261121080000",
        "companyCode": "4110020001",
        "gateCode": "01",
        "license": "豫A12345",
        "licenseColor": "1",
        "fuelType": "B",
        "emissionStandard": "5",
        "isBlackList": "",
        "isExempt": "",
        "isControl": "0",
        "gateSignal": "0",
        "date": "261121080000",
        "imgURL1": "/photos/411002000101A261121080000-1.jpg",
        "imgURL2": "",
        "islicensePK": "0",
        "licensePK": "",
    }
    entry.update(change)
    return {k: v for k, v in entry.items() if v is not None}


PROVINCE_FORCED = {
    "over-long plate": {"license": "豫A" + "1" * 40},
    "bad colour code": {"licenseColor": "9"},
    "malformed serial": {"serialNum": "4110020001"},
    "serial of another enterprise": {"companyCode": "4110020002"},
    "bad emission stage": {"emissionStandard": "8"},
    "bad gate signal": {"gateSignal": "3"},
    "date longer than 12": {"date": "20261121080000"},
    "impossible date": {"date": "261399080000"},
    "flag without licensePK": {"islicensePK": "1"},
    "URL over 64": {"imgURL1": "/" + "p" * 70},
    "isControl empty": {"isControl": ""},
    "isControl 2": {"isControl": "2"},
    "isControl missing": {"isControl": None},
    "licensePK without the flag": {"licensePK": "PK1"},
    "fuel outside §7.12": {"fuelType": "W"},
    "blacklist outside §7.4": {"isBlackList": "7"},
}


@pytest.mark.parametrize("change", PROVINCE_FORCED.values(), ids=PROVINCE_FORCED.keys())
async def test_province_simulator_rejects_forced_violations(
    province: tuple[ProvincePlatformSim, ProvincePlatform], change: dict[str, str]
) -> None:
    sim, client = province
    token = await client.tokens.token()
    async with httpx.AsyncClient() as http:
        good = _province_entry(serialNum="411002000101A261121080009")
        response = await http.post(
            client.url("SendEnterExitDataEx"),
            json={"accessToken": token, "list": [good, _province_entry(**change)]},
        )
    reply = response.json()
    assert reply["result"] == "fail", reply
    assert "list[1]" in reply["err"], reply
    assert sim.records == {}  # a batch is taken whole or not at all
