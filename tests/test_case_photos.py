"""Cases of several photos (issue 27): the evaluation's policies, and the template rule the service shares."""

from __future__ import annotations

import numpy as np
import pytest

from core.faces.matching import case_distance, case_review, case_templates
from evaluation.case_photos import Photos, case_photos
from evaluation.density_review import margin_served_at, threshold_for_fnir_margin
from evaluation.policies import Neighbours
from evaluation.served_rows import DENSITY_SERVED

DIM = 32


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _two_photo_people(rng: np.random.Generator, n: int = 30) -> Photos:
    """n people, each case two photos on either side of the person; sightings of the person near the middle,
    and strangers who look like one photo of a case only (close to it, far from its other)."""
    centre = _unit(rng.normal(size=(n, DIM)))
    side = _unit(rng.normal(size=(n, DIM)))
    photos = [_unit(np.stack([c + 0.6 * s, c - 0.6 * s])).astype(np.float32) for c, s in zip(centre, side, strict=True)]
    seen = _unit(centre + 0.25 * _unit(rng.normal(size=(n, DIM))))
    like_one = _unit(np.stack([p[0] for p in photos]) + 0.25 * _unit(rng.normal(size=(n, DIM))))
    return Photos(
        np.array([f"p{i}" for i in range(n)]),
        photos,
        np.vstack([seen, like_one]).astype(np.float32),
        np.array([f"p{i}" for i in range(n)] + [f"s{i}" for i in range(n)]),
        np.array([True] * n + [False] * n),
    )


def test_a_cases_template_is_the_mean_of_its_photos_directions_and_one_photo_scores_as_itself() -> None:
    a, b = np.array([2.0, 0.0]), np.array([0.0, 1.0])
    template = case_templates([np.stack([a, b])], "cosine")[0]
    assert template == pytest.approx(np.array([1.0, 1.0]) / np.sqrt(2))  # each photo weighs the same
    assert case_templates([np.stack([a, b])], "euclidean")[0] == pytest.approx([1.0, 0.5])
    face = np.array([0.3, 0.9])
    assert case_distance(face, a[None], "cosine") == pytest.approx(1 - 0.3 / np.linalg.norm(face))


def test_a_look_alike_of_one_photo_is_farther_from_the_case_than_the_person_like_all_of_them() -> None:
    left, right = np.array([1.0, 0.6, 0.0]), np.array([1.0, -0.6, 0.0])
    case = np.stack([left, right])
    look_alike, person = np.array([1.0, 0.62, 0.1]), np.array([1.0, 0.05, 0.1])
    closest = [float(np.min([case_distance(f, p[None], "cosine") for p in case])) for f in (look_alike, person)]
    assert closest[0] < closest[1]  # by the closest photo, the look-alike wins
    assert case_distance(look_alike, case, "cosine") > case_distance(person, case, "cosine")


def test_the_template_threshold_serves_only_cases_of_several_photos() -> None:
    assert case_review(1, 0.7, 0.686) == 0.7
    assert case_review(2, 0.7, 0.686) == case_review(3, 0.7, 0.686) == 0.686
    assert case_review(3, 0.7, None) == 0.7  # an engine that keeps the closest photo


def test_with_two_photos_a_case_the_template_cuts_false_candidates_at_the_same_fnir() -> None:
    photos = _two_photo_people(np.random.default_rng(5))
    result = case_photos(photos, [1, 2], {"strong": 0.1, "review": 0.2}, "cosine", 5, several=0.08)
    one, two = result["counts"]["1"], result["counts"]["2"]
    for band in ("strong", "review"):  # one photo: nothing to average
        assert one["template"][band]["false_per_probe"] == one["min"][band]["false_per_probe"]
    assert two["cases_with_k_photos"] == 30
    assert two["template"]["review"]["fnir"] <= two["min"]["review"]["fnir"]
    assert two["template"]["review"]["false_per_probe"] < two["min"]["review"]["false_per_probe"] / 2
    served = two["served"]
    assert (
        served["template"]["false_per_probe_from_several_photos"] < served["closest photo (today)"]["false_per_probe"]
    )
    assert served["template+margin"]["false_per_probe"] <= served["template"]["false_per_probe"]  # fewer, never more


