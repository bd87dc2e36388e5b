"""A mosquitto broker on a free port of 127.0.0.1, for the MQTT demo and tests (mosquitto
itself comes from the system's packages: ``apt-get install mosquitto``)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
from pathlib import Path

import aiomqtt


class BrokerMissingError(RuntimeError):
    """mosquitto is not installed."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dies_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """In the broker before exec: SIGTERM it when the process that started it dies, even by
    SIGKILL (prctl PR_SET_PDEATHSIG; Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


class MosquittoBroker:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise BrokerMissingError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary, self.port = binary, _free_port()
        self.conf = workdir / "mosquitto.conf"
        # run as whoever starts it: a broker started as root switches to the "mosquitto" user,
        # and the kernel then forgets that it should die with its parent (_dies_with_parent)
        user = pwd.getpwuid(os.getuid()).pw_name
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {user}\n")
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 10.0) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            self.binary,
            "-c",
            str(self.conf),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=_dies_with_parent,  # a demo or test session killed takes it along
        )
        async with asyncio.timeout(timeout):
            while True:  # until it accepts connections
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.02)
                    continue
                writer.close()
                return

    async def stop(self, grace: float = 5.0) -> None:
        """Terminate the broker; killed if it has not gone within ``grace`` seconds."""
        if self.proc is not None:
            if self.proc.returncode is None:
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
            self.proc = None

    async def publish(self, topic: str, payload: bytes) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port) as client:
            await client.publish(topic, payload, qos=1)
