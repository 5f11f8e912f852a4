"""The review queue as a deployment sees it, as the gallery grows: `homeward eval review-load`.

One case per identity (its first LFW photo). The mated probes are the other
photos (at most PER_IDENTITY each) of MATED_IDENTITIES people who are in every
gallery; the non-mated probes are every photo of the held-out people, their
own identity masked out of their searches (as `eval identify` does), so a
gallery can hold all of LFW. Galleries grow by adding the remaining LFW
identities, then synthetic cases drawn from the real cases' own mean and
covariance (one Gaussian per engine; a stand-in for more strangers, which
`--check` compares with real ones at the size LFW still covers).

Each policy's bands are set once, at the largest real gallery, to the FNIR
today's bands give there; then the same settings are measured at every size,
as a deployment would keep them. The `fpir` policy instead moves its
threshold with the gallery size, from the gallery's own case-to-case
distances, to hold the strangers' chance of a candidate where today's band
has it at the smallest gallery. The `+margin` policies keep a candidate only
within MARGIN of the sighting's best score (at most one case is the person).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from evaluation import policies
from evaluation.embed import EmbeddingCache, embed_all
from evaluation.policies import Neighbours, Queue
from evaluation.runs import split_identities, subject_face

MATED_IDENTITIES = 600
PER_IDENTITY = 10  # a few people have hundreds of photos; they would weigh as much as everyone else
DEPTH = 60  # neighbours kept per search: enough for the density policy's 10th-50th
MARGIN = 0.05  # in score units (distance units for both scores): a candidate this much past the best is dropped
POLICIES = ("distance", "density", "reciprocal", "distance+margin", "density+margin", "fpir")
# The review rule the service runs per engine (issue 27): the line drawn beside today's in the plot.
SERVED = {"dlib": "density+margin", "arcface": "density+margin"}


@dataclass(frozen=True)
class Population:
    cases: np.ndarray
    case_ids: np.ndarray
    real_cases: int  # the first rows are real LFW identities, the rest synthetic
    probes: np.ndarray
    probe_ids: np.ndarray
    mated: np.ndarray


def lfw_population(folder: Path, cache: EmbeddingCache, nonmate_share: float, seed: int) -> Population:
    """LFW as cases and probes: mated people first in the case order, then the held-out, then everyone else."""
    people, _, held_out, order = split_identities(folder, nonmate_share, seed, False)
    people = {n: [images[0], *shuffled(images[1:])[: PER_IDENTITY + 2]] for n, images in people.items()}
    embedded = embed_all(folder, [i for n in sorted(people) for i in people[n]], "original", cache, "original")
    face = {image: subject_face(result) for image, result in embedded.items()}
    with_case = [n for n in order if face[people[n][0]] is not None]
    several = [n for n in with_case if sum(face[i] is not None for i in people[n][1:]) > 0]
    mated_people = several[:MATED_IDENTITIES]
    rest = [n for n in with_case if n not in set(mated_people)]
    held = [n for n in sorted(held_out) if face[people[n][0]] is not None]
    case_names = mated_people + held + rest
    probes = [(i, n, True) for n in mated_people for i in _usable(people[n][1:], face)[:PER_IDENTITY]]
    probes += [(i, n, False) for n in sorted(held_out) for i in _usable(people[n], face)[:PER_IDENTITY]]
    return Population(
        np.stack([face[people[n][0]] for n in case_names]).astype(np.float32),
        np.array(case_names),
        len(case_names),
        np.stack([face[i] for i, _, _ in probes]).astype(np.float32),
        np.array([n for _, n, _ in probes]),
        np.array([m for _, _, m in probes]),
    )


def grown(population: Population, size: int, metric: str, seed: int) -> Population:
    """The first `size` cases: real ones while LFW has them, then synthetic strangers."""
    if size <= population.real_cases:
        return replace(population, cases=population.cases[:size], case_ids=population.case_ids[:size])
    real = population.cases
    rng = np.random.default_rng(seed)
    extra = rng.multivariate_normal(real.mean(0), np.cov(real, rowvar=False), size - len(real), method="eigh")
    if metric == "cosine":
        extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    ids = np.array([f"synthetic:{i}" for i in range(len(extra))])
    return replace(
        population,
        cases=np.vstack([real, extra.astype(np.float32)]),
        case_ids=np.concatenate([population.case_ids, ids]),
    )


def review_load(
    population: Population,
    sizes: list[int],
    bands: dict[str, float],
    metric: str,
    top_k: int,
    seed: int,
    served: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Every policy at every gallery size: candidates, false candidates, precision and FNIR per band.

    `served`: the service's own density thresholds per band (core/faces/calibration.py DENSITY), measured as the
    policy `served` (density + margin at those thresholds, not re-set to today's FNIR): what the service runs."""
    reference = min(population.real_cases, max(sizes))
    at_reference = grown(population, reference, metric, seed)
    found, scores = _searched(at_reference, metric)
    settings = _settings(found, scores, at_reference.mated, bands, top_k)
    how_sure = policies.calibration(scores["distance"], found, top_k, bands["review"])
    how_sure_margin = _how_sure_shown(found, scores, settings, top_k)
    smallest = grown(population, min(sizes), metric, seed)
    fpir = _stranger_rate(smallest, bands, metric)
    rows: dict[str, Any] = {}
    for size in sizes:
        gallery = grown(population, size, metric, seed)
        found, scores = _searched(gallery, metric)
        impostor = policies.impostor_distances(gallery.cases, metric, 2_000_000, seed)
        row: dict[str, Any] = {"cases": size, "synthetic": max(0, size - population.real_cases)}
        chosen = settings | ({"served": served} if served else {})
        for policy in POLICIES + (("served",) if served else ()):
            if policy == "fpir":
                chosen["fpir"] = {band: policies.threshold_for_fpir(impostor, size, fpir[band]) for band in bands}
            score = scores[{"fpir": "distance", "served": "density+margin"}.get(policy, policy)]
            row[policy] = {
                band: as_cell(policies.queue(score, found, gallery.mated, chosen[policy][band], top_k))
                for band in bands
            }
        rows[str(size)] = row
    return {
        "metric": metric,
        "top_k": top_k,
        "mated_probes": int(population.mated.sum()),
        "nonmated_probes": int((~population.mated).sum()),
        "real_cases": population.real_cases,
        "reference_size": reference,
        "bands": bands,
        "settings": settings,
        "margin": MARGIN,
        "fpir_held": fpir,
        "how_sure": how_sure,
        "how_sure_margin": how_sure_margin,
        "sizes": rows,
    }


