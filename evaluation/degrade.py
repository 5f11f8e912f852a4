"""Probe degradations: what phones and chat apps do to a photo before it reaches us."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image

VARIANTS = ("original", "whatsapp", "half", "rotated")
LFW_FACE_PX = 100  # an LFW face is about 100 px across (dlib's boxes: median 108; RetinaFace's: 95)
FACE_SIZES = (16, 24, 32, 40, 48, 64)  # `faceN`: the photo scaled so its face is about N px across


def degrade(data: bytes, variant: str) -> bytes:
    """The photo as it would arrive after `variant`."""
    if variant.startswith("face") and variant[4:].isdigit():
        return _face_px(data, int(variant[4:]))
    return _DEGRADATIONS[variant](data)


def _face_px(data: bytes, px: int) -> bytes:
    """A face far from the camera, or cropped from a crowd: the whole photo scaled so its face is ~px across."""
    image = _open(data)
    scale = px / LFW_FACE_PX
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return _jpeg(image.resize(size, Image.Resampling.LANCZOS), 95)


def _original(data: bytes) -> bytes:
    return data


def _whatsapp(data: bytes) -> bytes:
    """WhatsApp-like: at most 1600 px on the long side, JPEG quality 40."""
    image = _open(data)
    image.thumbnail((1600, 1600), Image.Resampling.LANCZOS)
    return _jpeg(image, 40)


def _half(data: bytes) -> bytes:
    image = _open(data)
    return _jpeg(image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.LANCZOS), 95)


def _rotated(data: bytes) -> bytes:
    """A phone held sideways: pixels stored rotated, an EXIF tag saying how to turn them back."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(_open(data).transpose(Image.Transpose.ROTATE_90), 95, exif)


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _jpeg(image: Image.Image, quality: int, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


_DEGRADATIONS: dict[str, Callable[[bytes], bytes]] = {
    "original": _original,
    "whatsapp": _whatsapp,
    "half": _half,
    "rotated": _rotated,
}
