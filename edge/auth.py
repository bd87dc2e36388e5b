"""Who may change things through the daemon's web page: one password (its scrypt hash in the
config, set with ``edge set-password``; there is no default), sessions with a CSRF token each,
and a lock-out after repeated failures from one address. Secrets are compared in constant time.

scrypt comes from the standard library (``hashlib.scrypt``), so no password-hashing package is
needed; the hash format is ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``.
"""

from __future__ import annotations

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
MAX_FAILURES = 5
LOCKOUT_SECONDS = 15 * 60
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


@dataclass
class Guard:
    """Logins, sessions and lock-outs (in memory: a restart logs everyone out)."""

    password_hash: str | None
    clock: Callable[[], float] = time.monotonic
    sessions: dict[str, Session] = field(default_factory=dict)
    _failures: dict[str, list[float]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        """Without a password set, nothing that changes anything can be done."""
        return self.password_hash is not None

    def locked(self, address: str) -> bool:
        now = self.clock()
        recent = [t for t in self._failures.get(address, []) if now - t < LOCKOUT_SECONDS]
        self._failures[address] = recent
        return len(recent) >= MAX_FAILURES

    def login(self, user: str, password: str, address: str) -> Session | None:
        """A new session, or None (wrong password, locked out, or no password set)."""
        if self.password_hash is None or self.locked(address):
            return None
        if not user.strip() or not verify_password(password, self.password_hash):
            self._failures.setdefault(address, []).append(self.clock())
            return None
        self._failures.pop(address, None)
        session = Session(user.strip(), secrets.token_urlsafe(24), self.clock() + SESSION_SECONDS)
        self.sessions[secrets.token_urlsafe(32)] = session
        return session

    def token_of(self, session: Session) -> str:
        return next(token for token, s in self.sessions.items() if s is session)

    def check(self, token: str | None, csrf: str | None) -> Session | None:
        """The session for a changing request: a live session cookie and its CSRF token."""
        session = self.sessions.get(token or "")
        if session is None or session.expires < self.clock():
            self.sessions.pop(token or "", None)
            return None
        if csrf is None or not hmac.compare_digest(csrf, session.csrf):
            return None
        return session

    def logout(self, token: str | None) -> None:
        self.sessions.pop(token or "", None)
