"""Exact face search (numpy brute force), and the vector conventions every index shares.

Metrics: "euclidean" (dlib's 128-d encodings) and "cosine" (distance
1 - cos, for L2-normalised 512-d engines). Cosine vectors are normalised on
the way in (`prepare`), where Euclidean order equals cosine order, so every
index works in squared Euclidean distance internally.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from search.index_snapshots import SnapshotError, SnapshotFiles, open_sealed, save_atomically

METRICS = ("euclidean", "cosine")


def prepare(vectors: np.ndarray, dim: int, metric: str) -> np.ndarray:
    rows = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dim))
    if metric == "cosine":
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        rows = rows / np.where(norms == 0, 1, norms)
    return rows


def to_distance(squared: np.ndarray, metric: str) -> np.ndarray:
    """Squared Euclidean distance (of normalised vectors, for cosine) in the metric's own scale."""
    squared = np.maximum(squared, 0.0)
    return squared / 2.0 if metric == "cosine" else np.sqrt(squared)


def squared_radius(max_distance: float, metric: str) -> float:
    return 2.0 * max_distance if metric == "cosine" else max_distance * max_distance


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")


class ExactIndex:
    """Every vector compared on every search: exact, and fast enough below ~50 000 vectors.

    Rows live in a matrix that grows by doubling; a removed row is filled by
    the last one, so removal costs nothing per remaining vector.
    """

    def __init__(self, dim: int, metric: str) -> None:
        check_metric(metric)
        self.dim, self.metric = dim, metric
        self._rows = np.zeros((0, dim), dtype=np.float32)
        self._keys = np.zeros(0, dtype=np.int64)
        self._norms = np.zeros(0, dtype=np.float32)  # squared length of each row, kept to save a pass per search
        self._size = 0
        self._row_of: dict[int, int] = {}

    def __len__(self) -> int:
        return self._size

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        rows = prepare(vectors, self.dim, self.metric)
        self.remove(int(k) for k in keys if int(k) in self._row_of)  # adding a key again replaces its vector
        needed = self._size + len(keys)
        if needed > len(self._rows):
            capacity = max(needed, 2 * len(self._rows), 64)
            self._rows = np.resize(self._rows, (capacity, self.dim))
            self._keys = np.resize(self._keys, capacity)
            self._norms = np.resize(self._norms, capacity)
        self._rows[self._size : needed] = rows
        self._keys[self._size : needed] = keys
        self._norms[self._size : needed] = (rows * rows).sum(1)
        self._row_of.update((int(k), self._size + i) for i, k in enumerate(keys))
        self._size = needed

    def remove(self, keys: Iterable[int]) -> int:
        removed = 0
        for key in keys:
            row = self._row_of.pop(int(key), None)
            if row is None:
                continue
            last = self._size - 1
            if row != last:
                self._rows[row] = self._rows[last]
                self._keys[row] = self._keys[last]
                self._norms[row] = self._norms[last]
                self._row_of[int(self._keys[row])] = row
            self._size = last
            removed += 1
        return removed

    def search(self, vector: np.ndarray, k: int, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        if self._size == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        query = prepare(vector, self.dim, self.metric)[0]
        rows = self._rows[: self._size]
        # Screen in float32, then score the few kept rows in float64 as core.faces.matching does.
        screen = self._norms[: self._size] - 2.0 * (rows @ query) + float(query @ query)
        slack = 1e-3 + 1e-3 * squared_radius(max_distance, self.metric)
        near = np.flatnonzero(screen <= squared_radius(max_distance, self.metric) + slack)
        if len(near) > 4 * k:  # a margin of rows, so float32 rounding cannot drop one of the true k closest
            near = near[np.argpartition(screen[near], 4 * k - 1)[: 4 * k]]
        exact = rows[near].astype(np.float64) - query.astype(np.float64)
        found = to_distance((exact * exact).sum(1), self.metric)
        keep = found <= max_distance
        near, found = near[keep], found[keep]
        order = np.argsort(found, kind="stable")[:k]
        return self._keys[near[order]].copy(), found[order]

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        return self._keys[: self._size].copy(), self._rows[: self._size].copy()

    def save(self, directory: Path, extras: Mapping[str, bytes] | None = None) -> None:
        def write(files: SnapshotFiles) -> dict[str, object]:
            for name, column in (("vectors.npy", self._rows), ("keys.npy", self._keys)):
                with files.create(name) as out:
                    np.save(out, column[: self._size])
            return {"kind": "exact"}

        save_atomically(directory, self.dim, self.metric, write, extras or {})

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, object]) -> ExactIndex:
        index = cls(int(manifest["dim"]), str(manifest["metric"]))  # type: ignore[call-overload]
        try:
            with open_sealed(directory, manifest, "vectors.npy") as sealed:
                rows = np.lib.format.read_array(sealed, allow_pickle=False)
            with open_sealed(directory, manifest, "keys.npy") as sealed:
                keys = np.lib.format.read_array(sealed, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"{directory}: {exc}") from None
        index._rows, index._keys, index._size = rows, keys, len(keys)
        index._norms = (rows * rows).sum(1)
        index._row_of = {int(k): i for i, k in enumerate(keys)}
        return index
