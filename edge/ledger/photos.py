"""Photo files: written, fsynced and renamed before any ledger row points at them.

Blocking file I/O runs in a worker thread, never on the event loop: a photo is read on the
loop only when every byte of it is in the page cache (Linux's ``RWF_NOWAIT``: the read
returns at once, or refuses, instead of waiting for the disk).
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


#: Larger files are always read in a worker thread (a photo is at most about 1 MB).
CACHED_READ_MAX = 4 << 20


def read_cached(path: Path) -> bytes | None:
    """The bytes of the file at ``path`` if the page cache holds every one of them (read
    without waiting for the disk), else None: not cached, not all cached, not a file this
    can read so (missing, too large), or a system without ``RWF_NOWAIT``."""
    nowait = getattr(os, "RWF_NOWAIT", None)
    if nowait is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if size > CACHED_READ_MAX:
            return None
        data = bytearray(size)
        if size and os.preadv(fd, [data], 0, nowait) != size:
            return None  # only part of it was cached
        return bytes(data)
    except OSError:  # EAGAIN: not in the cache; EOPNOTSUPP: a file system without it
        return None
    finally:
        os.close(fd)


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
        """The file's bytes: at once when the page cache holds them all (a photo the
        forwarder sends minutes after it was written; the hop to a worker thread and back
        cost the event loop more than the read, most of a drain's time after the
        :class:`~edge.uplink.forwarder.Forwarder`'s queries — issue 19), else read in a
        worker thread."""
        path = self.root / rel
        cached = read_cached(path)
        return cached if cached is not None else await asyncio.to_thread(path.read_bytes)
