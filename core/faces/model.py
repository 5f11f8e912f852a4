"""The only door to dlib and face_recognition.

Models load on first use, through core.heavy (importing face_recognition
costs over a second and ~116 MB), and dlib's results become plain tuples and
float32 arrays at once, so nothing else in Homeward knows dlib exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from core import heavy

ENCODING_SIZE = 128


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # top, right, bottom, left in the detected image's pixels
    score: float  # detector confidence: HOG real faces ~0.5-2 (false positives near 0); RetinaFace 0.9-1
    landmarks: tuple[tuple[float, float], ...] | None = None  # RetinaFace's five points (x, y), for alignment


def load() -> ModuleType:
    """face_recognition's api with its models, imported once per process (the import lock guards the first)."""
    return heavy.face_recognition()


def detect(rgb: np.ndarray, upsample: int, threshold: float = 0.0) -> list[Detection]:
    """HOG face detection; boxes are clipped to the image. A negative threshold also returns weak detections."""
    api = load()
    rects, scores, _poses = api.face_detector.run(_canonical(rgb), upsample, threshold)
    height, width = rgb.shape[:2]
    found = []
    for rect, score in zip(rects, scores, strict=True):
        top, bottom = max(rect.top(), 0), min(rect.bottom(), height)
        left, right = max(rect.left(), 0), min(rect.right(), width)
        if bottom > top and right > left:
            found.append(Detection((int(top), int(right), int(bottom), int(left)), float(score)))
    return found


def encode(rgb: np.ndarray, boxes: list[tuple[int, int, int, int]], jitters: int = 1) -> list[np.ndarray]:
    """128-d float32 encodings, one per box (dlib ResNet on 5-point aligned chips)."""
    if not boxes:
        return []
    api = load()
    encodings = api.face_encodings(_canonical(rgb), known_face_locations=boxes, num_jitters=jitters, model="small")
    return [np.asarray(e, dtype=np.float32) for e in encodings]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance, the scale face_recognition's 0.6 tolerance is stated in."""
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


def _canonical(rgb: np.ndarray) -> np.ndarray:
    """dlib insists on the textbook strides; numpy may give a 1-pixel-wide view others (a turned 1x1 photo crashed)."""
    expected = (rgb.shape[1] * rgb.shape[2], rgb.shape[2], 1) if rgb.ndim == 3 else None
    return rgb if rgb.strides == expected and rgb.dtype == np.uint8 else np.array(rgb, dtype=np.uint8, order="C")
