"""One HTTP POST to a platform, with failures sorted into the error classes of
:mod:`edge.uplink.platform.errors`. Both API clients send through it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from edge.uplink.platform.errors import (
    InvalidReplyError,
    PermanentError,
    PlatformServerError,
    PlatformUnavailableError,
)

#: Returned instead of a body when the platform answered HTTP 401 (the token was refused).
TOKEN_REFUSED = object()


async def post_json(http: httpx.AsyncClient, url: str, **kwargs: Any) -> Any:
    """POST and return the decoded JSON body, or :data:`TOKEN_REFUSED` on HTTP 401.

    No answer (refused, reset, timeout) → :class:`PlatformUnavailableError`; 5xx →
    :class:`PlatformServerError`; other 4xx → :class:`PermanentError`; a body that is not JSON →
    :class:`InvalidReplyError`.
    """
    try:
        response = await http.post(url, **kwargs)
    except httpx.TimeoutException as exc:
        raise PlatformUnavailableError(f"timeout on {url}: {exc!r}", timeout=True) from exc
    except httpx.TransportError as exc:
        raise PlatformUnavailableError(f"no connection for {url}: {exc!r}") from exc
    status = response.status_code
    if status >= 500:
        raise PlatformServerError(str(status), response.text[:200])
    if status == 401:
        return TOKEN_REFUSED
    if status >= 400:
        raise PermanentError(str(status), response.text[:200])
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidReplyError(f"{url}: reply is not JSON: {response.text[:200]!r}") from exc
