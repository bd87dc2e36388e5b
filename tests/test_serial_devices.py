"""Serial barrier controllers and loop detectors across a real serial link (a pty), and the
debounced presence every detector reports through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.base import Actuation, DriverError, DriverUnavailableError
from drivers.contact_detectors import CameraInputDetector, SerialContactDetector
from drivers.presence import Presence
from drivers.serial_barrier import SerialCommandBarrier, with_check
from drivers.serial_link import SerialLink
from edge.sim.pty import VirtualSerialPort
from tests.helpers import eventually

CTX = Actuation("in-1", "豫A12345")


# -- presence ---------------------------------------------------------------------------------
async def test_presence_accepts_a_change_only_once_it_held() -> None:
    presence = Presence(debounce=0.05)
    seen: list[bool] = []
    presence.on_change(lambda change: seen.append(change.present))
    since = time.monotonic()
    presence.sample(True)
    presence.sample(False)  # bounced back at once: nothing happened
    presence.sample(False)
    assert not await presence.wait_state(True, 0.1)
    presence.sample(True)
    presence.sample(True)  # the same reading again changes nothing
    assert await presence.wait_state(True, 1)
    presence.sample(False)
    assert await presence.wait_passage(since, 1)
    assert seen == [True, False]
    assert not presence.passed_since(time.monotonic())
    presence.sample(True)
    presence.close()  # a pending change is dropped
    await asyncio.sleep(0.08)
    assert presence.present is False


# -- serial command barrier -------------------------------------------------------------------
def test_check_bytes_are_computed_not_copied() -> None:
    # The "EB" barrier manual prints AB for 43 (raise pole); XOR gives A9 (research §2).
    assert with_check(bytes.fromhex("EB 01 43 00"), "xor").hex(" ") == "eb 01 43 00 a9"
    assert with_check(bytes.fromhex("EB 01 40 00"), "xor").hex(" ") == "eb 01 40 00 aa"
    assert with_check(bytes.fromhex("01 02 03"), "sum8") == bytes.fromhex("01 02 03 06")
    assert with_check(bytes.fromhex("01 05 00 00 FF 00"), "modbus-crc").hex(" ").endswith("8c 3a")
    assert with_check(b"\x01", "none") == b"\x01"


@pytest.fixture
async def controller(tmp_path: Path) -> AsyncIterator[tuple[VirtualSerialPort, list[bytes]]]:
    """A barrier controller that answers ``EB 01 C3 00`` (+ check) to each raise command."""
    received: list[bytes] = []

    def answer(data: bytes) -> None:
        received.append(data)
        if data.startswith(bytes.fromhex("EB 01 43")):
            port.write(bytes.fromhex("EB 01 C3 00 29"))

    port = VirtualSerialPort(tmp_path / "ttyBARRIER", answer)
    port.plug()
    yield port, received
    port.unplug()


async def _link(path: Path, **kw: object) -> SerialLink:
    link = SerialLink(str(path), backoff_initial=0.02, backoff_max=0.1, **kw)  # type: ignore[arg-type]
    link.start()
    assert await link.wait_connected(5)
    return link


async def test_serial_barrier_sends_its_frame_and_waits_for_the_ack(
    controller: tuple[VirtualSerialPort, list[bytes]],
) -> None:
    port, received = controller
    link = await _link(port.path)
    try:
        barrier = SerialCommandBarrier(
            link, bytes.fromhex("EB 01 43 00"), check="xor", ack=bytes.fromhex("EB 01 C3")
        )
        await barrier.open(CTX)
        assert received == [bytes.fromhex("EB 01 43 00 A9")]
        silent = SerialCommandBarrier(
            link, bytes.fromhex("EB 02 43 00"), check="xor", ack=b"\xeb\x02", ack_timeout=0.05
        )
        with pytest.raises(DriverError, match="did not acknowledge"):
            await silent.open(CTX)  # nobody answers at address 2
        blind = SerialCommandBarrier(link, bytes.fromhex("A0 01 01 A2"))  # LCUS: no reply
        await blind.open(CTX)
        await eventually(lambda: received[-1] == bytes.fromhex("A0 01 01 A2"))
        assert barrier.health.commands == 3
        assert barrier.health.failures == 1
    finally:
        await link.aclose()


async def test_serial_barrier_unplugged_fails_fast_then_recovers(
    controller: tuple[VirtualSerialPort, list[bytes]],
) -> None:
    port, received = controller
    link = await _link(port.path)
    barrier = SerialCommandBarrier(link, bytes.fromhex("EB 01 43 00"), check="xor")
    try:
        port.unplug()
        await eventually(lambda: not link.health.connected)
        with pytest.raises(DriverUnavailableError):
            await barrier.open(CTX)
        port.plug()
        assert await link.wait_connected(5)
        await barrier.open(CTX)
        await eventually(lambda: bool(received))
        assert link.health.reconnects == 1
    finally:
        await link.aclose()


# -- detectors ----------------------------------------------------------------------------------
async def test_serial_contact_detector_reads_frames_among_noise(tmp_path: Path) -> None:
    port = VirtualSerialPort(tmp_path / "ttyLOOP", lambda _data: None)
    port.plug()
    detector = SerialContactDetector(
        str(port.path), present=b"IN1=1", gone=b"IN1=0", debounce_seconds=0.01
    )
    detector.link.backoff_initial = 0.02
    detector.start()
    try:
        assert await detector.link.wait_connected(5)
        since = time.monotonic()
        port.write(b"\x00\xff garbage IN1")  # noise, and a frame cut in two
        port.write(b"=1\r\nmore noise")
        assert await detector.presence.wait_state(True, 2)
        port.write(b"IN1=0\r\n")
        assert await detector.wait_passage(since, 2)
        port.unplug()  # the adapter goes away and comes back
        await eventually(lambda: not detector.health.connected)
        port.plug()
        assert await detector.link.wait_connected(5)
        since = time.monotonic()
        port.write(b"IN1=1IN1=0")
        assert not await detector.wait_passage(since, 0.1)  # 0 s on the loop: a bounce
        port.write(b"IN1=1")
        await asyncio.sleep(0.05)
        port.write(b"IN1=0")
        assert await detector.wait_passage(since, 2)
        assert detector.health.reconnects == 1
    finally:
        await detector.aclose()
        port.unplug()


async def test_camera_input_detector_takes_only_its_input() -> None:
    detector = CameraInputDetector(1, debounce_seconds=0, invert=True)
    since = time.monotonic()
    assert not detector.feed(0, 1)
    assert detector.feed(1, 0)  # inverted: contact open = vehicle present
    assert detector.feed(1, 1)
    assert await detector.wait_passage(since, 1)
    await detector.aclose()


async def test_a_port_another_program_holds_is_refused_and_said(
    controller: tuple[VirtualSerialPort, list[bytes]],
) -> None:
    """The review's case: ``edge drivers test … watch-scale`` beside the running daemon took
    bytes from the daemon's port (its link went down twice). A port is opened exclusively:
    the second opener is refused, and says why; once the first lets go, it connects."""
    port, _received = controller
    first = await _link(port.path)
    second = SerialLink(str(port.path), backoff_initial=0.02, backoff_max=0.1)
    second.start()
    try:
        await eventually(lambda: second.health.last_error is not None, timeout=5)
        assert not second.health.connected
        said = second.health.last_error or ""
        assert said.startswith("串口被其他程序占用 — the port is in use"), said
        assert first.health.connected
        await first.aclose()
        assert await second.wait_connected(5)
    finally:
        await first.aclose()
        await second.aclose()
