"""Text on a poster, shaped: Pillow's raqm layout when Pillow has it, else HarfBuzz (uharfbuzz) drawing outlines.

Hindi cannot be drawn letter by letter: conjuncts join, and the vowel sign ि is written before the consonant
it follows. Pillow shapes it with libraqm, which needs the system's FriBiDi library at run time (Debian's
libfribidi0: there on most machines, not on every minimal one). Without it the text is shaped by HarfBuzz
and each glyph's outline filled here, so a poster in Hindi is right either way; `engine()` says which is used.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import uharfbuzz as hb
from PIL import Image, ImageDraw, ImageFont, features

ENGINES = ("raqm", "harfbuzz")
_CURVE_STEPS = 8  # straight pieces per curve of an outline: smooth at poster sizes


def engine() -> str:
    """'raqm' when Pillow can shape text itself, else 'harfbuzz'."""
    return "raqm" if features.check("raqm") else "harfbuzz"


class Typesetter:
    """Measures and draws shaped text in one font file, regular or bold, with Pillow's anchors la, ma and mm."""

    def __init__(self, path: str, use: str | None = None) -> None:
        self.path, self.engine = path, use or engine()

    def length(self, text: str, size: int, bold: bool = False) -> float:
        if self.engine == "raqm":
            return float(_pillow_font(self.path, size, bold).getlength(text, **_hindi(text)))
        return sum(advance for _, advance, _ in _shaped(self.path, text, bold)) * size / _upem(self.path)

    def draw(
        self, image: Image.Image, xy: tuple[int, int], text: str, size: int, fill: tuple[int, int, int],
        bold: bool = False, anchor: str = "la",
    ) -> None:  # fmt: skip
        if self.engine == "raqm":
            font = _pillow_font(self.path, size, bold)
            ImageDraw.Draw(image).text(xy, text, font=font, fill=fill, anchor=anchor, **_hindi(text))
            return
        mask, baseline = self._mask(text, size, bold)
        x = xy[0] - (mask.width // 2 if anchor[0] == "m" else 0)
        ascender, descender = _extents(self.path)
        scale = size / _upem(self.path)
        top = baseline - (ascender * scale if anchor[1] == "a" else (ascender + descender) * scale / 2)
        image.paste(Image.new("RGB", mask.size, fill), (x, int(xy[1] - top)), mask)

    def _mask(self, text: str, size: int, bold: bool) -> tuple[Image.Image, float]:
        """The text's ink as a mask, and where the baseline lies in it."""
        scale = size / _upem(self.path)
        ascender, descender = _extents(self.path)
        width = int(self.length(text, size, bold)) + 2
        baseline = ascender * scale * 1.3  # room above the ascender for marks (the Devanagari headline's vowels)
        size_px = (max(width, 1), int(baseline + (-descender * 1.5) * scale) + 2)
        winding = np.zeros((size_px[1], size_px[0]), np.int16)
        pen_x = 0.0
        for glyph, advance, (dx, dy) in _shaped(self.path, text, bold):
            for contour in _outline(self.path, glyph, bold):
                points = [(pen_x + (x + dx) * scale, baseline - (y + dy) * scale) for x, y in contour]
                if len(points) > 2:
                    shape = Image.new("1", size_px, 0)
                    ImageDraw.Draw(shape).polygon(points, fill=1)
                    winding += np.asarray(shape, np.int16) * _direction(contour)
            pen_x += advance * scale
        # Non-zero winding, as fonts are drawn: a counter (the hole of ब) winds the other way and stays open, and
        # the overlapping contours of a variable font's glyph fill once.
        mask = Image.fromarray(np.where(winding != 0, 255, 0).astype(np.uint8), "L")
        return mask, baseline


def _direction(contour: tuple[tuple[float, float], ...]) -> int:
    """+1 or -1 by the way the contour turns (the sign of its area)."""
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(contour, contour[1:] + contour[:1], strict=True))
    return 1 if area > 0 else -1


def _hindi(text: str) -> dict[str, Any]:
    return {"language": "hi"} if any("\u0900" <= ch <= "\u097f" for ch in text) else {}


@cache
def _pillow_font(path: str, size: int, bold: bool) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.RAQM)
    font.set_variation_by_name("Bold" if bold else "Regular")
    return font


@cache
def _hb_font(path: str, bold: bool) -> Any:
    font = hb.Font(hb.Face(hb.Blob.from_file_path(path)))
    font.set_variations({"wght": 700 if bold else 400})
    return font


@cache
def _upem(path: str) -> int:
    return int(_hb_font(path, False).face.upem)


@cache
def _extents(path: str) -> tuple[int, int]:
    extents = _hb_font(path, False).get_font_extents("ltr")
    return int(extents.ascender), int(extents.descender)


def _shaped(path: str, text: str, bold: bool) -> list[tuple[int, int, tuple[int, int]]]:
    """(glyph, advance, offset) in font units, in visual order."""
    buffer = hb.Buffer()
    buffer.add_str(text)
    buffer.guess_segment_properties()
    hb.shape(_hb_font(path, bold), buffer, {})
    return [
        (info.codepoint, position.x_advance, (position.x_offset, position.y_offset))
        for info, position in zip(buffer.glyph_infos, buffer.glyph_positions, strict=True)
    ]


@cache
def _outline(path: str, glyph: int, bold: bool) -> tuple[tuple[tuple[float, float], ...], ...]:
    """A glyph's contours as polygons in font units, its curves cut into straight pieces."""
    pen = _Pen()
    _hb_font(path, bold).draw_glyph_with_pen(glyph, pen)
    return tuple(tuple(contour) for contour in pen.contours)


class _Pen:
    def __init__(self) -> None:
        self.contours: list[list[tuple[float, float]]] = []

    def moveTo(self, point: tuple[float, float]) -> None:  # the pen protocol's names (camelCase)
        self.contours.append([point])

    def lineTo(self, point: tuple[float, float]) -> None:
        self.contours[-1].append(point)

    def qCurveTo(self, *points: tuple[float, float]) -> None:
        start, (control, end) = self.contours[-1][-1], points[-2:]
        self.contours[-1] += [
            _quadratic(start, control, end, step / _CURVE_STEPS) for step in range(1, _CURVE_STEPS + 1)
        ]

    def curveTo(self, *points: tuple[float, float]) -> None:
        start, (one, two, end) = self.contours[-1][-1], points[-3:]
        self.contours[-1] += [_cubic(start, one, two, end, step / _CURVE_STEPS) for step in range(1, _CURVE_STEPS + 1)]

    def closePath(self) -> None:
        pass

    def endPath(self) -> None:
        pass


def _quadratic(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], t: float) -> tuple[float, float]:
    u = 1 - t
    return (u * u * a[0] + 2 * u * t * b[0] + t * t * c[0], u * u * a[1] + 2 * u * t * b[1] + t * t * c[1])


def _cubic(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float], t: float
) -> tuple[float, float]:
    u = 1 - t
    weights = (u**3, 3 * u * u * t, 3 * u * t * t, t**3)
    return (sum(w * p[0] for w, p in zip(weights, (a, b, c, d), strict=True)),
            sum(w * p[1] for w, p in zip(weights, (a, b, c, d), strict=True)))  # fmt: skip
