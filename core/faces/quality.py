"""How a photo is searched for faces, and whether a found face is good enough to match.

Pure policy over numbers and arrays, so it can be tested and tuned without a
detector. The numbers are starting points; the accuracy evaluation replaces
them with measured ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Photos are detected on a copy no longer than this; bigger ones cost more and find nothing more.
MAX_WORK_SIDE = 2000
# dlib's HOG window is 80 px: at upsample 0 it finds faces from ~80 px, at 1 from ~40 px.
HOG_MIN_FACE_PX = 80
# A found face this small hints at more small faces in the same photo (a group shot).
SMALL_FACE_HINT_PX = 120
# Small photos are cheap to upsample twice; tight crops and thumbnails need it.
SMALL_PHOTO_SIDE = 500

# When nothing is found, a weak detection is accepted only if it looks like a tight crop:
# scored at least this (real faces 0.5-3, tight crops missed by the plain pass -0.5-0)...
SECOND_CHANCE_SCORE = -0.5
# ...and filling at least this share of the photo's short side (a small weak box in a street photo is not a face).
SECOND_CHANCE_MIN_SHARE = 0.3

MIN_FACE_PX = 40  # below this the 150 px chip the encoder sees is mostly interpolation
MIN_SHARPNESS = 15.0  # variance of the Laplacian of the face at 100 px; see sharpness()
MIN_DETECTOR_SCORE = 0.0  # HOG scores at or below are not trusted (false positives ~0.1)


@dataclass(frozen=True)
class Verdict:
    quality: str  # ok, too_small, blurred, ambiguous (one of several faces in a case photo)
    reason: str  # a sentence for logs and the admin


def work_scale(width: int, height: int, max_side: int = MAX_WORK_SIDE) -> float:
    """Factor (<= 1) that brings a photo down to `max_side` (the engine's; MAX_WORK_SIDE for dlib) on its long side."""
    return min(1.0, max_side / max(width, height))


def next_upsample(done: int, long_side: int, face_sizes: list[int]) -> int | None:
    """The next HOG upsample level worth paying for, or None to stop.

    Upsampling a 1280 px photo costs ~4x its plain pass, so pay it only when
    the plain pass leaves room for missed faces: it found none, or it found
    faces near the detector's limit (where smaller ones are likely too, as in
    a group shot). A second upsampling (small photos only) is for when still
    nothing was found: tight crops and thumbnails.
    """
    limit = 2 if long_side <= SMALL_PHOTO_SIDE else 1
    if done >= limit:
        return None
    if not face_sizes:
        return done + 1
    if done == 0 and min(face_sizes) < SMALL_FACE_HINT_PX:
        return 1
    return None


def accept_second_chance(face_px: int, short_side: int) -> bool:
    """Whether a weak detection, found only because nothing else was, is a tightly cropped face."""
    return face_px >= SECOND_CHANCE_MIN_SHARE * short_side


def sharpness(gray_face: np.ndarray) -> float:
    """Variance of the Laplacian on the face resized to 100x100: low means blurred.

    Resizing first makes the number comparable between small and large faces.
    """
    face = cv2.resize(gray_face, (100, 100), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(face, cv2.CV_64F).var())


def judge(size_px: int, sharpness_value: float, min_px: int = MIN_FACE_PX) -> Verdict:
    """Whether a face is fit for matching, and if not, why (`min_px`: the engine's smallest face it matches)."""
    if size_px < min_px:
        return Verdict("too_small", f"face is {size_px} px across, at least {min_px} px needed")
    if sharpness_value < MIN_SHARPNESS:
        return Verdict("blurred", f"sharpness {sharpness_value:.1f} is below {MIN_SHARPNESS}")
    return Verdict("ok", "usable for matching")


def for_case_photo(verdicts: list[Verdict]) -> list[Verdict]:
    """A case photo must show only the missing person: with several faces, none is trusted to be them.

    The family is asked for a photo of the person alone; a sighting, by contrast, keeps every face.
    """
    if len(verdicts) <= 1:
        return verdicts
    return [
        Verdict("ambiguous", "case photo shows several people; waiting for one with the missing person alone")
    ] * len(verdicts)
