"""Serve pass photos.

The province API does not take photo uploads: its pass records carry relative image URLs
(imgURL1, imgURL2, ≤ 64 characters), and the platform fetches the images from the gate. That
fetch has its own listener (:class:`PhotoListener`, ``[photo_web]``: its own address and
port, optionally only for the platform's addresses) that serves photos and nothing else, at
``/photos/<token>/<serial>-<n>.jpg``: the token is an HMAC-SHA256 of the name under a key
kept beside the ledger (128 bits, base64url), so a photo is served only to whoever was sent
its URL — serial numbers (enterprise, gate, direction, time to the second) are easy to
enumerate, tokens are not. The status page and camera pushes are not on this listener.

The status page's own listener also serves ``/photos/<serial>-<n>.jpg`` (:class:`PhotoServer`)
for the guards; keep that listener on loopback or the gate LAN.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

import structlog
from aiohttp import web

from edge.config.model import address_in
from edge.ledger.passes import PassLedger
from edge.ledger.photos import PhotoStore
from edge.ledger.weighings import WeighingLedger
from edge.ops.refusals import RefusalSpell
from edge.web.server import Limits, Listener

log = structlog.get_logger("edge.web.photo_listener")

_WEIGHING_NAME = re.compile(r"^weighing-(?P<id>\d{1,18})-(?P<number>[12])\.jpg$")
_NAME = re.compile(r"^(?P<serial>\d{12}[AB]\d{12})-(?P<number>[12])\.jpg$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PhotoSigner:
    """Unguessable relative photo URLs for the province platform."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the photo URL key must be at least 16 bytes")
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> PhotoSigner:
        """The key kept in ``path`` (created, readable by the daemon's user only, at first
        use): URLs sent before a restart stay valid."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(bytes.fromhex(path.read_text("ascii").strip()))
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        log.info("photo URL key created", path=str(path))
        return cls.from_file(path)

    def token(self, name: str) -> str:
        digest = hmac.new(self._key, name.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def url(self, serial: str, number: int) -> str:
        """``/photos/<token>/<serial>-<n>.jpg`` (62 characters)."""
        name = f"{serial}-{number}.jpg"
        return f"/photos/{self.token(name)}/{name}"

    def valid(self, token: str, name: str) -> bool:
        return _TOKEN.match(token) is not None and hmac.compare_digest(token, self.token(name))


async def _photo_response(store: PassLedger, photos: PhotoStore, name: str) -> web.Response:
    match = _NAME.match(name)
    if match is None:
        raise web.HTTPNotFound
    row = await store.find_photo(match["serial"], int(match["number"]))
    if row is None:
        raise web.HTTPNotFound
    return await _jpeg(photos, row.path)


async def _jpeg(photos: PhotoStore, path: str) -> web.Response:
    try:
        data = await photos.read(path)
    except FileNotFoundError:
        raise web.HTTPGone(text="the photo was pruned") from None
    return web.Response(
        body=data,
        content_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=86400", "Content-Disposition": "inline"},
    )


class PhotoServer:
    """``/photos/<serial>-<n>.jpg`` on the status page's listener, for the guards; with the
    weighings, ``/photos/weighing-<id>-<n>.jpg`` too (the snapshot kept with a weighing that
    had no plate read)."""

    def __init__(
        self, store: PassLedger, photos: PhotoStore, weighings: WeighingLedger | None = None
    ) -> None:
        self.store, self.photos, self.weighings = store, photos, weighings

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/photos/{name}", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        match = _WEIGHING_NAME.match(name)
        if match is None or self.weighings is None:
            return await _photo_response(self.store, self.photos, name)
        try:
            weighing = await self.weighings.weighing(int(match["id"]))
        except KeyError:
            raise web.HTTPNotFound from None
        path = weighing.first_photo if match["number"] == "1" else weighing.second_photo
        if path is None:
            raise web.HTTPNotFound
        return await _jpeg(self.photos, path)


class PhotoListener(Listener):
    """The listener the province platform fetches photos from: signed photo URLs only."""

    def __init__(
        self,
        host: str,
        port: int,
        limits: Limits,
        *,
        store: PassLedger,
        photos: PhotoStore,
        signer: PhotoSigner,
        allow: Sequence[Network] = (),
    ) -> None:
        self.store, self.photos, self.signer = store, photos, signer
        self.allow = tuple(allow)
        self.refused = 0  # fetches refused since the start
        #: Refused fetches (an enumeration: one a request) are logged once when they start and
        #: once when they stop, not one line each.
        self.refusals = RefusalSpell()
        self.clock = time.monotonic  # (read here: a test may set it)
        super().__init__(
            host, port, [web.get("/photos/{token}/{name}", self.handle)], limits, "photos"
        )
        self.guard.unbudgeted = self.guard.is_camera  # the platform: no request budget

    def _allowed(self, peer: str | None) -> bool:
        return not self.allow or address_in(peer, self.allow)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The photo, if its token is right and the address allowed; a refused fetch (403,
        404) is answered after the listener's refusal hold (``guard.hold``:
        :data:`edge.ops.refusals.REFUSAL_HOLD_SECONDS`, as a path no route has and the
        pushes' refusals are), not at once: a guesser waiting for its answers is slowed to one
        guess a second per connection, each a sleeping task instead of the event loop's time
        (answered at once, a flood of guesses raised another lane's push p99 by 8–33 ms)."""
        token, name = request.match_info["token"], request.match_info["name"]
        now = self.clock()
        if (refused := self.refusals.over(now)) is not None:
            log.info("photo fetches no longer refused", refused=refused)
        if not self._allowed(request.remote):
            await self._refuse(now, "address not allowed", request.remote, name)
            raise web.HTTPForbidden
        if not self.signer.valid(token, name):
            await self._refuse(now, "bad token", request.remote, name)
            raise web.HTTPNotFound
        return await _photo_response(self.store, self.photos, name)

    async def _refuse(self, now: float, why: str, peer: str | None, name: str) -> None:
        """Count a refused fetch, log it if it starts a spell, and hold its answer."""
        self.refused += 1
        if self.refusals.refuse(now):
            log.warning(
                "photo fetches refused; logged again when they stop",
                why=why,
                peer=peer,
                name=name[:40],
            )
        await asyncio.sleep(self.guard.hold)
