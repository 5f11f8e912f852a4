"""From a photo's bytes to its faces: decode, detect, judge, encode.

One pure function, `analyse_photo`, used by the workers, the CLI and the
accuracy evaluation alike, so all three measure the same pipeline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from core.faces import engines
from core.faces import model as face_model
from core.faces.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, decode_photo, turn
from core.faces.quality import Verdict, for_case_photo, judge, sharpness, work_scale

Box = tuple[int, int, int, int]  # top, right, bottom, left in the photo's pixels, turned by its `rotation`

# Tried in this order when the photo as sent shows no face: a phone held sideways with no EXIF orientation.
SIDEWAYS = (90, 270)


@dataclass(frozen=True)
class Face:
    box: Box
    score: float
    size_px: int
    sharpness: float
    quality: str
    quality_reason: str
    encoding: np.ndarray  # float32, the engine's vector size (dlib 128, arcface 512)


@dataclass(frozen=True)
class PhotoAnalysis:
    width: int
    height: int
    format: str
    faces: list[Face]
    upsample: int  # the HOG upsample level whose detections were kept
    timings_ms: dict[str, float] = field(default_factory=dict)
    rotation: int = 0  # degrees clockwise the decoded photo was turned to find its faces; boxes are in that turn
    engine: str = engines.DEFAULT_ENGINE  # the face engine whose vectors these are: only compared with its own

    @property
    def verdict(self) -> str:
        """no_face, one_face or several_faces: what the sender hears about."""
        return "no_face" if not self.faces else "one_face" if len(self.faces) == 1 else "several_faces"

    def photo_fields(self) -> dict[str, Any]:
        """What an analysed photo's record says of it (the analyse job and the bulk import record the same)."""
        return {
            "status": "analysed",
            "reason": self.verdict,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "face_count": len(self.faces),
            "timings_ms": self.timings_ms,
            "rotation": self.rotation,  # boxes are in the photo turned this far: crops turn it the same way
        }


def analyse_photo(
    data: bytes,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    jitters: int = 1,
    engine: engines.FaceEngine | None = None,
) -> PhotoAnalysis:
    """Find and encode every face in `data` with `engine` (default dlib); raise PhotoRejected if no usable image."""
    engine = engine or engines.get()
    clock = _Stopwatch()
    photo = decode_photo(data, max_bytes, max_pixels)
    clock.lap("decode")
    faces, upsample = find_faces(photo.rgb, jitters, clock, engine=engine)
    rotation = 0
    if not faces:
        # Both ways, keeping the surer detection: HOG sometimes finds a weak "face" in an upside-down one.
        tries = [
            (turned, *find_faces(turn(photo.rgb, turned), jitters, clock, f"sideways_{turned}", engine))
            for turned in SIDEWAYS
        ]
        found = [t for t in tries if t[1]]
        if found:
            rotation, faces, upsample = max(found, key=lambda t: max(f.score for f in t[1]))
    height, width = turn(photo.rgb, rotation).shape[:2]
    return PhotoAnalysis(width, height, photo.format, faces, upsample, clock.laps, rotation, engine.info.name)


def find_faces(
    rgb: np.ndarray,
    jitters: int = 1,
    clock: _Stopwatch | None = None,
    lap: str = "",
    engine: engines.FaceEngine | None = None,
) -> tuple[list[Face], int]:
    """Detect, judge and encode the faces of an upright RGB picture (a photo, or a video frame)."""
    engine = engine or engines.get()
    clock = clock or _Stopwatch()
    scale = work_scale(rgb.shape[1], rgb.shape[0], engine.info.max_side)
    work = _resize(rgb, scale)
    detections, upsample = engine.detect(work)
    clock.lap(lap or "detect")
    encodings = engine.encode(work, detections, jitters)
    clock.lap(f"{lap}_encode" if lap else "encode")
    gray = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
    faces = [_face(gray, d, e, scale, engine.info.min_face_px) for d, e in zip(detections, encodings, strict=True)]
    faces.sort(key=lambda f: (f.box[3], f.box[0]))  # left to right, as a person reads a group photo
    return faces, upsample


def as_case_photo(analysis: PhotoAnalysis) -> PhotoAnalysis:
    """The same analysis with the case-photo rule applied (see face_quality.for_case_photo)."""
    verdicts = for_case_photo([Verdict(f.quality, f.quality_reason) for f in analysis.faces])
    faces = [
        replace(f, quality=v.quality, quality_reason=v.reason) for f, v in zip(analysis.faces, verdicts, strict=True)
    ]
    return replace(analysis, faces=faces)


def _face(gray: np.ndarray, detection: face_model.Detection, encoding: np.ndarray, scale: float, min_px: int) -> Face:
    top, right, bottom, left = detection.box
    crisp = sharpness(gray[top:bottom, left:right])
    box = tuple(round(v / scale) for v in detection.box)
    size = _size(box)  # in the original photo's pixels, which is what the sender can change
    verdict = judge(size, crisp, min_px)
    return Face(box, detection.score, size, crisp, verdict.quality, verdict.reason, encoding)  # type: ignore[arg-type]


def _size(box: Box) -> int:
    top, right, bottom, left = box
    return min(bottom - top, right - left)


def _resize(rgb: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


class _Stopwatch:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self._last) * 1000, 1)
        self._last = now
