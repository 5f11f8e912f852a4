"""An appeal's poster: the photo, the details the family chose, a QR code and the link, in the family's language.

Drawn with Pillow in one bundled font (Noto Sans Devanagari, which has Latin letters too, from the
`fontpkg-noto-sans-devanagari` package, OFL-1.1), so a poster looks the same on every machine. Hindi
needs shaping (conjuncts, the vowel sign ि drawn before its consonant): Pillow's raqm layout does it
when Pillow has raqm, which its wheels bring; `shaping()` says which layout is in use, and the poster
refuses Devanagari without it rather than print broken words. The QR code is segno's (BSD-3-Clause).
A PDF is the same picture on an A4 page (Pillow writes it; no PDF library needed).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont, features

from core.conversation.catalog import text

SIZES = {"a4": (1240, 1754), "phone": (1080, 1920)}  # A4 at 150 dpi; a phone screen, portrait
A4_DPI = 150
RED, INK, PAPER, GREY = (178, 34, 34), (20, 20, 20), (255, 255, 255), (235, 235, 235)
FONT_PACKAGE, FONT_FILE = "fontpkg_noto_sans_devanagari", "files/NotoSansDevanagari[wdth,wght].ttf"


class CannotShape(Exception):
    """Devanagari cannot be set properly here (Pillow without raqm): no poster rather than a broken one."""


@dataclass(frozen=True)
class PosterDetails:
    reference: str  # AP-XXXX
    name: str  # as the family chose: first name or full name
    language: str  # en or hi
    link: str  # what the QR code opens: the bot with the appeal's reference
    page: str = ""  # the public page, printed under the code
    age: int | None = None
    place: str | None = None
    seen_on: str | None = None  # a date as people read it
    description: str | None = None


def shaping() -> str:
    """The text layout in use: 'raqm' (shapes Devanagari) or 'basic' (Latin only)."""
    return "raqm" if features.check("raqm") else "basic"


def render_poster(details: PosterDetails, photo: np.ndarray | None, size: str = "a4") -> bytes:
    """The poster as PNG bytes; `photo` is an RGB array (the face already centred by the caller), or None."""
    if details.language != "en" and shaping() != "raqm":
        raise CannotShape("Pillow was built without raqm: install Pillow's wheel, which brings it")
    width, height = SIZES[size]
    image = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(image)
    unit = width // 40
    y = _banner(draw, details, width, unit)
    y = _photo(image, photo, y + unit, width, height, unit)
    y = _details(draw, details, y + unit, width, unit)
    _code(image, draw, details, max(y + unit, height - 13 * unit), width, unit)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False, compress_level=3)
    return out.getvalue()


def poster_pdf(png: bytes) -> bytes:
    """The A4 poster as a one-page PDF."""
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, "PDF", resolution=A4_DPI)
    return out.getvalue()


def face_area(rgb: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """A portrait cut around the face (top, right, bottom, left), with room for hair and shoulders; all if no box."""
    if box is None:
        return rgb
    top, right, bottom, left = box
    side = int(max(bottom - top, right - left) * 2.2)
    centre_x, centre_y = (left + right) // 2, (top + bottom) // 2 + (bottom - top) // 5
    height, width = rgb.shape[:2]
    x0, y0 = max(0, centre_x - side // 2), max(0, centre_y - side // 2)
    return rgb[y0 : min(height, y0 + side), x0 : min(width, x0 + side)]


def _banner(draw: ImageDraw.ImageDraw, details: PosterDetails, width: int, unit: int) -> int:
    draw.rectangle((0, 0, width, 5 * unit), fill=RED)
    title = _text("poster_title", details.language)
    font = _font(int(3.2 * unit), bold=True)
    draw.text((width // 2, int(2.5 * unit)), title, font=font, fill=PAPER, anchor="mm", **_layout(title))
    return 5 * unit


def _photo(image: Image.Image, photo: np.ndarray | None, y: int, width: int, height: int, unit: int) -> int:
    box_w, box_h = width - 8 * unit, int(height * 0.42)
    if photo is None:
        return y
    picture = Image.fromarray(photo).convert("RGB")
    scale = min(box_w / picture.width, box_h / picture.height)
    picture = picture.resize((max(1, int(picture.width * scale)), max(1, int(picture.height * scale))))
    image.paste(picture, ((width - picture.width) // 2, y))
    return y + picture.height


def _details(draw: ImageDraw.ImageDraw, details: PosterDetails, y: int, width: int, unit: int) -> int:
    language = details.language
    name_font, font = _font(int(2.6 * unit), bold=True), _font(int(1.4 * unit))
    draw.text((width // 2, y), details.name, font=name_font, fill=INK, anchor="ma", **_layout(details.name))
    y += int(3.4 * unit)
    lines = []
    if details.age is not None:
        lines.append(_text("poster_age", language, age=details.age))
    if details.place or details.seen_on:
        where = ", ".join(part for part in (details.place, details.seen_on) if part)
        lines.append(_text("poster_last_seen", language, where=where))
    if details.description:
        lines.append(details.description)
    for line in lines:
        for piece in _wrap(line, font, width - 6 * unit)[:3]:
            draw.text((3 * unit, y), piece, font=font, fill=INK, **_layout(piece))
            y += int(1.9 * unit)
    return y


def _code(image: Image.Image, draw: ImageDraw.ImageDraw, details: PosterDetails, y: int, width: int, unit: int) -> None:
    """The QR code on the left, what to do and the link on the right, the reference beneath."""
    language, side = details.language, 11 * unit
    draw.rectangle((0, y - unit // 2, width, y + side + unit // 2), fill=GREY)
    image.paste(qr_image(details.link, side), (2 * unit, y))
    x, font, small = 15 * unit, _font(int(1.4 * unit), bold=True), _font(int(1.05 * unit))
    ask = _text("poster_scan", language)
    top = y + unit // 2
    for piece in _wrap(ask, font, width - x - 2 * unit)[:3]:
        draw.text((x, top), piece, font=font, fill=INK, **_layout(piece))
        top += int(1.9 * unit)
    for piece in (details.link, details.page, _text("poster_reference", language, reference=details.reference)):
        if piece:
            for part in _wrap(piece, small, width - x - 2 * unit)[:2]:
                draw.text((x, top + unit // 2), part, font=small, fill=INK, **_layout(part))
                top += int(1.5 * unit)


def qr_image(link: str, side: int) -> Image.Image:
    """The link as a QR code, `side` pixels square, with its quiet zone."""
    code = segno.make_qr(link, error="m")
    out = io.BytesIO()
    code.save(out, kind="png", scale=1, border=4)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB").resize((side, side), Image.Resampling.NEAREST)


def _wrap(line: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """The line cut at spaces into pieces no wider than `width` (a single long word is left whole)."""
    pieces: list[str] = []
    current = ""
    for word in line.split():
        candidate = f"{current} {word}".strip()
        if current and font.getlength(candidate, **_layout(candidate)) > width:
            pieces.append(current)
            candidate = word
        current = candidate
    return pieces + ([current] if current else [])


def _text(key: str, language: str, **params: Any) -> str:
    return text(key, language, **params)


def _layout(words: str) -> dict[str, Any]:
    """Devanagari asks raqm for Hindi shaping; Latin text needs nothing more."""
    if any("\u0900" <= ch <= "\u097f" for ch in words):
        return {"language": "hi", "direction": "ltr"}
    return {}


@cache
def font_path() -> str:
    """The bundled font's file, inside its pip package."""
    return str(resources.files(FONT_PACKAGE).joinpath(FONT_FILE))


@cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    engine = ImageFont.Layout.RAQM if shaping() == "raqm" else ImageFont.Layout.BASIC
    font = ImageFont.truetype(font_path(), size, layout_engine=engine)
    with contextlib.suppress(OSError, ValueError):  # a FreeType without variable fonts: the default weight
        font.set_variation_by_name("Bold" if bold else "Regular")
    return font
