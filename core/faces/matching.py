"""Match policy: which (case, sighting face) pairs a reviewer should see, and how urgently.

Distances are Euclidean between 128-d encodings (face_recognition's scale:
the same person is typically 0.3 to 0.45 apart, different people 0.7 to 0.9).
A pair's score is its best (smallest) distance over the case's faces.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bands:
    strong: float  # at or below: very likely the same person, reviewed first
    review: float  # at or below: worth a reviewer's look; above: nothing is created

    def band(self, distance: float) -> str | None:
        if distance <= self.strong:
            return "strong"
        if distance <= self.review:
            return "review"
        return None


@dataclass(frozen=True)
class Hit:
    case: str  # case reference
    face_index: int  # row of the best face of that case in the searched matrix
    distance: float


def distances(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Distance from `vector` to every row of `matrix` (float32, one row per face)."""
    if len(matrix) == 0:
        return np.zeros(0, dtype=np.float32)
    return np.linalg.norm(matrix - vector.astype(np.float32), axis=1)


def best_per_case(row_distances: np.ndarray, row_cases: list[str], bands: Bands, top_k: int) -> list[Hit]:
    """The top_k cases within the review band, each scored by its closest face."""
    best: dict[str, Hit] = {}
    for row in np.flatnonzero(row_distances <= bands.review):
        case, distance = row_cases[row], float(row_distances[row])
        if case not in best or distance < best[case].distance:
            best[case] = Hit(case, int(row), distance)
    return sorted(best.values(), key=lambda hit: hit.distance)[:top_k]


def review_order(band: str, created_at_epoch: float) -> tuple[int, float]:
    """Strong band first, then oldest first: the sort key of the review queue."""
    return (0 if band == "strong" else 1, created_at_epoch)
