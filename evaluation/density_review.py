"""The review band by density, as a service would serve it to cases of one photo and of several. Pure numpy.

`eval case-photos` measures every policy with one threshold for all cases. A service instead keeps a threshold
per kind of case (core/faces/matching.py case_review): here a case of one photo is a candidate when its density
score (policies.density_scores: the distance scaled by both neighbourhoods' crowding) is within `one`, the
threshold that gives the one-photo gallery today's FNIR; a case of several photos when the density score of its
template is within a second threshold, the lowest at which the whole gallery misses no more real sightings than
today's policy does. What remains to compare is the false candidates each sighting brings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from evaluation import policies
from evaluation.policies import Neighbours, Queue
from evaluation.review_load import as_cell


def served_at_fnir(
    found: Neighbours,
    count: np.ndarray,
    mated: np.ndarray,
    one: float,
    target_fnir: float,
    top_k: int,
    closest: np.ndarray | None = None,
) -> dict[str, Any]:
    """The review band with `one` for cases of one photo and the lowest threshold for cases of several that
    keeps FNIR at or under `target_fnir` (`found`: neighbours by their score, the density score here, or the
    template distance for the template rule re-thresholded; `count`: photos per case; `closest`: see served_at)."""
    several = _several_candidates(found, count)
    low, high = 0, len(several) - 1
    while low < high:  # FNIR falls as the threshold of several photos rises
        middle = (low + high) // 2
        if _queue(found, count, mated, (one, float(several[middle])), top_k)[0].fnir <= target_fnir:
            high = middle
        else:
            low = middle + 1
    chosen = float(several[low]) if len(several) else one
    chosen = float(np.ceil(chosen * 1e4) / 1e4)  # as saved and configured: rounded up, the mate at it stays in
    return served_at(found, count, mated, (one, chosen), top_k, closest) | {"target_fnir": target_fnir}


def served_at(
    found: Neighbours,
    count: np.ndarray,
    mated: np.ndarray,
    thresholds: tuple[float, float],
    top_k: int,
    closest: np.ndarray | None = None,
) -> dict[str, Any]:
    """The review band with these thresholds (a case of one photo's, a case of several's), as saved results hold it;
    with the false candidates per sighting that cases of several photos bring. `closest` (the distance to each
    neighbour's closest photo, as `found`): how far from its closest photo a candidate can be, which is how far
    a service must ask its gallery (it finds cases by their closest photo)."""
    result, from_several, shown = _queue(found, count, mated, thresholds, top_k)
    far = {} if closest is None else {"farthest_closest_photo": float(np.max(closest[shown], initial=0.0))}
    return (
        as_cell(result)
        | far
        | {
            "one_photo_threshold": round(thresholds[0], 4),
            "several_threshold": round(thresholds[1], 4),
            "false_per_probe_from_several_photos": from_several,
        }
    )


def _several_candidates(found: Neighbours, count: np.ndarray) -> np.ndarray:
    """The thresholds worth trying for cases of several photos: the scores their mates reach, in order."""
    of_several = count[found.cases] > 1
    scores = found.distances[found.is_mate & of_several]
    return np.unique(scores[np.isfinite(scores)])


def _queue(
    found: Neighbours, count: np.ndarray, mated: np.ndarray, thresholds: tuple[float, float], top_k: int
) -> tuple[Queue, float, np.ndarray]:
    """The queue with each case's own threshold (each score as a share of its case's threshold, so 1 serves all:
    a score at its threshold is exactly 1); the false candidates per sighting that cases of several photos
    bring; and which neighbours (as `found`) are candidates."""
    one, several = thresholds
    limit = np.where(count > 1, several, one)
    share = found.distances / limit[found.cases]
    order = np.argsort(share, axis=1, kind="stable")[:, :top_k]
    shown = np.take_along_axis(share, order, axis=1) <= 1.0
    wrong = shown & ~np.take_along_axis(found.is_mate, order, axis=1)
    from_several = float((wrong & (count[np.take_along_axis(found.cases, order, axis=1)] > 1)).sum() / len(share))
    candidates = np.zeros(share.shape, dtype=bool)
    np.put_along_axis(candidates, order, shown, axis=1)
    return replace(policies.queue(share, found, mated, 1.0, top_k), threshold=one), from_several, candidates


def margin_served_at(
    found: Neighbours,
    count: np.ndarray,
    mated: np.ndarray,
    rule: tuple[float, float, float],
    top_k: int,
    closest: np.ndarray | None = None,
) -> dict[str, Any]:
    """As `served_at` with the margin as the service applies it (workers/matching.py): each case within its own
    threshold (`rule`: one photo's, several's, then the margin), the top_k by score, then only those within the
    margin of the best of them; the scores may be in different units per kind of case, as served."""
    one, several, margin = rule
    result, from_several, shown = _margin_queue(found, count, mated, rule, top_k)
    far = {} if closest is None else {"farthest_closest_photo": float(np.max(closest[shown], initial=0.0))}
    missed = round(result.fnir * int(mated.sum()))
    return (
        as_cell(replace(result, threshold=one))
        | far
        | {
            "one_photo_threshold": round(one, 4),
            "several_threshold": round(several, 4),
            "margin": margin,
            "missed": missed,
            "false_per_probe_from_several_photos": from_several,
        }
    )


def threshold_for_fnir_margin(
    found: Neighbours,
    count: np.ndarray,
    mated: np.ndarray,
    rule: tuple[float, float, float],
    target_fnir: float,
    top_k: int,
    several: bool = False,
) -> float:
    """The lowest threshold for a case of one photo (or of several, `several`) at which the margin rule (`rule`
    as `margin_served_at`'s, the other threshold kept) misses no more than `target_fnir`, rounded up as configured.
    A higher threshold only adds candidates behind the ones there were, so FNIR never rises with it."""
    kind = count[found.cases] > 1 if several else count[found.cases] == 1
    tried = np.unique(found.distances[found.is_mate & kind & np.isfinite(found.distances)])
    low, high = 0, len(tried) - 1
    while low < high:
        middle = (low + high) // 2
        at = (rule[0], float(tried[middle]), rule[2]) if several else (float(tried[middle]), *rule[1:])
        if _margin_queue(found, count, mated, at, top_k)[0].fnir <= target_fnir:
            high = middle
        else:
            low = middle + 1
    return float(np.ceil(float(tried[low]) * 1e4) / 1e4) if len(tried) else float("nan")


def _margin_queue(
    found: Neighbours, count: np.ndarray, mated: np.ndarray, rule: tuple[float, float, float], top_k: int
) -> tuple[Queue, float, np.ndarray]:
    """The queue of the margin rule (`margin_served_at`), the false candidates per sighting that cases of several
    photos bring, and which neighbours (as `found`) are candidates."""
    one, several, margin = rule
    limit = np.where(count > 1, several, one)
    within = np.where(found.distances <= limit[found.cases], found.distances, np.inf)
    best = within.min(axis=1, keepdims=True)
    kept = np.where(within <= best + margin, within, np.inf)
    result = policies.queue(kept, found, mated, float(np.finfo(np.float64).max), top_k)
    order = np.argsort(kept, axis=1, kind="stable")[:, :top_k]
    shown = np.isfinite(np.take_along_axis(kept, order, axis=1))
    wrong = shown & ~np.take_along_axis(found.is_mate, order, axis=1)
    from_several = float((wrong & (count[np.take_along_axis(found.cases, order, axis=1)] > 1)).sum() / len(kept))
    candidates = np.zeros(kept.shape, dtype=bool)
    np.put_along_axis(candidates, order, shown, axis=1)
    return result, from_several, candidates
