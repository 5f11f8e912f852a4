"""The review-load evaluation's arithmetic and policies, on galleries whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from config.settings import engine_bands
from core.faces.calibration import HOW_SURE, HOW_SURE_TEMPLATE, REACH, TEMPLATE_REVIEW, how_sure, in_words
from evaluation import policies
from evaluation.review_load import Population, grown, review_load

DIM = 16


def _isolated_cases(n: int, rng: np.random.Generator) -> np.ndarray:
    """Cases far apart from each other: random directions scaled to length 1."""
    cases = rng.normal(size=(n, DIM))
    return cases / np.linalg.norm(cases, axis=1, keepdims=True)


def _population(rng: np.random.Generator) -> Population:
    """40 isolated people each seen once nearby, plus a crowd of 30 look-alikes and a stranger in the crowd."""
    isolated = _isolated_cases(40, rng)
    centre = np.full(DIM, 0.25)
    crowd = centre + rng.normal(scale=0.02, size=(30, DIM))
    cases = np.vstack([isolated, crowd]).astype(np.float32)
    ids = np.array([f"p{i}" for i in range(len(cases))])
    mated = isolated + rng.normal(scale=0.05, size=isolated.shape)
    strangers = centre + rng.normal(scale=0.02, size=(5, DIM))  # they look like the whole crowd
    probes = np.vstack([mated, strangers]).astype(np.float32)
    probe_ids = np.array([f"p{i}" for i in range(40)] + [f"s{i}" for i in range(5)])
    return Population(cases, ids, len(cases), probes, probe_ids, np.array([True] * 40 + [False] * 5))


def test_the_queue_counts_candidates_false_ones_precision_and_misses() -> None:
    found = policies.Neighbours(
        distances=np.array([[0.1, 0.3, 0.9], [0.2, 0.4, 0.5]]),
        cases=np.array([[0, 1, 2], [1, 0, 2]]),
        is_mate=np.array([[True, False, False], [False, False, False]]),
    )
    mated = np.array([True, False])
    result = policies.queue(found.distances, found, mated, threshold=0.35, top_k=2)
    assert result.candidates_per_probe == 1.5  # 0.1 and 0.3 for the first, 0.2 for the second
    assert result.false_per_probe == 1.0 and result.precision == pytest.approx(1 / 3) and result.fnir == 0.0
    assert policies.queue(found.distances, found, mated, threshold=0.05, top_k=2).fnir == 1.0


def test_density_stops_a_stranger_in_a_crowd_matching_everyone_at_the_same_fnir() -> None:
    population = _population(np.random.default_rng(1))
    found = policies.nearest_cases(
        population.probes,
        population.probe_ids,
        population.mated,
        population.cases,
        population.case_ids,
        "euclidean",
        60,
    )
    plain = policies.distance_scores(found)
    dense = policies.density_scores(found, population.cases, "euclidean")
    t_plain = policies.threshold_for_fnir(plain, found, population.mated, 0.0, top_k=5)
    t_dense = policies.threshold_for_fnir(dense, found, population.mated, 0.0, top_k=5)
    today = policies.queue(plain, found, population.mated, t_plain, 5)
    density = policies.queue(dense, found, population.mated, t_dense, 5)
    assert today.fnir == density.fnir == 0.0
    assert today.false_per_probe > 0.4  # each stranger brings five look-alikes
    assert density.false_per_probe < today.false_per_probe / 2


def test_the_margin_drops_a_far_second_candidate_and_keeps_a_near_one() -> None:
    found = policies.Neighbours(
        distances=np.array([[0.40, 0.43, 0.52], [0.30, 0.50, 0.51]]),
        cases=np.array([[0, 1, 2], [1, 0, 2]]),
        is_mate=np.array([[False, True, False], [True, False, False]]),
    )
    kept = policies.within_margin(found.distances, 0.05)
    assert kept.tolist() == [[0.40, 0.43, np.inf], [0.30, np.inf, np.inf]]
    mated = np.array([True, True])
    today, margin = (policies.queue(s, found, mated, threshold=0.55, top_k=5) for s in (found.distances, kept))
    assert today.fnir == margin.fnir == 0.0  # the near second (0.43) was the person: still shown
    assert (today.false_per_probe, margin.false_per_probe) == (2.0, 0.5)
    shown = policies.shown_distances(kept, found, threshold=0.42, top_k=1)
    assert shown.tolist() == [[0.40, np.inf, np.inf], [0.30, np.inf, np.inf]]


def test_a_threshold_for_a_stranger_rate_tightens_as_the_gallery_grows() -> None:
    impostor = np.linspace(0.0, 1.0, 100_001)  # one comparison in a thousand falls under 0.001
    assert policies.threshold_for_fpir(impostor, 1, 0.01) == pytest.approx(0.01, abs=1e-4)
    small, large = (policies.threshold_for_fpir(impostor, n, 0.01) for n in (1_000, 100_000))
    assert large < small < 0.01


def test_a_grown_gallery_keeps_the_real_cases_first_and_adds_strangers_like_them() -> None:
    population = _population(np.random.default_rng(2))
    bigger = grown(population, 500, "cosine", seed=3)
    assert len(bigger.cases) == 500 and list(bigger.case_ids[:70]) == list(population.case_ids)
    assert bigger.case_ids[70].startswith("synthetic:")
    assert np.allclose(np.linalg.norm(bigger.cases[70:], axis=1), 1.0, atol=1e-5)
    assert len(grown(population, 50, "cosine", seed=3).cases) == 50


def test_review_load_reports_every_policy_at_every_size_with_bands_set_to_todays_fnir() -> None:
    population = _population(np.random.default_rng(4))
    result = review_load(population, [50, 70, 300], {"strong": 0.1, "review": 0.3}, "euclidean", 5, seed=1)
    assert set(result["sizes"]) == {"50", "70", "300"}
    assert result["sizes"]["300"]["synthetic"] == 230 and result["reference_size"] == 70
    at_reference = result["sizes"]["70"]
    for policy in ("density", "reciprocal", "distance+margin", "density+margin"):
        assert at_reference[policy]["review"]["fnir"] <= at_reference["distance"]["review"]["fnir"]
    assert set(result["how_sure_margin"]) == {"distance+margin", "density+margin"}
    assert at_reference["density"]["review"]["false_per_probe"] < at_reference["distance"]["review"]["false_per_probe"]


def test_the_served_rule_is_measured_at_the_services_own_thresholds_not_re_set() -> None:
    population, bands = _population(np.random.default_rng(4)), {"strong": 0.1, "review": 0.3}
    assert "served" not in review_load(population, [70], bands, "euclidean", 5, seed=1)["sizes"]["70"]
    loose = review_load(population, [70], bands, "euclidean", 5, seed=1, served={"strong": 0.12, "review": 0.4})
    tight = review_load(population, [70], bands, "euclidean", 5, seed=1, served={"strong": 0.12, "review": 0.2})
    loose_cell, tight_cell = loose["sizes"]["70"]["served"]["review"], tight["sizes"]["70"]["served"]["review"]
    assert (loose_cell["threshold"], tight_cell["threshold"]) == (0.4, 0.2)
    assert tight_cell["candidates_per_probe"] < loose_cell["candidates_per_probe"]
    assert tight_cell["fnir"] >= loose_cell["fnir"]


def test_how_sure_is_the_share_of_candidates_that_were_the_person_never_rising_with_distance() -> None:
    found = policies.Neighbours(
        distances=np.array([[0.01, 0.04], [0.03, 0.06], [0.035, 0.07]]),
        cases=np.zeros((3, 2), dtype=np.int64),
        is_mate=np.array([[True, False], [True, False], [False, True]]),
    )
    table = policies.calibration(found.distances, found, top_k=2, upto=0.075, width=0.025)
    # up to 0.025: one right of one; up to 0.05: 0.03 right, 0.035 and 0.04 wrong; up to 0.075: 0.07 right of 3
    assert table == [(0.025, 1.0, 1), (0.05, 0.333, 3), (0.075, 0.333, 2)]


@pytest.mark.parametrize("engine", sorted(HOW_SURE))
def test_each_engines_how_sure_table_runs_to_its_review_band_never_rising_with_distance(engine: str) -> None:
    table = HOW_SURE[engine]
    uppers, shares = [d for d, _ in table], [s for _, s in table]
    assert uppers == sorted(uppers) and shares == sorted(shares, reverse=True)
    # Measured at least up to the band, and at most as far as the gallery is asked (dlib's density lets a loner's
    # candidate past the band's distance).
    assert engine_bands(engine)[1] <= uppers[-1] <= engine_bands(engine)[1] + REACH


def test_how_sure_reads_the_table_in_words_a_reviewer_reads_at_a_glance() -> None:
    assert how_sure("arcface", 0.55) == 0.938 and in_words(0.938) == "about 9 in 10"
    assert in_words(how_sure("arcface", 0.2)) == "almost all (99 in 100)"  # type: ignore[arg-type]
    assert in_words(how_sure("arcface", 0.69)) == "about 4 in 100"  # type: ignore[arg-type]
    assert how_sure("arcface", 0.73) is None  # past any candidate served: never measured
    assert in_words(0.979) == "about 98 in 100" and in_words(0.0) == "fewer than 1 in 100"


@pytest.mark.parametrize("engine", sorted(HOW_SURE_TEMPLATE))
def test_each_template_table_runs_past_the_template_threshold_never_rising_and_less_sure_than_one_photo(
    engine: str,
) -> None:
    table = HOW_SURE_TEMPLATE[engine]
    uppers, shares = [d for d, _ in table], [s for _, s in table]
    assert uppers == sorted(uppers) and shares == sorted(shares, reverse=True)
    assert uppers[-2] < TEMPLATE_REVIEW[engine] <= uppers[-1]  # measured up to the threshold's bin
    assert how_sure(engine, 0.625, template=True) < how_sure(engine, 0.625)  # type: ignore[operator]
