"""A relay board address that answers garbage (issue 18): a non-Modbus service, a wrong unit id,
Modbus exceptions, malformed frames, replies of the wrong kind. The bus logs "relay board
unavailable" once with a one-line reason and "relay board back" once when a real board answers,
never flaps on each poll, and no raw hex reaches the JSON log. Health cycles are the loop
detector's own polls, counted at the server (no sleeps in the test)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import signal
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import drivers.modbus_input
from drivers.base import Actuation, DriverUnavailableError
from drivers.modbus_input import ModbusInputDetector
from drivers.modbus_relay import ModbusBus, ModbusRelayBarrier, make_client
from edge.ops.logsetup import setup_logging
from edge.sim.platform import CityPlatformSim
from tests.helpers import eventually, free_port, wait_healthy, write_config
from tests.processes import Processes


def _mbap(tid: int, unit: int, pdu: bytes, length: int | None = None) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1 if length is None else length, unit) + pdu


#: How each kind of garbage answers one Modbus TCP request (transaction id, unit, PDU).
GARBAGE: dict[str, Callable[[int, int, bytes], bytes]] = {
    "not-modbus": lambda _t, _u, _p: b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    "wrong-unit-id": lambda t, u, p: _mbap(t, u + 7, p[:1] + b"\x01\x00"),
    "exception": lambda t, u, p: _mbap(t, u, bytes([p[0] | 0x80, 0x0B])),
    "malformed-length": lambda t, u, p: _mbap(t, u, p[:1] + b"\x01", length=200),
    "short-reply": lambda t, u, p: _mbap(t, u, p[:1]),
    "wrong-function": lambda t, u, _p: _mbap(t, u, bytes([0x2B, 0x0E, 1, 1, 0, 0, 0])),
}


def _good(tid: int, unit: int, pdu: bytes) -> bytes:
    """A real board: 8 inputs all off for FC02, an echo for writes (FC05, FC06)."""
    if pdu[0] == 0x02:
        return _mbap(tid, unit, b"\x02\x01\x00")
    return _mbap(tid, unit, pdu[:5])


class GarbageDevice:
    """A TCP server on 127.0.0.1 answering each Modbus TCP request with ``answer``; counts the
    requests and wakes whoever waits for a count."""

    def __init__(self, answer: Callable[[int, int, bytes], bytes]) -> None:
        self.answer = answer
        self.requests = 0
        self.port = 0
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._handlers)  # each ends at its connection's end
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readexactly(7)
                tid, _proto, length, unit = struct.unpack(">HHHB", head)
                pdu = await reader.readexactly(length - 1)
                writer.write(self.answer(tid, unit, pdu))
                await writer.drain()
                async with self._changed:
                    self.requests += 1
                    self._changed.notify_all()
        self._writers.discard(writer)
        self._handlers.discard(task)
        writer.close()

    async def wait_requests(self, count: int, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.requests >= count)


@contextlib.asynccontextmanager
async def garbage_device(kind: str) -> AsyncIterator[GarbageDevice]:
    device = GarbageDevice(GARBAGE[kind])
    await device.start()
    try:
        yield device
    finally:
        await device.stop()


def json_lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


HEX_DUMP = re.compile(r"0x[0-9a-f]{1,2} 0x[0-9a-f]{1,2}")


def assert_quiet_and_readable(lines: list[dict[str, Any]], text: str) -> None:
    """No raw hex, every library line at WARNING or above, one line per record."""
    assert not HEX_DUMP.search(text), text
    for line in lines:
        if line.get("logger", "").startswith("pymodbus"):
            assert line["level"] in ("warning", "error", "critical"), line
    for line in lines:
        if line["event"] == "relay board unavailable":
            assert line["reason"]
            assert "\n" not in line["reason"]


@pytest.mark.parametrize("kind", sorted(GARBAGE))
async def test_a_device_answering_garbage_is_unavailable_once_and_back_once(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drivers.modbus_input, "_DOWN_POLL_SECONDS", 0.01)  # cycles, not time
    out = io.StringIO()
    setup_logging("info", "json", out)
    async with garbage_device(kind) as device:
        bus = ModbusBus(make_client("tcp", host="127.0.0.1", port=device.port, timeout=0.2))
        detector = ModbusInputDetector(bus, poll_seconds=0.01)
        barrier = ModbusRelayBarrier(bus, board="waveshare")
        detector.start()
        try:
            await device.wait_requests(6)  # six polls answered with garbage
            with pytest.raises(DriverUnavailableError):
                await barrier.open(Actuation("in-1", "豫A12345"))
            assert not bus.health.connected
            device.answer = _good  # a real board at that address now
            await eventually(lambda: bus.health.connected, timeout=10)
            seen = device.requests
            await device.wait_requests(seen + 6)  # polling on, all well
            await barrier.open(Actuation("in-1", "豫A12345"))
            device.answer = GARBAGE[kind]  # and garbage again
            await eventually(lambda: not bus.health.connected, timeout=10)
            await device.wait_requests(device.requests + 6)
            assert detector._task is not None
            assert not detector._task.done()  # the poll survived every reply
        finally:
            await detector.aclose()
            bus.close()
    lines = json_lines(out)
    events = [line["event"] for line in lines if line["event"].startswith("relay board")]
    assert events == ["relay board unavailable", "relay board back", "relay board unavailable"]
    assert_quiet_and_readable(lines, out.getvalue())
    assert bus.health.reconnects == 0  # up once (not a reconnection), then down


async def test_edge_run_against_a_non_modbus_service_logs_it_once(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    """``edge run`` with its barrier and loop detector on a board address where some other
    TCP service answers: one "unavailable" line however many polls, no hex in the log."""
    async with garbage_device("not-modbus") as device:
        port = free_port()
        config = write_config(
            tmp_path / "config.toml",
            platform_sim.base_url,
            port=port,
            extra=(
                f'[modbus.board]\nhost = "127.0.0.1"\nport = {device.port}\n'
                'timeout_seconds = 0.2\n[logging]\nlevel = "info"\n'
            ),
        )
        text = config.read_text().replace(
            'barrier = { driver = "virtual" }',
            'barrier = { driver = "modbus-relay", bus = "board", board = "waveshare" }\n'
            'detector = { driver = "modbus-input", bus = "board" }',
        )
        config.write_text(text, "utf-8")
        proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.PIPE)
        async with httpx.AsyncClient() as http:
            await wait_healthy(http, port)
        await device.wait_requests(4)  # four health cycles of the detector (≈1 s each)
        assert await procs.stop(proc, signal.SIGTERM) == 0
        assert proc.stdout is not None
        out = (await proc.stdout.read()).decode()
    lines = [json.loads(line) for line in out.splitlines()]
    unavailable = [line for line in lines if line["event"] == "relay board unavailable"]
    assert len(unavailable) == 1, out
    assert "not a Modbus device" in unavailable[0]["reason"]
    assert not [line for line in lines if line["event"] == "relay board back"]
    assert_quiet_and_readable(lines, out)
