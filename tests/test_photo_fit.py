from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.photo_fit import LIMIT, PhotoError, fit_jpeg
from edge.sim.jpeg import sample_4k_frame, sample_jpeg
from edge.sim.platform import CityPlatformSim
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
