"""Helpers shared by the camera parsers: payload errors, events that are not passes, body
decoding (byte-order marks, legacy charsets), checked numbers and times, base64 images."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from edge.domain.events import Image, ImageKind
from edge.domain.plates import PROVINCES

#: Characters of a payload error's reason kept (the camera's answer and the log): a reason
#: quotes what it could not read, and a 100 KB colour was answered with a 100 KB reason.
MAX_REASON = 200


class PayloadError(ValueError):
    """A camera payload that cannot be understood; answered with HTTP 400. Its reason is cut
    to :data:`MAX_REASON` characters."""

    def __init__(self, reason: str) -> None:
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 1] + "…"
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """A camera message that is not a vehicle pass (a keep-alive, a video-loss alarm, a
    non-motor snap): answered as the vendor expects, counted as the camera being heard, never
    a pass. ``what`` names it for the debug log (e.g. ``"videoloss/inactive"``)."""

    what: str


@dataclass(frozen=True, slots=True)
class RawPush:
    """A camera's HTTP push as it arrived."""

    body: bytes
    content_type: str = "application/json"  # the full header, parameters included
    charset: str | None = None
    #: The parsed JSON once :meth:`json` parsed it (a body is parsed once, not again for its
    #: :func:`diagnostic` text): a 125 KB push costs a millisecond per parse.
    _parsed: list[Any] = field(default_factory=list, init=False, repr=False, compare=False)

    def json(self) -> Any:
        """The body as JSON (PayloadError); parsed once. Callers do not change it."""
        if not self._parsed:
            self._parsed.append(decode_body(self.body, self.charset))
        return self._parsed[0]

    @property
    def parsed(self) -> bool:
        """Whether :meth:`json` parsed the body already."""
        return bool(self._parsed)


# U+0080..U+07FF (Latin-1 supplement … Arabic, Armenian): what GBK/GB18030 Chinese looks like
# when misread as UTF-8 ("豫" D4 A5 → "ԥ"). In UTF-8 these are the characters whose first byte
# is C2..DF: deleting every other byte is one pass in C (0.05 ms for a 125 KB push; a regular
# expression took 1.3 ms).
_NOT_TWO_BYTE_LEAD = bytes(b for b in range(256) if not 0xC2 <= b <= 0xDF)


def _has_two_byte_lead(utf8: bytes) -> bool:
    """Whether valid UTF-8 ``utf8`` holds a character of two bytes (C2..DF is never anything
    but such a character's first byte): the check on the body as received, without encoding
    its text again (0.13 ms for a 125 KB push with Chinese in it)."""
    return bool(utf8.translate(None, _NOT_TWO_BYTE_LEAD))


#: Where a plate begins — a province abbreviation (or 使) then a letter or digit: the text a
#: camera's push is about, found in the right reading of its body and (nearly) never in the
#: wrong one ("豫A" read as UTF-8 is "ԥA"; "京B" read as GBK swallows the "B").
_PLATE_START = re.compile(f"[{PROVINCES}使][A-Z0-9]")


def _in_gb2312(text: str) -> bool:
    """Whether every character of ``text`` is ASCII or in GB 2312 (the 6,763 common hanzi,
    punctuation, pinyin letters, Greek, Cyrillic): what legacy firmware writes. 0.1 ms for
    120 KB (the codec is C)."""
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


_BOM = b"\xef\xbb\xbf"


def decode_text(body: bytes, charset: str | None = None) -> str:
    """Decode a camera body: the declared charset, else UTF-8, else GB18030 (legacy firmware;
    also valid UTF-8 whose GB18030 reading is all GB 2312 while its UTF-8 reading is not).

    A UTF-8 byte-order mark (some firmware and Windows tools write one) is dropped and makes
    the body UTF-8 whatever the declared charset."""
    if body.startswith(_BOM):
        body, charset = body[len(_BOM) :], "utf-8"
    if charset:
        try:
            return body.decode(charset).removeprefix("\ufeff")
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError:
            raise PayloadError("body is neither UTF-8 nor GB18030 text") from None
    # Valid UTF-8 with a two-byte character may be GBK Chinese misread. The reading that holds
    # the start of a plate wins; when both or neither do, GBK wins only when its reading is
    # all GB 2312 and the UTF-8 one is not (a GBK 豫 or 鲁 that is valid UTF-8 reads "ԥ",
    # "³", outside GB 2312; real UTF-8 Chinese read as GBK mostly gives characters outside
    # it — not always: "绿京" is three GB 2312 characters, hence the plate first).
    if _has_two_byte_lead(body):
        try:
            legacy = body.decode("gb18030")
        except UnicodeDecodeError:
            return text
        plate_in_text = _PLATE_START.search(text) is not None
        if plate_in_text != (_PLATE_START.search(legacy) is not None):
            return text if plate_in_text else legacy
        if _in_gb2312(legacy) and not _in_gb2312(text):
            return legacy
    return text


