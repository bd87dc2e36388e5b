"""The province client's behaviour against the province simulator over real HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from structlog.testing import capture_logs

from edge.domain.codes import ControlFlag, GateSignal
from edge.domain.plates import PlateColor
from edge.sim.platform import Fault, SimVehicle
from edge.sim.province import ProvincePlatformSim
from edge.uplink.platform.errors import (
    InvalidReplyError,
    PermanentError,
    PlatformAuthError,
    PlatformServerError,
    PlatformUnavailableError,
    RetryableError,
)
from edge.uplink.platform.province import ProvincePlatform
from tests.helpers import REPORT as BASE_REPORT
from tests.helpers import province_client

REPORT = replace(BASE_REPORT, enterprise_name="测试企业", gate_signal=GateSignal.LIFTED_NOT_PASSED)


def client_for(sim: ProvincePlatformSim, **kw: Any) -> ProvincePlatform:
    return province_client(sim, **kw)


@pytest.fixture
async def sim() -> AsyncIterator[ProvincePlatformSim]:
    s = ProvincePlatformSim()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def client(sim: ProvincePlatformSim) -> AsyncIterator[ProvincePlatform]:
    c = client_for(sim)
    yield c
    await c.aclose()


async def verify(client: ProvincePlatform, plate: str = "豫A12345") -> object:
    return await client.verify(plate, PlateColor.YELLOW, gate_secret_code="GATE-01")


async def test_verify_carries_every_decision_input(
    client: ProvincePlatform, sim: ProvincePlatformSim
) -> None:
    sim.vehicles["豫P00001"] = SimVehicle(
        "2",
        "B",
        "4",
        "交由道闸判定",
        blacklist="3",
        exempt="1",
        need_complete="1",
        license_pk="PK1",
        veh_type="Q11",
        gvm="49000",
    )
    answer = await client.verify("豫P00001", PlateColor.YELLOW, gate_secret_code="GATE-01")
    assert answer.control is ControlFlag.GATE_DECIDES
    assert (answer.blacklist, answer.exempt, answer.need_complete) == ("3", "1", "1")
    assert (answer.license_pk, answer.vehicle_type, answer.gvm) == ("PK1", "Q11", "49000")
    assert (answer.emission, answer.fuel) == ("", "")  # isNeedComplete 1: not to be trusted


async def test_unknown_gate_secret_is_refused(client: ProvincePlatform) -> None:
    with pytest.raises(PermanentError, match="道闸授权号"):
        await client.verify("豫A12345", PlateColor.YELLOW, gate_secret_code="GATE-99")


async def test_one_token_for_many_and_one_refresh_in_a_401_storm(
    client: ProvincePlatform, sim: ProvincePlatformSim
) -> None:
    await asyncio.gather(*(verify(client) for _ in range(50)))
    assert sim.calls["GetAuthorizationOrg"] == 1
    sim.expire_tokens()
    await asyncio.gather(*(verify(client) for _ in range(50)))
    assert sim.calls["GetAuthorizationOrg"] == 2
    assert sim.calls["VehVerifyEx"] == 150  # 50 + 50 refused + 50 retried


async def test_token_lifetime_comes_from_expire(sim: ProvincePlatformSim) -> None:
    sim.token_lifetime = 600
    now = [0.0]
    client = client_for(sim, clock=lambda: now[0], refresh_margin=60)
    try:
        await verify(client)
        now[0] = 539
        await verify(client)
        assert client.tokens.fetches == 1
        now[0] = 541  # within the margin of the 600 s the platform granted
        await verify(client)
        assert client.tokens.fetches == 2
    finally:
        await client.aclose()


async def test_clock_offset_is_measured_warned_and_used_when_configured(
    sim: ProvincePlatformSim,
) -> None:
    sim.clock_skew_seconds = 300
    client = client_for(sim, stamp_corrected_time=True)
    try:
        with capture_logs() as logs:
            await verify(client)
        assert client.clock_offset_seconds == pytest.approx(300, abs=2)
        warning = next(e for e in logs if e["event"] == "local clock differs from the platform's")
        assert warning["log_level"] == "warning"
        await client.send_pass(REPORT)
        assert sim.records[REPORT.serial][0]["date"] == "261121080500"  # 08:00 + 5 min
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault("http", 500), PlatformServerError),
        (Fault("http", 404), PermanentError),
        (Fault("garbage"), InvalidReplyError),
        (Fault("code", "记录格式校验失败"), PermanentError),
    ],
)
async def test_failures_are_classified(
    client: ProvincePlatform, sim: ProvincePlatformSim, fault: Fault, error: type[Exception]
) -> None:
    sim.faults.append(fault)
    with pytest.raises(error):
        await client.send_pass(REPORT)
    assert issubclass(error, RetryableError) is not issubclass(error, PermanentError)


async def test_token_refused_twice_is_an_auth_error(
    client: ProvincePlatform, sim: ProvincePlatformSim
) -> None:
    sim.faults += [Fault("code", "accessToken 无效"), Fault("code", "token expired")]
    with pytest.raises(PlatformAuthError, match="after a refresh"):
        await client.send_pass(REPORT)


async def test_http_401_and_wrong_login(client: ProvincePlatform, sim: ProvincePlatformSim) -> None:
    sim.faults.append(Fault("http", 401))
    await client.send_pass(REPORT)  # refreshed and retried
    assert sim.calls["GetAuthorizationOrg"] == 2
    wrong = client_for(sim, password="nope")
    with pytest.raises(PlatformAuthError, match="GetAuthorizationOrg refused"):
        await verify(wrong)
    await wrong.aclose()


async def test_unreachable_and_hanging_platform(sim: ProvincePlatformSim) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = client_for(sim, base_url=f"http://127.0.0.1:{closed}/province")
    with pytest.raises(PlatformUnavailableError):
        await verify(down)
    await down.aclose()
    sim.hang = True
    hanging = client_for(sim, timeout=0.1)
    with pytest.raises(PlatformUnavailableError, match="timeout"):
        await verify(hanging)
    await hanging.aclose()


async def test_path_template_and_date_format(sim: ProvincePlatformSim) -> None:
    sim.date_format = "yyyyMMddHHmm"
    client = client_for(
        sim,
        base_url=f"http://127.0.0.1:{sim.port}",
        path_template="{base}/province/{method}",
        date_format="yyyyMMddHHmm",
    )
    try:
        await client.send_pass(replace(REPORT, plate=""))
        entry = sim.records[REPORT.serial][0]
        assert entry["date"] == "202611210800"
        assert entry["license"] == "无牌车"
        assert entry["gateSignal"] == "2"
    finally:
        await client.aclose()
