"""An appeal's poster: the photo, the details the family chose, a QR code and the link, in the family's language.

Drawn with Pillow in one bundled font (Noto Sans Devanagari, which has Latin letters too, from the
`fontpkg-noto-sans-devanagari` package, OFL-1.1), so a poster looks the same on every machine. Hindi
is shaped (core/appeals/typeset.py: Pillow's raqm, else HarfBuzz). The QR code is segno's
(BSD-3-Clause). A PDF is the same picture on an A4 page (Pillow writes it; no PDF library needed).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import segno
from PIL import Image, ImageDraw

from core.appeals.typeset import Typesetter, engine
from core.conversation.catalog import text

SIZES = {"a4": (1240, 1754), "phone": (1080, 1920)}  # A4 at 150 dpi; a phone screen, portrait
A4_DPI = 150
RED, INK, PAPER, GREY = (178, 34, 34), (20, 20, 20), (255, 255, 255), (235, 235, 235)
FONT_PACKAGE, FONT_FILE = "fontpkg_noto_sans_devanagari", "files/NotoSansDevanagari[wdth,wght].ttf"


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
    """How text is shaped here: 'raqm' (Pillow) or 'harfbuzz'."""
    return engine()


def render_poster(
    details: PosterDetails, photo: np.ndarray | None, size: str = "a4", typesetter: Typesetter | None = None
) -> bytes:
    """The poster as PNG bytes; `photo` is an RGB array (the face already centred by the caller), or None."""
    width, height = SIZES[size]
    image = Image.new("RGB", (width, height), PAPER)
    page = _Page(image, typesetter or Typesetter(font_path()), width // 40)
    y = _banner(page, details)
    y = _photo(image, photo, y + page.unit, width, height, page.unit)
    y = _details(page, details, y + page.unit)
    _code(page, details, max(y + page.unit, height - 13 * page.unit))
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


@dataclass
class _Page:
    image: Image.Image
    type: Typesetter
    unit: int

    @property
    def width(self) -> int:
        return self.image.width

    def text(self, xy: tuple[int, int], words: str, size: float, bold: bool = False, anchor: str = "la") -> None:
        fill = PAPER if anchor == "mm" else INK
        self.type.draw(self.image, xy, words, int(size * self.unit), fill, bold=bold, anchor=anchor)

    def wrap(self, line: str, size: float, width: int, bold: bool = False) -> list[str]:
        """The line cut at spaces into pieces no wider than `width` (a single long word is left whole)."""
        pieces: list[str] = []
        current = ""
        for word in line.split():
            candidate = f"{current} {word}".strip()
            if current and self.type.length(candidate, int(size * self.unit), bold) > width:
                pieces.append(current)
                candidate = word
            current = candidate
        return pieces + ([current] if current else [])


def _banner(page: _Page, details: PosterDetails) -> int:
    ImageDraw.Draw(page.image).rectangle((0, 0, page.width, 5 * page.unit), fill=RED)
    page.text((page.width // 2, int(2.5 * page.unit)), _text("poster_title", details.language), 3.2, True, "mm")
    return 5 * page.unit


def _photo(image: Image.Image, photo: np.ndarray | None, y: int, width: int, height: int, unit: int) -> int:
    box_w, box_h = width - 8 * unit, int(height * 0.42)
    if photo is None:
        return y
    picture = Image.fromarray(photo).convert("RGB")
    scale = min(box_w / picture.width, box_h / picture.height)
    picture = picture.resize((max(1, int(picture.width * scale)), max(1, int(picture.height * scale))))
    image.paste(picture, ((width - picture.width) // 2, y))
    return y + picture.height


def _details(page: _Page, details: PosterDetails, y: int) -> int:
    language, unit = details.language, page.unit
    page.text((page.width // 2, y), details.name, 2.6, True, "ma")
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
        for piece in page.wrap(line, 1.4, page.width - 6 * unit)[:3]:
            page.text((3 * unit, y), piece, 1.4)
            y += int(1.9 * unit)
    return y


def _code(page: _Page, details: PosterDetails, y: int) -> None:
    """The QR code on the left, what to do and the link on the right, the reference beneath."""
    language, unit = details.language, page.unit
    side = 11 * unit
    ImageDraw.Draw(page.image).rectangle((0, y - unit // 2, page.width, y + side + unit // 2), fill=GREY)
    page.image.paste(qr_image(details.link, side), (2 * unit, y))
    x, top, room = 15 * unit, y + unit // 2, page.width - 17 * unit
    for piece in page.wrap(_text("poster_scan", language), 1.4, room, bold=True)[:3]:
        page.text((x, top), piece, 1.4, bold=True)
        top += int(1.9 * unit)
    for line in (details.link, details.page, _text("poster_reference", language, reference=details.reference)):
        for part in page.wrap(line, 1.05, room)[:2] if line else []:
            page.text((x, top + unit // 2), part, 1.05)
            top += int(1.5 * unit)


def qr_image(link: str, side: int) -> Image.Image:
    """The link as a QR code, `side` pixels square, with its quiet zone."""
    code = segno.make_qr(link, error="m")
    out = io.BytesIO()
    code.save(out, kind="png", scale=1, border=4)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB").resize((side, side), Image.Resampling.NEAREST)


def _text(key: str, language: str, **params: Any) -> str:
    return text(key, language, **params)


@cache
def font_path() -> str:
    """The bundled font's file, inside its pip package."""
    return str(resources.files(FONT_PACKAGE).joinpath(FONT_FILE))
