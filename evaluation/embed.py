"""Embed many photos with the service's own pipeline, on every core, cached on disk.

The cache (SQLite, under the data dir) is keyed by image, degradation and a
fingerprint of the pipeline's source, its face engine and model file, so a
re-run is quick and a change to the pipeline or engine is never mixed with
old results. Every face found is kept, so
the choice of face can change without embedding again.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import PhotoRejected
from core.faces import arcface, engines
from core.faces.analysis import analyse_photo
from core.faces.engines import DEFAULT_ENGINE, ENGINES
from evaluation.degrade import degrade

PIPELINE_FILES = (
    "core/faces/images.py",
    "core/faces/model.py",
    "core/faces/quality.py",
    "core/faces/analysis.py",
    "core/faces/engines.py",
    "core/faces/retina.py",
    "core/faces/arcface.py",
)


@dataclass(frozen=True)
class Embedded:
    width: int
    height: int
    boxes: list[tuple[int, int, int, int]]
    qualities: list[str]
    encodings: np.ndarray  # faces x the engine's vector size, float32
    error: str = ""  # the rejection reason when the photo could not be used


def pipeline_fingerprint(engine: str = DEFAULT_ENGINE, model: Path | None = None, detector: str = "hog") -> str:
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(engine.encode())
    if engine == "dlib":
        digest.update(detector.encode())  # HOMEWARD_DLIB_DETECTOR
    for name in PIPELINE_FILES:
        digest.update((root / name).read_bytes())
    if model is not None:
        digest.update(model.read_bytes())
    return digest.hexdigest()[:16]


class EmbeddingCache:
    """Embeddings of one engine (and model file, for arcface), as the service would compute them."""

    def __init__(
        self,
        path: Path,
        engine: str = DEFAULT_ENGINE,
        model: Path | None = None,
        processes: int | None = None,
        detector: str = "hog",
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.processes = processes or os.cpu_count() or 1  # fewer leave cores to others on a shared machine
        self.engine = ENGINES[engine]
        self.model = arcface.model_path(model) if engine == "arcface" else None
        self.detector = detector if engine == "dlib" else "hog"
        self._db = sqlite3.connect(path)
        self._db.execute("create table if not exists faces (key text primary key, meta text, encodings blob)")
        self._fingerprint = pipeline_fingerprint(engine, self.model, self.detector)

    def key(self, image: str, variant: str) -> str:
        return f"{self._fingerprint}:{variant}:{image}"

    def get_many(self, images: list[str], variant: str) -> dict[str, Embedded]:
        found = {}
        for chunk in range(0, len(images), 500):
            keys = {self.key(i, variant): i for i in images[chunk : chunk + 500]}
            marks = ",".join("?" * len(keys))
            for key, meta, blob in self._db.execute(
                f"select key, meta, encodings from faces where key in ({marks})", list(keys)
            ):
                found[keys[key]] = _decode(meta, blob)
        return found

    def put(self, image: str, variant: str, result: Embedded) -> None:
        meta = json.dumps(
            {
                "width": result.width,
                "height": result.height,
                "boxes": result.boxes,
                "qualities": result.qualities,
                "error": result.error,
                "dim": self.engine.dim,
            }
        )
        self._db.execute(
            "insert or replace into faces values (?, ?, ?)",
            (self.key(image, variant), meta, result.encodings.astype("<f4").tobytes()),
        )

    def commit(self) -> None:
        self._db.commit()


def embed_all(
    folder: Path, images: list[str], variant: str, cache: EmbeddingCache, label: str = ""
) -> dict[str, Embedded]:
    """Every image embedded (from the cache where possible), with a progress bar on stderr."""
    results = cache.get_many(images, variant)
    missing = [i for i in images if i not in results]
    if missing:
        started = time.monotonic()
        engine, model, detector = cache.engine.name, cache.model, cache.detector
        with multiprocessing.get_context("fork").Pool(
            cache.processes, initializer=_warm, initargs=(engine, model, detector)
        ) as pool:
            tasks = [(folder, i, variant, engine, model, detector) for i in missing]
            for done, (image, result) in enumerate(pool.imap_unordered(_embed_one, tasks, chunksize=8), 1):
                results[image] = result
                cache.put(image, variant, result)
                if done % 200 == 0 or done == len(missing):
                    cache.commit()
                    _progress(label or variant, done, len(missing), time.monotonic() - started)
        print(file=sys.stderr)
    return results


def _warm(engine: str, model: Path | None, detector: str) -> None:
    engines.get(engine, model, detector).load()  # each pool process loads the models once


def _embed_one(task: tuple[Path, str, str, str, Path | None, str]) -> tuple[str, Embedded]:
    folder, image, variant, name, model, detector = task
    engine = engines.get(name, model, detector)
    dim = engine.info.dim
    degradation, _, jitter = variant.partition("@j")  # e.g. "original@j10": ten jitters, as for case photos
    try:
        data = degrade((folder / image).read_bytes(), degradation)
        analysis = analyse_photo(data, jitters=int(jitter or 1), engine=engine)
    except PhotoRejected as rejected:
        return image, Embedded(0, 0, [], [], np.zeros((0, dim), np.float32), rejected.reason)
    encodings = np.stack([f.encoding for f in analysis.faces]) if analysis.faces else np.zeros((0, dim), np.float32)
    return image, Embedded(
        analysis.width, analysis.height, [f.box for f in analysis.faces], [f.quality for f in analysis.faces], encodings
    )


def _decode(meta: str, blob: bytes) -> Embedded:
    fields = json.loads(meta)
    encodings = np.frombuffer(blob, dtype="<f4").reshape(-1, fields.get("dim", 128))
    return Embedded(
        fields["width"],
        fields["height"],
        [tuple(b) for b in fields["boxes"]],
        fields["qualities"],
        encodings,
        fields["error"],
    )


def _progress(label: str, done: int, total: int, seconds: float) -> None:
    width = 30
    filled = int(width * done / total)
    rate = done / seconds if seconds else 0
    left = (total - done) / rate if rate else 0
    sys.stderr.write(
        f"\r  {label:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        f"  {rate:5.1f}/s  {left / 60:4.1f} min left "
    )
    sys.stderr.flush()
