"""Match policy: which (case, sighting face) pairs a reviewer should see, and how urgently.

Distances are in the face engine's metric: Euclidean between dlib's 128-d
encodings (face_recognition's scale: the same person is typically 0.3 to 0.45
apart, different people 0.7 to 0.9), cosine distance (1 - cos) between
ArcFace's 512-d vectors. Each engine has its own bands on its own scale.
A pair's score is its best (smallest) distance over the case's faces, except
where the evaluation showed better (`case_distance`: for an engine in
core/faces/calibration.py TEMPLATE, a case of several photos is scored by
their mean, `eval case-photos`). The service and the accuracy evaluation both
score with the functions here, so the evaluation measures what runs.

Which candidates come first is decided by the density score (`density_band`):
the distance scaled by how crowded both faces' neighbourhoods are, so a face
near everyone stops being everyone's strong candidate. Which exist, by the
engine's review score (the raw distance, or for dlib the density score) within
its threshold, and within a margin of the sighting's best (`near_the_best`): at
most one case can be the person, so a case well behind the best is a
look-alike (docs/evaluation/review-load.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# The review queue's order: a strong candidate is looked at before any review one.
BAND_ORDER = ("strong", "review")
# The density score's neighbourhoods (Jégou et al.'s contextual dissimilarity), as measured by the evaluation:
DENSITY_RANKS = (10, 50)  # the probe's: its nearest cases from rank 10 to 50 (0-based, end excluded)
CASE_NEIGHBOURS = 10  # the case's: its 10 nearest other cases
# Below this many cases of an engine, neighbourhoods say nothing (the probe has no 10th-50th nearest to speak
# of): the strong band is the raw distance's.
DENSITY_MIN_CASES = 60


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
    template: bool = False  # scored by the case's template (several photos), not its closest photo
    score: float | None = None  # the density score, where the engine's candidates are decided by it

    @property
    def review_score(self) -> float:
        """What the review threshold and the margin are applied to: the density score, else the distance."""
        return self.distance if self.score is None else self.score


def band_rank(band: str) -> int:
    """Where a band's candidates come in the review queue: 0 first (strong), then 1 (review)."""
    return BAND_ORDER.index(band)


METRICS = ("euclidean", "cosine")


def pairwise_distances(probes: np.ndarray, gallery: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distance from every probe (rows) to every gallery face (columns), in float64.

    Euclidean is computed as |a|² + |b|² - 2ab, one matrix product: fast enough
    for the evaluation's thousands of searches, exact enough for the bands
    (~1e-12). Cosine distance is 1 - a·b / (|a| |b|), from 0 (same direction) to 2.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    a, b = np.asarray(probes, dtype=np.float64), np.asarray(gallery, dtype=np.float64)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]), dtype=np.float64)
    if metric == "cosine":
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return np.clip(1.0 - a @ b.T, 0.0, 2.0)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(squared, 0.0))


def distances(matrix: np.ndarray, vector: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distance from `vector` to every row of `matrix` (one row per face)."""
    return pairwise_distances(np.asarray(vector).reshape(1, -1), matrix, metric)[0]


def distance(a: np.ndarray, b: np.ndarray, metric: str = "euclidean") -> float:
    """Distance between two vectors of one engine."""
    return float(pairwise_distances(np.asarray(a).reshape(1, -1), np.asarray(b).reshape(1, -1), metric)[0, 0])


def closest_per_case(
    row_distances: np.ndarray, row_cases: Sequence[str] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each case scored by its closest face: (cases sorted, their distances, the row of that face).

    `row_distances` has one column per face (last axis), for one search or many (rows);
    the distances and rows returned have one column per case.
    """
    labels = np.asarray(row_cases)
    cases, inverse = np.unique(labels, return_inverse=True)
    if len(cases) == 0:
        empty = np.zeros(row_distances.shape[:-1] + (0,))
        return cases, empty, empty.astype(np.int64)
    order = np.argsort(inverse, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0])
    ordered = row_distances[..., order]
    best = np.minimum.reduceat(ordered, starts, axis=-1)
    # The first row of each case at its best distance: its position among the ordered rows, then the original row.
    at_best = ordered == np.repeat(best, np.diff(np.r_[starts, len(order)]), axis=-1)
    positions = np.where(at_best, np.arange(len(order)), len(order))
    return cases, best, order[np.minimum.reduceat(positions, starts, axis=-1)]


def rank_cases(case_distances: np.ndarray, top_k: int) -> np.ndarray:
    """Indices of the top_k closest cases, closest first (along the last axis)."""
    return np.argsort(case_distances, axis=-1, kind="stable")[..., :top_k]


def keep_best(hits: Sequence[Hit], top_k: int, held: Mapping[str, float] | None = None) -> list[Hit]:
    """The hits one sighting face keeps, closest first: those among its top_k closest cases.

    `held` (case -> distance) are the candidates the face already has pending:
    they count against the cap, so a later search cannot push it past top_k.
    """
    scores = dict(held or {})
    for hit in hits:
        scores[hit.case] = min(hit.distance, scores.get(hit.case, np.inf))
    names = list(scores)
    kept = {names[i] for i in rank_cases(np.array([scores[n] for n in names], dtype=np.float64), top_k)}
    return sorted((hit for hit in hits if hit.case in kept), key=lambda hit: hit.distance)


