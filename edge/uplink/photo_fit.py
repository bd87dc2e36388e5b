"""Every photo the platform receives is a JPEG under 1 MB (§2.2). Larger ones are re-encoded:
first at a slightly lower quality, then scaled down by the square root of the size ratio
(one more encode, rarely two), which keeps as many pixels as the limit allows, so the plate
stays legible. CPU-bound: call :func:`fit_jpeg` in a worker thread.

Nothing from a camera is decoded before its JPEG header has been read (:func:`read_header`:
markers up to the first scan, dimensions, progressive or not): a body that only starts like a
JPEG (``FF D8 FF`` then HTML), or one with impossible dimensions, is refused as a photo at once.
Then every photo is decoded whole, reduced to 1/8 (libjpeg-turbo's scaled decoding: a few ms for
a 1080p frame), with libjpeg's warnings as errors (simplejpeg's ``strict``): entropy-coded data
that is not an image (HTML where the scan should be), a truncated one or bytes left over before
the end-of-image marker is refused — OpenCV decodes such data as a grey picture without a word.
What follows the end-of-image marker is not the photo and is cut off. An image of more than
``max_pixels`` is decoded reduced for re-encoding (libjpeg scales by 1/2, 1/4 or 1/8 as it
decodes, so memory follows the reduced size) — except a progressive one, whose decoder holds
every coefficient of the full image whatever the scale: that is refused, as is anything still
too large at 1/8. :class:`PhotoCheck` runs the checks and bounds how many decodes run at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import struct

import cv2
import numpy as np
import simplejpeg

from edge.uplink.platform.city_models import MAX_PHOTO_BYTES

#: Aim a little under the limit: the encoder's output size is only roughly proportional.
LIMIT = MAX_PHOTO_BYTES - 1
_QUALITY = 80
_MIN_WIDTH = 320


class PhotoError(ValueError):
    """The image cannot be used as a photo (not a JPEG, truncated, too large to decode)."""


#: Frame-header markers (SOF0…SOF15 but DHT C4, JPG C8 and DAC CC); C2, C6, CA, CE progressive.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
#: What follows 0xFF within entropy-coded data and is not a marker: a stuffed zero, RST0…RST7.
_IN_SCAN = frozenset({0x00, *range(0xD0, 0xD8)})
MAX_SIDE = 65500  # JPEG's own limit is 65535
#: Segments read before the frame header at most (cameras write a dozen), and between the
#: first scan and the end-of-image marker (a progressive JPEG's tables and scans: about 30).
_MAX_SEGMENTS = 256


@dataclasses.dataclass(frozen=True, slots=True)
class JpegHeader:
    width: int
    height: int
    components: int
    progressive: bool
    #: Where the first scan's entropy-coded data begins (bytes from the start).
    scan_at: int = 0

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(data: bytes) -> JpegHeader:
    """The frame header of a JPEG, read without decoding anything (markers up to the first
    scan: cheap enough for the event loop); :class:`PhotoError` for anything that does not
    begin as a JPEG does (no SOI, a byte where a marker must be, a segment running past the
    end, no frame header before the scan, no scan header). Source: ITU-T T.81 (JPEG) B.2:
    SOI, tables and misc., a frame header, then a scan header and its entropy-coded data;
    a shell of SOI, a frame header and HTML was stored and forwarded as a photo."""
    if not data.startswith(b"\xff\xd8\xff"):
        raise PhotoError("not a JPEG (no start-of-image marker)")
    pos, frame = 2, None
    for _segment in range(_MAX_SEGMENTS):
        marker, pos = _marker(data, pos)
        if marker in _STANDALONE:
            continue
        if marker in (0xD8, 0xD9) or pos + 2 > len(data):
            break  # no frame header and scan (or the image ended)
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2 or pos + length > len(data):
            raise PhotoError("not a JPEG (a segment runs past the end)")
        if marker == 0xDA:  # the first scan: the header read is done
            if frame is None:
                break
            _scan(data[pos : pos + length])
            return dataclasses.replace(frame, scan_at=pos + length)
        if marker in _SOF:
            frame = _frame(data[pos : pos + length], progressive=marker in _PROGRESSIVE)
        pos += length
    raise PhotoError("not a JPEG (no frame header)" if frame is None else "not a JPEG (no scan)")


def _scan(segment: bytes) -> None:
    """A scan header (T.81 B.2.3: length, Ns components of 2 bytes, 3 bytes more)."""
    components = segment[2] if len(segment) > 2 else 0
    if not 1 <= components <= 4 or len(segment) != 6 + 2 * components:
        raise PhotoError("not a JPEG (a scan header that is not one)")


def image_end(data: bytes, scan_at: int) -> int:
    """The length of the JPEG in ``data`` (up to and with its end-of-image marker), walking
    from the first scan's data at ``scan_at`` over entropy-coded data (0xFF there is a stuffed
    zero, a restart marker or fill: T.81 B.1.1.5, F.1.2.3) and the segments between scans;
    :class:`PhotoError` for a scan without data or no end-of-image marker (truncated). A
    camera's trailing bytes — or anything appended — lie after it. ~1 ms a MB (a ``find`` for
    each 0xFF: one in 256 bytes of entropy-coded data; a regular expression took 9 ms a MB)."""
    pos, find, segments = scan_at, data.find, 0
    while (at := find(b"\xff", pos)) >= 0 and at + 1 < len(data):
        marker, pos = data[at + 1], at + 1
        if marker == 0xFF or marker in _IN_SCAN:
            continue  # fill, or a stuffed zero or a restart marker: still the scan's data
        if at == scan_at:
            raise PhotoError("not a JPEG (a scan without data)")
        pos += 1
        if marker == 0xD9:
            return pos
        segments += 1
        if segments > _MAX_SEGMENTS:
            raise PhotoError(f"not a JPEG (over {_MAX_SEGMENTS} segments between its scans)")
        if marker < 0xC0 or pos + 2 > len(data):
            raise PhotoError(f"not a JPEG (byte {marker:#04x} where a marker must be)")
        (length,) = struct.unpack_from(">H", data, pos)
        pos += max(length, 2)  # tables, the next scan's header: its data follows
    raise PhotoError("truncated JPEG (no end-of-image marker)")


def _decoded(data: bytes, header: JpegHeader, scale: int) -> np.ndarray:
    """``data`` decoded at 1/``scale`` in BGR to be re-encoded, checked as it is decoded (see
    :func:`check_decodes`: one decode, not two). A CMYK one (a scanner's, never a camera's)
    is checked first, then decoded by OpenCV, whose libjpeg converts it to BGR."""
    if header.components == 4:
        check_decodes(data, header)
        image = cv2.imdecode(np.frombuffer(data, np.uint8), _MODES[scale])
        if image is None:  # pragma: no cover - check_decodes decoded it
            raise PhotoError("the photo is not a decodable image")
        return image
    try:
        return simplejpeg.decode_jpeg(  # type: ignore[no-any-return]
            data,
            colorspace="BGR",
            min_height=-(-header.height // scale),
            min_width=-(-header.width // scale),
        )
    except ValueError as exc:
        raise PhotoError(f"not a decodable JPEG ({str(exc)[:_REASON]})") from exc


def check_decodes(data: bytes, header: JpegHeader) -> None:
    """Decode ``data`` whole at 1/8 scale with libjpeg's warnings as errors (simplejpeg's
    ``strict``, libjpeg-turbo): :class:`PhotoError` with libjpeg's message for entropy-coded
    data that is not an image ("Corrupt JPEG data: premature end of data segment", "…
    extraneous bytes before marker", "… bad Huffman code"), tables it lacks ("Quantization
    table 0x00 was not defined"). CPU-bound: a few ms for a 1080p frame (every coefficient is
    still read; only the inverse DCT is reduced)."""
    scaled = {"min_height": -(-header.height // 8), "min_width": -(-header.width // 8)}
    try:
        simplejpeg.decode_jpeg(
            data, colorspace="CMYK" if header.components == 4 else "GRAY", **scaled
        )
    except ValueError as exc:
        raise PhotoError(f"not a decodable JPEG ({str(exc)[:_REASON]})") from exc


#: libjpeg's messages are short; a hostile one is cut to this many characters.
_REASON = 200


def _marker(data: bytes, pos: int) -> tuple[int, int]:
    """The marker at ``pos`` (fill bytes skipped) and the position after it."""
    if pos >= len(data) or data[pos] != 0xFF:
        found = f"{data[pos]:#04x}" if pos < len(data) else "the end"
        raise PhotoError(f"not a JPEG ({found} where a marker must be)")
    while pos < len(data) and data[pos] == 0xFF:
        pos += 1
    if pos >= len(data):
        raise PhotoError("not a JPEG (the end where a marker must be)")
    marker = data[pos]
    if marker < 0xC0 and marker not in _STANDALONE:
        raise PhotoError(f"not a JPEG (byte {marker:#04x} where a marker must be)")
    return marker, pos + 1


def _frame(segment: bytes, *, progressive: bool) -> JpegHeader:
    if len(segment) < 8:
        raise PhotoError("not a JPEG (short frame header)")
    height, width = struct.unpack_from(">HH", segment, 3)
    components = segment[7]
    sides = 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE
    if not sides or components not in (1, 3, 4):
        raise PhotoError(f"JPEG with impossible dimensions {width}x{height}")
    return JpegHeader(width, height, components, progressive)


def _reduction(header: JpegHeader, size: int, limit: int, max_pixels: int) -> int:
    """The libjpeg scale denominator (1, 2, 4 or 8) to decode with."""
    by_size = 4 if size / limit > 12 else 2 if size / limit > 1.5 else 1
    by_pixels = next((d for d in (1, 2, 4, 8) if header.pixels / (d * d) <= max_pixels), 0)
    if by_pixels == 0 or (header.progressive and by_pixels > 1):
        why = "progressive, " if header.progressive and by_pixels else ""
        raise PhotoError(
            f"JPEG of {header.width}x{header.height} px ({why}over {max_pixels} px) not decoded"
        )
    return max(by_size, by_pixels)


_MODES = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
#: Pixels decoded at full size at most (a 16 MP camera; a 4K frame has 8.3 MP).
MAX_PIXELS = 16_000_000


def _encode(image: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any decoded image
        raise PhotoError("JPEG encoding failed")
    return bytes(buffer.tobytes())


def fit_jpeg(data: bytes, limit: int = LIMIT, max_pixels: int = MAX_PIXELS) -> bytes:
    """The photo to store and forward: ``data`` itself if it is a whole, decodable JPEG of at
    most ``max_pixels`` under ``limit`` bytes (less what follows its end-of-image marker),
    else a re-encoded one that is (decoded reduced where it has more pixels);
    :class:`PhotoError` if it cannot be used (see :func:`read_header`, :func:`image_end`,
    :func:`check_decodes`)."""
    header = read_header(data)
    end = image_end(data, header.scan_at)
    if end < len(data):
        data = data[:end]
    # Decoded reduced when far over the limit (4K frames: libjpeg scales down by 2 or 4 as it
    # decodes, much faster than decoding everything and resizing; 1920 px across keeps a plate
    # legible) or over max_pixels; refused before any decoding when that cannot be done.
    scale = _reduction(header, len(data), limit, max_pixels)
    if len(data) <= limit and header.pixels <= max_pixels:
        check_decodes(data, header)
        return data
    image = _decoded(data, header, scale)
    encoded = _encode(image, _QUALITY)
    while len(encoded) > limit:
        height, width = image.shape[:2]
        factor = min(0.9, math.sqrt(limit / len(encoded)) * 0.95)
        if width * factor < _MIN_WIDTH:
            return _encode(image, 40)  # a tiny image at low quality always fits
        size = (max(1, int(width * factor)), max(1, int(height * factor)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        encoded = _encode(image, _QUALITY)
    return encoded


class PhotoCheck:
    """Every photo from a camera goes through :meth:`prepare` before it is stored: its header
    read, then decoded to check it and re-encoded when it must be (:func:`fit_jpeg`) in a
    worker thread, with at most ``decodes`` decodes at a time (each may take tens of MB)."""

    def __init__(self, max_pixels: int = MAX_PIXELS, decodes: int = 2) -> None:
        self.max_pixels = max_pixels
        self._decodes = asyncio.Semaphore(decodes)

    async def prepare(self, data: bytes) -> bytes:
        """The photo to store (``data`` itself when it is fine as it is, or cut at its
        end-of-image marker); PhotoError. The header is read on the loop (a body that is no
        JPEG costs no thread); the rest, every photo's decoding included, in a worker thread."""
        read_header(data)
        async with self._decodes:
            return await asyncio.to_thread(fit_jpeg, data, LIMIT, self.max_pixels)


