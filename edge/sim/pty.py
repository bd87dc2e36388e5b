"""A virtual serial port for the device simulators: a pseudo-terminal whose device side is
reached through a fixed path (a symlink, like ``/dev/serial/by-id/…``), so the daemon's config
names one port for good while the simulator can unplug it and plug a new one in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Callable
from pathlib import Path


class VirtualSerialPort:
    def __init__(self, path: Path, on_data: Callable[[bytes], None]) -> None:
        self.path, self.on_data = path, on_data
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        """Create the port and point ``path`` at it."""
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.path)
        # Keeping the device side open too means the simulator reads nothing (not EIO) while
        # the daemon has the port closed.
        self._master, self._slave = master, slave
        asyncio.get_running_loop().add_reader(master, self._readable)

    def _readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:  # pragma: no cover - woken without data
            return
        except OSError:  # pragma: no cover - the pty went away under us
            self.unplug()
            return
        if data:
            self.on_data(data)

    def write(self, data: bytes) -> None:
        """Bytes from the simulated device to whoever has the port open."""
        if self._master is None:
            raise OSError("the virtual serial port is unplugged")
        os.write(self._master, data)

    def unplug(self) -> None:
        """Take the port away: the daemon's reads fail and ``path`` no longer exists."""
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self.path.unlink(missing_ok=True)


class NullModem:
    """Two virtual serial ports wired to each other, like ``socat PTY PTY`` (a cable between
    two RS-485 adapters): what is written to one is read from the other."""

    def __init__(self, a: Path, b: Path) -> None:
        self.a = VirtualSerialPort(a, self._from_a)
        self.b = VirtualSerialPort(b, self._from_b)
        self.a_to_b = bytearray()  # everything that went over the wire from a to b

    def _from_a(self, data: bytes) -> None:
        self.a_to_b += data
        if self.b.plugged:
            self.b.write(data)

    def _from_b(self, data: bytes) -> None:
        if self.a.plugged:
            self.a.write(data)

    def plug(self) -> None:
        self.a.plug()
        self.b.plug()

    def unplug(self) -> None:
        self.a.unplug()
        self.b.unplug()
