"""Photo files: written, fsynced and renamed before any ledger row points at them.

Blocking file I/O runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime
from pathlib import Path


def photo_url(serial: str, number: int) -> str:
    """The relative URL under which the daemon's web server serves a pass's photo (≤ 64
    characters, as the province API's imgURL fields require)."""
    return f"/photos/{serial}-{number}.jpg"


def weighing_photo_url(weighing_id: int, number: int) -> str:
    """The relative URL of the snapshot kept with a weighing that had no plate read (its
    first weighing's: 1, its second's: 2)."""
    return f"/photos/weighing-{weighing_id}-{number}.jpg"


def original_of(path: Path) -> Path:
    """Where the camera's original is kept beside a photo that was re-encoded to fit 1 MB."""
    return path.with_suffix(".orig.jpg")


class PhotoStore:
    def __init__(self, root: Path, *, keep_originals: bool = False) -> None:
        self.root, self.keep_originals = root, keep_originals

    def _write(self, data: bytes, when: datetime, lane_id: str, number: int) -> str:
        rel = Path(when.strftime("%Y/%m/%d")) / f"{lane_id}-{uuid.uuid4().hex}-{number}.jpg"
        self._durable(self.root / rel, data)
        return rel.as_posix()

    async def write_original(self, data: bytes, rel: str) -> None:
        """Keep the camera's original of the photo stored at ``rel`` (not forwarded)."""
        await asyncio.to_thread(self._durable, original_of(self.root / rel), data)

    @staticmethod
    def _durable(final: Path, data: bytes) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def write(self, data: bytes, when: datetime, lane_id: str, number: int) -> str:
        """Store ``data`` durably and return its path relative to the photo root."""
        return await asyncio.to_thread(self._write, data, when, lane_id, number)

    async def write_document(self, data: bytes, when: datetime, kind: str) -> str:
        """Store a document image of the electronic ledger (行驶证, 随车清单, 铭牌) durably
        under ``filings/`` (retention never prunes it) and return its relative path."""
        rel = Path("filings") / when.strftime("%Y/%m") / f"{kind}-{uuid.uuid4().hex}.jpg"
        await asyncio.to_thread(self._durable, self.root / rel, data)
        return rel.as_posix()

    async def read(self, rel: str) -> bytes:
        return await asyncio.to_thread((self.root / rel).read_bytes)
