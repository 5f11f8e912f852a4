"""Pictures for reviewers: a face cropped from its photo, or the whole photo, with the box drawn."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from core.faces.analysis import Box

BOX_COLOUR = (255, 196, 0)


def face_crop(rgb: np.ndarray, box: Box, size: int = 300, margin: float = 0.6) -> bytes:
    """The face with some context around it, box drawn, scaled to `size` px square."""
    top, right, bottom, left = box
    height, width = rgb.shape[:2]
    pad = int(max(bottom - top, right - left) * margin)
    area = (max(0, left - pad), max(0, top - pad), min(width, right + pad), min(height, bottom + pad))
    image = Image.fromarray(rgb).crop(area)
    ImageDraw.Draw(image).rectangle(
        (left - area[0], top - area[1], right - area[0], bottom - area[1]),
        outline=BOX_COLOUR,
        width=max(2, image.width // 100),
    )
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return _jpeg(image)


def photo_with_boxes(rgb: np.ndarray, boxes: list[Box], highlight: int | None = None, size: int = 1200) -> bytes:
    """The whole photo, every face boxed, the one under review boxed thicker."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    line = max(2, max(image.size) // 300)
    for index, (top, right, bottom, left) in enumerate(boxes):
        chosen = index == highlight
        draw.rectangle(
            (left, top, right, bottom),
            outline=BOX_COLOUR if chosen else (255, 255, 255),
            width=line * (2 if chosen else 1),
        )
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return _jpeg(image)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()
