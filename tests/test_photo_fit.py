from __future__ import annotations

import asyncio
import base64
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
import simplejpeg

from edge.sim.jpeg import sample_4k_frame, sample_jpeg
from edge.sim.platform import CityPlatformSim
from edge.uplink.photo_fit import (
    LIMIT,
    PhotoCheck,
    PhotoError,
    document_jpeg,
    fit_jpeg,
    image_end,
    other_dimensions,
    read_header,
)
from tests.helpers import make_config, running_daemon, wait_records

frame_4k = sample_4k_frame


@pytest.fixture(scope="module")
def big_4k() -> bytes:
    data = frame_4k()
    assert len(data) > 4_000_000
    return data


def test_a_4mb_4k_frame_becomes_under_1mb_and_still_decodes(big_4k: bytes) -> None:
    fitted = fit_jpeg(big_4k)
    assert len(fitted) <= LIMIT < 1_000_000
    image = cv2.imdecode(np.frombuffer(fitted, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape[1] >= 1920  # enough pixels left for the plate


@pytest.mark.parametrize("quality", [97, 75])
def test_other_sizes_fit_too(quality: int) -> None:
    fitted = fit_jpeg(frame_4k(quality))
    assert len(fitted) <= LIMIT
    assert cv2.imdecode(np.frombuffer(fitted, np.uint8), cv2.IMREAD_COLOR) is not None


def test_small_photos_are_left_alone_and_garbage_is_refused() -> None:
    small = sample_jpeg("small")
    assert fit_jpeg(small) is small
    with pytest.raises(PhotoError):
        fit_jpeg(b"\x00" * (LIMIT + 10))
    tiny_limit = fit_jpeg(sample_jpeg("x"), limit=600)  # far too small: smallest encoding
    assert len(tiny_limit) < len(sample_jpeg("x"))


@pytest.mark.parametrize("keep", [False, True])
async def test_the_platform_receives_the_4k_photo_under_1mb(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    big_4k: bytes,
    keep: bool,
) -> None:
    cfg = make_config(tmp_path, platform_sim.base_url, storage={"keep_original_photos": keep})
    async with running_daemon(cfg) as daemon:
        import httpx

        async with httpx.AsyncClient(timeout=10) as http:
            reply = await http.post(
                f"http://127.0.0.1:{daemon.web.port}/push/in-1",
                json={"plate": "豫A12345", "images": {"scene": base64.b64encode(big_4k).decode()}},
            )
        assert reply.json()["verdict"] == "open"
        await wait_records(platform_sim, 1, photos=1)
        (photo,) = next(iter(platform_sim.photos.values()))
        assert photo.size <= LIMIT

        originals = list((tmp_path / "photos").rglob("*.orig.jpg"))
        if keep:  # the camera's original stays beside it, byte for byte
            (original,) = originals
            assert original.read_bytes() == big_4k
            (fitted,) = [p for p in (tmp_path / "photos").rglob("*.jpg") if p != original]
            assert fitted.stat().st_size <= LIMIT
            daemon.retention._delete([fitted.relative_to(tmp_path / "photos").as_posix()])
            assert not original.exists()  # pruned with its photo
        else:
            assert originals == []


def claiming(data: bytes, width: int, height: int) -> bytes:
    """``data`` with its frame header claiming other dimensions (a decompression bomb)."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at > 0:
            size = struct.pack(">HH", height, width)
            return data[: at + 5] + size + data[at + 9 :]
    raise AssertionError("no frame header")


#: SOI and a baseline frame header (T.81 B.2.2): 16x16 px, one component.
_SOF0 = b"\xff\xd8\xff\xc0\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00"


def progressive(width: int = 640, height: int = 480) -> bytes:
    image = np.full((height, width, 3), 128, np.uint8)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    return bytes(buffer.tobytes())


def test_the_header_is_read_without_decoding() -> None:
    header = read_header(sample_jpeg("x"))
    assert header.width > 0
    assert header.height > 0
    assert not header.progressive
    bomb = read_header(claiming(progressive(), 19000, 19000))
    assert (bomb.width, bomb.height, bomb.progressive) == (19000, 19000, True)


def _real() -> bytes:
    return sample_jpeg("real")


def _scan_at(jpeg: bytes) -> int:
    at = jpeg.index(b"\xff\xda")
    return at + 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")


_HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\xff\xd8\xff<html><body>login</body></html>" + b"\xff\xd9", "marker"),
        (b"\xff\xd8\xff" + b"<html>" * 100, "marker"),
        (b"GIF89a" + b"\x00" * 100, "start-of-image"),
        (claiming(sample_jpeg("x"), 0, 10), "dimensions"),
        (b"\xff\xd8" + b"\xff\xfe\x00\x04ab" * 5000 + b"\xff\xd9", "frame header"),
        (b"\xff\xd8\xff\xe0\xff\xff" + b"\x00" * 10 + b"\xff\xd9", "past the end"),
        # a frame header and no scan: HTML in a JPEG's shell (a fresh verification, session
        # 17: stored, served and forwarded as the pass photo); the lossless one, 23 bytes
        (_SOF0 + b"<html><body>login</body></html>\xff\xd9", "marker"),
        (b"\xff\xd8\xff\xc3\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00\xff\xd9", "no scan"),
        (_SOF0 + b"\xff\xda\x00\x09\x01\x01\x00\x00\x3f\x00\x00x\xff\xd9", "scan header"),
        (b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00xx\xff\xd9", "frame header"),
    ],
)
def test_what_does_not_begin_as_a_jpeg_is_refused_on_its_header(body: bytes, why: str) -> None:
    with pytest.raises(PhotoError, match=why):
        read_header(body)
    with pytest.raises(PhotoError, match=why):
        fit_jpeg(body)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (_SOF0 + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\xff\xd9", "without data"),
        (_real()[:-2000], "truncated"),
        (_real()[: _scan_at(_real()) + 10], "truncated"),
        # a fresh verification, session 17: headers right, HTML where the image should be —
        # with tables (a real JPEG's) or none; OpenCV decoded each as a grey picture
        (_real()[: _scan_at(_real())] + _HTML + b"\xff\xd9", "premature end"),
        (_real()[: _scan_at(_real()) + 10] + b"\xff\xd9", "premature end"),
        (_SOF0 + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + _HTML + b"\xff\xd9", "table"),
        (_real()[:-2] + _HTML + b"\xff\xd9", "extraneous bytes"),
        (_real()[:-2] + b"\xff\x05" + _HTML + b"\xff\xd9", "marker"),
        (_real()[:-2] + b"\xff\xfe\x00\x02" * 300 + b"\xff\xd9", "segments"),
    ],
)
def test_what_is_not_a_whole_image_is_refused_when_decoded(body: bytes, why: str) -> None:
    read_header(body)  # begins as a JPEG does
    with pytest.raises(PhotoError, match=why):
        fit_jpeg(body)


def test_what_follows_the_end_of_image_marker_is_cut_off() -> None:
    real = _real()
    assert fit_jpeg(real) is real
    for tail in (b"\x00" * 16, _HTML * 4000 + b"\xff\xd9", b"\xff\xd8\xff" + _HTML):
        assert fit_jpeg(real + tail) == real
    assert image_end(real + _HTML, _scan_at(real)) == len(real)


@pytest.mark.parametrize("kind", ["progressive", "restart markers", "grey", "CMYK"])
def test_every_kind_of_camera_jpeg_is_decoded_and_kept(kind: str) -> None:
    """A progressive JPEG's scans and tables between them, restart markers within the
    entropy-coded data, one component, four (Adobe CMYK): each walked to its end-of-image
    marker and decoded whole, kept byte for byte."""
    noise = np.random.default_rng(7).integers(0, 255, (480, 640, 3), np.uint8)
    image = cv2.GaussianBlur(noise, (9, 9), 0)
    params = {
        "progressive": [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
        "restart markers": [cv2.IMWRITE_JPEG_RST_INTERVAL, 2],
        "grey": [],
        "CMYK": [],
    }[kind]
    if kind == "grey":
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    ok, buffer = cv2.imencode(".jpg", image, params)
    assert ok
    data = cmyk_jpeg() if kind == "CMYK" else bytes(buffer.tobytes())
    assert fit_jpeg(data) is data


def test_a_photo_to_re_encode_is_checked_as_it_is_decoded() -> None:
    """Over 1 MB: decoded once, reduced, with libjpeg's warnings as errors — a 4K frame cut
    off halfway (an upload broken off, its end-of-image marker added) is refused; a scanner's
    CMYK one is re-encoded to three components."""
    frame = sample_4k_frame(30)
    with pytest.raises(PhotoError, match="premature end"):
        fit_jpeg(frame[: len(frame) // 2] + b"\xff\xd9", limit=100_000)
    big_cmyk = cmyk_jpeg(1200, 1600)
    assert len(big_cmyk) > 1_000_000
    fitted = fit_jpeg(big_cmyk, limit=500_000)
    assert len(fitted) <= 500_000
    assert read_header(fitted).components == 3


def cmyk_jpeg(height: int = 64, width: int = 96) -> bytes:
    """A four-component JPEG (CMYK, Adobe APP14) as libjpeg-turbo writes one."""
    ink = np.random.default_rng(7).integers(0, 255, (height, width, 4), np.uint8)
    return bytes(simplejpeg.encode_jpeg(ink, quality=95, colorspace="CMYK"))


def test_over_the_pixel_limit_a_photo_is_decoded_reduced_or_refused() -> None:
    frame = sample_4k_frame(30)  # 3840 x 2160
    reduced = fit_jpeg(frame, max_pixels=1_000_000)  # 8.3 MP: decoded at 1/4
    assert read_header(reduced).width == 960
    with pytest.raises(PhotoError, match="not decoded"):
        fit_jpeg(frame, max_pixels=100_000)  # still over at 1/8
    with pytest.raises(PhotoError, match="progressive"):
        fit_jpeg(progressive(1600, 1200), max_pixels=1_000_000)
    with pytest.raises(PhotoError, match="progressive"):
        fit_jpeg(claiming(progressive(), 19000, 19000))


async def test_decodes_are_bounded() -> None:
    check = PhotoCheck(max_pixels=1_000_000, decodes=1)
    small = sample_jpeg("x")
    assert await check.prepare(small) is small  # nothing to decode
    frames = [sample_4k_frame(30)] * 3
    results = await asyncio.gather(*(check.prepare(f) for f in frames))
    assert all(read_header(r).width == 960 for r in results)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".webp"])
def test_a_document_image_claiming_too_many_pixels_is_refused_before_decoding(ext: str) -> None:
    """A 行驶证 image's size is read from its header: a small file claiming 20000×20000 px is
    refused without the gigabytes its decoding would take; its true size is read right."""
    ok, buffer = cv2.imencode(ext, np.zeros((37, 53, 3), np.uint8))
    assert ok
    data = buffer.tobytes()
    assert other_dimensions(data) == (53, 37)
    if ext == ".png":  # the IHDR says 20000 × 20000
        bomb = data[:16] + struct.pack(">II", 20000, 20000) + data[24:]
    elif ext == ".bmp":
        bomb = data[:18] + struct.pack("<ii", 20000, 20000) + data[26:]
    else:  # a VP8X canvas of 20000 × 20000
        canvas = (19999).to_bytes(3, "little") * 2
        bomb = data[:12] + b"VP8X" + (10).to_bytes(4, "little") + b"\0" * 4 + canvas
    with pytest.raises(PhotoError, match="over 16000000 px"):
        document_jpeg(bomb)
    with pytest.raises(PhotoError, match="header unreadable"):
        other_dimensions(data[:10])