def best_per_case(row_distances: np.ndarray, row_cases: Sequence[str], bands: Bands, top_k: int) -> list[Hit]:
    """The top_k cases within the review band, each scored by its closest face."""
    rows = np.flatnonzero(row_distances <= bands.review)
    cases, case_distances, best = closest_per_case(row_distances[rows], [row_cases[row] for row in rows])
    hits = [Hit(str(case), int(rows[best[i]]), float(case_distances[i])) for i, case in enumerate(cases)]
    return keep_best(hits, top_k)


def crowding(nearest: np.ndarray, low: int = 0, high: int | None = None) -> np.ndarray:
    """How crowded a face's neighbourhood is: the mean distance to its nearest cases from rank low to high
    (sorted, closest first, along the last axis). Small means many faces look alike there."""
    return np.asarray(nearest, dtype=np.float64)[..., low:high].mean(axis=-1)


def density_score(
    distance: np.ndarray | float, probe_crowding: np.ndarray | float, case_crowding: np.ndarray | float, typical: float
) -> np.ndarray:
    """The distance scaled by both neighbourhoods' crowding, back in distance units (times the engine's typical
    crowding): a pair in a crowd of look-alikes scores farther apart than the same distance between loners."""
    return np.asarray(distance, dtype=np.float64) * typical / np.sqrt(np.multiply(probe_crowding, case_crowding))


def pair_density(
    distance: float, probe_nearest: Sequence[float], case_nearest: Sequence[float], typical: float
) -> float | None:
    """One pair's density score (`density_score`); None when the gallery is too small to say how crowded the
    probe's neighbourhood is (fewer than DENSITY_MIN_CASES nearest cases) or the case has no other case near it.

    `probe_nearest`: the distances from the sighting's (or found person's) face to its nearest cases, closest
    first; `case_nearest`: from the matched case's face to its nearest other cases."""
    if len(probe_nearest) < DENSITY_MIN_CASES or len(case_nearest) == 0:
        return None
    probe = crowding(np.asarray(probe_nearest), *DENSITY_RANKS)
    case = crowding(np.asarray(case_nearest[:CASE_NEIGHBOURS]))
    return float(density_score(distance, probe, case, typical))


def near_the_best(hits: Sequence[Hit], margin: float | None) -> list[Hit]:
    """The hits of one sighting face whose review score is within `margin` of its best (all with no margin).

    At most one case can be the person: a case well behind the sighting's best candidate is a look-alike far
    more often than the person (halves the false candidates at the same misses, `eval review-load`)."""
    if margin is None or not hits:
        return list(hits)
    best = min(hit.review_score for hit in hits)
    return [hit for hit in hits if hit.review_score <= best + margin]


def density_band(
    distance: float,
    probe_nearest: Sequence[float],
    case_nearest: Sequence[float],
    bands: Bands,
    typical: float,
    strong: float,
) -> str | None:
    """The band of a candidate created by the raw distance (review band): strong only by its density score
    (`pair_density`), or by the distance where the gallery is too small to say (`bands.band`)."""
    band = bands.band(distance)
    score = pair_density(distance, probe_nearest, case_nearest, typical)
    if band is None or score is None:
        return band
    return "strong" if score <= strong else "review"


def case_templates(photos: Sequence[np.ndarray], metric: str = "euclidean") -> np.ndarray:
    """One vector per case, the mean of its photos' vectors (rows): for cosine, each normalised first and the
    mean again, so every photo weighs the same and the template sits on the sphere the distances measure."""
    rows = []
    for vectors in photos:
        v = np.asarray(vectors, dtype=np.float64).reshape(-1, np.shape(vectors)[-1])
        if metric == "cosine":
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        mean = v.mean(axis=0)
        rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12) if metric == "cosine" else mean)
    return np.stack(rows) if rows else np.zeros((0, 0))


def case_distance(vector: np.ndarray, case_vectors: np.ndarray, metric: str = "euclidean") -> float:
    """How far a face is from a case: from the case's template (`case_templates`), so a look-alike of one of the
    case's photos is not as close as someone like all of them; with one photo, that photo's distance."""
    return distance(vector, case_templates([case_vectors], metric)[0], metric)


def case_review(photos: int, review: float, several: float | None) -> float:
    """The score a case must be within to be a candidate: `several` (the engine's template threshold, None where
    the engine keeps the closest photo) once the case has two photos or more, else the review band."""
    return several if several is not None and photos > 1 else review


def scored_case(
    hit: Hit, vector: np.ndarray, case_vectors: np.ndarray, metric: str, review: float, several: float | None
) -> Hit | None:
    """A case found by its closest photo (`hit`), scored as the engine's policy says: by its template when it has
    several photos and the engine has a template threshold (`several`), else as found; None past its threshold."""
    score, template = hit.distance, several is not None and len(case_vectors) > 1
    if template:
        score = case_distance(vector, case_vectors, metric)
    if score > case_review(len(case_vectors), review, several):
        return None
    return Hit(hit.case, hit.face_index, score, template)
