from __future__ import annotations

import asyncio
import random
import time

import pytest

from drivers import Actuation, CameraReply, CameraReplySealedError, DisplayLine, olm_led, virtual
from drivers.base import Barrier, Detector, Display, DriverUnavailableError
from drivers.camera_reply import CameraRelayBarrier, CameraSerialTransport
from drivers.contact_detectors import CameraInputDetector
from drivers.led_display import LedDisplay, OlmEncoder
from drivers.presence import Change, Presence
from drivers.virtual import SHOWN_KEPT, VirtualBarrier, VirtualDetector, VirtualDisplay


def test_drivers_satisfy_the_protocols() -> None:
    assert isinstance(VirtualBarrier(), Barrier)
    assert isinstance(CameraRelayBarrier(), Barrier)
    assert isinstance(VirtualDisplay(), Display)
    assert isinstance(LedDisplay(OlmEncoder(), CameraSerialTransport()), Display)
    assert isinstance(VirtualDetector(), Detector)
    assert isinstance(CameraInputDetector(), Detector)


async def test_camera_relay_acts_through_the_reply_until_sealed() -> None:
    barrier = CameraRelayBarrier(channel=1, pulse_ms=800)
    display = LedDisplay(OlmEncoder(), CameraSerialTransport())
    reply = CameraReply()
    ctx = Actuation("vz-1", "豫A12345", reply)
    await barrier.open(ctx)
    await display.show([DisplayLine("豫A12345"), DisplayLine("请通行")], ctx)
    assert (reply.relay_channel, reply.relay_pulse_ms) == (1, 800)
    shown = olm_led.decode(reply.serial[0].data)
    assert [(d.line, d.text) for d in shown] == [(0, "豫A12345"), (1, "请通行")]
    reply.seal()
    with pytest.raises(CameraReplySealedError):
        await barrier.open(ctx)
    with pytest.raises(CameraReplySealedError):
        await display.show([DisplayLine("x")], ctx)
    assert barrier.health.failures == 1
    assert barrier.health.commands == 2
    assert "already sent" in (barrier.health.last_error or "")


async def test_camera_relay_without_a_push_fails_loudly() -> None:
    with pytest.raises(DriverUnavailableError, match="did not come from a camera push"):
        await CameraRelayBarrier().open(Actuation("vz-1", None))


async def test_virtual_detector_sees_the_vehicle_after_an_opening() -> None:
    barrier = VirtualBarrier()
    detector = VirtualDetector(barrier, pass_after=0.01)
    since = time.monotonic()
    waiter = asyncio.create_task(detector.wait_passage(since, 2))
    await barrier.open(Actuation("in-1", "豫A12345"))
    assert await waiter is True
    await barrier.wait_openings(1, 1)
    assert not await detector.wait_passage(time.monotonic() + 1, 0.01)  # nothing new


async def test_virtual_display_records_text() -> None:
    display = VirtualDisplay()
    await display.show([DisplayLine("豫A12345", ok=False)], Actuation("in-1", "豫A12345"))
    assert display.shown == [["豫A12345"]]


async def test_a_virtual_display_remembers_only_its_latest_texts() -> None:
    display = VirtualDisplay()
    for number in range(SHOWN_KEPT + 5):
        await display.show([DisplayLine(f"#{number}", ok=True)], Actuation("in-1", None))
    assert len(display.shown) == SHOWN_KEPT
    assert display.shown[0] == ["#5"]
    assert display.shown[-1] == [f"#{SHOWN_KEPT + 4}"]


async def test_a_virtual_barrier_remembers_only_its_latest_openings_and_counts_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A demo running for days: the barrier keeps its last openings, counts every one, and
    a wait for a count of openings is told by the count, not by the list kept."""
    monkeypatch.setattr(virtual, "OPENINGS_KEPT", 3)
    barrier = VirtualBarrier()
    for number in range(5):
        await barrier.open(Actuation("in-1", f"豫A1234{number}"))
    assert [opening.plate for opening in barrier.openings] == ["豫A12342", "豫A12343", "豫A12344"]
    assert barrier.opened == 5
    await barrier.wait_openings(5, timeout=1)


def test_a_passage_since_a_moment_is_looked_for_among_the_changes_since_only() -> None:
    """``passed_since`` looks at the changes after ``since`` only, newest first — the same
    answer as looking at all of them (checked against that on random histories)."""
    rng = random.Random(7)
    for _ in range(200):
        presence = Presence(debounce=0)
        at = 0.0
        for _ in range(rng.randrange(0, 40)):
            at += rng.choice((0.0, 0.5, 1.0))
            presence.changes.append(Change(at, rng.random() < 0.5))
        for since in (-1.0, 0.0, at / 2, at, at + 1):
            expected = any(not c.present and c.at >= since for c in presence.changes)
            assert presence.passed_since(since) is expected
