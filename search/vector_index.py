"""Nearest-face search behind one small interface: an exact index for small galleries, an approximate one at scale.

Both hold vectors under integer keys chosen by the caller (add, remove by
key, search the k closest within a distance, save and load). `ExactIndex`
is numpy brute force and gives today's distances to the last digit;
`IvfIndex` is faiss inverted files (vectors bucketed around k-means
centroids; a search visits the `nprobe` closest buckets' compact 4-bit codes
and re-ranks the best with the exact vectors): a million faces build in
about a minute, a search takes ~3 ms of one core at 99 % recall;
`HnswIndex` is a usearch HNSW graph: ~1-3 ms per search, but building a
million takes many minutes (the first in `search/index_exact.py`, the other two in
`search/index_approximate.py`). `make_index` picks one by size or by setting.
Another implementation (e.g. MongoDB Atlas `$vectorSearch`) fits the same
interface.

Metrics: "euclidean" (dlib's 128-d encodings) and "cosine" (distance
1 - cos, for L2-normalised 512-d engines). Cosine vectors are normalised on
the way in, where Euclidean order equals cosine order, so both indexes work
in squared Euclidean distance internally.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from search.index_approximate import APPROXIMATE_FROM, TRAIN_FROM, HnswIndex, IvfIndex
from search.index_exact import METRICS, ExactIndex
from search.index_snapshots import SnapshotError, read_manifest

__all__ = [
    "METRICS",
    "ExactIndex",
    "HnswIndex",
    "IvfIndex",
    "VectorIndex",
    "build_index",
    "load_index",
    "make_index",
    "needs_rebuild",
    "rebuilt",
]

KINDS = ("auto", "exact", "ivf", "hnsw")
# An IVF index learns its buckets again, from the vectors it holds, once grown this many times past what it learnt from.
RETRAIN_GROWTH = 4


class VectorIndex(Protocol):
    dim: int
    metric: str

    def __len__(self) -> int: ...

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, keys: Iterable[int]) -> int: ...

    def search(self, vector: np.ndarray, k: int, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        """The keys of the k closest vectors at most max_distance away, closest first, and their distances."""
        ...

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every key held and its vector (as stored: normalised for cosine): what a rebuild starts from."""
        ...

    def save(self, directory: Path, extras: Mapping[str, bytes] | None = None) -> None:
        """Write the index (and the caller's `extras` files beside it) into `directory`, replacing it whole."""
        ...


def make_index(dim: int, metric: str, kind: str = "auto", expected: int = 0) -> VectorIndex:
    """An empty index of that kind; `auto`: exact for few vectors, IVF (quick to build) for `expected` many."""
    if kind not in KINDS:
        raise ValueError(f"index kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "hnsw":
        return HnswIndex(dim, metric)
    if kind == "ivf" or (kind == "auto" and expected >= APPROXIMATE_FROM):
        return IvfIndex(dim, metric)
    return ExactIndex(dim, metric)


def build_index(dim: int, metric: str, keys: np.ndarray, vectors: np.ndarray, kind: str = "auto") -> VectorIndex:
    """An index holding these vectors (an approximate one learns its buckets from them first)."""
    index = make_index(dim, metric, kind, len(keys))
    if isinstance(index, IvfIndex):
        index.train(vectors)
    index.add(keys, vectors)
    return index


def needs_rebuild(index: VectorIndex, kind: str = "auto") -> bool:
    """Whether the index no longer suits its size: `auto` grown past exact search, or buckets learnt from far fewer."""
    if kind == "hnsw" or isinstance(index, HnswIndex):
        return not (kind == "hnsw" and isinstance(index, HnswIndex))  # a graph grows without relearning
    if isinstance(index, ExactIndex):
        return kind == "ivf" or (kind == "auto" and len(index) >= APPROXIMATE_FROM)
    if isinstance(index, IvfIndex):
        return kind == "exact" or (index.trained and len(index) > RETRAIN_GROWTH * max(index.trained_on, TRAIN_FROM))
    return False


def rebuilt(index: VectorIndex, kind: str = "auto") -> VectorIndex:
    """The same vectors in a fresh index fit for their number (no database read)."""
    keys, vectors = index.vectors()
    return build_index(index.dim, index.metric, keys, vectors, kind)


def load_index(directory: Path) -> VectorIndex:
    """The index saved in `directory`; SnapshotError when it is missing or damaged."""
    manifest = read_manifest(directory, METRICS)
    kind = manifest.get("kind")
    if kind == "exact":
        return ExactIndex.load(directory, manifest)
    if kind == "ivf":
        return IvfIndex.load(directory, manifest)
    if kind == "hnsw":
        return HnswIndex.load(directory, manifest)
    raise SnapshotError(f"{directory}: unknown index kind {kind!r}")
