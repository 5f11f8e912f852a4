"""Make the awkward files people really send, from a real photo or from nothing."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

EXIF_ORIENTATION = 0x0112


def jpeg(image: Image.Image, quality: int = 95, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def sideways_jpeg(upright: Image.Image) -> bytes:
    """What a phone writes when held sideways: pixels rotated, an EXIF tag saying how to turn them back."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # "rotate 90 CW to display"
    return jpeg(upright.transpose(Image.Transpose.ROTATE_90), exif=exif)


def sixteen_bit_gray_png(image: Image.Image) -> bytes:
    gray = np.asarray(image.convert("L"), dtype=np.uint16) * 257
    return png(Image.fromarray(gray))  # uint16 becomes mode I;16


def rgba_png(image: Image.Image) -> bytes:
    rgba = image.convert("RGBA")
    rgba.putalpha(255)
    return png(rgba)


def animated_gif(first: Image.Image, second: Image.Image) -> bytes:
    out = io.BytesIO()
    first.save(out, "GIF", save_all=True, append_images=[second], duration=200, loop=0)
    return out.getvalue()


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny file whose header claims a huge picture: the classic decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    rows = zlib.compress(b"\x00" * (width + 1) * 16)  # the first 16 rows; a decoder never gets there
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def mp4_header() -> bytes:
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
