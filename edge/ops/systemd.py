"""systemd integration: ``READY=1`` once the store is open and the listeners are bound, a
watchdog ping from the event loop itself — only while the loop answers promptly and the lanes,
forwarder and store are alive — and ``STOPPING=1`` on the way out.

The sd_notify protocol is one datagram to ``$NOTIFY_SOCKET``; it is written here rather than
taken from ``sdnotify`` (unmaintained since 2019, and it would add nothing but a blocking
call). Outside systemd (no ``$NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("edge.ops.systemd")

#: The loop must answer a timer within this share of the ping interval to count as healthy.
MAX_LAG_SHARE = 0.5


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        if address and address.startswith("@"):
            address = "\0" + address[1:]  # the abstract namespace
        self.address = address or None
        self._socket: socket.socket | None = None
        if self.address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)  # noqa: FBT003 - the socket API

    def send(self, state: str) -> None:
        if self._socket is None or self.address is None:
            return
        try:
            self._socket.sendto(state.encode(), self.address)
        except OSError as exc:  # systemd gone or busy: never fatal
            log.warning("sd_notify failed", state=state.split("=", maxsplit=1)[0], error=str(exc))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval() -> float | None:
    """Half of ``WatchdogSec`` (systemd passes it as ``$WATCHDOG_USEC``), if the unit has one."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


async def feed_watchdog(
    notifier: Notifier,
    interval: float,
    healthy: Callable[[], Awaitable[bool]],
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Ping every ``interval`` seconds from the event loop while it is prompt and ``healthy()``;
    a withheld ping is logged once (and once when pings resume): systemd restarts the service
    if they stay withheld for ``WatchdogSec``."""
    withheld = False
    while True:
        before = clock()
        await asyncio.sleep(interval)
        lag = clock() - before - interval
        ok = lag < interval * MAX_LAG_SHARE and await healthy()
        if ok:
            notifier.send("WATCHDOG=1")
        if ok == withheld:
            withheld = not ok
            if withheld:
                log.error("watchdog ping withheld: loop lagging or a component down", lag=lag)
            else:
                log.info("watchdog pings resumed")
