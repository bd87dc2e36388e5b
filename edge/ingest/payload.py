"""Helpers shared by the push parsers: payload errors, base64 images, body decoding."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from edge.events import Image, ImageKind
from edge.photos import is_jpeg


class PayloadError(ValueError):
    """A camera payload that cannot be understood; answered with HTTP 400."""


@dataclass(frozen=True, slots=True)
class RawPush:
    """A camera's HTTP push as it arrived."""

    body: bytes
    content_type: str = "application/json"  # the full header, parameters included
    charset: str | None = None

    def json(self) -> Any:
        return decode_body(self.body, self.charset)


# U+0080..U+07FF (Latin-1 supplement … Arabic, Armenian): never in a Chinese plate payload, but
# exactly what GBK/GB18030 Chinese looks like when misread as UTF-8 ("豫" D4 A5 → "ԥ").
_TWO_BYTE_UTF8 = re.compile("[\u0080-\u07ff]")


def _has_two_byte_utf8_chars(text: str) -> bool:
    return _TWO_BYTE_UTF8.search(text) is not None


def decode_text(body: bytes, charset: str | None = None) -> str:
    """Decode a camera body: the declared charset, else UTF-8, else GB18030 (legacy firmware)."""
    if charset:
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError:
            raise PayloadError("body is neither UTF-8 nor GB18030 text") from None
    if _has_two_byte_utf8_chars(text):
        try:
            legacy = body.decode("gb18030")
        except UnicodeDecodeError:
            return text
        if not _has_two_byte_utf8_chars(legacy):
            return legacy
    return text


def decode_body(body: bytes, charset: str | None = None) -> Any:
    """Parse a JSON body (see :func:`decode_text` for the character set)."""
    try:
        return json.loads(decode_text(body, charset))
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None


def b64_image(value: Any, kind: ImageKind, field: str) -> Image | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a base64 string")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError(f"{field} is not valid base64") from None
    if not is_jpeg(data):
        raise PayloadError(f"{field} is not a JPEG image")
    return Image(data, kind)


def images_from(
    fields: dict[str, Any], wanted: tuple[tuple[str, ImageKind], ...], where: str
) -> tuple[Image, ...]:
    """The base64 JPEGs found under ``wanted`` keys of ``fields``, in that order."""
    return tuple(
        image
        for key, kind in wanted
        if (image := b64_image(fields.get(key), kind, f"{where}{key}")) is not None
    )


#: Characters of a camera's message kept with its pass, for diagnosis.
RAW_LIMIT = 4096
_LONG = 200  # longer strings (base64 images) are replaced by their length


def _elide(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _LONG:
        return f"<{len(value)} characters>"
    if isinstance(value, dict):
        return {k: _elide(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_elide(v) for v in value]
    return value


def diagnostic(message: bytes | str | dict[str, Any] | list[Any]) -> str:
    """What a camera sent, as text to keep with the pass: JSON with its images elided, other
    text cut at ``RAW_LIMIT`` characters (a multipart body keeps its XML part, which comes
    first), binary bytes replaced."""
    if isinstance(message, bytes):
        body = message
        try:
            message = json.loads(decode_text(body))
        except (PayloadError, ValueError):
            text = body[:RAW_LIMIT].decode("utf-8", "replace")
            return "".join(ch if ch.isprintable() or ch in "\r\n\t" else "\ufffd" for ch in text)
    if isinstance(message, str):
        return message[:RAW_LIMIT]
    return json.dumps(_elide(message), ensure_ascii=False, default=str)[:RAW_LIMIT]
