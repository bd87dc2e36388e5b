"""Who may change things through the daemon's web page: one password (its scrypt hash in the
config, set with ``edge set-password``; there is no default), sessions with a CSRF token each,
and a lock-out per account (the user name typed) with an exponentially growing delay after
repeated failures — not a ban of an address, which anyone behind the guards' NAT could
trigger. Secrets are compared in constant time; the scrypt check runs in a worker thread, one
at a time (so guessing is bounded however many accounts are tried).

scrypt comes from the standard library (``hashlib.scrypt``), so no password-hashing package is
needed; the hash format is ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
#: Failures an account may have before it must wait; each further failure doubles the wait,
#: from ``FIRST_DELAY_SECONDS`` up to ``LOCKOUT_SECONDS``.
MAX_FAILURES = 5
FIRST_DELAY_SECONDS = 2.0
LOCKOUT_SECONDS = 15 * 60
#: Characters of a user name kept (longer names are refused).
MAX_USER = 64
SESSION_SECONDS = 8 * 3600
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def write_password_hash(config: Path, stored: str) -> None:
    """Put ``password_hash`` under ``[web]`` in the config file, keeping everything else (its
    comments included) as it is."""
    text = config.read_text("utf-8")
    line = f'password_hash = "{stored}"'
    web = re.search(r"(?m)^\[web\][^\n]*\n", text)
    if web is None:
        text = text.rstrip("\n") + f"\n\n[web]\n{line}\n"
    else:
        section_end = re.search(r"(?m)^\[", text[web.end() :])
        end = web.end() + (section_end.start() if section_end else len(text) - web.end())
        section = text[web.end() : end]
        if re.search(r"(?m)^password_hash\s*=", section):
            section = re.sub(r"(?m)^password_hash\s*=.*$", line, section)
        else:
            section = f"{line}\n{section}"
        text = text[: web.end()] + section + text[end:]
    config.write_text(text, "utf-8")


@dataclass(slots=True)
class Session:
    user: str
    csrf: str
    expires: float


@dataclass(slots=True)
class _Failures:
    count: int = 0
    until: float = 0.0  # the account may try again from this time on


@dataclass
class Guard:
    """Logins, sessions and lock-outs (in memory: a restart logs everyone out)."""

    password_hash: str | None
    clock: Callable[[], float] = time.monotonic
    sessions: dict[str, Session] = field(default_factory=dict)
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _checking: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def enabled(self) -> bool:
        """Without a password set, nothing that changes anything can be done."""
        return self.password_hash is not None

    def wait_seconds(self, user: str) -> float:
        """How long the account ``user`` must wait before its next try (0: it may try)."""
        failures = self._failures.get(_account(user))
        return 0.0 if failures is None else max(0.0, failures.until - self.clock())

    def locked(self, user: str) -> bool:
        return self.wait_seconds(user) > 0

    def _failed(self, user: str) -> None:
        failures = self._failures.setdefault(_account(user), _Failures())
        failures.count += 1
        over = failures.count - MAX_FAILURES
        if over >= 0:
            delay = min(LOCKOUT_SECONDS, FIRST_DELAY_SECONDS * 2.0 ** min(over, 30))
            failures.until = self.clock() + delay
        if len(self._failures) > 10_000:  # names made up by a guesser: forget the oldest
            del self._failures[next(iter(self._failures))]

    async def login(self, user: str, password: str) -> Session | None:
        """A new session, or None (wrong password, the account waiting after failures, or no
        password set). The scrypt check runs off the event loop."""
        user = user.strip()
        if self.password_hash is None or self.locked(user):
            return None
        if not user or len(user) > MAX_USER or len(password) > 1024:
            self._failed(user)
            return None
        async with self._checking:
            good = await asyncio.to_thread(verify_password, password, self.password_hash)
        if not good:
            self._failed(user)
            return None
        self._failures.pop(_account(user), None)
        session = Session(user, secrets.token_urlsafe(24), self.clock() + SESSION_SECONDS)
        self.sessions[secrets.token_urlsafe(32)] = session
        return session

    def token_of(self, session: Session) -> str:
        return next(token for token, s in self.sessions.items() if s is session)

    def session(self, token: str | None) -> Session | None:
        """The live session of a session cookie, for a page that only reads (a link opened
        in a new tab sends no CSRF token; the cookie is SameSite=Strict)."""
        session = self.sessions.get(token or "")
        if session is None or session.expires < self.clock():
            self.sessions.pop(token or "", None)
            return None
        return session

    def check(self, token: str | None, csrf: str | None) -> Session | None:
        """The session for a changing request: a live session cookie and its CSRF token."""
        session = self.session(token)
        if session is None:
            return None
        # as bytes: compare_digest refuses a str with non-ASCII characters (TypeError → a 500)
        given = None if csrf is None else csrf.encode("utf-8", "surrogateescape")
        if given is None or not hmac.compare_digest(given, session.csrf.encode()):
            return None
        return session

    def logout(self, token: str | None) -> None:
        self.sessions.pop(token or "", None)


def _account(user: str) -> str:
    return user.strip().casefold()
