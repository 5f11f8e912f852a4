"""Whatever file arrives, decoding gives upright RGB or a clear reason, never a crash."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import PhotoRejected
from core.faces import model as face_model
from core.faces.images import decode_photo
from tests import photo_files


@pytest.fixture(scope="module")
def portrait(faces_dir: Path) -> Image.Image:
    return Image.open(faces_dir / "small/face_recognition_examples/Barack_Obama/obama.jpg").convert("RGB")


def reason_for(data: bytes, **limits: int) -> str:
    with pytest.raises(PhotoRejected) as caught:
        decode_photo(data, **limits)
    return caught.value.reason


def test_text_file_is_not_an_image() -> None:
    assert reason_for(b"Hello, I saw him near the station at 5pm.\n" * 20) == "not_an_image"


def test_corrupt_file_is_not_an_image() -> None:
    assert reason_for(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 10) == "not_an_image"


def test_empty_file() -> None:
    assert reason_for(b"") == "empty"


def test_video_is_named_as_such() -> None:
    assert reason_for(photo_files.mp4_header()) == "video"


def test_truncated_jpeg_is_refused_not_half_grey(portrait: Image.Image) -> None:
    face_model.load()  # face_recognition turns on truncated loading for the whole process
    whole = photo_files.jpeg(portrait)
    assert reason_for(whole[: len(whole) // 2]) == "truncated"


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = photo_files.bomb_png()
    assert len(bomb) < 1_000_000  # tiny on disk...
    assert reason_for(bomb) == "too_many_pixels"  # ...but 400 megapixels claimed


def test_file_over_the_size_limit() -> None:
    assert reason_for(b"\xff\xd8" + b"\x00" * 2048, max_bytes=1024) == "too_large_file"


def test_sideways_phone_photo_comes_out_upright(portrait: Image.Image) -> None:
    decoded = decode_photo(photo_files.sideways_jpeg(portrait))
    assert (decoded.width, decoded.height) == portrait.size


def test_animated_gif_uses_its_first_frame(portrait: Image.Image) -> None:
    blank = Image.new("RGB", portrait.size, (0, 0, 0))
    decoded = decode_photo(photo_files.animated_gif(portrait, blank))
    assert decoded.frames == 2
    assert decoded.rgb.mean() > 40  # the photo, not the black second frame


@pytest.mark.parametrize("mode", ["CMYK", "P", "L", "LA", "RGBA"])
def test_colour_modes_become_rgb(portrait: Image.Image, mode: str) -> None:
    converted = portrait.convert(mode)
    decoded = decode_photo(photo_files.png(converted) if mode != "CMYK" else photo_files.jpeg(converted))
    assert decoded.rgb.dtype == np.uint8 and decoded.rgb.shape == (portrait.height, portrait.width, 3)
    # The picture survives conversion: it still looks like the original in grey.
    original = np.asarray(portrait.convert("L"), dtype=np.float64)
    assert np.corrcoef(original.ravel(), decoded.rgb.mean(axis=2).ravel())[0, 1] > 0.95


def test_sixteen_bit_png_keeps_its_contrast(portrait: Image.Image) -> None:
    decoded = decode_photo(photo_files.sixteen_bit_gray_png(portrait))
    assert decoded.rgb.min() < 30 and decoded.rgb.max() > 220  # not clipped to white


def test_transparent_areas_show_on_white() -> None:
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    out = io.BytesIO()
    clear.save(out, "PNG")
    assert decode_photo(out.getvalue()).rgb.min() == 255
