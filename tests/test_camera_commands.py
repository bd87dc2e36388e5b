"""Commands between vehicles (a guard's manual open, an LED message): delivered to a Vzenith
camera with its next heartbeat / comet poll, or straight to the lane's own devices."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from drivers import olm_led
from drivers.virtual import VirtualBarrier, VirtualDisplay
from edge.gate import lane as lane_module
from edge.sim.platform import CityPlatformSim
from tests.helpers import (
    GENERIC_LANE,
    VZENITH_LANE,
    camera,
    eventually,
    make_config,
    running_daemon,
)


async def test_a_comet_poll_carries_a_manual_open_and_an_led_message(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lane = {**VZENITH_LANE, "camera": {"kind": "vzenith-push", "comet_hold_seconds": 4}}
    async with running_daemon(make_config(tmp_path, platform_sim.base_url, lanes=[lane])) as d:
        cam = camera(d, "vz-1", "vzenith")
        poll = asyncio.create_task(cam.poll())  # the camera's comet poll, held open
        delivered = await d.lanes["vz-1"].command(open_barrier=True, lines=["欢迎光临"])
        result = await poll
        await cam.aclose()
        assert delivered
        assert result.relay_opened
        shown = [f.text for data in result.serial_data for f in olm_led.decode(data)]
        assert shown == ["欢迎光临"]


async def test_a_command_the_camera_never_collects_is_withdrawn(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(
        make_config(tmp_path, platform_sim.base_url, lanes=[VZENITH_LANE])
    ) as d:
        assert not await d.lanes["vz-1"].command(open_barrier=True, timeout=0.1)
        cam = camera(d, "vz-1", "vzenith")
        later = await cam.poll()  # half a minute later: the barrier must not lift now
        await cam.aclose()
        assert not later.relay_opened
        assert later.body["Response_AlarmInfoPlate"]["info"] == "no"


async def test_lanes_with_their_own_devices_act_at_once(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(make_config(tmp_path, platform_sim.base_url)) as d:
        lane = d.lanes["in-1"]
        assert await lane.command(open_barrier=True, lines=["请通行"])
        assert await lane.command()  # nothing asked, nothing to fail
        barrier, display = lane.devices.barrier, lane.devices.display
        assert isinstance(barrier, VirtualBarrier)
        assert isinstance(display, VirtualDisplay)
        assert len(barrier.openings) == 1
        assert display.shown == [["请通行"]]


async def test_a_device_failure_is_reported(tmp_path: Path, platform_sim: CityPlatformSim) -> None:
    lane = {**GENERIC_LANE, "barrier": {"driver": "modbus-relay", "bus": "b"}}
    cfg = make_config(
        tmp_path,
        platform_sim.base_url,
        lanes=[lane],
        modbus={"b": {"host": "127.0.0.1", "port": 9, "timeout_seconds": 0.2}},
    )
    async with running_daemon(cfg) as d:
        assert not await d.lanes["in-1"].command(open_barrier=True)


async def test_a_guards_open_waiting_for_the_cameras_poll_does_not_hold_the_lane(
    tmp_path: Path, platform_sim: CityPlatformSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard's open is collected with the camera's next poll; until then the camera's
    plate pushes are decided as usual. Not collected in time, it is withdrawn and the pass
    says the barrier failed."""
    async with running_daemon(
        make_config(tmp_path, platform_sim.base_url, lanes=[VZENITH_LANE])
    ) as d:
        lane, cam = d.lanes["vz-1"], camera(d, "vz-1", "vzenith")
        try:
            opened = await lane.override(
                None, open_barrier=True, reason="司机忘带卡", operator="王"
            )
            assert opened.delivery is not None
            pushed = await cam.push("豫A12345")  # decided while the open still waits
            assert not opened.delivery.done()
            assert pushed.relay_opened
            assert (await cam.poll()).relay_opened
            assert await opened.delivery

            monkeypatch.setattr(lane_module, "COMMAND_TIMEOUT_SECONDS", 0.05)
            withdrawn = await lane.override(None, open_barrier=True, reason="测试", operator="王")
            assert withdrawn.delivery is not None
            assert not await withdrawn.delivery
            assert not (await cam.poll()).relay_opened
        finally:
            await cam.aclose()

        async def barrier_of(serial: str | None, state: str) -> bool:
            row = await d.store.find_pass(str(serial))
            return row is not None and row.barrier == state and row.state == "final"

        await eventually(lambda: barrier_of(opened.serial, "opened"))
        await eventually(lambda: barrier_of(withdrawn.serial, "failed"))
