"""Serve pass photos at their relative URLs (``/photos/<serial>-<number>.jpg``).

The province API does not take photo uploads: its pass records carry relative image URLs
(imgURL1, imgURL2), and the platform fetches the images from the gate. Photos are read-only.
"""

from __future__ import annotations

import re

from aiohttp import web

from edge.photos import PhotoStore
from edge.store import Store

_NAME = re.compile(r"^(?P<serial>\d{12}[AB]\d{12})-(?P<number>[12])\.jpg$")


class PhotoServer:
    def __init__(self, store: Store, photos: PhotoStore) -> None:
        self.store, self.photos = store, photos

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/photos/{name}", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        match = _NAME.match(request.match_info["name"])
        if match is None:
            raise web.HTTPNotFound
        row = await self.store.find_photo(match["serial"], int(match["number"]))
        if row is None:
            raise web.HTTPNotFound
        try:
            data = await self.photos.read(row["path"])
        except FileNotFoundError:
            raise web.HTTPGone(text="the photo was pruned") from None
        return web.Response(body=data, content_type="image/jpeg")
