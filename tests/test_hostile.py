"""Hostile and malformed input against the real HTTP server (issue 20): the daemon stays fast,
bounded and truthful. Timing bounds here are the issue's "done when", with generous margins."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import io
import json
import logging
import signal
import socket
import statistics
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from aiohttp import web

from drivers.virtual import VirtualBarrier
from edge.daemon import Daemon
from edge.domain.events import PlateEvent
from edge.gate.lane import LaneOutcome
from edge.ingest import http_push
from edge.ingest.http_push import PushBudget
from edge.ingest.payload import (
    JSON_COMMA_LIMIT,
    RAW_LIMIT,
    PayloadError,
    RawPush,
    diagnostic,
)
from edge.ledger.rows import HistoryCriteria
from edge.ops import refusals
from edge.ops.logsetup import setup_logging
from edge.ops.refusals import RefusalLog
from edge.sim.jpeg import sample_jpeg
from edge.sim.platform import CityPlatformSim
from edge.sim.province import ProvincePlatformSim
from edge.web import auth, server, status_page
from edge.web.auth import hash_password
from edge.web.photo_listener import PhotoListener
from tests.helpers import (
    GENERIC_LANE,
    VZENITH_LANE,
    camera,
    config_for,
    eventually,
    free_port,
    running_daemon,
    wait_healthy,
    wait_records,
    write_config,
)
from tests.jpeg_bomb import uniform_jpeg
from tests.processes import Processes
from tests.test_photo_fit import claiming, progressive

PASSWORD = "gate password 1"


def base(daemon: Daemon) -> str:
    return f"http://127.0.0.1:{daemon.web.port}"


def client_from(address: str, **kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client whose connections come from ``address`` (another 127.0.0.0/8 host)."""
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=address), **kwargs)


async def logged_in(http: httpx.AsyncClient, daemon: Daemon) -> dict[str, str]:
    reply = await http.post(
        f"{base(daemon)}/api/login", data={"user": "王五", "password": PASSWORD}
    )
    assert reply.status_code == 200, reply.text
    return {"X-CSRF-Token": reply.json()["csrf"]}


def one_line_reason(reply: httpx.Response) -> str:
    """A 400's one-line reason: ``{"error": …}`` (a search, 开闸) or, as an action's other
    refusals, ``{"ok": false, "detail": …}``."""
    assert reply.status_code == 400, reply.text
    assert "\n" not in reply.text
    body = reply.json()
    reason = body["error"] if "error" in body else body["detail"]
    assert body.get("ok", False) is False
    assert isinstance(reason, str)
    assert reason
    return reason