#: The other image formats a document photo may come in (a phone's PNG, a scanner's BMP).
_PNG, _BMP, _WEBP = b"\x89PNG\r\n\x1a\n", b"BM", b"RIFF"
#: Bytes of such an image at most (a scanned A4 page as PNG is a few MB).
MAX_OTHER_BYTES = 20_000_000


def document_jpeg(data: bytes, max_pixels: int = MAX_PIXELS) -> bytes:
    """A document image (a 行驶证 photographed or scanned) as the platform takes it: a JPEG
    as :func:`fit_jpeg` fits it, or a PNG, BMP or WebP of at most :data:`MAX_OTHER_BYTES`
    and ``max_pixels`` re-encoded as one. CPU-bound: call it in a worker thread. Raises
    :class:`PhotoError`."""
    if data.startswith(b"\xff\xd8"):
        return fit_jpeg(data, LIMIT, max_pixels)
    if not data.startswith((_PNG, _BMP, _WEBP)):
        raise PhotoError("not an image (JPEG, PNG, BMP or WebP)")
    if len(data) > MAX_OTHER_BYTES:
        raise PhotoError(f"over {MAX_OTHER_BYTES} bytes")
    width, height = other_dimensions(data)  # before decoding: a small file can claim 20000²
    if width * height > max_pixels:
        raise PhotoError(f"over {max_pixels} px")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise PhotoError("not a decodable image")
    if image.shape[0] * image.shape[1] > max_pixels:
        raise PhotoError(f"over {max_pixels} px")
    return fit_jpeg(_encode(image, 90), LIMIT, max_pixels)