def test_how_sure_for_template_scored_candidates_pools_cases_of_several_photos_only() -> None:
    photos = _two_photo_people(np.random.default_rng(5))
    bands = {"strong": 0.1, "review": 0.3}
    table = case_photos(photos, [1, 2], bands, "cosine", 5, several=0.2)["how_sure_template"]
    uppers, shares, counts = zip(*table, strict=True)
    assert uppers[-1] == pytest.approx(0.2)  # bins up to the template threshold
    assert list(shares) == sorted(shares, reverse=True) and shares[0] == 1.0
    assert shares[-1] < 1.0  # strangers like one photo, farther from the template than the person
    assert sum(counts) >= 30  # every person's sighting found
    assert case_photos(photos, [2], bands, "cosine", 5, several=0.2)["how_sure_template"] == table  # k=1 adds none
    assert case_photos(photos, [1, 2], bands, "cosine", 5)["how_sure_template"] is None  # closest photo: no table


def test_served_by_density_keeps_todays_fnir_with_a_threshold_per_kind_of_case() -> None:
    photos = _two_photo_people(np.random.default_rng(5))
    for several in (0.08, None):  # arcface's rule (template within its own threshold) and dlib's (closest photo)
        result = case_photos(photos, [1, 2], {"strong": 0.1, "review": 0.2}, "cosine", 5, several=several)
        one, two = result["counts"]["1"], result["counts"]["2"]
        today = "template" if several is not None else "closest photo (today)"
        density = f"{DENSITY_SERVED} at the FNIR of {today}"
        again = two["served"]["template at the FNIR of closest photo (today)"]
        assert again["fnir"] <= two["served"]["closest photo (today)"]["fnir"]
        assert not any(rule.startswith("template at") for rule in one["served"])  # one photo a case: no template
        for row in (one, two):
            served = row["served"][density]
            assert served["target_fnir"] == row["served"][today]["fnir"]
            assert served["fnir"] <= served["target_fnir"]
            # a case of one photo: the density threshold that gives today's band's FNIR with one photo a case
            assert served["one_photo_threshold"] == pytest.approx(one["min+density"]["review"]["threshold"], abs=1e-4)
        false = {rule: cell["false_per_probe"] for rule, cell in two["served"].items()}
        assert false[density] <= false[today] and false[density] < false["closest photo (today)"]


def test_the_margin_as_served_counts_only_candidates_within_their_own_threshold() -> None:
    """A sighting's best case past its own threshold does not set the margin (workers/matching.py near_the_best
    runs over the candidates), and a case of several photos is held to its own threshold."""
    found = Neighbours(
        np.array([[0.66, 0.70, 0.74], [0.50, 0.60, 0.90]]),
        np.array([[1, 0, 2], [0, 1, 2]]),
        np.array([[False, True, False], [True, False, False]]),
    )
    count, mated = np.array([1, 2, 1]), np.array([True, True])
    cell = margin_served_at(found, count, mated, (0.72, 0.65, 0.05), 5)
    assert cell["fnir"] == 0.0 and cell["missed"] == 0  # 0.66 (several, past 0.65) leaves 0.70 the best
    assert cell["false_per_probe"] == 0.0
    assert margin_served_at(found, count, mated, (0.72, 0.70, 0.05), 5)["false_per_probe"] == 0.5
    assert margin_served_at(found, count, mated, (0.72, 0.70, 0.03), 5)["missed"] == 1


def test_the_one_photo_threshold_for_an_fnir_under_the_margin_is_the_lowest_that_keeps_it() -> None:
    found = Neighbours(
        np.array([[0.60, 0.70], [0.65, 0.90], [0.71, 0.95]]),
        np.array([[0, 1], [1, 0], [0, 1]]),
        np.array([[True, False], [True, False], [True, False]]),
    )
    count, mated = np.ones(2, dtype=int), np.ones(3, dtype=bool)
    assert threshold_for_fnir_margin(found, count, mated, (0.0, 0.6, 0.05), 0.0, 5) == pytest.approx(0.71, abs=1e-4)
    assert threshold_for_fnir_margin(found, count, mated, (0.0, 0.6, 0.05), 0.34, 5) == pytest.approx(0.65, abs=1e-4)
