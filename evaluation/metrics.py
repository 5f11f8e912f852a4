"""Verification and open-set identification metrics, as the literature states them. Pure numpy.

Verification (LFW pairs): k-fold accuracy, each fold's threshold chosen on
the other folds. Identification (NIST FRVT 1:N style): rank-k hit rates for
mated searches; FPIR = share of non-mated searches that return any candidate
at or under a threshold; FNIR = share of mated searches whose mate is not
returned at or under it (within the candidate list's length).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.faces.matching import closest_per_case, pairwise_distances, rank_cases

MISSING = np.inf  # the distance of a search whose photo gave no usable face


# Verification -------------------------------------------------------------------------


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The distance threshold (same if <= t) with the highest accuracy on these pairs."""
    order = np.argsort(distances, kind="stable")
    d, s = distances[order], same[order].astype(np.int64)
    # Accepting the first i pairs: correct = same among them + different among the rest.
    same_accepted = np.concatenate([[0], np.cumsum(s)])
    different_rejected = (len(s) - s.sum()) - (np.arange(len(s) + 1) - same_accepted)
    best = int(np.argmax(same_accepted + different_rejected))
    if best == 0:
        return float(d[0]) - 1e-6
    upper = d[best] if best < len(d) else d[-1] + 1e-3
    return float((d[best - 1] + upper) / 2) if np.isfinite(upper) else float(d[best - 1])


