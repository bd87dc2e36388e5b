from __future__ import annotations

import asyncio

import pytest

from edge.ops.supervisor import Supervisor, cancel_and_wait


async def test_crashing_component_is_restarted() -> None:
    runs: list[int] = []
    restarted = asyncio.Event()

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("boom")
        restarted.set()
        await asyncio.Event().wait()

    sup = Supervisor(initial_delay=0.001, max_delay=0.002)
    sup.start("flaky", flaky)
    await asyncio.wait_for(restarted.wait(), 2)
    assert sup.restarts["flaky"] == 2
    assert sup.alive() == {"flaky": True}
    await sup.stop()
    assert sup.alive() == {}


async def test_component_that_returns_is_restarted_too() -> None:
    calls = 0
    twice = asyncio.Event()

    async def quits() -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            twice.set()

    sup = Supervisor(initial_delay=0.001)
    sup.start("quits", quits)
    await asyncio.wait_for(twice.wait(), 2)
    await sup.stop()


async def test_lane_survives_a_failing_event(tmp_path, platform_sim) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import camera, make_config, running_daemon

    async with running_daemon(make_config(tmp_path, platform_sim.base_url)) as daemon:
        lane = daemon.lanes["in-1"]
        original = lane.store.record_pass

        async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
            lane.store.record_pass = original  # type: ignore[method-assign]
            raise OSError("disk full")

        lane.store.record_pass = broken  # type: ignore[method-assign]
        cam = camera(daemon)
        failed = await cam.push("豫A12345")
        ok = await cam.push("豫A88888")
        await cam.aclose()
        assert failed.status == 500
        assert "OSError" in failed.body["error"]
        assert ok.body["verdict"] == "open"
        assert daemon.health().ok is True


async def test_a_component_waiting_to_restart_is_not_alive() -> None:
    """What the systemd watchdog and /healthz see while a component crash-loops."""
    crashed = asyncio.Event()

    async def broken() -> None:
        crashed.set()
        raise RuntimeError("the store is gone")

    sup = Supervisor(initial_delay=30, max_delay=30)
    sup.start("lane:in-1", broken)
    await asyncio.wait_for(crashed.wait(), 2)
    await asyncio.sleep(0)
    assert sup.alive() == {"lane:in-1": False}
    await sup.stop()


async def test_stop_asks_again_a_component_that_lost_its_cancellation() -> None:
    """Python 3.11's ``asyncio.wait_for`` can lose a cancellation (its inner future finishing
    at the same moment): the daemon's stop must still end."""
    sup = Supervisor()
    started, lost = asyncio.Event(), []

    async def stubborn() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            lost.append(True)  # swallowed, as the bug does; the next request is obeyed
        await asyncio.Event().wait()

    sup.start("stubborn", stubborn)
    await started.wait()
    async with asyncio.timeout(10):
        await sup.stop()
    assert lost == [True]


async def test_cancel_and_wait_holds_its_callers_cancellation_until_all_have_ended() -> None:
    """Stopping the stopper must not leave a stubborn task running behind it."""
    started, release = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # ends later, on its own

    task = asyncio.create_task(stubborn())
    await started.wait()
    stopper = asyncio.create_task(cancel_and_wait([task]))
    await asyncio.sleep(0)
    stopper.cancel()
    await asyncio.sleep(0)
    assert not stopper.done()
    assert not task.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert task.done()
