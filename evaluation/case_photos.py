"""Cases with several photos: does a case's photos agreeing cut the review queue? `homeward eval case-photos`.

Families usually send two or three photos. Here every case holds up to k of
its identity's photos (k = 1, 2, 3, where the identity has them: its first LFW
photo, then the first usable of a fixed shuffle of the rest), and the mated
sightings are the same at every k: the identity's other photos, never one of
the case's. The gallery is the whole of LFW (one case per identity, as
`eval review-load`); most LFW identities have one photo, so most cases keep one.

Each policy turns a sighting's distances to a case's photos into one score:

- `min`: the closest photo (closest_per_case: the service's rule before this measurement, dlib's still: its template
  cut its review band by a third, not half);
- `template`: the distance to the mean of the case's photos (each normalised
  first, and the mean again, for cosine);
- `agree`: the candidate's second-nearest photo of the case must be within
  `AGREE_SLACK` of the band too (score max(d1, d2 - slack)); a case with one
  photo is scored by it alone;
- each also scaled by crowding (`+density`, evaluation/policies.py
  density_scores, the case's crowding from its template).

At every k each policy's thresholds give the FNIR that today's bands give at
that k with `min`, so only the false candidates (and precision) differ.

As served, a threshold per kind of case (evaluation/density_review.py): the
closest photo within the band (today), the template within the engine's own
threshold, the template re-thresholded to the closest photo's FNIR, and the
review band by density: a case of one photo by its density score, a case of
several by its template's, each within its own threshold at the same FNIR
(and at the first k > 1's thresholds, kept for the next k as a service would).

The template rule with a margin (`template+margin`): a candidate only within review_load.MARGIN of the
sighting's best case (template distance, the photo's for a case of one), at the template rule's thresholds.
With the engine's template threshold, the margin rules a service could run (evaluation/served_rows.py, the margin
over the candidates as workers/matching.py applies it): MIXED, a case of one photo by its density score, of several
by its template distance; BOTH, the template by its density score too, at held thresholds.

With the engine's template threshold, "how sure" for the candidates the service
scores by a template (core/faces/calibration.py HOW_SURE_TEMPLATE): each
sighting's top 5 as served, the candidates of cases of k photos at k = 2 and 3
pooled, the share that were the person per bin of template distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.faces.matching import DENSITY_RANKS, case_templates, crowding, pairwise_distances
from evaluation import policies
from evaluation.embed import EmbeddingCache, embed_all
from evaluation.policies import Neighbours, reordered
from evaluation.review_load import DEPTH, MARGIN, MATED_IDENTITIES, PER_IDENTITY, as_cell, shuffled
from evaluation.runs import split_identities, subject_face
from evaluation.served_rows import CLOSEST, DENSITY_SERVED, kept_row, served_rows, template_candidates

MOST_PHOTOS = 3
AGREE_SLACK = {"euclidean": (0.0, 0.05, 0.1), "cosine": (0.0, 0.05, 0.1)}  # measured slacks, in the engine's distance
FNIR_POINTS = (0.005, 0.01, 0.02)  # the curve beyond today's band: its FNIR rests on a handful of sightings
BLOCK = 256
CALIBRATION_BIN = 0.025  # as `eval review-load`'s how sure


@dataclass(frozen=True)
class Photos:
    """LFW as cases of up to MOST_PHOTOS photos each, and sightings that are never among them."""

    case_ids: np.ndarray  # one per case
    photos: list[np.ndarray]  # per case: its usable photos' vectors (rows), in the order a case gains them
    probes: np.ndarray
    probe_ids: np.ndarray
    mated: np.ndarray


def lfw_photos(folder: Path, cache: EmbeddingCache, nonmate_share: float, seed: int) -> Photos:
    """Cases first photo + up to two more (reserved, so the sightings are the same at every k); then sightings."""
    people, _, held_out, order = split_identities(folder, nonmate_share, seed, False)
    people = {n: [images[0], *shuffled(images[1:])[: PER_IDENTITY + 2]] for n, images in people.items()}
    embedded = embed_all(folder, [i for n in sorted(people) for i in people[n]], "original", cache, "original")
    face = {image: subject_face(result) for image, result in embedded.items()}
    usable = {n: [i for i in people[n][1:] if face[i] is not None] for n in people}
    with_case = [n for n in order if face[people[n][0]] is not None]
    mated_people = [n for n in with_case if usable[n]][:MATED_IDENTITIES]
    held = [n for n in sorted(held_out) if face[people[n][0]] is not None]
    rest = [n for n in with_case if n not in set(mated_people)]
    extra = {n: usable[n][: min(MOST_PHOTOS - 1, len(usable[n]) - (n in set(mated_people)))] for n in people}
    case_names = mated_people + held + rest
    probes = [(i, n, True) for n in mated_people for i in usable[n][len(extra[n]) :][:PER_IDENTITY]]
    own = {n: [i for i in people[n] if face[i] is not None] for n in held_out}
    probes += [(i, n, False) for n in sorted(held_out) for i in own[n][:PER_IDENTITY]]
    return Photos(
        np.array(case_names),
        [np.stack([face[i] for i in [people[n][0], *extra[n]]]).astype(np.float32) for n in case_names],
        np.stack([face[i] for i, _, _ in probes]).astype(np.float32),
        np.array([n for _, n, _ in probes]),
        np.array([m for _, _, m in probes]),
    )


def case_photos(
    photos: Photos, counts: list[int], bands: dict[str, float], metric: str, top_k: int, several: float | None = None
) -> dict[str, Any]:
    """Every policy at every k: candidates, false candidates, precision and FNIR per band, at today's FNIR.

    `several`: the engine's review threshold for a case of several photos scored by its template, as the service
    runs it (core/faces/calibration.py TEMPLATE_REVIEW), measured as its own row."""
    rows: dict[str, Any] = {}
    by_template: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"template": [], "template+margin": []}
    (one, typical), fixed = _one_photo_density(photos, bands, metric, top_k), None  # fixed: (k, its threshold)
    for k in counts:
        cases = [p[:k] for p in photos.photos]
        scores, templates = _scores(photos, cases, metric)
        found = {name: _nearest(s, photos) for name, s in scores.items()}
        for name in list(found):
            dense = policies.density_scores(found[name], templates, metric)
            found[f"{name}+density"] = reordered(found[name], dense)
        base = found["min"]
        targets = {b: policies.queue(base.distances, base, photos.mated, t, top_k).fnir for b, t in bands.items()}
        row: dict[str, Any] = {"cases_with_k_photos": sum(len(c) == k for c in cases)}
        for name, chosen in found.items():
            row[name] = {}
            for band, fnir in targets.items():
                t = (
                    bands[band]
                    if name == "min"
                    else policies.threshold_for_fnir(chosen.distances, chosen, photos.mated, fnir, top_k)
                )
                row[name][band] = as_cell(policies.queue(chosen.distances, chosen, photos.mated, t, top_k))
            row[name] |= _curve(chosen, photos.mated, top_k)
        row["template at today's bands"] = {
            band: as_cell(policies.queue(found["template"].distances, found["template"], photos.mated, t, top_k))
            for band, t in bands.items()
        }
        closest = np.take_along_axis(scores["min"], found["template"].cases, axis=1)  # as served_at's `closest`
        found["template+margin"] = reordered(
            found["template"], policies.within_margin(found["template"].distances, MARGIN)
        )
        found["template+density"], row["density_typical"] = _in_units(found, typical)
        row["served"] = served_rows(found, cases, photos.mated, (bands, several, one), top_k, closest)
        if k > 1:  # the first k > 1 sets the several photos' threshold; later k keep it, as a service would
            fixed = fixed or (k, row["served"][f"{DENSITY_SERVED} at the FNIR of {CLOSEST}"]["several_threshold"])
            row["served"] |= kept_row(found["template+density"], photos.mated, cases, (one, *fixed), top_k, closest)
            for name, pooled in by_template.items() if several is not None else ():
                pooled.append(template_candidates(found[name], cases, bands, several, top_k, k))
        rows[str(k)] = row
    return {
        "metric": metric,
        "top_k": top_k,
        "cases": len(photos.case_ids),
        "mated_probes": int(photos.mated.sum()),
        "nonmated_probes": int((~photos.mated).sum()),
        "bands": bands,
        "agree_slack": AGREE_SLACK[metric],
        "counts": rows,
        "how_sure_template": _how_sure(by_template["template"], several, top_k),
        "how_sure_template_margin": _how_sure(by_template["template+margin"], several, top_k),
    }


def _one_photo_density(photos: Photos, bands: dict[str, float], metric: str, top_k: int) -> tuple[float, float]:
    """The review threshold by density for a case of one photo: with every case its first photo, the density
    score that gives the FNIR today's review band gives (as `eval review-load` sets its `density` band); and the
    typical crowding (the sightings' median) its scores are in units of."""
    scores, firsts = _scores(photos, [p[:1] for p in photos.photos], metric)  # as k = 1 scores them, bit for bit
    found = _nearest(scores["template"], photos)
    dense = reordered(found, policies.density_scores(found, firsts, metric))
    fnir = policies.queue(found.distances, found, photos.mated, bands["review"], top_k).fnir
    return policies.threshold_for_fnir(dense.distances, dense, photos.mated, fnir, top_k), _typical(found)


def _typical(found: Neighbours) -> float:
    """The median crowding of the sightings (policies.density_scores' `typical`)."""
    return float(np.median(crowding(found.distances, *DENSITY_RANKS)))


def _in_units(found: dict[str, Neighbours], typical: float) -> tuple[Neighbours, float]:
    """`template+density` in the units of k = 1's typical crowding, as a service keeps one (calibration.py DENSITY):
    at k > 1 the templates make everyone's neighbourhood more crowded, so each run's own median would loosen the
    one-photo threshold set at k = 1. And this k's own typical crowding."""
    own = _typical(found["template"])
    dense = found["template+density"]
    return reordered(dense, dense.distances * (typical / own)), own  # k = 1: times exactly 1, bit for bit


def _scores(photos: Photos, cases: list[np.ndarray], metric: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every sighting against every case: by its closest photo, its template, its photos agreeing."""
    templates = case_templates(cases, metric)
    padded, pad = _padded(cases)
    n, c = len(photos.probes), len(cases)
    nearest, second = np.empty((n, c), np.float32), np.empty((n, c), np.float32)
    for start in range(0, n, BLOCK):
        block = slice(start, min(n, start + BLOCK))
        d = pairwise_distances(photos.probes[block], padded, metric).reshape(-1, c, MOST_PHOTOS)
        d = np.sort(np.where(pad[None], np.inf, d), axis=2)
        nearest[block], second[block] = d[:, :, 0], d[:, :, 1]
    alone = ~np.isfinite(second)
    scores = {"min": nearest, "template": pairwise_distances(photos.probes, templates, metric).astype(np.float32)}
    for slack in AGREE_SLACK[metric]:
        scores[f"agree{slack:+.2f}"] = np.where(alone, nearest, np.maximum(nearest, second - slack))
    return scores, templates


def _padded(cases: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The photos as one matrix of MOST_PHOTOS rows per case (repeats where it has fewer) and where they repeat."""
    rows = np.stack([np.resize(c, (MOST_PHOTOS, c.shape[1])) for c in cases]).reshape(-1, cases[0].shape[1])
    pad = np.array([[i >= len(c) for i in range(MOST_PHOTOS)] for c in cases])
    return rows, pad


def _nearest(scores: np.ndarray, photos: Photos) -> Neighbours:
    """Each sighting's DEPTH best cases by this score; a non-mated sighting's own identity is masked out."""
    s = scores.astype(np.float64)
    own = photos.case_ids[None, :] == photos.probe_ids[:, None]
    s[own & ~photos.mated[:, None]] = np.inf
    depth = min(DEPTH, s.shape[1])
    part = np.argpartition(s, depth - 1, axis=1)[:, :depth]
    order = np.take_along_axis(s, part, axis=1).argsort(axis=1, kind="stable")
    rows = np.take_along_axis(part, order, axis=1)
    is_mate = (photos.case_ids[rows] == photos.probe_ids[:, None]) & photos.mated[:, None]
    return Neighbours(np.take_along_axis(s, rows, axis=1), rows, is_mate)


def _how_sure(
    by_template: list[tuple[np.ndarray, np.ndarray]], several: float | None, top_k: int
) -> list[tuple[float, float, int]] | None:
    """policies.calibration over the template-scored candidates of every k pooled, in bins up to the template
    threshold (rounded up to a whole bin); None when the engine keeps the closest photo or no k was > 1."""
    if several is None or not by_template:
        return None
    distances = np.vstack([d for d, _ in by_template])
    is_mate = np.vstack([m for _, m in by_template])
    upto = float(np.ceil(round(several / CALIBRATION_BIN, 6)) * CALIBRATION_BIN)
    pooled = Neighbours(distances, np.zeros(distances.shape, dtype=np.int64), is_mate)
    return policies.calibration(distances, pooled, top_k, upto, CALIBRATION_BIN)


def _curve(found: Neighbours, mated: np.ndarray, top_k: int) -> dict[str, dict[str, float]]:
    """False candidates at a few FNIRs past today's band's, where more than a handful of sightings decide."""
    return {
        f"FNIR {fnir:.1%}": as_cell(
            policies.queue(
                found.distances,
                found,
                mated,
                policies.threshold_for_fnir(found.distances, found, mated, fnir, top_k),
                top_k,
            )
        )
        for fnir in FNIR_POINTS
    }
