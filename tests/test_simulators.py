from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from drivers.base import Actuation, DisplayLine
from drivers.led_display import LedDisplay, LinkTransport, OlmEncoder
from drivers.modbus_relay import ModbusBus, ModbusRelayBarrier, make_client
from drivers.serial_link import SerialLink
from edge.sim.platform import CityPlatformSim, load_vehicles
from tests.helpers import free_port
from tests.processes import Processes

CTX = Actuation("in-1", "豫A12345")


def test_vehicle_table_from_csv_and_toml(tmp_path: Path) -> None:
    csv_file = tmp_path / "vehicles.csv"
    csv_file.write_text(
        "plate,is_control,fuel,emission,reason,blacklist\n"
        "豫A12345,0,B,6,,\n豫B6789G,1,B,4,国四柴油 重污染管控,3\n",
        "utf-8",
    )
    toml_file = tmp_path / "vehicles.toml"
    toml_file.write_text('["豫K23456"]\nis_control = 2\nneed_complete = 1\n', "utf-8")
    from_csv = load_vehicles(csv_file)
    assert from_csv["豫B6789G"].reason == "国四柴油 重污染管控"
    assert from_csv["豫B6789G"].blacklist == "3"
    from_toml = load_vehicles(toml_file)
    assert (from_toml["豫K23456"].is_control, from_toml["豫K23456"].need_complete) == ("2", "1")


async def test_error_rate_fails_a_share_of_calls() -> None:
    sim = CityPlatformSim(error_rate=0.5, seed=7)
    await sim.start()
    try:
        async with httpx.AsyncClient() as http:
            token = (
                await http.post(
                    f"{sim.base_url}/restapi/transportControl/get_data",
                    json={
                        "organ": sim.organ,
                        "ipctype": "getAccessToken",
                        "username": sim.username,
                        "password": sim.password,
                    },
                )
            ).json()["access_token"]
            statuses = [
                (
                    await http.post(
                        f"{sim.base_url}/restapi/transportControl/get_data",
                        json={
                            "organ": sim.organ,
                            "ipctype": "getCheckVehicle",
                            "access_token": token,
                            "value": {"license": "豫A12345", "licenseColor": "1"},
                        },
                    )
                ).status_code
                for _ in range(40)
            ]
        assert 8 < statuses.count(500) < 32
        assert statuses.count(200) == 40 - statuses.count(500)
    finally:
        await sim.stop()


async def test_province_simulator_runs_on_its_own_with_a_vehicle_table(
    tmp_path: Path, procs: Processes
) -> None:
    table = tmp_path / "v.toml"
    table.write_text('["豫A12345"]\nis_control = 1\nreason = "测试管控"\n', "utf-8")
    port = free_port()
    proc = await procs.edge(
        "sim",
        "platform",
        "--mode",
        "province",
        "--port",
        str(port),
        "--vehicles",
        str(table),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert f"province platform at http://127.0.0.1:{port}/province" in line
        async with httpx.AsyncClient() as http:
            base = f"http://127.0.0.1:{port}/province"
            auth = (
                await http.post(
                    f"{base}/GetAuthorizationOrg",
                    json={"orgSecretCode": "ORG-4110", "username": "gate01", "pwd": "sim-password"},
                )
            ).json()
            verify = (
                await http.post(
                    f"{base}/VehVerifyEx",
                    json={
                        "accessToken": auth["data"]["accessToken"],
                        "companySecretCode": "COMPANY-4110020001",
                        "gateSecretCode": "GATE-01",
                        "license": "豫A12345",
                        "licenseColor": "1",
                    },
                )
            ).json()
        assert verify["data"]["isControl"] == "1"
        assert verify["data"]["controlReason"] == "测试管控"
    finally:
        await procs.stop(proc)


async def _start(
    procs: Processes, *argv: str
) -> tuple[asyncio.subprocess.Process, asyncio.StreamReader]:
    proc = await procs.edge("sim", *argv, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    return proc, proc.stdout


async def test_relay_board_and_led_board_run_on_their_own(tmp_path: Path, procs: Processes) -> None:
    """What a technician runs to try a config before the hardware arrives."""
    port = free_port()
    relay, relay_out = await _start(procs, "relay-board", "--port", str(port))
    rtu, rtu_out = await _start(procs, "relay-board", "--rtu", str(tmp_path / "ttyRELAY"))
    led, led_out = await _start(
        procs, "led-board", "--protocol", "olm", "--serial", str(tmp_path / "ttyLED")
    )
    try:
        assert f"127.0.0.1:{port}" in (await asyncio.wait_for(relay_out.readline(), 20)).decode()
        assert "ttyRELAY" in (await asyncio.wait_for(rtu_out.readline(), 20)).decode()
        assert "ttyLED" in (await asyncio.wait_for(led_out.readline(), 20)).decode()
        for bus in (
            ModbusBus(make_client("tcp", host="127.0.0.1", port=port)),
            ModbusBus(make_client("rtu", serial_port=str(tmp_path / "ttyRELAY"))),
        ):
            await ModbusRelayBarrier(bus, board="waveshare", pulse_ms=300).open(CTX)
            bus.close()
        for out in (relay_out, rtu_out):
            lines = [(await asyncio.wait_for(out.readline(), 20)).decode() for _ in range(3)]
            assert "relay 0: flash on for 300 ms" in lines[-1]
        link = SerialLink(str(tmp_path / "ttyLED"))
        link.start()
        assert await link.wait_connected(5)
        await LedDisplay(OlmEncoder(), LinkTransport(link)).show(
            [DisplayLine("豫A12345"), DisplayLine("请通行")], CTX
        )
        await link.aclose()
        assert "豫A12345 | 请通行" in (await asyncio.wait_for(led_out.readline(), 20)).decode()
    finally:
        for proc in (relay, rtu, led):
            assert await procs.stop(proc) == 0
