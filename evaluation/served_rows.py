"""The rows `eval case-photos` prints as a service would serve them: each kind of case (one photo, several) within
its own threshold, as core/faces/matching.py case_review and workers/matching.py do. Pure numpy.

- the closest photo within the band (today), the template rule (a case of several photos by its template within
  the engine's template threshold), and the template rule with the margin (`template+margin`);
- the review band by density (evaluation/density_review.py) at the FNIR of each;
- the margin rules a service could run (`mixed_served`): MIXED, a case of one photo by its density score, of
  several by its template distance; BOTH, the template by its density score too; thresholds held (MIXED_ONE,
  BOTH_SEVERAL).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.faces.matching import case_review
from evaluation import policies
from evaluation.density_review import margin_served_at, served_at, served_at_fnir, threshold_for_fnir_margin
from evaluation.policies import Neighbours, reordered
from evaluation.review_load import MARGIN, as_cell

CLOSEST = "closest photo (today)"
DENSITY_SERVED = "density, template+density if several"  # served row: one photo by density, several by template's
MIXED = "density if one photo, template if several, +margin"  # arcface's candidate rule, issue 27
BOTH = "density, template+density if several, +margin"
# Held thresholds. MIXED_ONE, the service's rule (core/faces/calibration.py DENSITY, 0.727 in `eval review-load`'s
# crowding units): the lowest density score of a case of one photo at which MIXED misses no more at k = 1 than the
# closest photo within the band, at seeds 7, 8 and 9 (0.7149 at seed 7 alone, 0.7252 at seed 9). BOTH's template
# density score at k = 2 likewise, at seed 7.
MIXED_ONE = 0.7252
BOTH_SEVERAL = 0.6922


def served_rows(
    found: dict[str, Neighbours],
    cases: list[np.ndarray],
    mated: np.ndarray,
    thresholds: tuple[dict[str, float], float | None, float],
    top_k: int,
    closest: np.ndarray,
) -> dict[str, Any]:
    """Every served row at one k (`thresholds`: today's bands, the engine's template threshold or None, a case of
    one photo's density threshold; `closest`: each neighbour's closest photo distance, as served_at's)."""
    bands, several, one = thresholds
    served = template_served(found, cases, mated, (bands, several), top_k, closest)
    served |= density_served(found, mated, cases, (one, bands["review"]), served, top_k, closest)
    if several is not None:
        today = (bands["review"], several, served[CLOSEST]["fnir"])
        served |= mixed_served(found, cases, mated, today, top_k, closest)
    return served


def _as_served(
    found: Neighbours,
    cases: list[np.ndarray],
    mated: np.ndarray,
    bands: dict[str, float],
    several: float | None,
    top_k: int,
) -> dict[str, float]:
    """The review band with each case's own threshold (case_review), scores rescaled so one threshold serves;
    with the false candidates that cases of several photos bring apart: the ones a deployment whose families
    send two or three photos would see (LFW gives most cases one photo, whichever the policy)."""
    count, scaled, order, shown = _served(found, cases, bands, several, top_k)
    wrong = shown & ~np.take_along_axis(found.is_mate, order, axis=1)
    several_photos = count[np.take_along_axis(found.cases, order, axis=1)] > 1
    return as_cell(policies.queue(scaled, found, mated, bands["review"], top_k)) | {
        "false_per_probe_from_several_photos": float((wrong & several_photos).sum() / len(scaled))
    }


def template_served(
    found: dict[str, Neighbours],
    cases: list[np.ndarray],
    mated: np.ndarray,
    thresholds: tuple[dict[str, float], float | None],
    top_k: int,
    closest: np.ndarray,
) -> dict[str, Any]:
    """The review band as served by the closest photo (today), the template rule, and the template rule with the
    margin (`template+margin`: review_load.MARGIN over each sighting's template distances, the closest photo's for
    a case of one) at the template rule's thresholds and with the several photos' threshold re-set to the template
    rule's FNIR (a case of one photo keeping the band). `closest`: as served_at's."""
    (bands, several), count = thresholds, np.array([len(c) for c in cases])
    out = {
        CLOSEST: _as_served(found["min"], cases, mated, bands, None, top_k),
        "template": _as_served(found["template"], cases, mated, bands, several, top_k),
        "template+margin": _as_served(found["template+margin"], cases, mated, bands, several, top_k),
    }
    if count.max() > 1:
        out["template+margin at the FNIR of template"] = served_at_fnir(
            found["template+margin"], count, mated, bands["review"], out["template"]["fnir"], top_k, closest
        )
    return out


def mixed_served(
    found: dict[str, Neighbours],
    cases: list[np.ndarray],
    mated: np.ndarray,
    today: tuple[float, float, float],
    top_k: int,
    closest: np.ndarray,
) -> dict[str, Any]:
    """The margin rules a service could run (density_review.margin_served_at; `today`: the band, the template
    threshold, the closest photo's FNIR): the template rule with the margin among its candidates, as
    workers/matching.py applies it; MIXED, a case of one photo by its density score within MIXED_ONE and of several
    by its template distance within the template threshold, one margin over both units; BOTH, the template's
    density score within BOTH_SEVERAL. Each at its held thresholds, and MIXED's one-photo threshold (k = 1) or
    BOTH's several-photo one (k > 1) set here to the closest photo's FNIR."""
    (review, several, fnir), count = today, np.array([len(c) for c in cases])
    template, both = found["template"], found["template+density"]
    mixed = reordered(template, np.where(count[template.cases] > 1, template.distances, both.distances))
    out = {
        "template+margin, among candidates": margin_served_at(
            template, count, mated, (review, several, MARGIN), top_k, closest
        ),
        MIXED: margin_served_at(mixed, count, mated, (MIXED_ONE, several, MARGIN), top_k, closest),
        BOTH: margin_served_at(both, count, mated, (MIXED_ONE, BOTH_SEVERAL, MARGIN), top_k, closest),
    }
    if count.max() == 1:
        rule = (MIXED_ONE, several, MARGIN)
        one = threshold_for_fnir_margin(mixed, count, mated, rule, fnir, top_k)
        out[f"{MIXED}, set here"] = margin_served_at(mixed, count, mated, (one, several, MARGIN), top_k, closest)
    else:
        rule = (MIXED_ONE, BOTH_SEVERAL, MARGIN)
        other = threshold_for_fnir_margin(both, count, mated, rule, fnir, top_k, several=True)
        out[f"{BOTH}, set here"] = margin_served_at(both, count, mated, (MIXED_ONE, other, MARGIN), top_k, closest)
    return out


def kept_row(
    found: Neighbours,
    mated: np.ndarray,
    cases: list[np.ndarray],
    kept: tuple[float, int, float],
    top_k: int,
    closest: np.ndarray,
) -> dict[str, Any]:
    """The review band by density with a case of one photo's threshold and the one that k (of `kept`) set for a
    case of several photos: whether a k = 2 figure serves three photos too. `closest`: as served_at's."""
    one, k, several = kept
    count = np.array([len(c) for c in cases])
    cell = served_at(found, count, mated, (one, several), top_k, closest)
    return {f"{DENSITY_SERVED} at k={k}'s thresholds": cell}


def density_served(
    found: dict[str, Neighbours],
    mated: np.ndarray,
    cases: list[np.ndarray],
    thresholds: tuple[float, float],
    served: dict[str, Any],
    top_k: int,
    closest: np.ndarray,
) -> dict[str, Any]:
    """The review band by density (density_review.py; `thresholds`: one photo's by density, and the band) at the
    FNIR of each rule served (closest photo, template: a handful of sightings apart, and the threshold follows);
    and the template rule itself, one photo keeping the band, re-thresholded to the closest photo's FNIR.
    `closest`: each neighbour's closest photo distance (density_review.served_at)."""
    (one, review), count = thresholds, np.array([len(c) for c in cases])
    out = {
        f"{DENSITY_SERVED} at the FNIR of {rule}": served_at_fnir(
            found["template+density"], count, mated, one, served[rule]["fnir"], top_k, closest
        )
        for rule in (CLOSEST, "template")
    }
    if count.max() > 1:
        fnir = served[CLOSEST]["fnir"]
        out[f"template at the FNIR of {CLOSEST}"] = served_at_fnir(
            found["template"], count, mated, review, fnir, top_k, closest
        )
    return out


def _served(
    found: Neighbours, cases: list[np.ndarray], bands: dict[str, float], several: float | None, top_k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """As the service serves them: photos per case, scores rescaled so one threshold serves every case, each
    sighting's top_k cases by it (columns of `found`), and which of those are candidates."""
    count = np.array([len(c) for c in cases])
    limit = np.array([case_review(n, bands["review"], several) for n in count])
    scaled = found.distances * bands["review"] / limit[found.cases]
    order = np.argsort(scaled, axis=1, kind="stable")[:, :top_k]
    return count, scaled, order, np.take_along_axis(scaled, order, axis=1) <= bands["review"]


def template_candidates(
    found: Neighbours, cases: list[np.ndarray], bands: dict[str, float], several: float, top_k: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The served candidates of cases of exactly k photos (scored by their template): their template distances
    (inf for every other column) and whether each was the person, one row per sighting."""
    count, _, order, shown = _served(found, cases, bands, several, top_k)
    own = shown & (count[np.take_along_axis(found.cases, order, axis=1)] == k)
    distances = np.where(own, np.take_along_axis(found.distances, order, axis=1), np.inf)
    return distances, np.take_along_axis(found.is_mate, order, axis=1)
