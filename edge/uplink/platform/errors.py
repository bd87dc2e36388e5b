"""What went wrong talking to the platform, classified for the caller.

Store-and-forward retries :class:`RetryableError` forever (with backoff) and parks
:class:`PermanentError` as a dead letter; verification treats any :class:`PlatformError` as
"the platform cannot answer" and applies the offline policy.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class PlatformError(Exception):
    """Any failure of a platform call."""


class RetryableError(PlatformError):
    """Trying again later may succeed: no link, timeout, server error, token trouble."""


class PlatformUnavailableError(RetryableError):
    """No answer: connection refused, reset, DNS failure or (``timeout``) no reply in time."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        self.timeout = timeout
        super().__init__(message)


class PlatformServerError(RetryableError):
    """The platform answered with a server-side error (5xx / code 500, 502)."""

    def __init__(self, code: str, status: str) -> None:
        self.code, self.status = code, status
        super().__init__(f"platform server error {code}: {status}")


class PlatformAuthError(RetryableError):
    """The token was refused even after a fresh one was fetched, or the login failed."""


class InvalidReplyError(RetryableError):
    """The reply could not be parsed or failed validation."""


class PermanentError(PlatformError):
    """The platform refused the message itself (952 format check, 400, 403, 404…)."""

    def __init__(self, code: str, status: str) -> None:
        self.code, self.status = code, status
        super().__init__(f"platform rejected the message ({code}): {status}")


class InvalidMessageError(PermanentError):
    """Our own message breaks the spec; it was stopped before it was sent."""

    def __init__(self, detail: str) -> None:
        super().__init__("local", detail)


def build_message(message: type[M], /, **fields: Any) -> M:
    """Build an outgoing message; a spec violation becomes :class:`InvalidMessageError`
    naming the field, and the message never reaches the platform."""
    try:
        return message(**fields)
    except ValidationError as exc:
        detail = "; ".join(
            f"{message.__name__}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidMessageError(detail) from None