def other_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) in px from a PNG, BMP or WebP header, without decoding. Raises
    :class:`PhotoError` for a header it cannot read. Sources: PNG IHDR (ISO/IEC 15948 §11.2.2);
    BMP BITMAPINFOHEADER / BITMAPCOREHEADER; WebP RIFF chunks VP8X (canvas), VP8 (key frame
    header, RFC 6386 §9.1) and VP8L (lossless bitstream header)."""
    try:
        if data.startswith(_PNG) and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return int(width), int(height)
        if data.startswith(_BMP):
            if struct.unpack("<I", data[14:18])[0] == 12:  # BITMAPCOREHEADER
                width, height = struct.unpack("<HH", data[18:22])
            else:
                width, height = struct.unpack("<ii", data[18:26])
            return abs(int(width)), abs(int(height))
        if data.startswith(_WEBP) and data[8:12] == b"WEBP":
            return _webp_dimensions(data[12:16], data[20:30])
    except struct.error:
        pass
    raise PhotoError("image header unreadable")


def _webp_dimensions(chunk: bytes, body: bytes) -> tuple[int, int]:
    if chunk == b"VP8X" and len(body) >= 10:
        width = int.from_bytes(body[4:7], "little") + 1
        return width, int.from_bytes(body[7:10], "little") + 1
    if chunk == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    if chunk == b"VP8L" and body[:1] == b"\x2f":
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise PhotoError("image header unreadable")
