"""The photos of one pass: grabbed (the event's own, fetched from the camera, or a snapshot; the
rear camera's), fitted to the platform's limits and stored durably before any row points at
them (spec §7.2). A photo that cannot be had or written is logged and left out: the pass is
recorded without it, never held up by it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from edge.domain.codes import Direction
from edge.domain.events import Image, ImageKind, PlateEvent
from edge.gate.camera_photos import SnapshotSource
from edge.ledger.photos import PhotoStore
from edge.ledger.retention import DiskState
from edge.ledger.store import NewPhoto
from edge.uplink.photo_fit import PhotoCheck, PhotoError

log = structlog.get_logger("edge.gate.lane")

FRONT_PHOTO, REAR_PHOTO = 1, 2  # §7.2


@dataclass(slots=True)
class PassPhotos:
    """One lane's photo taking. ``snapshot``/``rear``: where a front photo comes from when the
    read has none, and the lane's second camera (photo number 2); ``direction`` gives the
    photo type (§7.2) unless a kind is asked for."""

    lane_id: str
    direction: Direction
    store: PhotoStore
    check: PhotoCheck = field(default_factory=PhotoCheck)
    disk: DiskState = field(default_factory=DiskState)
    snapshot: SnapshotSource | None = None
    rear: SnapshotSource | None = None

    async def take(self, event: PlateEvent, kind: int | None = None) -> list[NewPhoto]:
        """Write the event's photos durably: the front photo and, where the lane has a second
        camera, the rear one, both fetched at the same time."""
        if not self.disk.accepting_photos:
            if event.scene_image() is not None or self.snapshot or event.image_source:
                log.warning(
                    "photo storage is full of unforwarded data; pass recorded without photo"
                )
            return []
        fronts, rear = await asyncio.gather(self._front_images(event), self._rear_image(event))
        photos = []
        for image in fronts:  # the first the check takes: a refused scene, then its crop
            photo = await self._store_photo(event, FRONT_PHOTO, image.data, kind)
            if photo is not None:
                photos.append(photo)
                break
        if rear and (photo := await self._store_photo(event, REAR_PHOTO, rear, kind)):
            photos.append(photo)
        return photos

    async def _front_images(self, event: PlateEvent) -> list[Image]:
        """The front photo's candidates, best first: the read's scene photos then its plate
        crops (:meth:`PlateEvent.scene_image`'s order; each decoded only if it is tried),
        else one fetched from the camera's link or a snapshot."""
        images = [image for image in event.images if image.kind is ImageKind.SCENE]
        images += [image for image in event.images if image.kind is ImageKind.PLATE]
        if images:
            return images
        if event.image_source is not None and (fetched := await event.image_source()):
            return [Image(fetched)]
        grabbed = await self.snapshot.grab() if self.snapshot is not None else None
        return [Image(grabbed)] if grabbed else []

    async def _rear_image(self, event: PlateEvent) -> bytes | None:
        if self.rear is None or event.historical:  # a rear photo taken now would be wrong
            return None
        return await self.rear.grab()

    async def _store_photo(
        self, event: PlateEvent, number: int, original: bytes, kind: int | None = None
    ) -> NewPhoto | None:
        try:
            data = await self.check.prepare(original)  # checked; re-encoded off the loop
            if data is not original:
                cut = original.startswith(data)  # only what followed its end-of-image marker
                log.info(
                    "photo cut at its end-of-image marker" if cut else "photo re-encoded",
                    number=number,
                    original=len(original),
                    sent=len(data),
                )
            path = await self.store.write(data, event.received_at, self.lane_id, number)
            if data is not original and self.store.keep_originals:
                await self.store.write_original(original, path)
        except PhotoError as exc:  # the camera's doing: a warning, not an error of ours
            log.warning(
                "photo refused",
                number=number,
                error=str(exc),
                size=len(original),
            )
            return None
        except OSError as exc:
            log.error("photo could not be stored; recording the pass without it", error=str(exc))
            return None
        return NewPhoto(
            number,
            kind or self.direction.photo_type,
            path,
            len(data),
            event.camera_time.timestamp(),
        )

    async def scene(self, when: datetime) -> str | None:
        """A snapshot of the lane's camera now, checked, fitted and stored like a pass's photo,
        for a record that is no pass (a weighing without a plate read): its path relative to
        the photo root; None when the lane has no snapshot source or it cannot give one."""
        if self.snapshot is None or not self.disk.accepting_photos:
            return None
        image = await self.snapshot.grab()
        if image is None:
            return None
        try:
            data = await self.check.prepare(image)
            return await self.store.write(data, when, self.lane_id, FRONT_PHOTO)
        except (PhotoError, OSError) as exc:
            log.error("snapshot refused or not stored", lane=self.lane_id, error=str(exc))
            return None

    async def aclose(self) -> None:
        """Close the snapshot sources (an open RTSP stream)."""
        for source in (self.snapshot, self.rear):
            if source is not None:
                await source.aclose()
