"""The one normalised plate event that every camera adapter produces."""

from __future__ import annotations

import binascii
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from drivers.base import CameraReply
from edge.domain.plates import PlateColor


class ImageKind(StrEnum):
    SCENE = "scene"  # full scene: the photo forwarded to the platform
    PLATE = "plate"  # plate crop


class Image:
    """A camera's photo: its JPEG bytes, or the base64 text a push carried them in, decoded
    when they are first read (:meth:`from_base64`) — after the pass is committed and the
    barrier told, not while the plate waits for its check (a 93 KB photo: ~0.3 ms of the
    event loop's time, and of the plate → coil path, issue 19)."""

    __slots__ = ("_data", "_text", "kind")

    def __init__(self, data: bytes, kind: ImageKind = ImageKind.SCENE) -> None:
        self._data: bytes | None = data
        self._text: str | None = None
        self.kind = kind

    @classmethod
    def from_base64(cls, text: str, kind: ImageKind = ImageKind.SCENE) -> Image:
        """The photo in ``text``, base64 its caller checked (:func:`edge.ingest.payload.
        b64_image`: what ``binascii.a2b_base64(strict_mode=True)`` takes)."""
        image = cls(b"", kind)
        image._data, image._text = None, text
        return image

    @property
    def data(self) -> bytes:
        if self._data is None:
            assert self._text is not None
            self._data, self._text = binascii.a2b_base64(self._text), None
        return self._data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Image):
            return NotImplemented
        return self.kind == other.kind and self.data == other.data

    def __hash__(self) -> int:
        return hash((self.kind, self.data))

    def __repr__(self) -> str:
        size = f"{len(self._data)} bytes" if self._data is not None else "base64, not decoded"
        return f"Image({size}, {self.kind!s})"


@dataclass(frozen=True, slots=True)
class PlateRead:
    """What a camera payload says, before the lane, receive time and reply path are attached."""

    plate: str | None
    color: PlateColor
    camera_time: datetime
    images: tuple[Image, ...] = ()
    confidence: int | None = None
    vendor_id: str | None = None
    #: Vendor data the reply must carry back (Vzenith's ``plateid``).
    echo: Any = None
    #: A record the camera stored while the daemon was unreachable, pushed again later: the
    #: vehicle passed in the past, and ``camera_opened`` says whether the camera let it in
    #: (None: the camera did not say).
    historical: bool = False
    camera_opened: bool | None = False
    #: A read that is not a plate (characters outside the plate alphabet, a length no plate
    #: has), escaped for diagnosis; ``plate`` is then ``None``.
    unreadable: str | None = None


@dataclass(slots=True)
class ReadTicket:
    """What became of a read its camera waits for: the push handler and the lane agree
    through it so that the camera's reply tells the truth."""

    #: The lane committed to the read as live (recorded it with its verdict; it may move the
    #: barrier).
    acted: bool = False
    #: The camera was answered before that: the lane records the read as stale and never
    #: moves the barrier for it.
    abandoned: bool = False


@dataclass(frozen=True, slots=True)
class PlateEvent:
    """One plate read at one lane. ``plate`` is ``None`` for a vehicle without a readable plate."""

    lane_id: str
    plate: str | None
    color: PlateColor
    camera_time: datetime
    received_at: datetime
    received_mono: float  # monotonic receive time, for latency figures
    source: str
    images: tuple[Image, ...] = ()
    confidence: int | None = None
    vendor_id: str | None = None
    camera_reply: CameraReply | None = field(default=None, compare=False)
    historical: bool = False
    camera_opened: bool | None = False
    #: A photo still to fetch from the camera (an ONVIF event's PictureUri): the lane fetches
    #: it while the platform is asked. Returns None when it cannot be had.
    image_source: Callable[[], Awaitable[bytes | None]] | None = field(default=None, compare=False)
    #: Set for a guard's override: the verdict is the guard's, not the platform's.
    override: Any = field(default=None, compare=False)
    #: What the camera sent, as text (images elided), kept with the pass for diagnosis.
    raw: str | None = field(default=None, compare=False, repr=False)
    #: Set when a camera waits for the reply (HTTP push).
    ticket: ReadTicket | None = field(default=None, compare=False, repr=False)
    #: See :attr:`PlateRead.unreadable`: the lane treats the vehicle as "plate unreadable".
    unreadable: str | None = None

    @classmethod
    def from_read(  # noqa: PLR0913 - every field a camera read can carry
        cls,
        read: PlateRead,
        *,
        lane_id: str,
        received_at: datetime,
        source: str,
        raw: str | None,
        received_mono: float | None = None,
        camera_reply: CameraReply | None = None,
        ticket: ReadTicket | None = None,
        image_source: Callable[[], Awaitable[bytes | None]] | None = None,
    ) -> PlateEvent:
        """The event for what a camera said (``read``) at lane ``lane_id``, received at
        ``received_at`` (``received_mono``: monotonic seconds, now when not given). ``source``
        names the adapter (``generic``, ``mqtt-json``, ``serial``, …); ``raw`` is the message
        as text for diagnosis. The one place a read becomes an event (every ingest adapter)."""
        return cls(
            lane_id=lane_id,
            plate=read.plate,
            unreadable=read.unreadable,
            color=read.color,
            camera_time=read.camera_time,
            received_at=received_at,
            received_mono=time.monotonic() if received_mono is None else received_mono,
            source=source,
            raw=raw,
            images=read.images,
            confidence=read.confidence,
            vendor_id=read.vendor_id,
            camera_reply=camera_reply,
            historical=read.historical,
            camera_opened=read.camera_opened,
            ticket=ticket,
            image_source=image_source,
        )

    def scene_image(self) -> Image | None:
        """The photo to forward: the full scene, else the plate crop."""
        for kind in (ImageKind.SCENE, ImageKind.PLATE):
            for image in self.images:
                if image.kind is kind:
                    return image
        return None
