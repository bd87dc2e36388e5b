"""A hostile camera in its own process: pushes that must be cheap to refuse, on another lane
than the one being measured, until it is terminated.

``python -m bench.hostile URL [PLATE_KB] [SLOW_CONNECTIONS]`` — the hostile stream on another
lane: fake JPEGs (``FF D8 FF`` then HTML), decompression bombs (a progressive JPEG claiming
19000×19000 px), truncated JPEGs, garbage and NaN-laden JSON, long plates (``PLATE_KB`` KB),
and ``SLOW_CONNECTIONS`` connections that never finish their headers (re-opened as the daemon
closes them), from 127.0.0.2 (the slow connections from 127.0.0.3 and .4, within each
address's connection budget). The pushes go on :data:`PUSHERS` connections at once, each
sending its next push as soon as it has the answer to the last.

``python -m bench.hostile --pages URL`` — a page flood: :data:`PAGE_READERS` keep-alive
connections from 127.0.0.5 asking for the pages that need no login (``/healthz``,
``/api/status``, a 5,000-row ``/api/passes``) as fast as they are answered.

Either runs at the lowest CPU priority and prints "attacking" once its first request has been
answered.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import struct
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from edge.sim.jpeg import sample_jpeg

#: The hostile camera's own address (the measured camera pushes from 127.0.0.1).
SOURCE = "127.0.0.2"
#: Where its slow connections come from: other hosts of the attacker's, so that they do not
#: use up the hostile pushes' own connection budget (``web.max_connections_per_address``, 64),
#: and no more from each than that budget: the 36 connections beyond it that 100 from one
#: address made were closed as they arrived and re-opened at once, a connection flood of
#: ~1,900 a second that cost the daemon ~40 % of a core and left the pushes a tenth of their
#: rate — a flood of new connections, which a firewall limits (not this benchmark's attack).
SLOW_SOURCES = ("127.0.0.3", "127.0.0.4")
#: An attacker's slow connection closed this soon after it opened was refused (over a cap):
#: it waits this long before the next, as a client that is refused does.
REFUSED_BACKOFF = 1.0
#: Connections pushing at once, each as fast as it is answered: half the daemon's connection
#: budget per address (``web.max_connections_per_address``, 64), so that a daemon that makes
#: a refused push wait for its answer faces as many refusals as the budget lets one host ask
#: for (one connection, sending its next push when answered, would be slowed by that wait alone).
PUSHERS = 32
#: Where the page flood comes from, and its connections (each asking for its next page as soon
#: as it has the last): the second fresh verification of issue 20 (M6) found such a flood of
#: ``/api/passes?limit=5000`` cost another lane +26 to +63 ms at p99, of ``/healthz`` +4 to +28.
PAGE_SOURCE = "127.0.0.5"
PAGE_READERS = 8
#: The pages it asks for, round and round.
PAGES = ("/healthz", "/api/passes?limit=5000", "/api/status", "/api/passes?limit=5000&plate=A")


def _bomb() -> bytes:
    import cv2  # noqa: PLC0415 - only the benchmark needs OpenCV here
    import numpy as np  # noqa: PLC0415

    ok, buffer = cv2.imencode(
        ".jpg", np.full((64, 64, 3), 128, np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    )
    assert ok
    data = bytes(buffer.tobytes())
    at = data.find(b"\xff\xc2")
    return data[: at + 5] + struct.pack(">HH", 19000, 19000) + data[at + 9 :]


def bodies(plate_kb: int) -> Iterator[tuple[str, bytes]]:
    """(content type, body) of hostile pushes, round and round."""

    def picture(data: bytes) -> bytes:
        scene = base64.b64encode(data).decode()
        return f'{{"plate": "晋A12345", "images": {{"scene": "{scene}"}}}}'.encode()

    kinds = [
        ("application/json", picture(b"\xff\xd8\xff<html><body>login</body></html>\xff\xd9")),
        ("application/json", picture(_bomb())),
        ("application/json", picture(sample_jpeg("cut")[:-3000])),
        ("application/json", b'{"plate": "\x1b[2J\x00", "time": NaN, "confidence": Infinity}'),
        ("application/json", b'{"plate": "' + "豫".encode() * (plate_kb * 1024 // 3) + b'"}'),
        ("application/json", b"\xff\xfe{" * 1000),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n" * 50),
    ]
    return itertools.cycle(kinds)


async def slow_connections(url: str, count: int) -> None:
    """Keep ``count`` connections open that never finish their request headers, spread over
    :data:`SLOW_SOURCES`; each re-opened when the daemon closes it (its header timeout)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    async def one(source: str) -> None:
        while True:
            opened = time.monotonic()
            try:
                reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
                writer.write(f"POST {parts.path} HTTP/1.1\r\nHost: gate\r\nX-Slow: ".encode())
                await writer.drain()
                await reader.read()  # until the daemon closes it
                writer.close()
            except OSError:
                pass
            if time.monotonic() - opened < REFUSED_BACKOFF:  # refused, not timed out
                await asyncio.sleep(REFUSED_BACKOFF)

    await asyncio.gather(*(one(SLOW_SOURCES[i % len(SLOW_SOURCES)]) for i in range(count)))