async def test_paging_is_clamped_and_validated(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        cam = camera(daemon)
        for plate in ("豫A12345", "豫A23456", "豫A34567"):
            assert (await cam.push(plate)).status == 200
        await cam.aclose()
        async with httpx.AsyncClient() as http:
            url = f"{base(daemon)}/api/passes"
            assert len((await http.get(url, params={"limit": "-1"})).json()) == 1
            assert len((await http.get(url, params={"limit": "0"})).json()) == 1
            assert len((await http.get(url, params={"limit": "99999999"})).json()) == 3
            assert len((await http.get(url)).json()) == 3
            assert "limit" in one_line_reason(await http.get(url, params={"limit": "abc"}))
            assert "limit" in one_line_reason(await http.get(url, params={"limit": "1e400"}))
            assert "plate" in one_line_reason(await http.get(url, params={"plate": "x" * 1000}))
            csv = await http.get(f"{base(daemon)}/api/passes.csv", params={"limit": "abc"})
            assert csv.status_code == 400


async def test_status_page_forms_refuse_bad_fields_with_a_reason(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    web = {"password_hash": hash_password(PASSWORD)}
    async with (
        running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon,
        httpx.AsyncClient() as http,
    ):
        plans = f"{base(daemon)}/api/plans"
        anonymous = await http.post(plans, json={"name": "x", "strategy": 1, "level": 99})
        assert anonymous.status_code == 403  # no session: refused before anything else
        for user in ("张\u202e三", "张\u3164三"):  # audited; a correction's reviewer
            login = await http.post(
                f"{base(daemon)}/api/login", data={"user": user, "password": PASSWORD}
            )
            assert "user name" in one_line_reason(login)
        csrf = await logged_in(http, daemon)
        for level in (99, "x", 0, True, [1], 1.5):
            reply = await http.post(
                plans, json={"name": "重污染", "strategy": 1, "level": level}, headers=csrf
            )
            assert "level" in one_line_reason(reply)
        assert "strategy" in one_line_reason(
            await http.post(plans, json={"name": "a", "strategy": "NaN"}, headers=csrf)
        )
        assert "end" in one_line_reason(
            await http.post(plans, json={"name": "a", "strategy": 1, "end": "soon"}, headers=csrf)
        )
        # the page's refusals are Chinese, naming the field as the form sends it
        for reason, why in (("原" * 100_000, "字节"), ("原" * 1000, "reason")):
            opened = await http.post(
                f"{base(daemon)}/api/lanes/in-1/open", json={"reason": reason}, headers=csrf
            )
            assert why in one_line_reason(opened)
            listed = await http.post(
                f"{base(daemon)}/api/lists",
                json={"plate": "豫A12345", "kind": "deny", "reason": reason},
                headers=csrf,
            )
            assert why in one_line_reason(listed)
        hidden = (("reason", "超载\x00"), ("reason", "\u202e载超"), ("plate", "豫A\u200b12345"))
        for field, value in (("reason", {"a": 1}), ("plate", ["豫A12345"]), *hidden):  # not text:
            refused = await http.post(  # 400 as for an opening (it stored "人工禁止 {'a': 1}")
                f"{base(daemon)}/api/lanes/in-1/refuse",
                json={"plate": "豫A12345", "reason": "超载", field: value},
                headers=csrf,
            )
            assert field in one_line_reason(refused)
        not_json = await http.post(plans, content=b"\xff" * 10, headers=csrf)
        assert "JSON" in one_line_reason(not_json)
        big = await http.post(plans, content=b"{" + b" " * 100_000 + b"}", headers=csrf)
        assert "字节" in one_line_reason(big)
        good = await http.post(
            plans, json={"name": "演练", "strategy": 7, "level": "2"}, headers=csrf
        )
        assert good.status_code == 200, good.text
        barrier = daemon.lanes["in-1"].devices.barrier
        assert isinstance(barrier, VirtualBarrier)
        assert not barrier.openings
        refusals = [row for row in await daemon.store.audit_log() if row.result == "refused"]
        assert any("level" in row.detail for row in refusals)  # every refusal audited


async def test_a_login_flood_under_new_names_is_slowed_by_the_account(
    tmp_path: Path, platform_sim: CityPlatformSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """There is one password, so one account: a guesser changing the user name every few tries
    is locked out as one (it was not: 392 guesses in 20 s). A try while the account waits is
    refused with 429 and ``Retry-After`` after the refusal hold, without running scrypt and
    without queueing behind anything (held side by side); concurrent guesses when the account
    may try get one check, the others 429 at once; the guard's password works once the delay
    has passed. The refusals are audited once per address, not once each."""
    checked: list[str] = []
    verify = auth.verify_password

    def counted(password: str, stored: str) -> bool:
        checked.append(password)
        return verify(password, stored)

    monkeypatch.setattr(auth, "verify_password", counted)
    web = {"password_hash": hash_password(PASSWORD)}
    async with (
        running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon,
        httpx.AsyncClient() as http,
    ):
        page = daemon.status_page
        page.hold = hold = 0.3
        now = [1000.0]
        page.guard.clock = lambda: now[0]
        url = f"{base(daemon)}/api/login"

        async def guess(user: str, password: str = "guess") -> httpx.Response:
            return await http.post(url, data={"user": user, "password": password})

        for n in range(auth.MAX_FAILURES):
            assert (await guess(f"guesser{n}")).status_code == 401
        started = time.monotonic()
        flood = await asyncio.gather(*(guess(f"other{n}") for n in range(20)))
        took = time.monotonic() - started
        assert {reply.status_code for reply in flood} == {429}
        assert {reply.headers["retry-after"] for reply in flood} == {"2"}
        assert "秒后再试" in flood[0].json()["error"]
        assert hold * 0.9 <= took < hold * 5  # held side by side, not one after another
        assert (await guess("王五", PASSWORD)).status_code == 429  # the account waits
        assert len(checked) == auth.MAX_FAILURES  # no scrypt for any of them
        now[0] += auth.FIRST_DELAY_SECONDS
        at_once = Counter(r.status_code for r in await asyncio.gather(
            *(guess(f"again{n}") for n in range(10))
        ))  # fmt: skip
        assert at_once == {401: 1, 429: 9}
        assert len(checked) == auth.MAX_FAILURES + 1
        now[0] += 2 * auth.FIRST_DELAY_SECONDS
        started = time.monotonic()
        await logged_in(http, daemon)  # the guard's password, once the delay has passed
        assert time.monotonic() - started < 1
        audit = await daemon.store.audit_log()
    logins = [row for row in audit if row.action == "login"]
    waiting = [row for row in logins if "refused unchecked" in row.detail]
    assert len(waiting) == 1, [row.detail for row in waiting]  # not 30
    assert len(logins) == auth.MAX_FAILURES + 1 + 1 + 1
    assert logins[0].result == "ok"


async def test_every_response_says_nosniff_with_a_strict_type(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        cam = camera(daemon)
        pushed = await cam.push("豫A12345", image=True)
        await cam.aclose()
        serial = pushed.body["serial"]
        async with httpx.AsyncClient() as http:
            for path, kind in (
                ("/", "text/html"),
                ("/api/status", "application/json"),
                ("/healthz", "application/json"),
                ("/metrics", "text/plain"),
                (f"/photos/{serial}-1.jpg", "image/jpeg"),
                ("/api/passes.csv", "text/csv"),
                ("/nothing-here", "text/plain"),
            ):
                reply = await http.get(base(daemon) + path)
                assert reply.headers["x-content-type-options"] == "nosniff", path
                assert reply.headers["content-type"].startswith(kind), path


async def _slow_connection(port: int) -> asyncio.StreamWriter | None:
    """A client that starts a request and never finishes its headers."""
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /push/in-1 HTTP/1.1\r\nHost: gate\r\nX-Slow: ")
        await writer.drain()
    except OSError:
        return None
    return writer


@contextlib.asynccontextmanager
async def slow_connections(port: int, count: int) -> AsyncIterator[list[asyncio.StreamWriter]]:
    writers: list[asyncio.StreamWriter] = []
    try:
        for start in range(0, count, 100):
            batch = await asyncio.gather(
                *(_slow_connection(port) for _ in range(min(100, count - start)))
            )
            writers.extend(w for w in batch if w is not None)
        yield writers
    finally:
        for writer in writers:
            writer.close()


async def test_slow_and_many_connections_do_not_stop_a_push(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    web = {"header_timeout_seconds": 60, "max_connections_per_address": 50}
    async with (
        running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon,
        slow_connections(daemon.web.port, 1100) as writers,
        client_from("127.0.0.2", timeout=5) as http,
    ):
        assert len(writers) >= 50  # the cap's worth held open (the rest reset as accepted)
        guard = daemon.web.guard
        await eventually(lambda: guard.open + guard.refused >= 1100)
        assert guard.open <= 50  # the rest were closed as they arrived
        started = time.perf_counter()
        reply = await http.post(f"{base(daemon)}/push/in-1", json={"plate": "豫A12345"})
        elapsed = time.perf_counter() - started
        assert reply.status_code == 200
        assert reply.json()["verdict"] == "open"
        assert elapsed < 1.0, elapsed
        health = await http.get(f"{base(daemon)}/healthz")
        assert health.status_code == 200


async def test_a_request_must_arrive_in_time(tmp_path: Path, platform_sim: CityPlatformSim) -> None:
    web = {"header_timeout_seconds": 0.2, "body_timeout_seconds": 0.2}
    async with running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon:
        port = daemon.web.port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /push/in-1 HTTP/1.1\r\nHost: gate\r\n")  # never finished
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed by the daemon
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /push/in-1 HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"  # the body never comes
        )
        async with asyncio.timeout(5):
            answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert daemon.web.guard.timed_out >= 2
        cam = camera(daemon)
        assert (await cam.push("豫A12345")).status == 200  # others are served as ever
        await cam.aclose()


async def read_to_a_reset(sock: socket.socket) -> None:
    """Read ``sock`` (non-blocking) until its peer resets it; AssertionError if it ends with
    an end of stream instead (a FIN, which waits behind what the peer's kernel had not sent)."""
    loop = asyncio.get_running_loop()
    try:
        while await loop.sock_recv(sock, 65536):
            pass
    except ConnectionResetError:
        return
    raise AssertionError("closed with an end of stream, not a reset")


async def _small_window_client(
    opened: contextlib.AsyncExitStack, port: int, request: bytes
) -> socket.socket:
    """A client with a 4 KiB receive buffer that has sent ``request`` (and reads only as its
    test says), closed when ``opened`` closes."""
    client = opened.enter_context(contextlib.closing(socket.socket()))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(client, ("127.0.0.1", port))
    await loop.sock_sendall(client, request)
    return client


async def test_an_answer_nobody_reads_is_closed_and_one_read_is_not() -> None:
    """A client that asks for a streamed answer (a CSV export, a workbook) and never reads
    it: its connection is closed once the bytes queued for it stop moving (half the body
    timeout, twice in a row), and the handler ends — it waited in its write for ever,
    holding its task and buffers (512 such connections: the daemon 142 → 212 MB and every
    connection the listener allows; a fresh verification, session 17). A client that reads
    gets the whole answer; one that goes away halfway is one line in the log, not an error
    with its traceback (1.9 KB each). The unread one is closed with a reset. (Fails
    without: the unread stream's handler never ends; the traceback; the stalled client
    reads to an end of stream.)"""
    chunk, chunks = b"x" * 65536, 400  # 26 MB: more than the sockets' buffers hold
    ended: list[str] = []
    all_ended = asyncio.Event()

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(chunks):
                await response.write(chunk)
            await response.write_eof()
            ended.append("sent")
        except ConnectionError:
            ended.append("closed")
            raise
        finally:
            if len(ended) == 3:
                all_ended.set()
        return response

    out = io.StringIO()
    setup_logging("info", "json", out)
    limits = server.Limits(body_timeout=1.0)
    listener = server.Listener("127.0.0.1", 0, [web.get("/stream", stream)], limits, "test")
    await listener.start()
    async with contextlib.AsyncExitStack() as opened:
        stalled = opened.enter_context(contextlib.closing(socket.socket()))
        opened.push_async_callback(listener.stop)  # also when an assertion fails
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.setblocking(False)
        await asyncio.get_running_loop().sock_connect(stalled, ("127.0.0.1", listener.port))
        stalled.send(b"GET /stream HTTP/1.1\r\nHost: gate\r\n\r\n")  # and never reads
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        opened.callback(writer.close)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: gate\r\nConnection: close\r\n\r\n")
        gone_reader, gone = await asyncio.open_connection("127.0.0.1", listener.port)
        opened.callback(gone.close)
        gone.write(b"GET /stream HTTP/1.1\r\nHost: gate\r\n\r\n")
        async with asyncio.timeout(30):
            await gone_reader.readexactly(1_000_000)  # then the client goes (a reset)
            gone.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            gone.transport.abort()
            received = len(await reader.read())
            await all_ended.wait()  # the stalled one's handler ends too
            await read_to_a_reset(stalled)  # the kernel dropped the rest at once
        assert received > chunks * len(chunk)  # the reader got it all
        assert sorted(ended) == ["closed", "closed", "sent"]
        assert listener.guard.timed_out == 1
    left = [json.loads(line) for line in out.getvalue().splitlines() if "went away" in line]
    assert [record["level"] for record in left] in ([], ["info"])  # (aiohttp logs the reset
    assert "Traceback" not in out.getvalue()  # one when its write meets it, not its close)


async def test_an_answer_left_unread_is_dropped_with_a_reset_at_the_header_timeout() -> None:
    """A client asks for a whole (not streamed) answer larger than the sockets hold and never
    reads it: the handler is done, the next request's header timeout closes the connection,
    and with a reset — a FIN waited behind the unsent bytes (128 such clients of 5,000-row
    pages held 349 MB of the kernel's memory in FIN-WAIT-1; a fresh verification, session
    18). A client that read its answer is closed with a FIN. (Fails without: the unread one
    reads to an end of stream.)"""
    big = b"x" * 8_000_000

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=big if request.query.get("big") else b"ok")

    limits = server.Limits(header_timeout=0.3, body_timeout=60.0)
    listener = server.Listener("127.0.0.1", 0, [web.get("/a", answer)], limits, "test")
    await listener.start()
    async with contextlib.AsyncExitStack() as opened:
        opened.push_async_callback(listener.stop)
        unread = await _small_window_client(
            opened, listener.port, b"GET /a?big=1 HTTP/1.1\r\nHost: gate\r\n\r\n"
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        opened.callback(writer.close)
        writer.write(b"GET /a HTTP/1.1\r\nHost: gate\r\n\r\n")
        async with asyncio.timeout(30):
            assert (await reader.read()).endswith(b"ok")  # read, then a FIN when idle
            await eventually(lambda: listener.guard.timed_out == 2)
            await read_to_a_reset(unread)


async def test_an_unread_export_smaller_than_the_kernels_buffers_is_still_closed() -> None:
    """A 3 MB streamed answer (a whole-ledger CSV) to a client that never reads: the kernel's
    send buffer, autotuned up to 4 MiB, took all of it — the export finished, nothing looked
    stalled, and 128 such clients held ~500 MB of the kernel's memory for a minute (a fresh
    verification, session 18). Capped (``SEND_BUFFER_BYTES``), the export waits, is seen
    not to move and is closed with a reset; the kernel never held more than the cap's
    double. (Fails without: the export is sent whole into the kernel.)"""
    chunk, chunks = b"x" * 65536, 48  # 3 MB
    ended: list[str] = []
    done = asyncio.Event()
    queued: list[int] = []

    async def export(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        sock = request.transport.get_extra_info("socket") if request.transport else None
        try:
            for _ in range(chunks):
                await response.write(chunk)
                if sock is not None and sock.fileno() >= 0:
                    queued.append(server._unsent(sock.fileno()))
            await response.write_eof()
            ended.append("sent")
        except ConnectionError:
            ended.append("closed")
            raise
        finally:
            done.set()
        return response

    limits = server.Limits(body_timeout=1.0)
    listener = server.Listener("127.0.0.1", 0, [web.get("/csv", export)], limits, "test")
    await listener.start()
    async with contextlib.AsyncExitStack() as opened:
        opened.push_async_callback(listener.stop)
        stalled = await _small_window_client(
            opened, listener.port, b"GET /csv HTTP/1.1\r\nHost: gate\r\n\r\n"
        )  # and never reads
        async with asyncio.timeout(30):
            await done.wait()
            await read_to_a_reset(stalled)
    assert ended == ["closed"]
    assert max(queued) <= 2 * server.SEND_BUFFER_BYTES + 65536, max(queued)
    assert listener.guard.timed_out == 1


async def test_a_client_reading_an_export_slowly_is_not_cut_off() -> None:
    """A client reading a streamed answer slowly (4 KiB at a time, ~40 KB/s, a 3 MB export)
    drains the kernel's send queue long before asyncio's buffer moves (the kernel wakes the
    writer once a third of its 512 KiB is free): it was closed as a stalled reader (a fresh
    verification's readers of 2 KB/s, cut at 30 s). The kernel's queue counts as moving."""
    chunk, chunks = b"x" * 65536, 48

    async def export(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(chunks):
            await response.write(chunk)
        await response.write_eof()
        return response

    limits = server.Limits(body_timeout=1.0)  # checked every 0.5 s
    listener = server.Listener("127.0.0.1", 0, [web.get("/csv", export)], limits, "test")
    await listener.start()
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as opened:
        opened.push_async_callback(listener.stop)
        slow = await _small_window_client(
            opened, listener.port, b"GET /csv HTTP/1.1\r\nHost: gate\r\n\r\n"
        )
        received = 0
        async with asyncio.timeout(30):
            started = loop.time()
            while loop.time() - started < 3:  # six of the send watch's checks
                received += len(await loop.sock_recv(slow, 4096))
                await asyncio.sleep(0.1)  # the client's own pace
            assert listener.guard.timed_out == 0
            while received < chunks * len(chunk):  # then the rest, at once
                data = await loop.sock_recv(slow, 1 << 20)
                assert data, "closed before the whole answer"
                received += len(data)
        assert listener.guard.timed_out == 0


def test_a_client_gone_before_its_answer_is_one_info_line_a_minute() -> None:
    """aiohttp's "Error handling request" with a ConnectionError (a guard cancelling a
    download, a reset mid-export) was an error with a 1.9 KB traceback each (260 in a fresh
    verification's log, session 17); an error of ours keeps its traceback."""
    log_filter = server._HttpErrorFilter()

    def record(error: BaseException) -> logging.LogRecord:
        return logging.LogRecord(
            "edge.web.http", logging.ERROR, __file__, 1, "Error handling request from %s",
            ("127.0.0.5",), (type(error), error, None),
        )  # fmt: skip

    gone = record(ConnectionResetError("Connection lost"))
    assert log_filter.filter(gone)
    assert gone.getMessage().startswith("a client at 127.0.0.5 went away")
    assert (gone.levelname, gone.exc_info) == ("INFO", None)
    assert not log_filter.filter(record(ConnectionResetError()))  # once a minute
    ours = record(KeyError("x"))
    assert log_filter.filter(ours)
    assert ours.exc_info is not None


async def raw_post(
    port: int, path: str, body: dict[str, Any] | bytes
) -> tuple[int, dict[str, Any]]:
    """A camera's push on a connection of its own, with as little client work as can be
    (a thousand of them share the test's event loop with the daemon); bytes are sent as
    they are, a dict as ASCII JSON."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        answer = await reader.read()
    finally:
        writer.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    try:
        reply: dict[str, Any] = json.loads(payload)
    except ValueError:
        reply = {"text": payload.decode("utf-8", "replace")}
    return int(head.split()[1]), reply


def rss_mb() -> float:
    """This process's resident memory, MB (the daemon under test runs in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


#: Plates far apart (no near-duplicates of each other).
PLATES = ("豫A12345", "豫B67890", "豫C24680", "豫D13579", "豫E97531", "豫F86420")
QUIET_PLATES = ("晋A11111", "晋B22222", "晋C33333", "晋D44444", "晋F55555")
FAKE_JPEG = b"\xff\xd8\xff<!DOCTYPE html><html><body>router login</body></html>\xff\xd9"


def scan_data_at(jpeg: bytes) -> int:
    """Where the first scan's entropy-coded data of ``jpeg`` begins."""
    at = jpeg.index(b"\xff\xda")
    return at + 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")


async def test_pictures_that_are_not_pictures_are_never_stored_or_forwarded(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A shell, a bomb, a truncated JPEG, and a real JPEG's headers with HTML as the scan data
    (a fresh verification, session 17: stored and forwarded) are refused; a real photo with
    HTML appended is stored and forwarded without it. (Fails without libjpeg's warnings as
    errors: the fourth was decoded, grey, and kept.)"""
    bomb = claiming(progressive(), 19000, 19000)
    truncated = sample_jpeg("cut")[:-3000]
    real = sample_jpeg("ok")
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    html_scan = real[: scan_data_at(real)] + html + b"\xff\xd9"
    async with (
        running_daemon(config_for(tmp_path, platform_sim)) as daemon,
        httpx.AsyncClient(timeout=10) as http,
    ):
        before = rss_mb()
        serials = []
        for plate, picture in zip(PLATES[:4], (FAKE_JPEG, bomb, truncated, html_scan), strict=True):
            reply = await http.post(
                f"{base(daemon)}/push/in-1",
                json={"plate": plate, "images": {"scene": b64(picture)}},
            )
            assert reply.status_code == 200, reply.text
            assert reply.json()["photo"] == "refused"  # and says so
            serials.append(reply.json()["serial"])
        assert rss_mb() - before < 200
        good = await http.post(
            f"{base(daemon)}/push/in-1",
            json={"plate": PLATES[4], "images": {"scene": b64(real + html * 100 + b"\xff\xd9")}},
        )
        assert good.json()["photo"] == "stored"
        await wait_records(platform_sim, 5, photos=1)
        [arrival] = platform_sim.photos[good.json()["serial"]]
        assert arrival.size == len(real)
        [stored] = list((tmp_path / "photos").rglob("*.jpg"))
        assert stored.read_bytes() == real
        for serial in serials:
            row = await daemon.store.find_pass(serial)
            assert row is not None
            assert row.flag == "photo-skipped"
            assert await daemon.store.find_photo(serial, 1) is None
            assert serial not in platform_sim.photos  # never forwarded
        assert list(platform_sim.photos) == [good.json()["serial"]]
        served = await http.get(f"{base(daemon)}/photos/{serials[0]}-1.jpg")
        assert served.status_code == 404
        # a refused scene and a good plate crop: the crop is the pass's photo (it was left
        # out with the scene, the pass flagged photo-skipped)
        # ... and one that is no JPEG at all (HTML: the read was refused 400 and lost)
        crop = sample_jpeg("crop")
        for n, scene in enumerate((html_scan, html), start=1):
            both = {"scene": b64(scene), "plate": b64(crop)}
            cropped = await http.post(
                f"{base(daemon)}/push/in-1", json={"plate": QUIET_PLATES[n], "images": both}
            )
            assert cropped.json()["photo"] == "stored", cropped.text
            await wait_records(platform_sim, 5 + n, photos=1 + n)
            [arrival] = platform_sim.photos[cropped.json()["serial"]]
            assert arrival.size == len(crop)
            row = await daemon.store.find_pass(cropped.json()["serial"])
            assert row is not None
            assert row.flag is None
        alone = await http.post(
            f"{base(daemon)}/push/in-1",
            json={"plate": QUIET_PLATES[3], "images": {"scene": b64(html)}},
        )
        assert (alone.status_code, alone.json()["photo"]) == (200, "refused")
        row = await daemon.store.find_pass(alone.json()["serial"])
        assert row is not None
        assert row.flag == "photo-skipped"


@pytest.mark.parametrize(
    ("width", "height", "progressive", "colour"),
    [
        (1900, 1900, True, True),
        (1001, 333, True, False),
        (997, 21, False, True),
        (19000, 19000, False, False),
    ],
)
def test_the_bomb_generator_writes_jpegs_that_decode_uniform(
    width: int, height: int, progressive: bool, colour: bool
) -> None:
    """The generator's bitstream decodes, reduced by 8 as the daemon would, to a uniform grey
    image of the right size (a progressive 19000×19000 one decodes too, but libjpeg holds all
    its coefficients whatever the scale: 1.1 GB, which is the point of the bomb)."""
    data = uniform_jpeg(width, height, progressive=progressive, colour=colour)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    assert image is not None
    assert image.shape == (-(-height // 8), -(-width // 8))
    assert int(image.min()) == int(image.max()) == 128


def vm_mb(pid: int, field: str) -> float:
    """``field`` (VmRSS now, VmHWM the peak) of process ``pid``, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field}")


async def test_a_genuine_decompression_bomb_costs_the_daemon_no_memory(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    """Issue 20: a real ~1 MB progressive JPEG of 19000×19000 px (decoding it takes 1.1 GB even
    reduced) is refused as a photo from its header; a real 1.4 MB baseline one of the same size
    is decoded at 1/8 (libjpeg streams it) and stored reduced. Both passes are recorded and
    answered at once; the daemon's peak resident memory stays within 200 MB of before."""
    bomb = uniform_jpeg(19000, 19000)
    flat = uniform_jpeg(19000, 19000, progressive=False, colour=False)
    assert 0.9e6 < len(bomb) < 2e6
    assert 0.9e6 < len(flat) < 2e6
    port = free_port()
    config = write_config(
        tmp_path / "config.toml",
        platform_sim.base_url,
        port=port,
        extra='[logging]\nlevel = "warning"',
    )
    proc = await procs.edge("run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=30) as http:
        await wait_healthy(http, port)
        warm = await http.post(
            f"{url}/push/in-1",
            json={"plate": PLATES[2], "images": {"scene": b64(sample_jpeg("w"))}},
        )
        assert warm.json()["photo"] == "stored"
        before = vm_mb(proc.pid, "VmRSS")
        replies = []
        for plate, picture, photo in ((PLATES[0], bomb, "refused"), (PLATES[1], flat, "stored")):
            reply = await http.post(
                f"{url}/push/in-1", json={"plate": plate, "images": {"scene": b64(picture)}}
            )
            assert reply.status_code == 200, reply.text
            assert (reply.json()["verdict"], reply.json()["photo"]) == ("open", photo)
            replies.append(reply.json())
        peak = vm_mb(proc.pid, "VmHWM")
        assert peak - before < 200, (before, peak)
        refused, reduced = (r["serial"] for r in replies)
        await wait_records(platform_sim, 3, photos=2)
        assert refused not in platform_sim.photos
        assert reduced in platform_sim.photos
        rows = {row["serial"]: row for row in (await http.get(f"{url}/api/passes")).json()}
        assert (rows[refused]["flag"], rows[refused]["photos"]) == ("photo-skipped", 0)
        assert rows[reduced]["photos"] == 1
        stored = (await http.get(f"{url}/photos/{reduced}-1.jpg")).content
        image = cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert image is not None
        assert image.shape == (2375, 2375)  # decoded at 1/8
        assert vm_mb(proc.pid, "VmHWM") - before < 200, (before, peak)
    assert await procs.stop(proc, signal.SIGINT) == 0


async def test_a_thousand_concurrent_pushes_on_one_lane_get_truthful_replies(  # noqa: PLR0915
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    platform_sim.delay = 0.3  # a slow platform: the lane falls behind at once
    storm = {**GENERIC_LANE, "camera": {"kind": "generic-push", "max_pushes_per_second": 1000}}
    cfg = config_for(
        tmp_path,
        platform_sim,
        [storm],  # the lane's queue is tried here, not its push rate
        decision={"duplicate_window_seconds": 0, "offline_policy": "allow"},
        web={"max_connections": 2000, "max_connections_per_address": 2000},
    )
    async with running_daemon(cfg) as daemon:
        lane = daemon.lanes["in-1"]
        received: dict[str | None, float] = {}
        submit = lane.submit

        taken: list[asyncio.Future[LaneOutcome]] = []

        def recording(event: PlateEvent) -> asyncio.Future[LaneOutcome]:
            received[event.plate] = event.received_mono
            taken.append(submit(event))
            return taken[-1]

        lane.submit = recording  # type: ignore[method-assign]
        port = daemon.web.port

        async def push(i: int) -> tuple[str, int, dict[str, Any]]:
            plate = f"豫A{i:05d}"
            status, body = await raw_post(port, "/push/in-1", {"plate": plate})
            return plate, status, body

        replies = await asyncio.gather(*(push(i) for i in range(1000)))
        # a 504 is answered at the camera's deadline, while its read may still wait in the
        # lane's queue: wait for every read the lane took, then for its confirmations
        await asyncio.gather(*taken, return_exceptions=True)
        await lane.drain()
        max_age = cfg.decision.max_read_age_seconds
        barrier = lane.devices.barrier
        assert isinstance(barrier, VirtualBarrier)
        # On a loaded machine every read of the storm may be stale by its turn, so none need
        # open; the replies below must say so truthfully either way.
        for opening in barrier.openings:  # no barrier moved for a read older than max_age
            assert opening.at - received[opening.plate] <= max_age
        opened = {opening.plate for opening in barrier.openings}
        rows = {row.plate: row for row in await daemon.store.search_passes(limit=5000)}
        statuses: dict[int, int] = {}
        for plate, status, body in replies:
            statuses[status] = statuses.get(status, 0) + 1
            row = rows.get(plate)
            if status == 503:  # "not recorded": and it was not
                assert row is None
                assert "not recorded" in body["error"]
                continue
            assert row is not None
            full = await daemon.store.find_pass(row.serial)
            assert full is not None
            if status == 504:  # "recorded as stale, the barrier will not move": so it was
                assert row.verdict == "refuse"
                assert plate not in opened
                continue
            assert status == 200
            assert (body["serial"], body["verdict"]) == (row.serial, row.verdict)
            assert body["barrier"] == full.barrier
            assert (body["barrier"] == "opened") == (plate in opened)
        assert statuses[503] >= 1000 - 2 * cfg.decision.lane_queue_size
        stale = [row for row in rows.values() if row.flag == "stale-read"]
        assert stale  # the lane fell behind: those were recorded, not acted on
        assert len(rows) == statuses.get(200, 0) + statuses.get(504, 0)
        platform_sim.delay = 0  # the storm is over: a fresh read moves the barrier again
        before = len(barrier.openings)
        status, body = await raw_post(port, "/push/in-1", {"plate": "豫B12345"})
        assert (status, body["barrier"]) == (200, "opened")
        assert len(barrier.openings) == before + 1


@pytest.fixture
async def province_sim() -> AsyncIterator[ProvincePlatformSim]:
    sim = ProvincePlatformSim()
    await sim.start()
    yield sim
    await sim.stop()


async def test_the_province_photo_listener_serves_photos_only_with_their_token(
    tmp_path: Path, province_sim: ProvincePlatformSim
) -> None:
    cfg = config_for(tmp_path, province_sim, photo_web={"port": 0, "allow": ["127.0.0.5"]})
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        first = await cam.push(PLATES[0], image=True)
        second = await cam.push(PLATES[1], image=True)
        await cam.aclose()
        await wait_records(province_sim, 2)
        urls = [province_sim.records[r.body["serial"]][0]["imgURL1"] for r in (first, second)]
        assert all(len(url) <= 64 for url in urls)
        assert daemon.photo_listener is not None
        photos = f"http://127.0.0.1:{daemon.photo_listener.port}"
        async with client_from("127.0.0.5") as platform, client_from("127.0.0.6") as stranger:
            image = await platform.get(photos + urls[0])
            assert image.status_code == 200
            assert image.headers["content-type"] == "image/jpeg"
            assert image.headers["x-content-type-options"] == "nosniff"
            assert image.content.startswith(b"\xff\xd8\xff")
            assert (await stranger.get(photos + urls[0])).status_code == 403  # not allowed
            token0, name0 = urls[0].split("/")[2:]
            token1, _name1 = urls[1].split("/")[2:]
            refused = [
                f"/photos/{name0}",  # the serial alone
                f"/photos/{token1}/{name0}",  # another photo's token
                f"/photos/{'A' * 22}/{name0}",  # a guess
                f"/photos/{token0}/{name0[:-5]}2.jpg",  # the other number with this token
                f"/photos/{token0}/../{name0}",
                "/",
                "/api/status",
                "/api/passes",
                "/healthz",
                "/metrics",
            ]
            for path in refused:
                assert (await platform.get(photos + path)).status_code == 404, path
            push = await platform.post(f"{photos}/push/in-1", json={"plate": PLATES[2]})
            assert push.status_code in (404, 405)
            login = await platform.post(f"{photos}/api/login", data={"user": "x", "password": "y"})
            assert login.status_code in (404, 405)
        assert len(await daemon.store.search_passes()) == 2  # nothing came in that way
    async with running_daemon(cfg) as daemon:  # the key is kept: sent URLs stay valid
        assert daemon.photo_listener is not None
        async with client_from("127.0.0.5") as platform:
            again = await platform.get(f"http://127.0.0.1:{daemon.photo_listener.port}{urls[0]}")
        assert again.status_code == 200


async def test_refused_photo_fetches_are_held_before_their_answer(
    tmp_path: Path, province_sim: ProvincePlatformSim
) -> None:
    """A fetch with a bad token (404) or from an address not allowed (403) is answered after
    the listener's refusal hold, as a push's refusal is, not at once (a flood of guesses
    answered at once raised another lane's push p99 by 8–33 ms); the held ones wait side by
    side, and a fetch with its token is answered at once."""
    cfg = config_for(tmp_path, province_sim, photo_web={"port": 0, "allow": ["127.0.0.5"]})
    async with running_daemon(cfg) as daemon:
        url, listener = await _a_photo_and_its_listener(daemon, province_sim)
        listener.guard.hold = hold = 0.3
        photos = f"http://127.0.0.1:{listener.port}"
        name = url.rsplit("/", 1)[1]
        async with client_from("127.0.0.5") as platform, client_from("127.0.0.6") as stranger:
            assert (await platform.get(photos + url)).status_code == 200  # (connected)
            for client, path, status in (
                (platform, f"/photos/{'A' * 22}/{name}", 404),
                (stranger, url, 403),
            ):
                started = time.monotonic()
                assert (await client.get(photos + path)).status_code == status
                assert time.monotonic() - started >= hold * 0.9, status
            started = time.monotonic()
            guesses = await asyncio.gather(
                *(platform.get(f"{photos}/photos/{n:022d}/{name}") for n in range(20))
            )
            assert {reply.status_code for reply in guesses} == {404}
            assert hold * 0.9 <= time.monotonic() - started < hold * 5  # side by side
            started = time.monotonic()
            assert (await platform.get(photos + url)).status_code == 200
            assert time.monotonic() - started < hold * 0.9
        assert listener.refused == 22


async def test_refused_photo_fetches_are_logged_when_they_start_and_when_they_stop(
    tmp_path: Path, province_sim: ProvincePlatformSim, capsys: pytest.CaptureFixture[str]
) -> None:
    """An enumeration of the photo listener (one refused fetch a request, from an address not
    allowed or with bad tokens) writes one line when it starts and one when it stops — the
    first fetch :data:`~edge.ops.refusals.FLOOD_OVER_SECONDS` after the last refused, with how
    many were — not a line a request; ``refused`` still counts every one."""
    cfg = config_for(tmp_path, province_sim, photo_web={"port": 0, "allow": ["127.0.0.5"]})
    async with running_daemon(cfg) as daemon:
        url, listener = await _a_photo_and_its_listener(daemon, province_sim)
        now = [1000.0]
        listener.clock = lambda: now[0]
        listener.guard.hold = 0  # 61 refusals, answered at once
        photos = f"http://127.0.0.1:{listener.port}"
        name = url.rsplit("/", 1)[1]
        capsys.readouterr()
        async with client_from("127.0.0.5") as platform, client_from("127.0.0.6") as stranger:
            for n in range(30):  # guessing tokens, and fetching from elsewhere
                guess = f"/photos/{n:022d}/{name}"
                assert (await platform.get(photos + guess)).status_code == 404
                assert (await stranger.get(photos + url)).status_code == 403
                now[0] += 1
            assert (await platform.get(photos + url)).status_code == 200  # not yet over
            now[0] += refusals.FLOOD_OVER_SECONDS
            assert (await platform.get(photos + url)).status_code == 200  # over now
            assert (await stranger.get(photos + url)).status_code == 403  # another spell
        assert listener.refused == 61
    lines = [line for line in capsys.readouterr().out.splitlines() if "photo fetch" in line]
    assert len(lines) == 3, lines  # two spells began, one ended (not 61 lines)
    assert "photo fetches refused" in lines[0]
    assert "photo fetches no longer refused" in lines[1]
    assert "refused=60" in lines[1]


async def test_a_lane_takes_pushes_only_from_its_camera(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "allow_from": ["127.0.0.3"]}}
    async with (
        running_daemon(config_for(tmp_path, platform_sim, lanes=[lane])) as daemon,
        client_from("127.0.0.3") as cam,
        client_from("127.0.0.4") as other,
    ):
        url = f"{base(daemon)}/push/in-1"
        assert (await other.post(url, json={"plate": PLATES[0]})).status_code == 401
        assert (await other.post(f"{url}/heartbeat")).status_code == 401
        assert (await cam.post(url, json={"plate": PLATES[0]})).status_code == 200
        assert len(await daemon.store.search_passes()) == 1


def hostile_pushes(count: int) -> list[dict[str, Any]]:
    """Pushes as an attacker or a broken camera sends them, each with its own plate: fake,
    bomb and truncated pictures, impossible numbers, and plates of 60-100 KB (each once grew
    the process by hundreds of MB, never given back: the near-duplicate index built every
    one-character deletion of the plate)."""
    bomb, truncated = claiming(progressive(), 19000, 19000), sample_jpeg("cut")[:-3000]
    kinds: list[dict[str, Any]] = [
        {"images": {"scene": b64(FAKE_JPEG)}},
        {"images": {"scene": b64(bomb)}},
        {"images": {"scene": b64(truncated)}},
        {"time": float("nan")},
        {"confidence": float("inf")},
        {"time": 1e20},
        {},  # a long plate (below)
    ]

    def plate(i: int) -> str:
        if i % len(kinds) == len(kinds) - 1:
            return "豫" + "A" * (60_000 + i * 7919 % 40_000) + f"{i:05d}"
        return f"豫{chr(ord('A') + i % 20)}{i:05d}"

    return [{"plate": plate(i), **kinds[i % len(kinds)]} for i in range(count)]


async def test_memory_stays_flat_under_a_stream_of_hostile_pushes(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    # A broken camera (its address in allow_from: not held to a stranger's connection rate)
    # opening a connection a push, faster than any gate passes vehicles — its passes numbered
    # up to 1,000 s ahead here, so that they are recorded (what this test weighs).
    fast = {**GENERIC_LANE, "camera": {"kind": "generic-push", "max_pushes_per_second": 1000,
                                       "allow_from": ["127.0.0.1"]}}  # fmt: skip
    decision = {"duplicate_window_seconds": 0, "max_serial_lead_seconds": 10_000}
    cfg = config_for(tmp_path, platform_sim, [fast], decision=decision)
    async with running_daemon(cfg) as daemon:
        port = daemon.web.port
        gate = asyncio.Semaphore(8)

        async def push(body: dict[str, Any]) -> int:
            async with gate:
                status, _ = await raw_post(port, "/push/in-1", body)
                return status

        pushes = hostile_pushes(1100)
        await asyncio.gather(*(push(body) for body in pushes[:100]))  # the allocator warms up
        before = rss_mb()
        statuses = await asyncio.gather(*(push(body) for body in pushes[100:]))
        await daemon.lanes["in-1"].drain()
        after = rss_mb()
        assert after - before < 20, (before, after)
        assert statuses.count(200) >= len(statuses) // 2  # the pictures' passes were kept
        assert sum(len(body["plate"]) > 60_000 for body in pushes[100:]) > 100
        cam = camera(daemon)
        assert (await cam.push(PLATES[5])).status == 200  # and it still serves
        await cam.aclose()


SECOND_LANE = {**GENERIC_LANE, "id": "in-2", "gate_code": "02"}


async def test_a_100_kb_plate_is_refused_at_once_and_other_lanes_stay_fast(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    cfg = config_for(tmp_path, platform_sim, lanes=[GENERIC_LANE, SECOND_LANE])
    async with running_daemon(cfg) as daemon:
        port = daemon.web.port
        await raw_post(port, "/push/in-2", {"plate": "晋E99999"})  # token, connections warm

        async def timed(path: str, body: dict[str, Any]) -> float:
            started = time.perf_counter()
            await raw_post(port, path, body)
            return (time.perf_counter() - started) * 1000

        quiet, hostile, normal = [], [], []
        for n, plate in enumerate(QUIET_PLATES):  # quiet and attacked alternate: a machine
            quiet.append(await timed("/push/in-2", {"plate": plate}))  # whose load drifts
            long_plate = {"plate": "豫" + "A" * 100_000 + str(n)}  # slows both alike
            bad, good = await asyncio.gather(
                timed("/push/in-1", long_plate), timed("/push/in-2", {"plate": PLATES[n]})
            )
            hostile.append(bad)
            normal.append(good)
        # Judged against a quiet push measured in the same run (coverage and a loaded CI
        # machine slow every push alike): before the length check one such plate stalled the
        # loop for 1-17 s. On a quiet machine all of these are well under 50 ms.
        bound = 3 * statistics.median(quiet) + 20
        assert statistics.median(hostile) < bound, (hostile, quiet)
        assert statistics.median(normal) < bound, (normal, quiet)
        assert max(hostile + normal) < 1000, (hostile, normal)
        passes = await daemon.store.search_passes(HistoryCriteria(lane="in-1"))
        assert all(len(row.plate or "") <= 20 for row in passes)  # never stored as a plate


async def test_a_camera_gone_in_the_middle_of_its_body_is_not_an_error(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A client that resets or closes its connection while the daemon reads its body (seen
    when the benchmark's hostile camera is stopped) is no "Error handling request" record
    with a trace: the daemon has nobody to answer and nothing to record."""
    out = io.StringIO()
    setup_logging("info", "json", out)
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        guard = daemon.web.guard
        for gone in ("reset", "closed"):
            _reader, writer = await asyncio.open_connection("127.0.0.1", daemon.web.port)
            writer.write(
                b"POST /push/in-1 HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"plate": "'
            )
            await writer.drain()
            await eventually(lambda: guard.open == 1 and not guard._timers)  # reading the body
            if gone == "reset":
                writer.transport.abort()
            else:
                writer.close()
            await eventually(lambda: guard.open == 0)
        cam = camera(daemon)
        assert (await cam.push(PLATES[0])).status == 200  # and it serves as ever
        await cam.aclose()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert not [r for r in records if r["level"] in ("error", "critical")], records


async def test_a_lane_flooded_with_pushes_refuses_the_excess_before_reading_it(
    tmp_path: Path, platform_sim: CityPlatformSim, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sender pushing faster than a lane passes vehicles (``max_pushes_per_second``, bursts
    of twice as many) has the excess answered 429 with nothing recorded — beyond the burst a
    push waits up to :data:`~edge.ops.refusals.REFUSAL_HOLD_SECONDS` for its place, and a
    refused one gets its answer only then (a flood is a sleeping task each, not the event
    loop's time); the other lane is not touched meanwhile."""
    flooded = {**SECOND_LANE, "camera": {"kind": "generic-push", "max_pushes_per_second": 2}}
    cfg = config_for(
        tmp_path, platform_sim, [GENERIC_LANE, flooded], decision={"duplicate_window_seconds": 0}
    )
    plates = [f"豫A{i:03d}{i:03d}" for i in range(13)]  # pairwise ≥ 2 characters apart

    async def timed(plate: str) -> tuple[int, dict[str, Any], float]:
        started = time.monotonic()
        status, body = await raw_post(port, "/push/in-2", {"plate": plate})
        return status, body, time.monotonic() - started

    async with running_daemon(cfg) as daemon:
        port = daemon.web.port
        flood = asyncio.gather(*(timed(p) for p in plates[:12]))  # all at once
        await eventually(lambda: daemon.lanes["in-2"].camera.rejected >= 4)
        quiet = time.monotonic()
        assert (await raw_post(port, "/push/in-1", {"plate": plates[12]}))[0] == 200
        assert time.monotonic() - quiet < refusals.REFUSAL_HOLD_SECONDS  # not held up
        replies = await flood
        taken = [p for p, (status, _, _) in zip(plates[:12], replies, strict=True) if status == 200]
        refused = [(body, took) for status, body, took in replies if status == 429]
        assert len(taken) + len(refused) == 12
        assert (
            6 <= len(taken) <= 8
        )  # the burst of 4, the 2 that fit within 1 s at 2/s (+ a slow start)
        assert all("not recorded" in body["error"] for body, _ in refused)
        assert min(took for _, took in refused) >= refusals.REFUSAL_HOLD_SECONDS * 0.9
        stored = {row.plate for row in await daemon.store.search_passes(limit=100)}
        assert stored == {*taken, plates[12]}
        assert daemon.lanes["in-2"].camera.rejected == len(refused)
    assert capsys.readouterr().out.count("camera pushes faster than a lane passes") == 1


async def test_a_cameras_burst_beyond_the_lanes_rate_is_slowed_not_refused(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A camera sending one push after the other beyond its lane's burst (a camera sending
    its stored records after an outage) has each taken as its place in the rate comes: none is
    refused, none lost. (It used to get 429 for every push beyond the burst.)"""
    slow = {**SECOND_LANE, "camera": {"kind": "generic-push", "max_pushes_per_second": 5}}
    cfg = config_for(tmp_path, platform_sim, [GENERIC_LANE, slow])
    plates = [f"豫A{i:03d}{i:03d}" for i in range(14)]
    async with running_daemon(cfg) as daemon:
        started = time.monotonic()
        statuses = [(await raw_post(daemon.web.port, "/push/in-2", {"plate": p}))[0]
                    for p in plates]  # fmt: skip
        assert statuses == [200] * 14
        assert time.monotonic() - started >= (14 - 10) / 5 * 0.9  # the burst, then the rate
        assert daemon.lanes["in-2"].camera.rejected == 0
        assert await daemon.store.count_passes() == 14


def _rate_one_lane(
    tmp_path: Path, platform_sim: CityPlatformSim, deadline: float = 3.0, **decision: float
) -> Any:
    """Lanes in-1 and in-2; in-2 takes a push a second in bursts of two: of four pushes at
    once, two are taken at once, one waits ~1 s for its place and one is refused."""
    camera = {
        "kind": "generic-push",
        "max_pushes_per_second": 1,
        "reply_deadline_seconds": deadline,
    }
    lane = {**SECOND_LANE, "camera": camera}
    return config_for(
        tmp_path,
        platform_sim,
        [GENERIC_LANE, lane],
        decision={"duplicate_window_seconds": 0, **decision},
    )


async def _four_at_once(daemon: Daemon) -> tuple[dict[str, int], set[str], set[str]]:
    """Four pushes at once on in-2: each plate's status, the plates recorded as stale reads,
    the plates the barrier opened for."""
    plates = [f"豫A{i:03d}{i:03d}" for i in range(4)]
    replies = await asyncio.gather(
        *(raw_post(daemon.web.port, "/push/in-2", {"plate": p}) for p in plates)
    )
    taken = [p for p, (status, _) in zip(plates, replies, strict=True) if status != 429]

    async def recorded() -> bool:  # a read answered 504 is recorded (stale) when its turn comes
        return await daemon.store.count_passes() == len(taken)

    await eventually(recorded)
    rows = {row.plate: row for row in await daemon.store.search_passes(limit=100)}
    barrier = daemon.lanes["in-2"].devices.barrier
    assert isinstance(barrier, VirtualBarrier)
    return (
        {p: status for p, (status, _) in zip(plates, replies, strict=True)},
        {str(p) for p, row in rows.items() if row.flag == "stale-read"},
        {str(opening.plate) for opening in barrier.openings},
    )


async def test_a_push_that_waited_for_its_place_is_as_old_as_when_it_came(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A push that waited for its place in its lane's rate is aged from when it came, not from
    when its wait ended: waited past ``max_read_age_seconds``, it is recorded as stale and the
    barrier does not move for it."""
    async with running_daemon(
        _rate_one_lane(tmp_path, platform_sim, max_read_age_seconds=0.7)
    ) as daemon:
        statuses, stale, opened = await _four_at_once(daemon)
    assert sorted(statuses.values()) == [200, 200, 200, 429]
    taken = {p for p, status in statuses.items() if status == 200}
    assert len(stale) == 1  # the one that waited ~1 s for its place
    assert stale < taken
    assert opened == taken - stale


async def test_the_cameras_reply_deadline_counts_from_when_its_push_came(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """The camera's reply deadline counts from when its push came, the wait for its place in
    the rate included: a push that waited ~1 s with a 0.5 s deadline is answered 504 ("will
    be recorded as stale") and the barrier does not move for it — the camera (a Vzenith whose
    relay pulse rides in the reply) has stopped listening. It used to be decided and answered
    after the deadline, the ledger saying "opened"."""
    cfg = _rate_one_lane(tmp_path, platform_sim, deadline=0.5, max_read_age_seconds=10)
    async with running_daemon(cfg) as daemon:
        statuses, stale, opened = await _four_at_once(daemon)
    assert sorted(statuses.values()) == [200, 200, 429, 504]
    late = {p for p, status in statuses.items() if status == 504}
    assert late == stale
    assert opened == {p for p, status in statuses.items() if status == 200}


async def test_a_slow_upload_does_not_age_a_read(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A camera on a slow link whose push's body takes longer than ``max_read_age_seconds``
    to arrive is not stale for it: the barrier opens (the wait for a place in the rate ages a
    read, the upload does not). The gap in the upload is the scenario itself."""
    cfg = config_for(tmp_path, platform_sim, decision={"max_read_age_seconds": 0.1})
    async with running_daemon(cfg) as daemon:
        data = json.dumps({"plate": PLATES[0]}).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.web.port)
        try:
            writer.write(
                b"POST /push/in-1 HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data[:5]
            )
            await writer.drain()
            guard = daemon.web.guard
            await eventually(lambda: guard.open == 1 and not guard._timers)  # reading the body
            await asyncio.sleep(0.3)  # the slow link: 3× the read's age limit
            writer.write(data[5:])
            answer = await reader.read()
        finally:
            writer.close()
        assert answer.split()[1] == b"200", answer
        (row,) = await daemon.store.search_passes(limit=10)
        assert row.flag != "stale-read"
        barrier = daemon.lanes["in-1"].devices.barrier
        assert isinstance(barrier, VirtualBarrier)
        assert [opening.plate for opening in barrier.openings] == [PLATES[0]]


async def test_refusals_on_the_push_paths_wait_for_their_answer(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A push for no lane here (404), a heartbeat with a wrong token (401) and a push from an
    address that is not the lane's camera (401) are answered after the refusal's hold, as a
    push beyond the rate is: a sender waiting for its answers is slowed to one a second. So is
    a path no route has (aiohttp's own 404: a flood of them cost the gate +4–5 ms at p99)."""
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "token": "s3cret-tok"}}
    async with running_daemon(config_for(tmp_path, platform_sim, [lane])) as daemon:
        for path, status in (("/push/nope", 404), ("/push/in-1/heartbeat", 401),
                             ("/push/in-1", 401), ("/no/such/path", 404)):  # fmt: skip
            started = time.monotonic()
            assert (await raw_post(daemon.web.port, path, {"plate": PLATES[0]}))[0] == status
            assert time.monotonic() - started >= refusals.REFUSAL_HOLD_SECONDS * 0.9, path


def test_a_push_budget_allows_bursts_and_logs_a_flood_once_when_it_starts_and_ends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A flood is told when its first push is refused, and as over with the first push taken
    :data:`~edge.ops.refusals.FLOOD_OVER_SECONDS` after its last refusal — not with every
    push its rate lets through in between."""
    now = [100.0]
    budget = PushBudget("in-2", rate=5, clock=lambda: now[0])
    assert [budget.take() for _ in range(12)] == [0.0] * 10 + [None] * 2  # a burst of 2 × 5
    for _ in range(5):  # the flood goes on: one taken a fifth of a second, others refused
        now[0] += 0.2
        assert budget.take() == 0.0
        assert budget.take() is None
    now[0] += refusals.FLOOD_OVER_SECONDS  # … until it stops
    assert [budget.take() for _ in range(11)] == [0.0] * 10 + [None]  # a burst, a new flood
    now[0] += refusals.FLOOD_OVER_SECONDS
    budget.give_back()  # a keep-alive, found not to be a pass
    assert budget.take() == 0.0
    out = capsys.readouterr().out
    assert out.count("camera pushes faster than a lane passes vehicles") == 2  # two floods
    assert out.count("camera pushes within the lane's rate again") == 2
    assert "refused=7" in out  # the first flood's count, told when it ended


def test_a_push_beyond_the_budget_is_given_a_place_within_the_wait_it_may_take() -> None:
    """``take(within=1)`` at 5 a second, the burst used up: the next five pushes are given
    places 0.2, 0.4 … 1.0 s ahead, in the order they came; the sixth would wait 1.2 s, and is
    refused (not counted: the next is given 1.0 s again once 0.2 s went by)."""
    now = [0.0]
    budget = PushBudget("in-2", rate=5, clock=lambda: now[0])
    assert [budget.take(within=1) for _ in range(10)] == [0.0] * 10
    waits = [budget.take(within=1) for _ in range(6)]
    assert waits[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert waits[5] is None
    now[0] += 0.2
    assert budget.take(within=1) == pytest.approx(1.0)


def test_a_low_push_rate_still_takes_a_push() -> None:
    """``max_pushes_per_second = 0.2`` (a push every 5 s): the bucket holds one push, not 0.4
    of one (which refused every push)."""
    now = [0.0]
    budget = PushBudget("in-2", rate=0.2, clock=lambda: now[0])
    assert budget.take() == 0.0
    assert budget.take(within=1) is None  # its place would be 5 s ahead
    now[0] += 5
    assert budget.take() == 0.0


async def _headers_only(port: int, path: str, source: str = "127.0.0.1") -> tuple[bytes, float]:
    """A push whose headers promise a body that never comes: the daemon's answer's status
    line and headers, and the seconds it took."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    started = time.monotonic()
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000\r\n\r\n".encode()
        )
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
        return head, time.monotonic() - started
    finally:
        writer.close()


async def test_a_push_refused_on_its_headers_is_answered_before_its_body_is_read(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A push beyond the lane's rate (429) or from an address that is not the lane's camera
    (401) is answered on its request line and headers alone: the daemon neither waits for its
    body nor reads it (a flood costs no body read). It used to read the whole body first —
    here, one that never comes, answered 408 only when the body timeout ran out."""
    flooded = {**SECOND_LANE, "camera": {"kind": "generic-push", "max_pushes_per_second": 0.5}}
    guarded = {
        **GENERIC_LANE,
        "id": "in-3",
        "gate_code": "03",
        "camera": {"kind": "generic-push", "allow_from": ["127.0.0.3"]},
    }
    web = {"body_timeout_seconds": 5}
    cfg = config_for(tmp_path, platform_sim, [GENERIC_LANE, flooded, guarded], web=web)
    async with running_daemon(cfg) as daemon:
        port = daemon.web.port
        assert (await raw_post(port, "/push/in-2", {"plate": PLATES[0]}))[0] == 200  # the burst
        for path, source, status in (("/push/in-2", "127.0.0.1", b"429"),
                                     ("/push/in-3", "127.0.0.4", b"401")):  # fmt: skip
            head, seconds = await _headers_only(port, path, source)
            assert head.split()[1] == status, head
            assert seconds < 2, seconds  # the refusal's hold (1 s), not the 5 s body timeout
        assert daemon.web.guard.timed_out == 0
        head, seconds = await _headers_only(port, "/push/in-1")  # a push it takes: read in time
        assert head.split()[1] == b"408", head
        assert 4 < seconds < 9, seconds
        assert (await raw_post(port, "/push/in-1", {"plate": PLATES[1]}))[0] == 200


async def test_refused_pushes_are_logged_once_per_source_not_once_per_push(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sender refused again and again (not the lane's camera, or sending what is no camera
    payload) is one log line per source and minute with the count, not one per push."""
    monkeypatch.setattr(http_push, "REFUSAL_HOLD_SECONDS", 0)  # 20 refusals, answered at once
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "allow_from": ["127.0.0.3"]}}
    loose = {**SECOND_LANE, "camera": {"kind": "generic-push", "max_pushes_per_second": 1000}}
    async with (
        running_daemon(config_for(tmp_path, platform_sim, lanes=[lane, loose])) as daemon,
        client_from("127.0.0.4") as stranger,
        client_from("127.0.0.5") as another,
    ):
        for _ in range(20):
            reply = await stranger.post(f"{base(daemon)}/push/in-1", json={"plate": PLATES[0]})
            assert reply.status_code == 401
            reply = await stranger.post(f"{base(daemon)}/push/in-2", content=b"\xff{garbage")
            assert reply.status_code == 400
        assert (await another.post(f"{base(daemon)}/push/in-1", json={})).status_code == 401
        assert daemon.lanes["in-1"].camera.rejected == 21
    out = capsys.readouterr().out
    assert out.count("camera push refused: bad token or address") == 2  # one per source
    assert out.count("malformed camera payload") == 1


async def test_bad_io_inputs_and_unknown_dahua_cameras_are_logged_once_per_source(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A camera posting IO inputs that are not ``AlarmGioIn``, or a Dahua camera no lane knows,
    again and again: one warning per source and minute with the count, not one per post (a
    verifier's 20 s of bad IO inputs was 113 warnings)."""
    monkeypatch.setattr(http_push, "REFUSAL_HOLD_SECONDS", 0)
    vz = {**VZENITH_LANE, "camera": {**VZENITH_LANE["camera"], "max_pushes_per_second": 1000}}
    dahua = [  # two: a single Dahua lane takes any DeviceID
        {**_dahua_lane(device_id=f"cam-{n}", max_pushes_per_second=1000), "id": f"in-{n}",
         "gate_code": f"0{n + 2}"}
        for n in (1, 2)
    ]  # fmt: skip
    stranger = {"Picture": {"Plate": {"PlateNumber": PLATES[0]}, "SnapInfo": {"DeviceID": "x"}}}
    async with running_daemon(config_for(tmp_path, platform_sim, [vz, *dahua])) as daemon:
        port = daemon.web.port
        for _ in range(20):
            status, _reply = await raw_post(port, "/push/vz-1/gpio", {"AlarmGioIn": {}})
            assert status == 400
            status, _reply = await raw_post(port, "/NotificationInfo/TollgateInfo", stranger)
            assert status == 404
    out = capsys.readouterr().out
    assert out.count("bad IO input push") == 1
    assert out.count("Dahua push from an unknown camera") == 1


def test_a_refusal_log_says_once_per_interval_how_many_were_refused() -> None:
    now = [0.0]
    refusals = RefusalLog(interval=60, sources=2, clock=lambda: now[0])
    assert refusals.refused("unauthorised", "in-1", "10.0.0.9") == 1  # the first: logged
    assert [refusals.refused("unauthorised", "in-1", "10.0.0.9") for _ in range(99)] == [None] * 99
    assert refusals.refused("malformed", "in-1", "10.0.0.9") == 1  # another kind: its own line
    now[0] = 61
    assert refusals.refused("unauthorised", "in-1", "10.0.0.9") == 100  # 99 since, and this one
    assert refusals.refused("unauthorised", "in-1", "10.0.0.9") is None
    assert refusals.refused("unauthorised", "in-1", "10.0.0.7") == 1  # a third source …
    assert len(refusals._seen) == 2  # … and the oldest forgotten: memory stays bounded
    assert refusals.refused("malformed", "in-1", "10.0.0.9") == 1


async def test_slow_connections_from_many_addresses_leave_room_for_the_lanes_cameras(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """Slow connections from many addresses, each under the per-address cap, fill the total
    cap (``max_connections``): a lane's camera (its ``allow_from``) is still let in and its push
    answered; anyone else is refused. (The total cap kept no room for the cameras: slow
    connections from nine addresses locked every camera out.)"""
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "allow_from": ["127.0.0.3"]}}
    web = {"header_timeout_seconds": 60, "max_connections": 8, "max_connections_per_address": 4}
    cfg = config_for(tmp_path, platform_sim, [lane], web=web)
    writers: list[asyncio.StreamWriter] = []
    async with running_daemon(cfg) as daemon:
        try:
            for source in ("127.0.0.4", "127.0.0.5"):
                for _ in range(4):
                    _reader, writer = await asyncio.open_connection(
                        "127.0.0.1", daemon.web.port, local_addr=(source, 0)
                    )
                    writer.write(b"POST /push/in-1 HTTP/1.1\r\nHost: gate\r\nX-Slow: ")
                    writers.append(writer)
            guard = daemon.web.guard
            await eventually(lambda: guard.open == 8)  # the total cap is full
            async with client_from("127.0.0.6", timeout=5) as stranger:
                with pytest.raises(httpx.TransportError):
                    await stranger.get(f"{base(daemon)}/healthz")
            async with client_from("127.0.0.3", timeout=5) as cam:
                reply = await cam.post(f"{base(daemon)}/push/in-1", json={"plate": PLATES[0]})
            assert reply.status_code == 200, reply.text
            assert await daemon.store.count_passes() == 1
        finally:
            for writer in writers:
                writer.close()


async def test_a_sender_opening_connections_faster_than_its_rate_is_refused_as_they_are_accepted(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A sender that opens a connection, sends a push and closes it at once, never waiting for
    its answer, as fast as it can: beyond ``max_connections_per_address`` new connections a
    second its connections are closed as they are accepted (no request is made of them: each
    cost the gate a request, +18 to +550 ms on another lane's p99), while the lane's camera,
    from its own address, is served as ever. (Fails without the accept-level rate: every one
    of them became a request.)"""
    web = {"max_connections_per_address": 8}
    cfg = config_for(tmp_path, platform_sim, [GENERIC_LANE], web=web)
    body = json.dumps({"plate": "\u001b[2J", "time": 1}).encode()
    request = (
        b"POST /push/in-1 HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    async with running_daemon(cfg) as daemon:
        guard = daemon.web.guard
        started, sent = time.monotonic(), 0
        for _ in range(200):
            try:
                _reader, writer = await asyncio.open_connection(
                    "127.0.0.1", daemon.web.port, local_addr=("127.0.0.2", 0)
                )
            except ConnectionResetError:  # refused (reset) before the connect was seen
                sent += 1
                continue
            writer.write(request)
            writer.close()
            sent += 1
        elapsed = time.monotonic() - started
        await eventually(lambda: guard.open == 0)
        admitted = sent - guard.refused
        assert admitted <= 8 + 8 * elapsed + 1, (sent, guard.refused, elapsed)
        cam = camera(daemon)
        assert (await cam.push(PLATES[0])).status == 200  # the camera's own address: served
        await cam.aclose()
        assert guard.to_json()["refused"] == guard.refused


async def test_a_flood_of_keep_alives_is_paced_as_pushes_are(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """Keep-alives are answered 200 at once — each a request's CPU on the loop every lane
    shares, so a flood of them cost another lane +2–3 ms at p99. A lane's keep-alives (and IO
    inputs) have a budget of their own at the lane's push rate, Dahua's (which name no lane)
    one for all: beyond it they wait for their place up to the hold, and the rest are
    answered 429 after it. (Fails without: all 20 answered 200 at once.)"""
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "max_pushes_per_second": 2}}
    async with (
        running_daemon(config_for(tmp_path, platform_sim, [lane])) as daemon,
        httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=20)) as http,
    ):
        hold = refusals.REFUSAL_HOLD_SECONDS

        async def keep_alive(path: str) -> tuple[int, float]:
            reply = await http.post(base(daemon) + path, json={"Active": "keepAlive"})
            return reply.status_code, time.monotonic()

        for path, rate, taken in (
            ("/push/in-1/heartbeat", 2, 4 + 2),
            ("/NotificationInfo/KeepAlive", 5, 10 + 5),
        ):
            started = time.monotonic()
            replies = await asyncio.gather(*(keep_alive(path) for _ in range(20)))
            statuses = Counter(status for status, _ in replies)
            assert set(statuses) == {200, 429}, (path, statuses)
            # the bucket refilled while the 20 were being sent (to the last refused one, a
            # hold before its answer): on a loaded machine, more than a moment
            sending = max(at for status, at in replies if status == 429) - hold - started
            assert taken <= statuses[200] <= taken + rate * sending + 1, (path, statuses)
            assert time.monotonic() - started >= hold * 0.9


async def _stalled_body(port: int, source: str, path: str, declared: int) -> bytes | None:
    """A request whose body stops short of its ``Content-Length``: what it was answered at
    once (b"" when nothing came within 0.5 s: it is being read), None when refused at connect."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    except ConnectionResetError:
        return None
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: gate\r\nContent-Type: application/x-www-form-urlencoded"
        f"\r\nContent-Length: {declared}\r\n\r\nuser=a&password=".encode()
    )
    await writer.drain()
    _STALLED.append(writer)
    try:
        async with asyncio.timeout(0.5):
            return await reader.read(200)
    except TimeoutError:
        return b""


_STALLED: list[asyncio.StreamWriter] = []


async def test_bodies_read_at_once_are_bounded_and_a_camera_is_still_read(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """Every body is read into memory whole before its handler runs: 240 connections each
    stopping just short of an 8 MB body on ``/api/login`` (no login needed) held 2.2 GB. The
    listener reads at most ``max_body_bytes`` from one address and four times that in all at
    once (others: 503 at once, unread); a lane's camera (its ``allow_from``) is not counted.
    (Fails without: every one of them is read.)"""
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "allow_from": ["127.0.0.9"]}}
    web = {"max_body_bytes": 10_000, "header_timeout_seconds": 30}
    async with running_daemon(config_for(tmp_path, platform_sim, [lane], web=web)) as daemon:
        port = daemon.web.port
        try:
            first = await _stalled_body(port, "127.0.0.2", "/api/login", 9_000)
            again = await _stalled_body(port, "127.0.0.2", "/api/login", 9_000)
            assert first == b""  # being read
            assert again is not None
            assert again.startswith(b"HTTP/1.1 503"), again
            others = [await _stalled_body(port, f"127.0.0.{n}", "/api/login", 9_000)
                      for n in range(3, 7)]  # fmt: skip
            assert others[:3] == [b"", b"", b""]  # 4 × 9,000 ≤ 40,000 …
            assert others[3] is not None  # … not 5
            assert others[3].startswith(b"HTTP/1.1 503")
            async with client_from("127.0.0.9", timeout=5) as cam:
                reply = await cam.post(f"{base(daemon)}/push/in-1", json={"plate": PLATES[0]})
            assert reply.status_code == 200, reply.text
        finally:
            while _STALLED:
                _STALLED.pop().close()


async def test_new_connections_from_many_addresses_share_one_rate(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A sender from many addresses, each under its own rate of new connections, made a
    request of each (+120 to +290 ms on another lane's p99 from 32 or 128 addresses): all
    addresses that are no lane's camera share twice one address's rate. (Fails without: ten
    addresses opened ten times one address's worth.)"""
    web = {"max_connections_per_address": 8}
    async with running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon:
        guard = daemon.web.guard
        started, sent = time.monotonic(), 0
        for n in range(10, 20):
            for _ in range(8):
                try:
                    _reader, writer = await asyncio.open_connection(
                        "127.0.0.1", daemon.web.port, local_addr=(f"127.0.0.{n}", 0)
                    )
                except ConnectionResetError:
                    sent += 1
                    continue
                writer.close()
                sent += 1
        elapsed = time.monotonic() - started
        await eventually(lambda: guard.open == 0)
        assert sent - guard.refused <= 16 + 16 * elapsed + 1, (sent, guard.refused, elapsed)


async def test_malformed_requests_are_logged_once_a_minute_per_address_without_a_trace(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """aiohttp logged each request that is not HTTP as an error with its traceback: a flood
    wrote 14,521 records (9.7 MB) in 15 s. One line a minute per address, a warning."""
    out = io.StringIO()
    setup_logging("info", "json", out)
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        for _ in range(20):
            reader, writer = await asyncio.open_connection("127.0.0.1", daemon.web.port)
            writer.write(b"POST /push/in-1 HTTP/1.1\r\nHost: g\r\nContent-Length: -1\r\n\r\n")
            assert (await reader.read()).split()[1] == b"400"
            writer.close()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    malformed = [r for r in records if "malformed HTTP request" in r["event"]]
    assert len(malformed) == 1, malformed
    assert malformed[0]["level"] == "warning"
    assert "Traceback" not in out.getvalue()


async def test_a_stopping_listener_does_not_wait_out_stalled_bodies(
    tmp_path: Path, platform_sim: CityPlatformSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGTERM while bodies were stalled took ~24 s (aiohttp waited up to 60 s for their
    handlers, which waited out the body timeout): the listener cancels them after
    :data:`~edge.web.server.SHUTDOWN_SECONDS`."""
    monkeypatch.setattr(server, "SHUTDOWN_SECONDS", 0.5)
    web = {"body_timeout_seconds": 20}
    daemon = Daemon(config_for(tmp_path, platform_sim, web=web))
    await daemon.start()
    try:
        assert await _stalled_body(daemon.web.port, "127.0.0.2", "/api/login", 5_000) == b""
        started = time.monotonic()
        await daemon.stop()
        assert time.monotonic() - started < 5, time.monotonic() - started
    finally:
        while _STALLED:
            _STALLED.pop().close()


#: 6 MB of JSON numbers (under the listener's 8 MiB body limit): ``diagnostic`` walked every
#: one (1.07 s) and ``json.loads`` took 0.26 s, on the event loop (issue 20, H1).
NUMBERS_BODY = ('{"plate": "豫A12345", "a": [' + "1," * 3_000_000 + "1]}").encode()


def test_a_large_message_costs_its_diagnostic_text_a_bounded_walk() -> None:
    """The diagnostic text of a message of a million values walks at most
    :data:`~edge.ingest.payload.RAW_LIMIT` of them, and is the same text: the first
    ``RAW_LIMIT`` characters of the whole message's JSON (long strings elided)."""
    message = {"plate": "豫A12345", "scene": "x" * 300, "a": [[1, "y" * 201]] + [7] * 1_000_000}
    started = time.perf_counter()
    text = diagnostic(message)
    took = time.perf_counter() - started
    whole = json.dumps(
        {"plate": "豫A12345", "scene": "<300 characters>", "a": [[1, "<201 characters>"]]
         + [7] * 1_000_000}, ensure_ascii=False)  # fmt: skip
    assert text == whole[:RAW_LIMIT]
    assert took < 0.05, took  # the whole walk took 0.3-0.6 s


def test_a_body_of_millions_of_values_is_refused_before_it_is_parsed() -> None:
    """A body with more than :data:`~edge.ingest.payload.JSON_COMMA_LIMIT` commas is a
    payload error before it is decoded or parsed; its diagnostic text is its head. A body of
    as many values as a camera sends is parsed as before."""
    push = RawPush(NUMBERS_BODY)
    started = time.perf_counter()
    with pytest.raises(PayloadError, match="too many JSON values"):
        push.json()
    assert diagnostic(push).startswith('{"plate": "豫A12345", "a": [1,1,')
    assert time.perf_counter() - started < 0.1  # the parse alone took 0.26-0.48 s
    values = [1] * JSON_COMMA_LIMIT
    assert RawPush(json.dumps({"plate": "豫A12345", "a": values}).encode()).json()["a"] == values


async def test_a_push_of_millions_of_numbers_leaves_the_loop_free(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """One push of 6 MB of JSON numbers on a lane with no ``allow_from`` (anyone may push):
    answered 400, and ``/healthz``, polled meanwhile, never waits long — it waited 1.15 s."""
    cfg = config_for(tmp_path, platform_sim, lanes=[GENERIC_LANE, SECOND_LANE])
    async with (
        running_daemon(cfg) as daemon,
        httpx.AsyncClient(base_url=base(daemon), timeout=30) as poll,
        httpx.AsyncClient(base_url=base(daemon), timeout=30) as attacker,
    ):
        await poll.get("/healthz")
        done, worst = asyncio.Event(), [0.0]

        async def poller() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await poll.get("/healthz")
                worst[0] = max(worst[0], time.perf_counter() - started)
                await asyncio.sleep(0.005)

        task = asyncio.create_task(poller())
        await asyncio.sleep(0.1)
        reply = await attacker.post("/push/in-2", content=NUMBERS_BODY,
                                    headers={"Content-Type": "application/json"})  # fmt: skip
        await asyncio.sleep(0.1)
        done.set()
        await task
        assert reply.status_code == 400, reply.text
        assert "too many JSON values" in reply.json()["error"]
        assert worst[0] < 0.4, worst  # reading the body, counting its commas: tens of ms
        assert (await raw_post(daemon.web.port, "/push/in-2", {"plate": PLATES[0]}))[0] == 200


def _dahua_lane(**camera: Any) -> dict[str, Any]:
    return {**GENERIC_LANE, "camera": {"kind": "dahua-push", **camera}}


@pytest.mark.parametrize(
    ("lanes", "source", "status"),
    [
        ([GENERIC_LANE], "127.0.0.1", b"404"),  # no Dahua lane
        ([_dahua_lane(allow_from=["127.0.0.3"])], "127.0.0.4", b"401"),  # not its camera
        (  # in neither Dahua lane's allow_from
            [_dahua_lane(allow_from=["127.0.0.3"], device_id="a"),
             {**_dahua_lane(allow_from=["127.0.0.5"], device_id="b"), "id": "in-2",
              "gate_code": "02"}],
            "127.0.0.4",
            b"401",
        ),
    ],
)  # fmt: skip
async def test_dahuas_fixed_path_refuses_a_stranger_before_reading_the_body(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    lanes: list[dict[str, Any]],
    source: str,
    status: bytes,
) -> None:
    """``/NotificationInfo/TollgateInfo`` names its lane only in the body (``DeviceID``), and
    read and parsed any body first: ``allow_from`` could not protect it (a 6 MB body stalled
    the loop ~200 ms each). With no Dahua lane, or from an address in no Dahua lane's
    ``allow_from``, it is answered after the refusal's hold, on its headers alone — the body
    (that never comes here) is not waited for."""
    web = {"body_timeout_seconds": 5}
    async with running_daemon(config_for(tmp_path, platform_sim, lanes, web=web)) as daemon:
        head, seconds = await _headers_only(
            daemon.web.port, "/NotificationInfo/TollgateInfo", source
        )
        assert head.split()[1] == status, head
        assert refusals.REFUSAL_HOLD_SECONDS * 0.9 <= seconds < 2, seconds  # held, no 5 s wait
        assert daemon.web.guard.timed_out == 0


async def test_dahuas_fixed_path_takes_a_place_in_the_dahua_lanes_rate_before_reading(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """Beyond the Dahua lanes' rates together (here one lane, a push every 2 s: the next is
    more than the refusal's hold ahead), a push to Dahua's fixed path is refused 429 before
    its body is read; a camera in the lane's ``allow_from`` pushes as before."""
    lane = _dahua_lane(allow_from=["127.0.0.1"], device_id="cam-1", max_pushes_per_second=0.5)
    web = {"body_timeout_seconds": 5}
    body = {"Picture": {"Plate": {"PlateNumber": PLATES[0]}, "SnapInfo": {"DeviceID": "cam-1"}}}
    async with running_daemon(config_for(tmp_path, platform_sim, [lane], web=web)) as daemon:
        port = daemon.web.port
        assert (await raw_post(port, "/NotificationInfo/TollgateInfo", body))[0] == 200
        head, seconds = await _headers_only(port, "/NotificationInfo/TollgateInfo")
        assert head.split()[1] == b"429", head
        assert seconds < 2, seconds
        assert daemon.web.guard.timed_out == 0
        assert [row.plate for row in await daemon.store.search_passes()] == [PLATES[0]]


async def test_a_read_with_a_lone_surrogate_is_kept_as_an_unreadable_read(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A plate ``"\\ud800"`` (a JSON escape Python's parser lets through, which UTF-8 cannot
    hold): the camera got 500 and the read was lost (UnicodeEncodeError when the ledger wrote
    it). It is recorded as an unreadable read, its raw text escaped."""
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        status, reply = await raw_post(daemon.web.port, "/push/in-1", {"plate": "豫A\ud800"})
        assert status == 200, reply
        (row,) = await daemon.store.search_passes()
        assert row.plate is None
        (read,) = await daemon.store.reads_of(row.id)
        assert read.text == "豫A\\ud800"
        assert read.raw is not None
        assert "\\ud800" in read.raw
        assert (await raw_post(daemon.web.port, "/push/in-1", {"plate": PLATES[0]}))[0] == 200


async def test_a_utf8_push_without_a_charset_holding_a_latin_letter_keeps_its_plate(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A camera named "Caméra-1" sending UTF-8 without a charset: the body was read as GB18030
    (any U+0080..U+07FF letter made it so), the plate came out as garbage and the vehicle was
    refused. A legacy camera's GBK 豫 plate (valid UTF-8 by accident) is still read as GBK."""
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        for body in (
            '{"plate":"晋B99724","id":"Caméra-1"}'.encode(),
            '{"plate":"粤C31086","note":"5°C µs ×2"}'.encode(),
            '{"plate":"豫A12345"}'.encode("gbk"),
        ):
            status, reply = await raw_post(daemon.web.port, "/push/in-1", body)
            assert status == 200, reply
        plates = {row.plate for row in await daemon.store.search_passes()}
        assert plates == {"晋B99724", "粤C31086", "豫A12345"}


async def test_a_large_push_is_parsed_in_a_worker_thread(
    tmp_path: Path, platform_sim: CityPlatformSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push body over :data:`~edge.ingest.http_push.PARSE_IN_THREAD_BYTES` is parsed (and
    its diagnostic text made) off the event loop; a small one on it (a thread's hand-over
    would cost it more). Both are read as before."""
    threads: list[str] = []
    vendor = http_push.VENDORS["generic-push"]

    def parse(push: RawPush, received: Any) -> Any:
        threads.append(threading.current_thread().name)
        return vendor.parse(push, received)

    monkeypatch.setitem(http_push.VENDORS, "generic-push", http_push.Vendor(parse, vendor.reply))
    pad = "x" * (http_push.PARSE_IN_THREAD_BYTES + 1)
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        port = daemon.web.port
        assert (await raw_post(port, "/push/in-1", {"plate": PLATES[0], "pad": pad}))[0] == 200
        assert (await raw_post(port, "/push/in-1", {"plate": PLATES[1]}))[0] == 200
        rows = await daemon.store.search_passes()
        assert {row.plate for row in rows} == set(PLATES[:2])
        (big,) = [row for row in rows if row.plate == PLATES[0]]
        (read,) = await daemon.store.reads_of(big.id)
        assert read.raw is not None
        assert f"<{len(pad)} characters>" in read.raw
    assert threads[0] != threading.main_thread().name
    assert threads[1] == threading.main_thread().name


async def _a_photo_and_its_listener(
    daemon: Daemon, province_sim: ProvincePlatformSim
) -> tuple[str, PhotoListener]:
    """One pass's photo, as the province platform was sent its URL, and the listener."""
    cam = camera(daemon)
    serial = (await cam.push(PLATES[0], image=True)).body["serial"]
    await cam.aclose()
    await wait_records(province_sim, 1)
    listener = daemon.photo_listener
    assert listener is not None
    return str(province_sim.records[serial][0]["imgURL1"]), listener


async def test_a_page_flood_without_a_login_is_slowed_then_refused_by_its_address(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """Pages that need no login answered back to back on keep-alive connections (a flood of
    ``/healthz``: +4 to +28 ms on another lane's p99; of 5,000-row ``/api/passes``: +26 to
    +63 ms). An address that is no lane's camera has a request budget (here 8 a second, in
    bursts of 8): beyond it a request waits for its place, up to 2 s, and beyond that is
    answered 429 after the refusal hold; the lane's camera is served meanwhile, at once.
    (Fails without the budget: all 24 answered at once.)"""
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "allow_from": ["127.0.0.9"]}}
    web = {"max_connections_per_address": 8}
    eight = httpx.AsyncHTTPTransport(
        local_address="127.0.0.2", limits=httpx.Limits(max_connections=8)
    )
    async with (
        running_daemon(config_for(tmp_path, platform_sim, [lane], web=web)) as daemon,
        httpx.AsyncClient(timeout=10, transport=eight) as http,
    ):
        guard = daemon.web.guard
        started = time.monotonic()
        flood = asyncio.gather(*(http.get(f"{base(daemon)}/healthz") for _ in range(24)))
        async with client_from("127.0.0.9", timeout=5) as cam:
            reply = await cam.post(f"{base(daemon)}/push/in-1", json={"plate": PLATES[0]})
            assert reply.status_code == 200, reply.text
            assert time.monotonic() - started < 1.0  # not behind the flood
        replies = await flood
        # the burst at once, then 8 a second: slowed, not refused
        assert [reply.status_code for reply in replies] == [200] * 24
        assert time.monotonic() - started >= 2 * 0.9
        for _ in range(5):  # as after five 5,000-row pages at once: more than 2 s ahead
            guard._charge_request("127.0.0.2", 1_500_000)
        started = time.monotonic()
        refused = await http.get(f"{base(daemon)}/healthz")
        assert refused.status_code == 429
        assert refused.json()["error"] == server.TOO_FAST
        assert refused.headers["Retry-After"] == "1"
        assert time.monotonic() - started >= refusals.REFUSAL_HOLD_SECONDS * 0.9  # held
        assert guard.refused_requests == 1


def test_a_request_costs_its_address_a_token_and_one_for_each_16_kib_it_is_sent() -> None:
    """A 5,000-row history page (~1.5 MB) is far more of the gate's work than ``/healthz``: a
    request costs its address one token and one more for each 16 KiB of its answer, at most
    2 s' worth, owed down to 30 s of debt (its address's budget and all addresses'); its
    place is kept up to 2 s ahead, beyond that it is refused. (Fails without the charge:
    every request costs one; with it capped at half a second's worth; with the debt floored
    at 3 s, which forgave most of what pages in flight at once owed.)"""
    guard = server.ConnectionGuard(server.Limits(max_connections_per_address=10), "web")
    assert [guard._request_wait("10.0.0.2") for _ in range(10)] == [0.0] * 10
    wait = guard._request_wait("10.0.0.2")
    assert wait is not None
    assert 0.09 < wait <= 0.1  # its place, a tenth of a second ahead
    other = guard._request_wait("10.0.0.3")  # all addresses share twice one's budget
    assert other == 0.0
    guard._charge_request("10.0.0.2", 4 * 16 * 1024 + 100)  # 4 tokens more
    wait = guard._request_wait("10.0.0.2")
    assert wait is not None
    assert 0.5 < wait <= 0.6
    guard._charge_request("10.0.0.2", 10 * 16 * 1024)  # 10 tokens more
    wait = guard._request_wait("10.0.0.2")
    assert wait is not None
    assert 1.6 < wait <= 1.7
    guard._charge_request("10.0.0.2", 1_500_000)  # 91 by its size, 2 s' worth: 20
    assert guard._rates[server._REQUESTS + "10.0.0.2"][0] == pytest.approx(-37, abs=0.1)
    for _ in range(20):  # pages in flight at once: each is owed, down to 30 s of debt
        guard._charge_request("10.0.0.2", 1_500_000)
    everyone = server._REQUESTS + server._ALL
    assert guard._rates[server._REQUESTS + "10.0.0.2"][0] == -300
    assert guard._rates[everyone][0] == pytest.approx(-428, abs=0.5)  # all: 30 s is 600
    assert guard._request_wait("10.0.0.2") is None  # refused: more than 2 s ahead
    assert guard._request_wait("10.0.0.3") is None  # so is everyone without a login
    assert guard._request_wait("10.0.0.3", shared=False) == 0.0  # not a guard signed in
    guard._rates[everyone] = (-428.0, time.monotonic() - 21.5)
    assert guard._request_wait("10.0.0.3") == 0.0  # once all addresses' debt is paid
    assert guard._request_wait("10.0.0.2") is None  # the flooding address: its own debt
    guard._rates[server._REQUESTS + "10.0.0.2"] = (-300.0, time.monotonic() - 30.1)
    assert guard._request_wait("10.0.0.2") == 0.0  # thirty seconds later, served again


async def test_a_guard_signed_in_is_not_slowed_by_a_flood_from_other_addresses(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """All addresses without a camera share one request budget (a flood from many addresses,
    each under its own, is bounded by it); a request with a live session cookie is counted
    only in its own address's, so the guards signed in are served while the others wait or
    are refused. (Fails without: the guard's page 429 with the others.)"""
    web = {"password_hash": hash_password(PASSWORD), "max_connections_per_address": 8}
    async with (
        running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon,
        client_from("127.0.0.21", timeout=10) as guard_browser,
        client_from("127.0.0.22", timeout=10) as stranger,
    ):
        await logged_in(guard_browser, daemon)
        bucket = server._REQUESTS + server._ALL
        guard = daemon.web.guard
        guard._rates[bucket] = (-3 * 16.0, time.monotonic())  # as after a flood from many
        started = time.monotonic()
        page = await guard_browser.get(f"{base(daemon)}/api/status")
        assert page.status_code == 200
        assert time.monotonic() - started < 1.0  # not behind the flood
        refused = await stranger.get(f"{base(daemon)}/api/status")
        assert refused.status_code == 429  # a browser without a login waits with the others
        assert guard._rates[bucket][0] <= -3 * 16.0 + 16.0  # the guard's page took nothing


async def test_a_cameras_address_has_a_request_budget_for_what_is_not_its_own(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A lane's camera's pushes, heartbeats, IO inputs and keep-alives have its lane's
    budgets; anything else from its address (pages, ``/api/passes``) is budgeted as anyone's,
    in its address's budget and all addresses'. It was exempt, so a compromised camera
    fetched 5,000-row pages unbudgeted (5.2 a second from one address, the verifier v21);
    then counted in its address's only, so 16 addresses of a camera network (``allow_from``
    a /24) flooding pages took 78 % of a core and held pushes up to 1.6 s (session 17).
    (Fails without either: the camera's page is not refused.)"""
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "allow_from": ["127.0.0.0/24"]}}
    web = {"max_connections_per_address": 8}
    async with (
        running_daemon(config_for(tmp_path, platform_sim, [lane], web=web)) as daemon,
        client_from("127.0.0.9", timeout=10) as cam,
        client_from("127.0.0.10", timeout=10) as other_cam,
    ):
        guard = daemon.web.guard
        assert (await cam.get(f"{base(daemon)}/healthz")).status_code == 200
        for _ in range(5):  # as after its own page flood
            guard._charge_request("127.0.0.9", 10**7)
        refused = await cam.get(f"{base(daemon)}/healthz")
        assert refused.status_code == 429  # its address's budget
        guard._rates[server._REQUESTS + server._ALL] = (-3 * 16.0, time.monotonic())
        refused = await other_cam.get(f"{base(daemon)}/healthz")
        assert refused.status_code == 429  # all addresses' budget, as after a flood from many
        for client in (cam, other_cam):  # their own: their lane's budgets only
            push = await client.post(f"{base(daemon)}/push/in-1", json={"plate": PLATES[0]})
            assert push.status_code == 200, push.text


async def test_a_payload_errors_reason_quotes_at_most_200_characters(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """A reason quotes what could not be read: a 100 KB colour was answered with a 100 KB
    reason (the verifier v21). (Fails without the cut.)"""
    async with (
        running_daemon(config_for(tmp_path, platform_sim)) as daemon,
        httpx.AsyncClient(timeout=10) as http,
    ):
        reply = await http.post(
            f"{base(daemon)}/push/in-1", json={"plate": PLATES[0], "color": "紫" * 100_000}
        )
        reason = one_line_reason(reply)
        assert reason.startswith("unknown plate colour")
        assert len(reason) <= 200
        assert len(reply.content) < 1_500  # (JSON escapes each Chinese character in 6 bytes)


async def test_event_streams_are_bounded_per_address_and_in_all(
    tmp_path: Path, platform_sim: CityPlatformSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each pass is written to every open ``/api/events`` stream: 300 from one sender raised
    another lane's push p99 19 → 61 ms. At most 8 from one address (here) and 12 in all, of
    which 9 without a login; the next is answered 503 at once (the page's EventSource tries
    again by itself), and a pass still reaches every stream open. (Fails without the bounds:
    the ninth is opened; without the guards' room: their stream is refused, as 64 from 8
    addresses without a login did in a fresh verification, session 17.)"""
    monkeypatch.setattr(status_page, "EVENT_STREAMS", 12)
    monkeypatch.setattr(status_page, "EVENT_STREAMS_WITHOUT_LOGIN", 9)
    lane = {**GENERIC_LANE, "camera": {"kind": "generic-push", "allow_from": ["127.0.0.9"]}}
    web = {"password_hash": hash_password(PASSWORD)}
    async with running_daemon(config_for(tmp_path, platform_sim, [lane], web=web)) as daemon:
        url = f"{base(daemon)}/api/events"
        async with contextlib.AsyncExitStack() as streams:
            opened: list[httpx.Response] = []
            for address, count in (("127.0.0.2", 8), ("127.0.0.3", 1)):
                http = await streams.enter_async_context(client_from(address, timeout=10))
                for _ in range(count):
                    opened.append(await streams.enter_async_context(http.stream("GET", url)))
                    assert opened[-1].status_code == 200
            async with client_from("127.0.0.2", timeout=5) as http:
                refused = await http.get(url)  # a ninth from .2
            assert refused.status_code == 503
            assert refused.json()["error"] == status_page.TOO_MANY_STREAMS
            async with client_from("127.0.0.4", timeout=5) as http:
                assert (await http.get(url)).status_code == 503  # the tenth without a login
            guard = await streams.enter_async_context(client_from("127.0.0.5", timeout=10))
            await logged_in(guard, daemon)
            for _ in range(3):  # the guards' room
                opened.append(await streams.enter_async_context(guard.stream("GET", url)))
                assert opened[-1].status_code == 200
            assert (await guard.get(url)).status_code == 503  # the thirteenth in all
            async with client_from("127.0.0.9", timeout=5) as cam:
                reply = await cam.post(f"{base(daemon)}/push/in-1", json={"plate": PLATES[0]})
            assert reply.status_code == 200
            for stream in opened:
                lines = stream.aiter_lines()
                assert await anext(lines) == "event: pass"
                data = json.loads((await anext(lines)).removeprefix("data: "))
                assert data["plate"] == PLATES[0]
        await eventually(lambda: not daemon.status_page._listeners)
        async with (
            client_from("127.0.0.2", timeout=5) as http,  # closed: room again
            http.stream("GET", url) as again,
        ):
            assert again.status_code == 200


async def test_a_compressed_body_is_refused_unread(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """aiohttp inflated a body sent with ``Content-Encoding: gzip`` or ``deflate`` on the event
    loop before any check, on any path and from any address: 64 KB of gzip made 1 GB and held
    every lane up to 1.2 s. Such a body is refused 415 unread, the connection closed; a push
    without one is taken as ever. (Fails without: the login form and the push are inflated
    and answered as if sent plain.)"""
    bomb = gzip.compress(b'{"plate": "' + b"0" * 16_000_000 + b'"}', 9)
    assert len(bomb) < 20_000
    async with (
        running_daemon(config_for(tmp_path, platform_sim)) as daemon,
        httpx.AsyncClient(timeout=10) as http,
    ):
        for path, kind in (
            ("/api/login", "gzip"),
            ("/push/in-1", "gzip"),
            ("/push/in-1", "deflate"),
        ):
            body = (
                bomb
                if kind == "gzip"
                else zlib.compress(b'{"plate": "' + PLATES[1].encode() + b'"}')
            )
            reply = await http.post(
                base(daemon) + path,
                content=body,
                headers={"Content-Type": "application/json", "Content-Encoding": kind},
            )
            assert reply.status_code == 415, (path, kind, reply.text)
            assert reply.headers["Connection"] == "close"
        cam = camera(daemon)
        assert (await cam.push(PLATES[0])).status == 200
        await cam.aclose()
        assert [p.plate for p in await daemon.store.search_passes()] == [PLATES[0]]


async def test_a_guesser_cannot_keep_the_guards_browser_from_logging_in(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """One address guessing kept the one account waiting, and the guard typing the right
    password from another was refused 60 of 60 times over 90 s. The browser the guard logged
    in from before carries a device cookie (HttpOnly, sent with logins only): the account's
    lock-out does not hold it. (Fails without: 429 for the guard too.)"""
    web = {"password_hash": hash_password(PASSWORD)}
    async with (
        running_daemon(config_for(tmp_path, platform_sim, web=web)) as daemon,
        httpx.AsyncClient(timeout=10) as guard_browser,
        client_from("127.0.0.2", timeout=10) as guesser,
    ):
        daemon.status_page.hold = 0.05
        await logged_in(guard_browser, daemon)
        device = guard_browser.cookies.get(status_page.DEVICE_COOKIE)
        assert device
        url = f"{base(daemon)}/api/login"
        for n in range(auth.MAX_FAILURES):
            reply = await guesser.post(url, data={"user": f"g{n}", "password": "guess"})
            assert reply.status_code == 401
        reply = await guesser.post(url, data={"user": "王五", "password": PASSWORD})
        assert reply.status_code == 429  # the account waits: a stranger, right password or not
        await logged_in(guard_browser, daemon)  # the guard's browser logs in
