"""Who may change things through the daemon's web page: one password (its scrypt hash in the
config, set with ``edge set-password``; there is no default), sessions with a CSRF token each,
and a lock-out per **account** with an exponentially growing delay after repeated failures —
not a ban of an address, which anyone behind the guards' NAT could trigger.

The account is what a password is checked against: there is one password, so there is one
account, whatever user name is typed (the name is who the audit says tried, and whom the
session belongs to). Its first :data:`MAX_FAILURES` failures are free; after that each failure
makes the account wait :data:`FIRST_DELAY_SECONDS`, doubling with each further one up to
:data:`LOCKOUT_SECONDS`; a success forgets the failures. A try while the account waits, or
while another try's check is running, is refused at once (:class:`Wait`: 429 with
``Retry-After`` on the page) without running scrypt, so concurrent guesses never queue scrypt
work: at most one check runs at a time, and nothing waits on a lock. Guessing is therefore
bounded however many names, connections or addresses are used: at most 8 guesses in the
first 20 s, 16 in the first hour, then 4 an hour (108 in the first day), plus 5 after each
successful login. A per-account lock-out alone lets whoever keeps guessing keep the guards
waiting for a new login indefinitely (a third verification did, from one address); so a
browser that logged in before — its **device cookie** (OWASP's "device cookies", HttpOnly,
SameSite=Strict, a year) — is not held by the account's lock-out but by its own (the same
schedule, its own failures). The guards' browsers log in while a stranger is locked out;
sessions already open stay (8 hours). A restart forgets the devices (and the failures).
Secrets are compared in constant time; the scrypt check runs in a worker thread.

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
#: Browsers that logged in remembered (their device cookies); the oldest forgotten beyond.
MAX_DEVICES = 256
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
    #: The device cookie of the browser it was opened from (see :class:`Guard`).
    device: str = ""


def _delayed(failures: int, now: float) -> float:
    """When the next try may come after ``failures`` failures: at once for the first
    :data:`MAX_FAILURES`, then :data:`FIRST_DELAY_SECONDS` doubling up to
    :data:`LOCKOUT_SECONDS`."""
    over = failures - MAX_FAILURES
    if over < 0:
        return 0.0
    return now + min(LOCKOUT_SECONDS, FIRST_DELAY_SECONDS * 2.0 ** min(over, 30))


@dataclass(slots=True)
class Lockout:
    """Failures since the last success, and when the next try may come: the account's, or a
    known browser's own (the same schedule)."""

    failures: int = 0
    until: float = 0.0

    def checked(self, *, ok: bool, now: float) -> None:
        if ok:
            self.failures, self.until = 0, 0.0
        else:
            self.failures += 1
            self.until = max(self.until, _delayed(self.failures, now))


@dataclass(frozen=True, slots=True)
class Wait:
    """A login refused without checking its password: the account waits after failures, or
    another try's check is running. ``seconds``: when to try again."""

    seconds: float


#: What a try refused while another's check runs is told to wait (a check takes ~0.1 s).
BUSY_SECONDS = 1.0


@dataclass
class Guard:
    """Logins, sessions and the account's lock-out (in memory: a restart logs everyone out
    and forgets the failures)."""

    password_hash: str | None
    clock: Callable[[], float] = time.monotonic
    sessions: dict[str, Session] = field(default_factory=dict)
    #: The account's failures since its last success, and when it may try again.
    account: Lockout = field(default_factory=Lockout)
    #: Browsers that logged in before (their device cookie → their own failures and wait):
    #: a try from one is not held by the account's lock-out, only by its own.
    devices: dict[str, Lockout] = field(default_factory=dict)
    #: The check running now, if any (a task, so that it is kept, and its thread counted,
    #: until the check ends even when the request that started it is cancelled).
    _checking: asyncio.Task[bool] | None = None

    @property
    def enabled(self) -> bool:
        """Without a password set, nothing that changes anything can be done."""
        return self.password_hash is not None

    @property
    def failures(self) -> int:
        """The account's failures since its last success."""
        return self.account.failures

    def wait_seconds(self, device: str | None = None) -> float:
        """How long the account — or the known browser of the device cookie ``device`` —
        must wait before its next try (0: it may try)."""
        return max(0.0, self.devices.get(device or "", self.account).until - self.clock())

    def locked(self) -> bool:
        return self.wait_seconds() > 0

    def _checked(self, check: asyncio.Task[bool], lockout: Lockout) -> None:
        """A check ended: count it (even when the request that started it is gone), against
        the known browser it came from, else the account."""
        self._checking = None
        ok = not check.cancelled() and check.exception() is None and check.result()
        lockout.checked(ok=ok, now=self.clock())

    async def login(
        self, user: str, password: str, device: str | None = None
    ) -> Session | Wait | None:
        """A new session; :class:`Wait` (refused unchecked: the account — or, from a browser
        that logged in before (``device``, its device cookie), that browser — waits after
        failures, or another check is running); or None (a wrong password, no user name,
        over-long fields, or no password set). The scrypt check runs off the event loop.
        A session names the browser's device cookie (``device``: set it on the browser)."""
        user = user.strip()
        if self.password_hash is None:
            return None
        known = self.devices.get(device or "")
        if wait := self.wait_seconds(device):
            return Wait(wait)
        if self._checking is not None:
            return Wait(BUSY_SECONDS)
        if not user or len(user) > MAX_USER or len(password) > 1024:
            return None  # nothing checked, so nothing guessed
        stored = self.password_hash
        check = asyncio.create_task(asyncio.to_thread(verify_password, password, stored))
        self._checking = check
        check.add_done_callback(lambda done: self._checked(done, known or self.account))
        if not await asyncio.shield(check):
            return None
        session = Session(user, secrets.token_urlsafe(24), self.clock() + SESSION_SECONDS)
        self.sessions[secrets.token_urlsafe(32)] = session
        if known is None:
            if len(self.devices) >= MAX_DEVICES:
                del self.devices[next(iter(self.devices))]  # the oldest forgotten
            device = secrets.token_urlsafe(32)
            self.devices[device] = Lockout()
        session.device = device or ""
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
