"""Ways to decide which of a sighting's nearest cases a reviewer sees, and what each costs. Pure numpy.

Every policy turns a search (each probe's nearest cases by distance) into a
score per neighbour, lower meaning more alike; a probe's candidates are its
top_k neighbours by that score at or under a threshold. So a policy is
judged the way a deployment feels it: how many false candidates each
sighting adds to the queue, and how many real sightings are missed (FNIR).

- `distance`: today's rule, the raw distance against fixed bands.
- `density`: the distance divided by how crowded both faces' neighbourhoods
  are (the probe's mean distance to its 10th-50th nearest cases, the case's to
  its nearest other cases; Jégou et al.'s contextual dissimilarity). A face
  near everyone (a blurred photo, a generic young face) stops matching everyone.
- `reciprocal`: a candidate is kept only if the probe is also among the case's
  R nearest sightings: a hub sighting that is close to many cases is close to
  none of them in particular.
- `+margin` (`within_margin`, over any of these scores): a candidate is kept only
  if its score is within a margin of the probe's best score, because at most
  one case can be the person: a far second or third candidate is mostly noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.faces.matching import CASE_NEIGHBOURS, DENSITY_RANKS, crowding, density_score, pairwise_distances

RECIPROCAL_RANK = 20  # the probe must be among the case's 20 nearest sightings
BLOCK = 256


@dataclass(frozen=True)
class Neighbours:
    """Each probe's nearest cases, closest first: distances and case rows (n probes by depth)."""

    distances: np.ndarray
    cases: np.ndarray
    is_mate: np.ndarray  # whether that case is the probe's own identity (always False for non-mated probes)


def nearest_cases(
    probes: np.ndarray,
    probe_ids: np.ndarray,
    mated: np.ndarray,
    cases: np.ndarray,
    case_ids: np.ndarray,
    metric: str,
    depth: int,
) -> Neighbours:
    """The `depth` nearest cases of every probe; a non-mated probe's own identity is masked out of its search."""
    n, depth = len(probes), min(depth, len(cases))
    distances, rows = np.empty((n, depth)), np.empty((n, depth), dtype=np.int64)
    for start in range(0, n, BLOCK):
        block = slice(start, min(n, start + BLOCK))
        d = pairwise_distances(probes[block], cases, metric)
        own = case_ids[None, :] == probe_ids[block, None]
        d[own & ~mated[block, None]] = np.inf
        part = np.argpartition(d, depth - 1, axis=1)[:, :depth]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1, kind="stable")
        rows[block] = np.take_along_axis(part, order, axis=1)
        distances[block] = np.take_along_axis(d, rows[block], axis=1)
    is_mate = (case_ids[rows] == probe_ids[:, None]) & mated[:, None]
    return Neighbours(distances, rows, is_mate)


def reordered(found: Neighbours, scores: np.ndarray) -> Neighbours:
    """The same neighbours under another score (queue and thresholds read the score, not the order)."""
    return Neighbours(scores, found.cases, found.is_mate)


def distance_scores(found: Neighbours) -> np.ndarray:
    return found.distances


def density_scores(found: Neighbours, cases: np.ndarray, metric: str) -> np.ndarray:
    """Distances scaled by both neighbourhoods' crowding, back in distance units (times the median crowding).

    The service's own score (core/faces/matching.py density_score); the median probe crowding measured here is
    the engine's `typical` in core/faces/calibration.py DENSITY."""
    low, high = DENSITY_RANKS
    probe_density = crowding(found.distances, low, high)
    used = np.unique(found.cases[:, :low])
    case_density = np.full(len(cases), np.nan)
    case_density[used] = _case_density(cases[used], cases, metric)
    typical = float(np.median(probe_density))
    scores = np.full(found.distances.shape, np.inf)  # only the nearest few can become candidates
    near = found.cases[:, :low]
    scores[:, :low] = density_score(found.distances[:, :low], probe_density[:, None], case_density[near], typical)
    return scores


def reciprocal_scores(found: Neighbours, probes: np.ndarray, cases: np.ndarray, metric: str) -> np.ndarray:
    """The distance where the probe is among the case's RECIPROCAL_RANK nearest probes, else never a candidate."""
    keep = np.zeros(found.distances.shape, dtype=bool)
    head = min(10, found.distances.shape[1])
    used = np.unique(found.cases[:, :head])
    position = {int(c): i for i, c in enumerate(used)}
    limit = np.empty(len(used))
    for start in range(0, len(used), BLOCK):
        d = pairwise_distances(cases[used[start : start + BLOCK]], probes, metric)
        rank = min(RECIPROCAL_RANK, d.shape[1]) - 1
        limit[start : start + BLOCK] = np.partition(d, rank, axis=1)[:, rank]
    for j in range(head):
        rows = np.array([position[int(c)] for c in found.cases[:, j]])
        keep[:, j] = found.distances[:, j] <= limit[rows]
    return np.where(keep, found.distances, np.inf)


def within_margin(scores: np.ndarray, margin: float) -> np.ndarray:
    """The scores within `margin` of each probe's best (its nearest cases'); the rest never a candidate.

    At most one case can be the person, so a candidate much farther than the probe's best is seldom it."""
    best = scores.min(axis=1, keepdims=True)
    return np.where(scores <= best + margin, scores, np.inf)