def review_minutes(false_per_probe: float, sightings_per_day: int, seconds_per_candidate: float) -> float:
    """Reviewer minutes a day spent on false candidates alone."""
    return false_per_probe * sightings_per_day * seconds_per_candidate / 60


def _settings(
    found: Neighbours, scores: dict[str, np.ndarray], mated: np.ndarray, bands: dict[str, float], top_k: int
) -> dict[str, dict[str, float]]:
    """Each policy's thresholds: today's bands for `distance`, the same FNIR for the others."""
    targets = {band: policies.queue(scores["distance"], found, mated, t, top_k).fnir for band, t in bands.items()}
    chosen = {"distance": dict(bands)}
    for policy in ("density", "reciprocal", "distance+margin", "density+margin"):
        chosen[policy] = {
            band: policies.threshold_for_fnir(scores[policy], found, mated, fnir, top_k)
            for band, fnir in targets.items()
        }
    return chosen


def _how_sure_shown(
    found: Neighbours, scores: dict[str, np.ndarray], settings: dict[str, dict[str, float]], top_k: int
) -> dict[str, list[tuple[float, float, int]]]:
    """How sure per raw distance (what the panel shows) of the candidates each margin policy's review band shows.

    A density score can keep a candidate past the distance band, so the bins run to the farthest one shown."""
    width, out = 0.025, {}
    for policy in ("distance+margin", "density+margin"):
        shown = policies.shown_distances(scores[policy], found, settings[policy]["review"], top_k)
        finite = shown[np.isfinite(shown)]
        upto = float(np.ceil(finite.max() / width - 1e-9) * width) if len(finite) else width
        out[policy] = policies.calibration(shown, found, top_k, upto, width)
    return out


def _stranger_rate(gallery: Population, bands: dict[str, float], metric: str) -> dict[str, float]:
    """The share of non-mated probes that get a candidate in each band today, at this gallery."""
    found = policies.nearest_cases(
        gallery.probes, gallery.probe_ids, gallery.mated, gallery.cases, gallery.case_ids, metric, 1
    )
    best = found.distances[~gallery.mated, 0]
    return {band: float(np.mean(best <= t)) for band, t in bands.items()}


def _searched(gallery: Population, metric: str) -> tuple[Neighbours, dict[str, np.ndarray]]:
    found = policies.nearest_cases(
        gallery.probes, gallery.probe_ids, gallery.mated, gallery.cases, gallery.case_ids, metric, DEPTH
    )
    scores = {
        "distance": policies.distance_scores(found),
        "density": policies.density_scores(found, gallery.cases, metric),
        "reciprocal": policies.reciprocal_scores(found, gallery.probes, gallery.cases, metric),
    }
    for policy in ("distance", "density"):
        scores[f"{policy}+margin"] = policies.within_margin(scores[policy], MARGIN)
    return found, scores


def _usable(images: list[str], face: dict[str, np.ndarray | None]) -> list[str]:
    return [i for i in images if face[i] is not None]


def shuffled(images: list[str]) -> list[str]:
    """A fixed shuffle: not the first few only, as LFW orders some people's photos by event."""
    mixed = list(images)
    random.Random(len(mixed)).shuffle(mixed)
    return mixed


def as_cell(result: Queue) -> dict[str, float]:
    """One band of one policy as the saved results hold it."""
    return {
        "threshold": round(result.threshold, 4),
        "candidates_per_probe": result.candidates_per_probe,
        "false_per_probe": result.false_per_probe,
        "precision": result.precision,
        "fnir": result.fnir,
    }
