"""The city client against the platform simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from edge.domain.codes import ControlFlag
from edge.domain.plates import PlateColor
from edge.domain.reports import PhotoReport
from edge.sim.jpeg import jpeg_label, sample_jpeg
from edge.sim.platform import CityPlatformSim, Fault
from edge.uplink.platform.city import CityPlatform
from edge.uplink.platform.errors import (
    InvalidMessageError,
    InvalidReplyError,
    PermanentError,
    PlatformAuthError,
    PlatformServerError,
    PlatformUnavailableError,
    RetryableError,
)
from tests.helpers import REPORT, SH, WHEN, city_client


def client_for(sim: CityPlatformSim, **kw: Any) -> CityPlatform:
    return city_client(sim, **kw)


@pytest.fixture
async def client(platform_sim: CityPlatformSim) -> AsyncIterator[CityPlatform]:
    c = client_for(platform_sim)
    yield c
    await c.aclose()


async def test_verify_clear_and_controlled(client: CityPlatform) -> None:
    clear = await client.verify("豫A12345", PlateColor.YELLOW)
    assert (clear.control, clear.fuel, clear.emission) == (ControlFlag.CLEAR, "B", "6")
    controlled = await client.verify("豫B6789G", PlateColor.YELLOW)
    assert controlled.control is ControlFlag.CONTROLLED
    assert controlled.reason == "国四柴油 重污染管控"
    assert client.clock_offset_seconds is not None
    assert abs(client.clock_offset_seconds) < 5


async def test_records_and_photos_arrive_in_spec_format(
    client: CityPlatform, platform_sim: CityPlatformSim
) -> None:
    await client.send_pass(REPORT)
    photo = sample_jpeg("豫A12345#1")
    await client.send_photo(REPORT, PhotoReport(1, 1, WHEN, photo))
    inline = client_for(platform_sim, photo_mode="base64")
    await inline.send_photo(REPORT, PhotoReport(2, 1, WHEN, photo))
    await inline.aclose()
    record = platform_sim.records[REPORT.serial][0]
    assert record == {
        "lsh": "411002000101A261121080000",
        "qybh": "4110020001",
        "qymc": "许昌示例建材有限公司",
        "dzbh": "01",
        "cphm": "豫A12345",
        "cpys": "1",
        "tgsjq": "2026-11-21 08:00:00",
        "tgsjz": "2026-11-21 08:00:00",
        "tgzt": "1",
        "bgzt": "1",
    }
    as_file, as_base64 = platform_sim.photos[REPORT.serial]
    assert as_file.multipart
    assert not as_base64.multipart
    assert as_file.size == len(photo) == as_base64.size
    assert as_file.info["zplx"] == "1"
    assert jpeg_label(photo) == "豫A12345#1"
    assert platform_sim.rejected == []


async def test_one_token_for_many_concurrent_requests(
    client: CityPlatform, platform_sim: CityPlatformSim
) -> None:
    await asyncio.gather(*(client.verify("豫A12345", PlateColor.YELLOW) for _ in range(50)))
    assert platform_sim.calls["getAccessToken"] == 1


async def test_401_storm_refreshes_once_and_retries(
    client: CityPlatform, platform_sim: CityPlatformSim
) -> None:
    await client.verify("豫A12345", PlateColor.YELLOW)
    platform_sim.expire_tokens()
    answers = await asyncio.gather(
        *(client.verify("豫A12345", PlateColor.YELLOW) for _ in range(50))
    )
    assert len(answers) == 50
    assert platform_sim.calls["getAccessToken"] == 2
    assert client.tokens.fetches == 2


async def test_token_refreshed_before_expiry(platform_sim: CityPlatformSim) -> None:
    now = [0.0]
    client = client_for(platform_sim, clock=lambda: now[0], refresh_margin=300)
    try:
        await client.verify("豫A12345", PlateColor.YELLOW)
        now[0] = 7200 - 301
        await client.verify("豫A12345", PlateColor.YELLOW)
        assert client.tokens.fetches == 1
        now[0] = 7200 - 299  # inside the margin: fetch a new one before it expires
        await client.verify("豫A12345", PlateColor.YELLOW)
        assert client.tokens.fetches == 2
    finally:
        await client.aclose()


async def test_wrong_password_is_an_auth_error(platform_sim: CityPlatformSim) -> None:
    client = client_for(platform_sim, password="wrong")
    try:
        with pytest.raises(PlatformAuthError, match="getAccessToken refused"):
            await client.verify("豫A12345", PlateColor.YELLOW)
    finally:
        await client.aclose()


async def test_persistent_401_after_refresh(
    client: CityPlatform, platform_sim: CityPlatformSim
) -> None:
    platform_sim.faults += [Fault("code", "401"), Fault("code", "401")]
    with pytest.raises(PlatformAuthError, match="after a refresh"):
        await client.send_pass(REPORT)
    assert platform_sim.calls["getAccessToken"] == 2


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault("http", 500), PlatformServerError),
        (Fault("http", 502), PlatformServerError),
        (Fault("code", "500"), PlatformServerError),
        (Fault("code", "952"), PermanentError),
        (Fault("code", "400"), PermanentError),
        (Fault("http", 404), PermanentError),
        (Fault("http", 403), PermanentError),
        (Fault("garbage"), InvalidReplyError),
    ],
)
async def test_failures_are_classified(
    client: CityPlatform,
    platform_sim: CityPlatformSim,
    fault: Fault,
    error: type[Exception],
) -> None:
    platform_sim.faults.append(fault)
    with pytest.raises(error):
        await client.send_pass(REPORT)
    retryable = not issubclass(error, PermanentError)
    assert issubclass(error, RetryableError) is retryable


async def test_http_401_is_treated_as_token_problem(
    client: CityPlatform, platform_sim: CityPlatformSim
) -> None:
    platform_sim.faults.append(Fault("http", 401))
    await client.send_pass(REPORT)  # refreshed and retried once
    assert platform_sim.calls["getAccessToken"] == 2


async def test_connection_refused_and_timeout_are_unavailable(
    platform_sim: CityPlatformSim,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    client = CityPlatform(
        base_url=f"http://127.0.0.1:{closed_port}/ysgk",
        organ="4110020001",
        username="u",
        password="p",
        zone=SH,
    )
    with pytest.raises(PlatformUnavailableError):
        await client.verify("豫A12345", PlateColor.YELLOW)
    await client.aclose()
    platform_sim.delay = 1.0
    slow = client_for(platform_sim, timeout=0.05)
    with pytest.raises(PlatformUnavailableError, match="timeout"):
        await slow.verify("豫A12345", PlateColor.YELLOW)
    await slow.aclose()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"plate": "豫A" + "1" * 30}, "cphm"),
        ({"serial": "411002000101C261121080000"}, "lsh"),
        ({"gate_code": "1"}, "dzbh"),
        ({"enterprise_name": ""}, "qymc"),
    ],
)
async def test_off_spec_records_are_stopped_before_sending(
    client: CityPlatform, platform_sim: CityPlatformSim, change: dict[str, str], field: str
) -> None:
    from dataclasses import replace

    with pytest.raises(InvalidMessageError, match=rf"DrivingRecord\.{field}"):
        await client.send_pass(replace(REPORT, **change))  # type: ignore[arg-type]
    assert platform_sim.calls["shareDrivingRecord"] == 0


async def test_off_spec_queries_and_photos_are_stopped(
    client: CityPlatform, platform_sim: CityPlatformSim
) -> None:
    with pytest.raises(InvalidMessageError, match=r"CheckVehicleQuery\.license"):
        await client.verify("豫A" + "1" * 30, PlateColor.YELLOW)
    with pytest.raises(InvalidMessageError, match="not a JPEG"):
        await client.send_photo(REPORT, PhotoReport(1, 1, WHEN, b"GIF89a"))
    big = sample_jpeg("x") + b"\0" * 1_000_000
    with pytest.raises(InvalidMessageError, match="limit is 1 MB"):
        await client.send_photo(REPORT, PhotoReport(1, 1, WHEN, big))
    assert platform_sim.calls["getCheckVehicle"] == 0
    assert platform_sim.calls["sharePhotoInfo"] == 0
