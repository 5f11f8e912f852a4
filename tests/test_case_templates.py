"""A case of several photos is matched by all of them together (issue 27, `eval case-photos`): arcface scores it
by its template, the mean of its photos, so a look-alike of one photo is no longer a candidate and the person
like all of them comes first.

Synthetic arcface vectors (512-d, cosine) at exact angles: the case's two photos lie either side of the person.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from bson import ObjectId

from config import Settings
from core.faces.calibration import TEMPLATE_REVIEW
from core.faces.matching import Hit, scored_case
from storage.connections import Connections, Database
from storage.faces import face_record, sealed_vector
from tests.test_vector_index import new_case
from workers import context
from workers.matching import match_photo

E = np.linalg.qr(np.random.default_rng(3).normal(size=(512, 512)))[0].T  # 512 orthonormal rows
COS_PHOTO = 0.8  # each photo 0.2 from the person's template; the two photos 0.72 apart
PHOTOS = (COS_PHOTO * E[0] + 0.6 * E[1], COS_PHOTO * E[0] - 0.6 * E[1])
LOOK_ALIKE = 0.38 * PHOTOS[0] + np.sqrt(1 - 0.38**2) * E[2]  # 0.62 from photo 1 (review today), 0.70 from template
PERSON = 0.5 * E[0] + np.sqrt(0.75) * E[3]  # 0.50 from the template (strong), 0.60 from either photo


def add_arcface_face(db: Database, owner: tuple[str, str], vector: np.ndarray) -> ObjectId:
    """One usable arcface face of its own photo, analysed, as the photo job leaves it; its photo's id."""
    photo_id, now = ObjectId(), datetime.now(UTC)
    record = {"photo_id": photo_id, "engine": "arcface", "index": 0}
    db.faces.insert_one(
        record
        | {
            "owner": {"kind": owner[0], "id": owner[1]},
            "quality": "ok",
            "encoding": sealed_vector(np.asarray(vector, dtype=np.float32), face_record(record)),
            "created_at": now,
            "matchable_since": now,
        }
    )
    owned = {"owner": {"kind": owner[0], "id": owner[1]}, "sha256": str(photo_id)}
    db.photos.insert_one({"_id": photo_id, **owned, "status": "analysed"})
    return photo_id


def candidates_of(db: Database, sighting: str) -> dict[str, tuple[str, float]]:
    return {c["case"]: (c["band"], c["distance"]) for c in db.candidates.find({"sighting": sighting})}


@pytest.fixture
def arcface_worker(settings: Settings, connections: Connections) -> context.WorkerContext:
    arcface = dataclasses.replace(settings, face_engine="arcface", match_strong=0.55, match_review=0.70)
    installed = context.WorkerContext(arcface, connections)
    context.install(installed)
    return installed


def two_photo_case(db: Database) -> tuple[str, list[ObjectId]]:
    case = new_case(db, "family-two-photos")
    return case, [add_arcface_face(db, ("case", case), photo) for photo in PHOTOS]


def test_a_look_alike_of_one_photo_is_no_candidate_and_the_person_like_both_is_strong(
    arcface_worker: context.WorkerContext,
) -> None:
    db = arcface_worker.connections.db
    case, _ = two_photo_case(db)
    match_photo(str(add_arcface_face(db, ("sighting", "SG-LOOK-ALIKE"), LOOK_ALIKE)))
    match_photo(str(add_arcface_face(db, ("sighting", "SG-PERSON"), PERSON)))
    assert candidates_of(db, "SG-LOOK-ALIKE") == {}  # by its closest photo it was a candidate at 0.62
    band, distance = candidates_of(db, "SG-PERSON")[case]
    assert band == "strong" and distance == pytest.approx(0.50, abs=1e-3)  # by its closest photo, review at 0.60


def test_a_case_reported_after_the_sightings_scores_them_the_same_way(arcface_worker: context.WorkerContext) -> None:
    db = arcface_worker.connections.db
    for sighting, vector in (("SG-LOOK-ALIKE", LOOK_ALIKE), ("SG-PERSON", PERSON)):
        add_arcface_face(db, ("sighting", sighting), vector)
    case, photos = two_photo_case(db)
    match_photo(str(photos[1]))  # the second photo's analysis: the case has both
    assert candidates_of(db, "SG-LOOK-ALIKE") == {}
    band, distance = candidates_of(db, "SG-PERSON")[case]
    assert band == "strong" and distance == pytest.approx(0.50, abs=1e-3)


def test_a_look_alike_of_the_first_photo_leaves_the_queue_when_the_second_arrives_and_a_decided_one_stays(
    arcface_worker: context.WorkerContext,
) -> None:
    """Photos of one report are analysed one by one: the first alone made the look-alike a candidate."""
    db = arcface_worker.connections.db
    for sighting, vector in (("SG-LOOK-ALIKE", LOOK_ALIKE), ("SG-DECIDED", LOOK_ALIKE), ("SG-PERSON", PERSON)):
        add_arcface_face(db, ("sighting", sighting), vector)
    case = new_case(db, "family-photos-one-by-one")
    match_photo(str(add_arcface_face(db, ("case", case), PHOTOS[0])))
    assert candidates_of(db, "SG-LOOK-ALIKE")[case][1] == pytest.approx(0.62, abs=1e-3)  # one photo: a candidate
    db.candidates.update_one({"sighting": "SG-DECIDED"}, {"$set": {"status": "rejected"}})  # a reviewer saw it
    match_photo(str(add_arcface_face(db, ("case", case), PHOTOS[1])))
    assert candidates_of(db, "SG-LOOK-ALIKE") == {}  # as if both photos had come together
    assert case in candidates_of(db, "SG-DECIDED")  # what a reviewer decided is kept as decided
    assert candidates_of(db, "SG-PERSON")[case][0] == "strong"


def test_a_case_of_one_photo_keeps_its_photos_distance_and_the_review_band() -> None:
    hit, several = Hit("C-1", 0, 0.69), TEMPLATE_REVIEW["arcface"]
    one = scored_case(hit, LOOK_ALIKE, np.stack(PHOTOS[:1]), "cosine", 0.70, several)
    assert one == hit  # 0.69 is within the review band; a template threshold would have dropped it
    assert scored_case(hit, LOOK_ALIKE, np.stack(PHOTOS), "cosine", 0.70, None) == hit  # dlib: closest photo
    both = scored_case(Hit("C-1", 0, 0.6), PERSON, np.stack(PHOTOS), "cosine", 0.70, several)
    assert both is not None and both.distance == pytest.approx(0.50)


def test_reading_the_candidate_cases_photos_uses_the_owner_index(connections: Connections) -> None:
    """Asked for every sighting face, however many faces the register holds."""
    query = {"owner.kind": "case", "owner.id": {"$in": ["HW-A", "HW-B"]}}
    plan = connections.db.faces.find(query).explain()["queryPlanner"]["winningPlan"]
    assert "COLLSCAN" not in json.dumps(plan, default=str)