#: Most commas a JSON body may hold (each value but the first of an array or an object needs
#: one; nesting deeper than ~1,000 is refused by the parser), so about the most values: a
#: camera's push has a few hundred. Counted before the body is decoded or parsed (1-2 ms for
#: 6 MB), so a body of millions of numbers is refused at that cost — ``json.loads`` of 6 MB of
#: numbers takes 0.26-0.48 s and holds the GIL throughout, in a worker thread as well (issue
#: 20, H1: it froze the event loop).
JSON_COMMA_LIMIT = 20_000


def decode_body(body: bytes, charset: str | None = None) -> Any:
    """Parse a JSON body (see :func:`decode_text` for the character set); more than
    :data:`JSON_COMMA_LIMIT` commas in it is a :class:`PayloadError`, before any parse."""
    if (commas := body.count(b",")) > JSON_COMMA_LIMIT:
        raise PayloadError(f"body holds too many JSON values ({commas} commas, at most "
                           f"{JSON_COMMA_LIMIT})")  # fmt: skip
    text = decode_text(body, charset)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, 100,000 nested "["
        raise PayloadError(f"body is not usable JSON: {str(exc)[:80]}") from None


def number(value: Any, field: str, low: float, high: float) -> float | None:
    """A number from a camera: JSON numbers and numeric strings (Milesight sends every number
    as a string), finite and within ``[low, high]``; None when absent or empty.

    Raises :class:`PayloadError` naming the field for anything else (``NaN``, ``Infinity``,
    ``1e20``, ``true``, ``"abc"``)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(f"{field} must be a number")
    try:
        checked = float(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise PayloadError(f"{field} {str(value)[:40]!r} is not a number") from None
    except OverflowError:  # an integer beyond any float
        checked = math.inf
    if not math.isfinite(checked) or not low <= checked <= high:
        shown = f"{checked:.6g}" if not isinstance(value, str) else repr(value[:40])
        raise PayloadError(f"{field} {shown} is out of range ({low:g} to {high:g})")
    return checked


def confidence(value: Any, field: str) -> int | None:
    """A recognition confidence, 0-100 (checked as :func:`number`)."""
    checked = number(value, field, 0, 100)
    return None if checked is None else round(checked)


#: Camera times outside these years are a broken clock or a broken field, never a pass.
_EPOCH_LOW = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_EPOCH_HIGH = datetime(2100, 1, 1, tzinfo=UTC).timestamp()


def epoch_time(value: Any, field: str, zone: tzinfo | None) -> datetime | None:
    """A true unix time (seconds, fractions allowed) as an aware time in ``zone``; None when
    absent. Raises :class:`PayloadError` for NaN, infinities and years outside 2000-2099."""
    seconds = number(value, field, _EPOCH_LOW, _EPOCH_HIGH)
    return None if seconds is None else datetime.fromtimestamp(seconds, zone or UTC)


def wall_clock_epoch(value: Any, field: str, zone: tzinfo | None) -> datetime | None:
    """A "unix time" that is really the camera's wall clock counted as if it were UTC (Dahua's
    ``UTC`` on many firmwares): its clock reading, taken in the site zone ``zone``."""
    seconds = number(value, field, _EPOCH_LOW, _EPOCH_HIGH)
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=zone)


def camera_time(value: Any, field: str, zone: tzinfo | None) -> datetime | None:
    """An ISO 8601 time from a camera (``T`` or a space between date and time): an explicit
    offset wins; without one it is the camera's wall clock, read in the site zone ``zone``
    (never the host's). None when absent; :class:`PayloadError` when unreadable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a date and time string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PayloadError(f"{field} {value[:40]!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        seconds = parsed.timestamp()
    except (OverflowError, ValueError):
        seconds = math.nan
    if not _EPOCH_LOW <= seconds <= _EPOCH_HIGH:
        raise PayloadError(f"{field} {value[:40]!r} is out of range (years 2000 to 2099)")
    return parsed


def jpeg_images(data: bytes) -> list[bytes]:
    """The JPEGs in ``data``: one, or several back to back (CP Plus/Dahua ``VehiclePic`` holds
    the vehicle then the plate crop), split where an end-of-image marker is followed by a new
    start-of-image."""
    images, start = [], 0
    while True:
        end = data.find(b"\xff\xd9\xff\xd8\xff", start)
        if end == -1:
            images.append(data[start:])
            return images
        images.append(data[start : end + 2])
        start = end + 2


def b64_bytes(value: Any, field: str) -> bytes | None:
    """The bytes of a base64 field (a ``data:`` URL prefix allowed); None when empty."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a base64 string")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError(f"{field} is not valid base64") from None


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _strict_base64(text: str) -> bool:
    """Whether ``binascii.a2b_base64(text, strict_mode=True)`` takes ``text``: whole groups of
    four alphabet characters, the last ending in at most two ``=`` — checked in C without
    decoding (a bytes.translate: ~20 µs for a 93 KB photo, the decode ~300)."""
    if len(text) % 4 or not text.isascii():
        return False
    raw = text.encode("ascii")
    body = raw.rstrip(b"=")
    return len(raw) - len(body) <= 2 and not body.translate(None, _BASE64_ALPHABET)


def b64_image(value: Any, kind: ImageKind, field: str) -> Image | None:
    """The base64 photo in ``value`` (a ``data:`` URL prefix allowed), None when empty; the
    same :class:`PayloadError` as :func:`b64_bytes` (not text, not base64: the camera's
    firmware is broken). Decoded when the photo is written (:meth:`Image.from_base64`) and
    checked then: one that is no JPEG (HTML, a PNG) is refused *as a photo* — the read is
    kept, with the plate crop as its photo if it has one (issue 20; a 400 had lost it)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a base64 string")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    if not value or not _strict_base64(value):
        raise PayloadError(f"{field} is not valid base64")
    return Image.from_base64(value, kind)


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


class _Budget:
    """How many more values :func:`_elide` may copy."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def _elide(value: Any, budget: _Budget) -> Any:
    """``value`` with long strings replaced by their length, copied in the order JSON writes
    it up to ``budget`` values: the rest of a list or an object is left out. Every value
    copied writes at least one character, so the first ``budget`` characters of the copy's
    JSON are those of the whole value's: with ``budget`` = :data:`RAW_LIMIT` the walk costs
    O(:data:`RAW_LIMIT`) however large ``value`` is (it walked every element: 1.07 s for a
    push of 3 million numbers, issue 20 H1)."""
    budget.left -= 1
    if isinstance(value, str) and len(value) > _LONG:
        return f"<{len(value)} characters>"
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if budget.left <= 0:
                break
            out[k] = _elide(v, budget)
        return out
    if isinstance(value, list | tuple):
        items: list[Any] = []
        for v in value:
            if budget.left <= 0:
                break
            items.append(_elide(v, budget))
        return items
    return value


def _storable(text: str) -> str:
    """``text`` as UTF-8 can hold it: a lone surrogate (JSON ``"\\ud800"``, which Python's
    parser lets through) written as ``\\ud800`` — the ledger could not store it and the
    read was lost (issue 20, M3). O(len(text)); ``text`` is at most :data:`RAW_LIMIT`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _looks_like_json(body: bytes) -> bool:
    """Whether ``body`` may be JSON: its first character (after a byte-order mark and
    whitespace, within the first 64 bytes) opens an object or an array. Others (XML,
    multipart) are not decoded whole only to fail to parse."""
    head = body[:64].removeprefix(_BOM).lstrip()
    return head[:1] in (b"{", b"[") or (not head and len(body) > 64)


def diagnostic(message: RawPush | bytes | str | dict[str, Any] | list[Any]) -> str:
    """What a camera sent, as text to keep with the pass: JSON with its images elided, other
    text cut at ``RAW_LIMIT`` characters (a multipart body keeps its XML part, which comes
    first), binary bytes replaced, a lone surrogate escaped (``\\ud800``). A :class:`RawPush`
    already parsed is not parsed again; its JSON is walked for at most :data:`RAW_LIMIT`
    values (:func:`_elide`)."""
    if isinstance(message, RawPush | bytes):
        push = message if isinstance(message, RawPush) else RawPush(message, charset=None)
        body = push.body
        data: Any = None
        with contextlib.suppress(PayloadError):
            data = push.json() if push.parsed or _looks_like_json(body) else None
        if data is None:  # (JSON ``null`` is written the same)
            text = body[:RAW_LIMIT].decode("utf-8", "replace")
            return "".join(ch if ch.isprintable() or ch in "\r\n\t" else "\ufffd" for ch in text)
        message = data
    if isinstance(message, str):
        return _storable(message[:RAW_LIMIT])
    try:
        elided = _elide(message, _Budget(RAW_LIMIT))
        return _storable(json.dumps(elided, ensure_ascii=False, default=str)[:RAW_LIMIT])
    except (RecursionError, ValueError):
        return "<a message nested too deeply to keep>"