def shown_distances(scores: np.ndarray, found: Neighbours, threshold: float, top_k: int) -> np.ndarray:
    """The raw distance of each candidate a policy shows (its top_k by score at or under `threshold`), else inf.

    So `calibration` can say how sure a candidate is at the distance the panel shows, whatever chose it."""
    order = np.argsort(scores, axis=1, kind="stable")[:, :top_k]
    shown = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(shown, order, np.take_along_axis(scores, order, axis=1) <= threshold, axis=1)
    return np.where(shown, found.distances, np.inf)


def _case_density(chosen: np.ndarray, cases: np.ndarray, metric: str) -> np.ndarray:
    out = np.empty(len(chosen))
    for start in range(0, len(chosen), BLOCK):
        d = pairwise_distances(chosen[start : start + BLOCK], cases, metric)
        k = min(CASE_NEIGHBOURS + 1, d.shape[1] - 1)  # +1: the case itself, at distance 0
        out[start : start + BLOCK] = np.partition(d, k, axis=1)[:, 1 : k + 1].mean(axis=1)
    return out


@dataclass(frozen=True)
class Queue:
    """What one band of one policy puts before reviewers, per probe searched."""

    threshold: float
    candidates_per_probe: float
    false_per_probe: float
    precision: float
    fnir: float  # mated probes whose mate is not among their candidates


def queue(scores: np.ndarray, found: Neighbours, mated: np.ndarray, threshold: float, top_k: int) -> Queue:
    """The candidates at this threshold: each probe's top_k by score, at or under it."""
    order = np.argsort(scores, axis=1, kind="stable")[:, :top_k]
    top = np.take_along_axis(scores, order, axis=1)
    right = np.take_along_axis(found.is_mate, order, axis=1)
    shown = top <= threshold
    n_right, n_shown = int((shown & right).sum()), int(shown.sum())
    found_mate = (shown & right).any(axis=1)[mated]
    return Queue(
        threshold,
        n_shown / len(scores),
        (n_shown - n_right) / len(scores),
        n_right / n_shown if n_shown else 1.0,
        float(1 - found_mate.mean()) if len(found_mate) else 0.0,
    )


def threshold_for_fnir(scores: np.ndarray, found: Neighbours, mated: np.ndarray, fnir: float, top_k: int) -> float:
    """The lowest threshold at which this policy misses no more mated probes than `fnir`."""
    order = np.argsort(scores, axis=1, kind="stable")[:, :top_k]
    top = np.take_along_axis(scores, order, axis=1)
    right = np.take_along_axis(found.is_mate, order, axis=1)
    mate_score = np.where(right, top, np.inf).min(axis=1)[mated]
    ordered = np.sort(mate_score)
    needed = int(np.ceil((1 - fnir) * len(ordered))) - 1
    return float(ordered[max(0, min(needed, len(ordered) - 1))])


def threshold_for_fpir(impostor: np.ndarray, gallery_size: int, fpir: float) -> float:
    """The threshold at which a stranger searched against `gallery_size` cases is a candidate with chance `fpir`.

    From the distances between different people (`impostor`, e.g. the gallery's own cases compared with
    each other): each comparison falsely matches with chance q, so 1 - (1 - q)^N = fpir.
    """
    q = 1 - (1 - fpir) ** (1 / gallery_size)
    return float(np.quantile(np.sort(impostor), q))


def impostor_distances(cases: np.ndarray, metric: str, pairs: int, seed: int) -> np.ndarray:
    """Distances between random pairs of different cases (one identity each)."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(cases), pairs), rng.integers(0, len(cases), pairs)
    a, b = a[a != b], b[a != b]
    out = np.empty(len(a))
    for start in range(0, len(a), 65536):
        x, y = cases[a[start : start + 65536]].astype(np.float64), cases[b[start : start + 65536]].astype(np.float64)
        if metric == "cosine":
            out[start : start + 65536] = 1 - (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
        else:
            out[start : start + 65536] = np.linalg.norm(x - y, axis=1)
    return out


def calibration(
    scores: np.ndarray, found: Neighbours, top_k: int, upto: float, width: float = 0.025
) -> list[tuple[float, float, int]]:
    """How sure a candidate at a given score is: per bin up to `upto`, the share of candidates there that were
    the same person (and how many candidates the bin held), made non-increasing from the closest bin outward,
    because a closer candidate is never less likely to be the person."""
    order = np.argsort(scores, axis=1, kind="stable")[:, :top_k]
    top = np.take_along_axis(scores, order, axis=1).ravel()
    right = np.take_along_axis(found.is_mate, order, axis=1).ravel()
    edges = np.arange(width, upto + width / 2, width)
    rows, running = [], 1.0
    for low, high in zip(np.concatenate([[-np.inf], edges[:-1]]), edges, strict=True):
        inside = (top > low) & (top <= high)
        count = int(inside.sum())
        share = float(right[inside].mean()) if count else running
        running = min(running, share)
        rows.append((round(float(high), 4), round(running, 3), count))
    return rows
