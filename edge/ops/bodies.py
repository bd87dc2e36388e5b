"""Request bodies read by their handler, not by the listener first (for :mod:`edge.web.server`
and the handlers below it, e.g. the camera pushes in :mod:`edge.ingest.http_push`).

A listener reads a request's body before its handler runs, under its body timeout and size
limit. A handler marked :func:`reads_own_body` is called before that: it refuses what it can
on the request line and headers alone (a lane's address, token and push rate: a flood answered
429 costs no body read, no copy and no timeout) and reads the body with :func:`read_body`,
under the same timeout and limit, only for a request it takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])

#: The attribute that marks a handler reading its request's body itself.
_OWN_BODY = "_edge_reads_own_body"
#: Where the listener's application keeps its body timeout (seconds) for :func:`read_body`.
BODY_TIMEOUT = web.AppKey("edge.body_timeout", float)


def reads_own_body(handler: H) -> H:
    """Mark ``handler`` as one that reads its request's body itself, with :func:`read_body`."""
    setattr(handler, _OWN_BODY, True)
    return handler


def handler_reads_own_body(request: web.Request) -> bool:
    """Whether the handler ``request`` is routed to was marked :func:`reads_own_body`."""
    return bool(getattr(request.match_info.handler, _OWN_BODY, False))


class BodyNotInTimeError(Exception):
    """The request's body did not arrive within the listener's body timeout (answered 408)."""


async def read_body(request: web.Request) -> bytes:
    """The body, read as the listener reads any other: within its body timeout (else
    :class:`BodyNotInTimeError`, which the listener answers 408) and at most its
    ``max_body_bytes`` (else ``HTTPRequestEntityTooLarge``, answered 413)."""
    try:
        async with asyncio.timeout(request.config_dict.get(BODY_TIMEOUT)):
            return await request.read()
    except TimeoutError:
        raise BodyNotInTimeError from None
