"""What a photo says besides its pixels: read where it was taken, then keep none of it.

Phones write the place (EXIF GPS), the time, the phone and often a small
copy of the uncropped picture into every photo. A sighting may use the place
when the sender shared none; nothing of it is stored. JPEG and PNG, which are
nearly all photos sent, are cleaned without re-encoding (their pixels stay
bit for bit) and keep only the orientation tag, which says how to show them
upright; other still images carrying metadata are re-encoded upright as JPEG.
Anything that cannot be parsed is returned as it came (it is refused later,
by decoding, with the reason the sender is told).
"""

from __future__ import annotations

import io
import math
import re
import struct
import zlib
from dataclasses import dataclass

from PIL import Image

from core.errors import PhotoRejected
from core.faces.images import decode_photo

ORIENTATION = 0x0112
GPS_IFD = 0x8825
JPEG_QUALITY = 92

# JPEG segments kept: JFIF header, ICC colour profile, Adobe colour transform; every other APPn and comments go.
_SOI, _SOS, _EOI, _COM = 0xD8, 0xDA, 0xD9, 0xFE
# In entropy-coded data 0xFF is followed by 0x00 (stuffing), a restart marker (D0-D7) or another 0xFF (fill).
_NEXT_MARKER = re.compile(rb"\xff[\x02-\xcf\xd8-\xfe]")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes  # the photo without its metadata
    content_type: str | None  # set when it was re-encoded (then always image/jpeg)
    location: tuple[float, float] | None  # (latitude, longitude) from EXIF GPS, when the photo had a plausible one


def clean_photo(data: bytes) -> CleanPhoto:
    """The photo's GPS location, and its bytes with every metadata block removed; never raises."""
    image = _open(data)
    if image is None:
        return CleanPhoto(data, None, None)
    exif = _exif(image)
    location = _location(exif)
    orientation = int(exif.get(ORIENTATION, 1) or 1) if exif is not None else 1
    walker = _clean_jpeg if data[:2] == b"\xff" + bytes([_SOI]) else _clean_png if data[:8] == _PNG_SIGNATURE else None
    if walker is not None:
        walked = walker(data, orientation)
        # One whose structure cannot be walked may still be shown by a decoder, metadata and all: re-encode it.
        return CleanPhoto(walked, None, location) if walked is not None else _reencoded(data, location)
    if not _has_metadata(image, exif):
        return CleanPhoto(data, None, location)
    return _reencoded(data, location)


def _open(data: bytes) -> Image.Image | None:
    try:
        return Image.open(io.BytesIO(data))  # lazy: reads the header, not the pixels
    except Exception:  # noqa: BLE001 - any unreadable file is kept as it is and refused by decoding
        return None


def _exif(image: Image.Image) -> Image.Exif | None:
    try:
        return image.getexif()
    except Exception:  # noqa: BLE001 - a broken EXIF block tells nothing
        return None


def _location(exif: Image.Exif | None) -> tuple[float, float] | None:
    """Latitude and longitude in degrees; None when absent, malformed, out of range, or the 0,0 of an unset GPS."""
    if exif is None:
        return None
    try:
        gps = exif.get_ifd(GPS_IFD)
        latitude = _degrees(gps[2], gps.get(1, "N"), "S")
        longitude = _degrees(gps[4], gps.get(3, "E"), "W")
    except Exception:  # noqa: BLE001 - missing tags, zero denominators, strings where numbers belong
        return None
    plausible = abs(latitude) <= 90 and abs(longitude) <= 180 and (latitude, longitude) != (0.0, 0.0)
    return (round(latitude, 6), round(longitude, 6)) if plausible else None


def _degrees(parts: tuple[float, ...], reference: str | bytes, negative: str) -> float:
    degrees, minutes, seconds = (float(part) for part in parts)
    value = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(value):
        raise ValueError("not a number")
    ref = reference.decode(errors="replace") if isinstance(reference, bytes) else str(reference)
    return -value if ref.strip().upper().startswith(negative) else value


