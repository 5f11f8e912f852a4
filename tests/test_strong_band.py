"""Which candidates come first: strong by the density score, not the raw distance (issue 27, review-load.md).

Synthetic dlib-scale vectors placed at exact distances (orthonormal offsets), so each test knows the crowd.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from bson import ObjectId

from config import Settings
from core.faces.calibration import DENSITY
from core.faces.matching import Bands, density_band
from storage.connections import Connections, Database
from tests.test_vector_index import add_face, new_case
from workers import context
from workers.matching import match_photo

DIRECTIONS = np.linalg.qr(np.random.default_rng(7).normal(size=(128, 128)))[0].T  # 128 orthonormal rows
SIGHTING_A = np.zeros(128)  # in a crowd of look-alike cases 0.40 away
SIGHTING_B = 1.0 * DIRECTIONS[100]  # alone: every case but its own is over 1.0 away


def crowded_gallery(db: Database, look_alikes: int = 60) -> tuple[str, str]:
    """Case A 0.38 from sighting A among look-alikes 0.40 from it; case B 0.40 from sighting B, far from the rest."""
    case_a, case_b = new_case(db, "family-a"), new_case(db, "family-b")
    add_face(db, ("case", case_a), SIGHTING_A + 0.38 * DIRECTIONS[0])
    add_face(db, ("case", case_b), SIGHTING_B + 0.40 * DIRECTIONS[101])
    for n in range(look_alikes):
        add_face(db, ("case", new_case(db, f"family-{n}")), SIGHTING_A + 0.40 * DIRECTIONS[1 + n])
    return case_a, case_b


def seen(db: Database, kind: str, owner: str, vector: np.ndarray) -> ObjectId:
    """A photo analysed into one usable face, as the photo job leaves it."""
    face = db.faces.find_one({"_id": add_face(db, (kind, owner), vector)})
    db.photos.insert_one({"_id": face["photo_id"], "owner": face["owner"], "status": "analysed"})
    return face["photo_id"]


def bands_of(db: Database, sighting: str) -> dict[str, str]:
    return {c["case"]: c["band"] for c in db.candidates.find({"sighting": sighting})}


@pytest.fixture
def worker(settings: Settings, connections: Connections) -> context.WorkerContext:
    installed = context.WorkerContext(settings, connections)
    context.install(installed)
    return installed


def test_a_sighting_in_a_crowd_of_look_alikes_waits_in_review_and_a_clear_match_apart_comes_first(
    worker: context.WorkerContext,
) -> None:
    db = worker.connections.db
    case_a, case_b = crowded_gallery(db)
    match_photo(str(seen(db, "sighting", "SG-CROWD", SIGHTING_A)))
    match_photo(str(seen(db, "sighting", "SG-ALONE", SIGHTING_B)))
    crowd = bands_of(db, "SG-CROWD")
    # All five within 0.42 (strong by distance), none strong by density: a face near everyone.
    assert len(crowd) == 5 and case_a in crowd and set(crowd.values()) == {"review"}
    assert bands_of(db, "SG-ALONE") == {case_b: "strong"}
    assert db.candidates.find_one({"case": case_a})["distance"] == pytest.approx(0.38, abs=1e-3)  # kept as is


def test_a_case_reported_after_the_sighting_gets_the_same_band(worker: context.WorkerContext) -> None:
    """The retroactive path scores the pair as the new-sighting path does."""
    db = worker.connections.db
    crowded_gallery(db)
    seen(db, "sighting", "SG-EARLY", SIGHTING_A + 0.01 * DIRECTIONS[120])
    late = new_case(db, "family-late")
    match_photo(str(seen(db, "case", late, SIGHTING_A + 0.37 * DIRECTIONS[121])))
    assert bands_of(db, "SG-EARLY") == {late: "review"}


def test_with_the_distance_rule_the_distance_decides(settings: Settings, connections: Connections) -> None:
    """HOMEWARD_STRONG_BAND=distance: an operator's way back to the rule before density."""
    context.install(context.WorkerContext(dataclasses.replace(settings, strong_band="distance"), connections))
    crowded_gallery(connections.db)
    match_photo(str(seen(connections.db, "sighting", "SG-CROWD", SIGHTING_A)))
    assert set(bands_of(connections.db, "SG-CROWD").values()) == {"strong"}


def test_in_a_gallery_of_fewer_than_60_cases_the_distance_decides(worker: context.WorkerContext) -> None:
    """52 open cases: too few for a sighting's 10th to 50th nearest to say how crowded it is."""
    db = worker.connections.db
    case_a, _ = crowded_gallery(db, look_alikes=50)
    match_photo(str(seen(db, "sighting", "SG-SMALL", SIGHTING_A)))
    assert set(bands_of(db, "SG-SMALL").values()) == {"strong"} and case_a in bands_of(db, "SG-SMALL")


def test_the_density_band_against_the_engines_measured_threshold() -> None:
    """Crowding halves: the same distance is strong among loners, review among look-alikes."""
    bands, dlib = Bands(0.42, 0.55), DENSITY["dlib"]
    loners, look_alikes = [0.8] * 60, [0.4] * 60
    assert density_band(0.45, loners, [0.85] * 10, bands, dlib.typical, dlib.strong) == "strong"
    assert density_band(0.38, look_alikes, [0.45] * 10, bands, dlib.typical, dlib.strong) == "review"
    assert density_band(0.60, loners, [0.85] * 10, bands, dlib.typical, dlib.strong) is None  # never created
    assert density_band(0.38, look_alikes[:59], [0.45] * 10, bands, dlib.typical, dlib.strong) == "strong"
