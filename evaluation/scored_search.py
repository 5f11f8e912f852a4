"""Open-set identification scored by the density score instead of the raw distance: `eval identify --score density`.

The service orders its candidates into bands by `density` (core/faces/matching.py density_score: the distance
scaled by how crowded both faces' neighbourhoods are). Whether that score also separates mates from strangers
better than the distance is a question for the identification protocol itself (FNIR at a fixed FPIR), so this
builds the same `Searches` that `metrics.search` does, with each candidate's score in place of its distance:
`identification_summary` then reads it unchanged. One gallery row per identity, as `eval identify` enrols.
"""

from __future__ import annotations

import numpy as np

from evaluation import policies
from evaluation.metrics import MISSING, Searches

DEPTH = 60  # neighbours per search: the density score reads the 10th-50th (core/faces/matching.py DENSITY_RANKS)
NOT_FOUND = 10**9


def density_search(
    gallery: np.ndarray,
    gallery_ids: np.ndarray,
    probes: list[np.ndarray | None],
    probe_ids: np.ndarray,
    mated: np.ndarray,
    top_k: int,
    metric: str,
) -> Searches:
    """Every probe's top_k cases by density score (evaluation/policies.py density_scores, the service's score).

    A probe without a usable face has no candidate (MISSING), as in `metrics.search`; a non-mated probe's own
    identity is masked out of its search. Only a probe's 10 nearest cases by distance get a score (as in
    `eval review-load`): a mate farther than that is missed."""
    have = np.array([p is not None for p in probes], dtype=bool)
    n = len(probes)
    top = np.full((n, top_k), MISSING)
    top_is_mate = np.zeros((n, top_k), dtype=bool)
    mate_score = np.full(n, MISSING)
    ranks = np.full(n, NOT_FOUND)
    if have.any():
        vectors = np.stack([p for p in probes if p is not None]).astype(np.float32)
        found = policies.nearest_cases(vectors, probe_ids[have], mated[have], gallery, gallery_ids, metric, DEPTH)
        scores = policies.density_scores(found, gallery, metric)
        order = np.argsort(scores, axis=1, kind="stable")[:, :top_k]
        width = order.shape[1]
        top[have, :width] = np.take_along_axis(scores, order, axis=1)
        top_is_mate[have, :width] = np.take_along_axis(found.is_mate, order, axis=1)
        mate_score[have] = np.where(found.is_mate, scores, np.inf).min(axis=1)
        ranks[have] = (scores < mate_score[have, None]).sum(axis=1) + 1
    mate_rank = np.where(np.isfinite(mate_score), ranks, NOT_FOUND)
    return Searches(mate_rank[mated], mate_score[mated], top[mated], top_is_mate[mated], top[~mated])
