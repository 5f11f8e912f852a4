"""Turn untrusted bytes into an upright 8-bit RGB array, or say why not.

Photos arrive from strangers' phones: any format, any size, sideways, CMYK,
16-bit, animated, truncated or not an image at all. Everything downstream
(detection, encoding, crops for reviewers) can then assume plain RGB.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from core.errors import PhotoRejected

# iPhones send HEIC when a photo goes as a file; Pillow itself reads AVIF but not HEIC/HEIF.
register_heif_opener()

DEFAULT_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000

# Containers people send instead of photos, by their first bytes (offset, magic).
_VIDEO_SIGNATURES = ((4, b"ftyp"), (0, b"\x1aE\xdf\xa3"), (0, b"RIFF"), (0, b"\x00\x00\x01\xba"))


@dataclass(frozen=True)
class DecodedPhoto:
    rgb: np.ndarray  # height x width x 3, uint8, upright
    format: str  # JPEG, PNG, GIF, WEBP, HEIF, AVIF, ...
    frames: int  # >1 for animations; only the first is used

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def decode_photo(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedPhoto:
    """Decode `data` or raise PhotoRejected with a reason code."""
    if not data:
        raise PhotoRejected("empty", "no bytes")
    if len(data) > max_bytes:
        raise PhotoRejected("too_large_file", f"{len(data)} bytes > {max_bytes}")
    image = _open(data, max_pixels)
    frames = int(getattr(image, "n_frames", 1) or 1)
    kind = image.format or _format_of(data)  # before exif_transpose, whose copy may forget it
    try:
        image.seek(0)
        image = ImageOps.exif_transpose(image)
        rgb = _to_rgb(image)
    except (OSError, SyntaxError, ValueError) as exc:
        # LOAD_TRUNCATED_IMAGES is off (see _open), so a cut-off file lands here.
        raise PhotoRejected("truncated", str(exc)) from None
    return DecodedPhoto(rgb=rgb, format=kind, frames=frames)


def turn(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The photo turned `rotation` degrees clockwise (0, 90, 180 or 270): the orientation its faces were found in."""
    quarter_turns = (rotation // 90) % 4
    return rgb if quarter_turns == 0 else np.ascontiguousarray(np.rot90(rgb, -quarter_turns))


def _open(data: bytes, max_pixels: int) -> Image.Image:
    # face_recognition switches truncated-image loading on for the whole
    # process; a half-received photo must be refused, not silently half grey.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected("too_many_pixels", str(exc)) from None
    except UnidentifiedImageError:
        reason = "video" if _looks_like_video(data) else "not_an_image"
        raise PhotoRejected(reason, "unrecognised file format") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected("truncated", str(exc)) from None
    width, height = image.size
    if width * height > max_pixels:
        raise PhotoRejected("too_many_pixels", f"{width}x{height} > {max_pixels} pixels")
    if width < 1 or height < 1:
        raise PhotoRejected("not_an_image", f"{width}x{height}")
    return image


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to 8-bit RGB; transparency is laid on white, as a viewer shows it."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _wide_gray_to_rgb(np.asarray(image))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa"):
        base = Image.new("RGB", image.size, (255, 255, 255))
        base.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = base
    if image.mode != "RGB":
        image = image.convert("RGB")  # CMYK, YCbCr, L, 1, LAB, HSV
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _wide_gray_to_rgb(pixels: np.ndarray) -> np.ndarray:
    """16-bit or float grayscale: stretch its own range to 0..255 (a plain cast would clip to white)."""
    values = pixels.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = np.zeros_like(values) if high <= low else (values - low) * (255.0 / (high - low))
    gray = np.clip(scaled, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.stack([gray, gray, gray], axis=-1))


def _looks_like_video(data: bytes) -> bool:
    return any(data[offset : offset + len(magic)] == magic for offset, magic in _VIDEO_SIGNATURES)


def _format_of(data: bytes) -> str:
    return "JPEG" if data[:2] == b"\xff\xd8" else "UNKNOWN"
