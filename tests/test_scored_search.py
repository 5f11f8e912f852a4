"""`eval identify --score density` (issue 27): the identification protocol scored by the service's density score."""

from __future__ import annotations

import numpy as np

from evaluation.metrics import MISSING, identification_summary, search
from evaluation.scored_search import NOT_FOUND, density_search

DIM = 32


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _crowd_and_loners(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list, np.ndarray, np.ndarray]:
    """70 loners and a crowd of 20 look-alikes; each loner's sighting a little farther from it than strangers
    who fall in the crowd are from the crowd's cases."""
    loners = _unit(rng.normal(size=(70, DIM)))
    centre = _unit(rng.normal(size=DIM))
    crowd = _unit(centre + 0.3 * _unit(rng.normal(size=(20, DIM))))
    gallery = np.vstack([loners, crowd]).astype(np.float32)
    ids = np.array([f"c{i}" for i in range(90)])
    seen = _unit(loners[:30] + 0.5 * _unit(rng.normal(size=(30, DIM))))
    strangers = _unit(centre + 0.3 * _unit(rng.normal(size=(10, DIM))))
    probes = [*seen.astype(np.float32), *strangers.astype(np.float32)]
    probe_ids = np.array([f"c{i}" for i in range(30)] + [f"s{i}" for i in range(10)])
    return gallery, ids, probes, probe_ids, np.array([True] * 30 + [False] * 10)


def test_density_finds_loners_mates_that_strangers_in_a_crowd_outscore_by_distance() -> None:
    gallery, ids, probes, probe_ids, mated = _crowd_and_loners(np.random.default_rng(3))
    by = {
        name: identification_summary(find(gallery, ids, probes, probe_ids, mated, 5, "cosine"), {}, (0.01,))
        for name, find in (("distance", search), ("density", density_search))
    }
    assert by["distance"]["fnir_at_fpir"]["1.0%"]["fnir"] > 0.5  # every stranger is closer than most mates
    assert by["density"]["fnir_at_fpir"]["1.0%"]["fnir"] < by["distance"]["fnir_at_fpir"]["1.0%"]["fnir"]
    assert by["density"]["rank1"] == 1.0


def test_a_probe_without_a_face_is_a_miss_and_never_a_candidate() -> None:
    gallery, ids, probes, probe_ids, mated = _crowd_and_loners(np.random.default_rng(3))
    probes[0], probes[-1] = None, None
    found = density_search(gallery, ids, probes, probe_ids, mated, 5, "cosine")
    assert found.mate_rank[0] == NOT_FOUND and found.mate_distance[0] == MISSING
    assert (found.mated_top[0] == MISSING).all() and (found.nonmated_top[-1] == MISSING).all()
    assert (found.mate_rank[1:] < NOT_FOUND).all()
    assert (np.diff(found.mated_top[1:], axis=1) >= 0).all()  # each search's candidates best first
