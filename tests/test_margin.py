"""At most one case is the person: a case well behind a sighting's best candidate is not put before a reviewer
(core/faces/calibration.py MARGIN; `eval review-load`: half the false candidates at the same misses). For dlib the
candidates are also decided by their density score, so a loner's match a little past the old band is shown.

Synthetic vectors at exact distances (orthonormal offsets), in a gallery of over 60 cases where the density
score applies (dlib) and a small one (arcface, by the distance).
"""

from __future__ import annotations

import numpy as np
import pytest

from storage.connections import Database
from tests.test_case_templates import E, add_arcface_face, arcface_worker  # noqa: F401 - fixture
from tests.test_strong_band import DIRECTIONS, SIGHTING_B, bands_of, crowded_gallery, seen, worker  # noqa: F401 - fixture
from tests.test_vector_index import add_face, new_case
from workers import context
from workers.matching import match_photo


def dlib_case(db: Database, distance: float, direction: int) -> str:
    """An open case whose face is `distance` from sighting B (far from every other case)."""
    case = new_case(db, f"family-{direction}")
    add_face(db, ("case", case), SIGHTING_B + distance * DIRECTIONS[direction])
    return case


def test_a_case_far_behind_the_sightings_best_is_no_candidate(
    worker: context.WorkerContext,  # noqa: F811 - the fixture imported above
) -> None:
    db = worker.connections.db
    crowded_gallery(db)  # case B 0.40 from sighting B, and 61 cases far from it
    closer, near_it, behind = dlib_case(db, 0.25, 110), dlib_case(db, 0.27, 111), dlib_case(db, 0.50, 112)
    match_photo(str(seen(db, "sighting", "SG-B", SIGHTING_B)))
    shown = bands_of(db, "SG-B")
    # 0.50 is within the old band (0.55) and was a candidate; now it is far behind the best.
    assert closer in shown and near_it in shown and behind not in shown


def test_a_case_reported_later_far_behind_the_sightings_best_is_no_candidate(
    worker: context.WorkerContext,  # noqa: F811 - the fixture imported above
) -> None:
    db = worker.connections.db
    crowded_gallery(db)
    closer = dlib_case(db, 0.25, 110)
    match_photo(str(seen(db, "sighting", "SG-B", SIGHTING_B)))
    late_behind = new_case(db, "family-late-behind")
    match_photo(str(seen(db, "case", late_behind, SIGHTING_B + 0.50 * DIRECTIONS[112])))
    late_best = new_case(db, "family-late-best")
    match_photo(str(seen(db, "case", late_best, SIGHTING_B + 0.22 * DIRECTIONS[113])))
    assert set(bands_of(db, "SG-B")) == {closer, late_best}


def test_a_loners_match_a_little_past_the_old_band_is_shown(
    worker: context.WorkerContext,  # noqa: F811 - the fixture imported above
) -> None:
    """Far from every other face, 0.60 apart is close: the density score makes it a candidate (the distance
    alone stopped at 0.55)."""
    db = worker.connections.db
    crowded_gallery(db)  # 62 cases, all over 1.0 from the sighting below
    alone = new_case(db, "family-alone")
    add_face(db, ("case", alone), DIRECTIONS[90] + 0.60 * DIRECTIONS[91])
    match_photo(str(seen(db, "sighting", "SG-ALONE", DIRECTIONS[90])))
    assert alone in bands_of(db, "SG-ALONE")


def arcface_case(db: Database, distance: float, direction: int) -> str:
    """An open case of one photo at cosine `distance` from the sighting (E[0])."""
    case = new_case(db, f"family-{direction}")
    add_arcface_face(db, ("case", case), (1 - distance) * E[0] + np.sqrt(1 - (1 - distance) ** 2) * E[direction])
    return case


def test_arcface_keeps_the_cases_near_the_best_and_drops_one_far_behind(
    arcface_worker: context.WorkerContext,  # noqa: F811 - the fixture imported above
) -> None:
    db = arcface_worker.connections.db
    best, near_it, _behind = arcface_case(db, 0.45, 10), arcface_case(db, 0.48, 11), arcface_case(db, 0.62, 12)
    match_photo(str(add_arcface_face(db, ("sighting", "SG-ARC"), E[0])))
    found = {c["case"]: c["distance"] for c in db.candidates.find({"sighting": "SG-ARC"})}
    assert set(found) == {best, near_it}  # 0.62 is within the band (0.70), 0.17 behind the best
    assert found[best] == pytest.approx(0.45, abs=1e-3)


def test_arcface_in_a_gallery_of_60_cases_shows_a_loners_one_photo_case_a_little_past_the_band(
    arcface_worker: context.WorkerContext,  # noqa: F811 - the fixture imported above
) -> None:
    """Over 60 open cases, arcface's one-photo cases are judged by their density score (within 0.727): far from
    everyone, 0.72 apart is close. In a smaller gallery the band (0.70) decides, as the test above."""
    db = arcface_worker.connections.db
    for n in range(60):  # strangers: every one 1.0 from the sighting and from each other
        add_arcface_face(db, ("case", new_case(db, f"family-far-{n}")), E[100 + n])
    alone = arcface_case(db, 0.72, 20)
    match_photo(str(add_arcface_face(db, ("sighting", "SG-ALONE"), E[0])))
    found = {c["case"]: c["band"] for c in db.candidates.find({"sighting": "SG-ALONE"})}
    assert found == {alone: "review"}
