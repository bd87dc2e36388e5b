"""HTTP Digest authentication (MD5, qop=auth) as cameras do it, for the camera doubles."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field

from aiohttp import web


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - HTTP Digest is MD5


@dataclass
class DigestGuard:
    username: str
    password: str
    realm: str
    refused: int = 0
    nonce: str = field(default_factory=lambda: secrets.token_hex(16))

    def _valid(self, method: str, header: str) -> bool:
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header))
        if fields.get("username") != self.username or fields.get("nonce") != self.nonce:
            return False
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{fields.get('uri', '')}")
        expected = _md5(f"{ha1}:{self.nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
        return secrets.compare_digest(expected, fields.get("response", ""))

    def check(self, request: web.Request) -> None:
        """Raise 401 with a challenge unless ``request`` carries valid credentials."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Digest ") and self._valid(request.method, header):
            return
        if header:
            self.refused += 1
        challenge = f'Digest realm="{self.realm}", qop="auth", nonce="{self.nonce}"'
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": challenge})