def _has_metadata(image: Image.Image, exif: Image.Exif | None) -> bool:
    blocks = ("exif", "xmp", "XML:com.adobe.xmp", "comment", "metadata", "thumbnails")  # HEIF lists some, maybe empty
    return bool(exif) or any(image.info.get(key) for key in blocks)


def _orientation_exif(orientation: int) -> bytes | None:
    """A minimal EXIF block holding only the orientation (b"Exif\\0\\0" + TIFF), or None when upright."""
    if orientation == 1 or not 2 <= orientation <= 8:
        return None
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif.tobytes()


def _clean_jpeg(data: bytes, orientation: int) -> bytes | None:
    """The JPEG without APP1-APP15 (except ICC and Adobe) and comments; bytes after the image's end go too.

    None when its structure cannot be walked (junk between segments, a length past the end): a decoder may still
    show it, and its metadata with it, so the caller re-encodes it instead.
    """
    out = [data[:2]]
    exif = _orientation_exif(orientation)
    if exif is not None:
        out.append(b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif)
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None  # not where a marker must be
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1  # fill byte
            continue
        if marker == _SOS:
            end = _end_of_image(data, position)
            if end is None:
                return None
            out.append(data[position:end])
            return b"".join(out)
        if marker == _EOI:
            break
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        segment = data[position : position + 2 + length]
        if length < 2 or len(segment) != 2 + length:
            return None
        if _keep_jpeg_segment(marker, segment[4:]):
            out.append(segment)
        position += 2 + length
    return None  # no image data found: not a JPEG we can vouch for


def _keep_jpeg_segment(marker: int, body: bytes) -> bool:
    if marker == 0xE0:
        return body.startswith(b"JFIF\x00")  # JFXX carries a thumbnail
    if marker == 0xE2:
        return body.startswith(b"ICC_PROFILE\x00")  # MPF (other pictures in the file) goes
    if marker == 0xEE:
        return body.startswith(b"Adobe")
    return not (0xE1 <= marker <= 0xEF or marker == _COM)


def _end_of_image(data: bytes, position: int) -> int | None:
    """Where the image ends (after its EOI), from its first scan: scans and the segments between them are walked."""
    while position + 4 <= len(data):
        position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]  # the segment's header
        found = _NEXT_MARKER.search(data, position)  # skips entropy-coded data, its stuffing and restarts
        if found is None:
            return None
        position = found.start()
        if data[position + 1] == _EOI:
            return position + 2
    return None


def _clean_png(data: bytes, orientation: int) -> bytes | None:
    """The PNG without text, time and EXIF chunks (an orientation-only eXIf is put back when needed); None when its
    chunks cannot be walked (then it is re-encoded)."""
    out = [_PNG_SIGNATURE]
    position = len(_PNG_SIGNATURE)
    exif = _orientation_exif(orientation)
    while position + 12 <= len(data):
        length = struct.unpack(">I", data[position : position + 4])[0]
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            return None
        if kind == b"IDAT" and exif is not None:
            out.append(_png_chunk(b"eXIf", exif[6:]))  # PNG's eXIf is the TIFF without the "Exif\0\0" prefix
            exif = None
        if kind not in _PNG_METADATA:
            out.append(data[position:end])
        position = end
        if kind == b"IEND":
            return b"".join(out)
    return None


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _reencoded(data: bytes, location: tuple[float, float] | None) -> CleanPhoto:
    """HEIC, WebP, TIFF... with metadata: the first frame, upright, as a JPEG without any."""
    try:
        decoded = decode_photo(data, max_bytes=len(data))
    except PhotoRejected:
        return CleanPhoto(data, None, location)  # refused later by the photo job, with its reason
    out = io.BytesIO()
    Image.fromarray(decoded.rgb).save(out, "JPEG", quality=JPEG_QUALITY)
    return CleanPhoto(out.getvalue(), "image/jpeg", location)
