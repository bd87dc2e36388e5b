"""The platforms' HTTP: one keep-alive session per client (aiohttp) and one POST with failures
sorted into the error classes of :mod:`edge.uplink.platform.errors`. Both API clients send
through it.

aiohttp rather than httpx here because this is the hot path: a verify call and each forwarded
record with its photo go through it, and aiohttp's client costs about a quarter of httpx's CPU
per request (issue 19's profile: 0.30 ms against 1.39 ms a verify call on the bench machine).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from edge.uplink.platform.errors import (
    InvalidReplyError,
    PermanentError,
    PlatformServerError,
    PlatformUnavailableError,
)

#: Returned instead of a body when the platform answered HTTP 401 (the token was refused).
TOKEN_REFUSED = object()

#: A multipart file part: (file name, bytes, content type), as the city API's photo upload.
FilePart = tuple[str, bytes, str]


class PlatformHttp:
    """POSTs to one platform over a pooled keep-alive session, opened on first use (in the
    event loop) and closed by :meth:`aclose`. ``timeout`` (s) bounds a whole request."""

    def __init__(self, *, base_url: str = "", timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=True)
        return self._session

    async def post(
        self,
        url: str,
        *,
        json_body: Any = None,
        data: dict[str, str] | None = None,
        files: dict[str, FilePart] | None = None,
    ) -> tuple[int, bytes]:
        """POST JSON (``json_body``: UTF-8, compact) or a multipart form (``data`` fields first,
        then ``files``); returns (HTTP status, body bytes). Raises ``aiohttp.ClientError`` or
        ``TimeoutError`` when there is no answer."""
        target = url if "://" in url else self._base + url
        session = self._open()
        if files is None and data is None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json"}
            async with session.post(target, data=body, headers=headers) as response:
                return response.status, await response.read()
        form = aiohttp.FormData()
        for name, value in (data or {}).items():
            form.add_field(name, value)
        for name, (filename, content, content_type) in (files or {}).items():
            form.add_field(name, content, filename=filename, content_type=content_type)
        async with session.post(target, data=form) as response:
            return response.status, await response.read()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def post_json(http: PlatformHttp, url: str, **kwargs: Any) -> Any:
    """POST (see :meth:`PlatformHttp.post`) and return the decoded JSON body, or
    :data:`TOKEN_REFUSED` on HTTP 401.

    No answer (refused, reset, timeout) → :class:`PlatformUnavailableError`; 5xx →
    :class:`PlatformServerError`; other 4xx → :class:`PermanentError`; a body that is not JSON →
    :class:`InvalidReplyError`.
    """
    try:
        status, raw = await http.post(url, **kwargs)
    except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
        raise PlatformUnavailableError(f"timeout on {url}: {exc!r}", timeout=True) from exc
    except aiohttp.ClientError as exc:
        raise PlatformUnavailableError(f"no connection for {url}: {exc!r}") from exc
    text = raw.decode("utf-8", "replace")
    if status >= 500:
        raise PlatformServerError(str(status), text[:200])
    if status == 401:
        return TOKEN_REFUSED
    if status >= 400:
        raise PermanentError(str(status), text[:200])
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidReplyError(f"{url}: reply is not JSON: {text[:200]!r}") from exc
