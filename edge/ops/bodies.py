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
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])

#: The attribute that marks a handler reading its request's body itself.
_OWN_BODY = "_edge_reads_own_body"
#: Where the listener's application keeps its body timeout (seconds) for :func:`read_body`.
BODY_TIMEOUT = web.AppKey("edge.body_timeout", float)


class BodiesInFlightError(Exception):
    """More request bodies are being read at once than the listener holds (answered 503 at
    once, the body unread, the connection closed)."""


@dataclass(slots=True)
class BodyBudget:
    """The bytes of request bodies a listener reads at once from addresses that are not a
    lane's camera: at most ``total`` in all and ``per_address`` from one (a body counts its
    declared ``Content-Length``, or ``per_address`` when it declares none). Each body is read
    into memory whole, so this bounds the memory slow or many large bodies can hold: 240
    connections each stopping just short of an 8 MB body held 2.2 GB (issue 20). A camera's
    bodies (``is_camera``) are not counted: an attacker filling the budget cannot refuse them."""

    total: int
    per_address: int
    is_camera: Callable[[str], bool] = lambda _address: False
    reading: int = 0
    by_address: Counter[str] = field(default_factory=Counter)
    refused: int = 0

    @contextlib.contextmanager
    def body_of(self, request: web.BaseRequest) -> Iterator[None]:
        """Hold ``request``'s place while its body is read; :class:`BodiesInFlightError` when
        there is none."""
        address = request.remote or "?"
        if self.is_camera(address):
            yield
            return
        size = request.content_length
        size = self.per_address if size is None else min(size, self.per_address)
        if self.reading + size > self.total or self.by_address[address] + size > self.per_address:
            self.refused += 1
            raise BodiesInFlightError
        self.reading += size
        self.by_address[address] += size
        try:
            yield
        finally:
            self.reading -= size
            self.by_address[address] -= size
            if self.by_address[address] <= 0:
                del self.by_address[address]


#: Where the listener's application keeps its :class:`BodyBudget` for :func:`read_body`.
BODY_BUDGET = web.AppKey("edge.body_budget", BodyBudget)


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
    :class:`BodyNotInTimeError`, which the listener answers 408), at most its
    ``max_body_bytes`` (else ``HTTPRequestEntityTooLarge``, answered 413) and within its
    :class:`BodyBudget` (else :class:`BodiesInFlightError`, answered 503)."""
    budget = request.config_dict.get(BODY_BUDGET)
    try:
        with budget.body_of(request) if budget is not None else contextlib.nullcontext():
            async with asyncio.timeout(request.config_dict.get(BODY_TIMEOUT)):
                return await request.read()
    except TimeoutError:
        raise BodyNotInTimeError from None