def kfold_accuracy(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> dict[str, Any]:
    """Accuracy per fold with the threshold learned on the other folds; mean and standard deviation."""
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        threshold = best_threshold(distances[train], same[train])
        accuracies.append(float(np.mean((distances[test] <= threshold) == same[test])))
        thresholds.append(threshold)
    return {
        "mean": float(np.mean(accuracies)),
        "std": float(np.std(accuracies)),  # population std over folds, as the LFW results page reports it
        "folds": accuracies,
        "thresholds": thresholds,
    }


def roc_points(distances: np.ndarray, same: np.ndarray, points: int = 41) -> list[dict[str, float]]:
    """True and false accept rates over a sweep of thresholds."""
    finite = distances[np.isfinite(distances)]
    sweep = np.linspace(float(finite.min()), float(finite.max()), points) if len(finite) else np.array([0.0])
    positives, negatives = max(1, int(same.sum())), max(1, int((~same).sum()))
    return [
        {
            "threshold": round(float(t), 4),
            "tar": float(((distances <= t) & same).sum() / positives),
            "far": float(((distances <= t) & ~same).sum() / negatives),
        }
        for t in sweep
    ]


# Identification -----------------------------------------------------------------------


@dataclass(frozen=True)
class Searches:
    """The outcome of every search against one gallery."""

    mate_rank: np.ndarray  # per mated search: 1-based rank of the mate, or a large number when missing
    mate_distance: np.ndarray  # per mated search: distance to the mate (MISSING when no face)
    mated_top: np.ndarray  # per mated search: distances of the top-k gallery entries (k columns, MISSING padded)
    mated_top_is_mate: np.ndarray  # same shape: whether each of those entries is the mate
    nonmated_top: np.ndarray  # per non-mated search: distances of the top-k gallery entries


def search(
    gallery: np.ndarray,
    gallery_ids: np.ndarray,
    probes: list[np.ndarray | None],
    probe_ids: np.ndarray,
    mated: np.ndarray,
    top_k: int,
    metric: str = "euclidean",
) -> Searches:
    """Search every probe; identities are scored by their closest row (a case with several photos).

    Distances, the best row per identity and the ranking are the service's own (core.faces.matching).
    A non-mated probe's own identity is masked out of the gallery.
    """
    n = len(probes)
    top = np.full((n, top_k), MISSING, dtype=np.float64)
    top_is_mate = np.zeros((n, top_k), dtype=bool)
    mate_rank = np.full(n, 10**9)
    mate_distance = np.full(n, MISSING)
    for start in range(0, n, 512):
        block = range(start, min(n, start + 512))
        have = [i for i in block if probes[i] is not None]
        if not have:
            continue
        vectors = np.stack([probes[i] for i in have]).astype(np.float32)  # type: ignore[misc]
        identities, per_identity, _ = closest_per_case(pairwise_distances(vectors, gallery, metric), gallery_ids)
        for row, i in enumerate(have):
            own = identities == probe_ids[i]
            d = per_identity[row] if mated[i] else np.where(own, MISSING, per_identity[row])
            ranked = rank_cases(d, top_k)
            top[i, : len(ranked)] = d[ranked]
            top_is_mate[i, : len(ranked)] = own[ranked] & bool(mated[i])
            if mated[i] and own.any():
                mate_distance[i] = float(d[own][0])
                mate_rank[i] = int((d < mate_distance[i]).sum()) + 1
    return Searches(mate_rank[mated], mate_distance[mated], top[mated], top_is_mate[mated], top[~mated])


def identification_summary(
    searches: Searches, thresholds: dict[str, float], fpir_targets: tuple[float, ...]
) -> dict[str, Any]:
    """Rank-1/5, FNIR at fixed FPIR, and precision/recall/F1 at the given bands."""
    nonmated_best = searches.nonmated_top[:, 0] if searches.nonmated_top.size else np.zeros(0)
    at_fpir = {}
    for target in fpir_targets:
        threshold = _threshold_for_fpir(nonmated_best, target)
        at_fpir[f"{target:.1%}"] = {
            "threshold": round(threshold, 4),
            "fpir": _fpir(nonmated_best, threshold),
            "fnir": _fnir(searches, threshold),
        }
    bands = {
        name: _band_quality(searches, t) | {"threshold": t, "fpir": _fpir(nonmated_best, t), "fnir": _fnir(searches, t)}
        for name, t in thresholds.items()
    }
    return {
        "mated_searches": len(searches.mate_rank),
        "nonmated_searches": len(nonmated_best),
        "rank1": float(np.mean(searches.mate_rank <= 1)) if len(searches.mate_rank) else 0.0,
        "rank5": float(np.mean(searches.mate_rank <= 5)) if len(searches.mate_rank) else 0.0,
        "fnir_at_fpir": at_fpir,
        "bands": bands,
    }


def _threshold_for_fpir(nonmated_best: np.ndarray, target: float) -> float:
    """The largest threshold whose FPIR does not exceed the target."""
    ordered = np.sort(nonmated_best)
    allowed = int(np.floor(target * len(ordered)))
    if allowed >= len(ordered):
        return float(ordered[-1])
    return float(np.nextafter(ordered[allowed], -np.inf))


def _fpir(nonmated_best: np.ndarray, threshold: float) -> float:
    return float(np.mean(nonmated_best <= threshold)) if len(nonmated_best) else 0.0


def _fnir(searches: Searches, threshold: float) -> float:
    """Mated searches whose mate is not among the candidates (top-k, at or under the threshold)."""
    found = (searches.mated_top_is_mate & (searches.mated_top <= threshold)).any(axis=1)
    return float(1.0 - found.mean()) if len(found) else 0.0


def _band_quality(searches: Searches, threshold: float) -> dict[str, float]:
    """Candidates a reviewer would see at this threshold: how many are right, how many real sightings are caught."""
    right = int((searches.mated_top_is_mate & (searches.mated_top <= threshold)).sum())
    wrong = int(
        (~searches.mated_top_is_mate & (searches.mated_top <= threshold)).sum()
        + (searches.nonmated_top <= threshold).sum()
    )
    searched = len(searches.mate_rank) + len(searches.nonmated_top)
    precision = right / (right + wrong) if right + wrong else 1.0
    recall = right / len(searches.mate_rank) if len(searches.mate_rank) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_candidates_per_1000_searches": 1000 * wrong / searched if searched else 0.0,
    }
