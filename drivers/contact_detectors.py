"""Loop detectors reported by other devices than a relay board:

- :class:`SerialContactDetector`: a detector or IO module that writes a frame on a serial line
  (or serial server) when its contact closes and another when it opens (both configured);
  noise between frames is ignored;
- :class:`CameraInputDetector`: the loop wired to an input of the ANPR camera, which reports
  its changes by HTTP (Vzenith ``AlarmGioIn`` pushes: the receiver calls :meth:`feed`).
"""

from __future__ import annotations

from drivers.base import DriverHealth, Lifecycle
from drivers.presence import Presence
from drivers.serial_link import SerialLink

_KEEP = 64  # bytes of an unfinished frame kept between reads


class SerialContactDetector(Lifecycle):
    def __init__(
        self,
        port: str,
        *,
        present: bytes,
        gone: bytes,
        baudrate: int = 9600,
        debounce_seconds: float = 0.1,
    ) -> None:
        self.present_frame, self.gone_frame = present, gone
        self.presence = Presence(debounce_seconds)
        self.link = SerialLink(port, baudrate=baudrate, name="loop detector", on_data=self._data)
        self.health = self.link.health
        self._buffer = bytearray()

    def _data(self, chunk: bytes) -> None:
        self._buffer += chunk
        while True:
            hits = [
                (pos, frame, state)
                for frame, state in ((self.present_frame, True), (self.gone_frame, False))
                if (pos := self._buffer.find(frame)) >= 0
            ]
            if not hits:
                break
            pos, frame, state = min(hits, key=lambda hit: hit[0])
            del self._buffer[: pos + len(frame)]
            self.presence.sample(state)
        del self._buffer[:-_KEEP]

    def start(self) -> None:
        self.link.start()

    async def wait_passage(self, since: float, timeout: float) -> bool:
        return await self.presence.wait_passage(since, timeout)

    async def aclose(self) -> None:
        await self.link.aclose()
        self.presence.close()


class CameraInputDetector(Lifecycle):
    def __init__(
        self, input_: int = 0, *, debounce_seconds: float = 0.1, invert: bool = False
    ) -> None:
        self.input, self.invert = input_, invert
        self.presence = Presence(debounce_seconds)
        self.health = DriverHealth(connected=True)

    def feed(self, input_: int, value: int) -> bool:
        """An input change reported by the camera; False if it is not this detector's input."""
        if input_ != self.input:
            return False
        self.health.ok()
        self.presence.sample(bool(value) != self.invert)
        return True

    async def wait_passage(self, since: float, timeout: float) -> bool:
        return await self.presence.wait_passage(since, timeout)

    async def aclose(self) -> None:
        self.presence.close()