async def read_pages(url: str) -> None:
    """:data:`PAGE_READERS` connections asking for :data:`PAGES` as fast as they are answered
    (a refusal's answer waited for, as a browser does)."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    limits = httpx.Limits(max_connections=PAGE_READERS, max_keepalive_connections=PAGE_READERS)
    transport = httpx.AsyncHTTPTransport(local_address=PAGE_SOURCE, limits=limits)
    pages = itertools.cycle(PAGES)
    answered = asyncio.Event()

    async def reader(http: httpx.AsyncClient) -> None:
        for page in pages:
            try:
                await http.get(base + page)
            except httpx.HTTPError:
                await asyncio.sleep(0.01)
                continue
            if not answered.is_set():  # the benchmark waits for this line before it measures
                print("attacking", flush=True)
                answered.set()

    async with httpx.AsyncClient(timeout=10, transport=transport) as http:
        await asyncio.gather(*(reader(http) for _ in range(PAGE_READERS)))


async def stream(url: str, plate_kb: int, slow: int) -> None:
    slow_task = asyncio.create_task(slow_connections(url, slow))
    limits = httpx.Limits(max_connections=PUSHERS, max_keepalive_connections=PUSHERS)
    transport = httpx.AsyncHTTPTransport(local_address=SOURCE, limits=limits)
    kinds = bodies(plate_kb)  # shared: the pushers take turns through the kinds
    answered = asyncio.Event()

    async def pusher(http: httpx.AsyncClient) -> None:
        for content_type, body in kinds:
            try:
                await http.post(url, content=body, headers={"Content-Type": content_type})
            except httpx.HTTPError:
                await asyncio.sleep(0.01)
                continue
            if not answered.is_set():  # the benchmark waits for this line before it measures
                print("attacking", flush=True)
                answered.set()

    async with httpx.AsyncClient(timeout=10, transport=transport) as http:
        await asyncio.gather(*(pusher(http) for _ in range(PUSHERS)))
    slow_task.cancel()  # pragma: no cover - the pushers end only when killed


if __name__ == "__main__":
    # An attacker's CPU is its own machine's: on the benchmark's shared cores it takes only
    # what the daemon leaves (its pushes still cost the daemon what they cost).
    os.nice(19)
    if sys.argv[1] == "--pages":
        asyncio.run(read_pages(sys.argv[2]))
    else:
        asyncio.run(
            stream(
                sys.argv[1],
                int(sys.argv[2]) if len(sys.argv) > 2 else 100,
                int(sys.argv[3]) if len(sys.argv) > 3 else 100,
            )
        )
