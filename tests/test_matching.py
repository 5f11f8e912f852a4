"""Matching end to end through the chat path: the right candidate, once, and none for strangers or closed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings
from storage.connections import Connections
from tests.chat_harness import Harness

SAME_PERSON = ["Colin_Powell_0001", "Colin_Powell_0002", "Colin_Powell_0003"]


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    return Harness(settings, connections)


def lfw(faces_dir: Path, name: str) -> Path:
    return faces_dir / "lfw" / name.rsplit("_", 1)[0] / f"{name}.jpg"


def send(harness: Harness, user: str, text: str = "", photo: Path | None = None) -> None:
    assert harness.simulator_send(user, text, photo) == 200
    harness.work()


def report_case(harness: Harness, user: str, name: str, photo: Path) -> str:
    for text in ("hi", "yes", "1", name, "60", "skip", "Leeds", "yesterday", "skip"):
        send(harness, user, text)
    send(harness, user, photo=photo)
    send(harness, user, "done")
    send(harness, user, "yes")
    return str(harness.db.cases.find_one({"reporter": f"simulator:{user}"}, sort=[("created_at", -1)])["reference"])


def report_sighting(harness: Harness, user: str, photo: Path) -> str:
    for text in ("hi", "yes"):
        send(harness, user, text)
    send(harness, user, photo=photo)
    for text in ("Leeds station", "now", "skip"):
        send(harness, user, text)
    return str(harness.db.sightings.find_one({"reporter": f"simulator:{user}"}, sort=[("created_at", -1)])["reference"])


def test_a_sighting_of_the_missing_person_becomes_one_candidate(harness: Harness, faces_dir: Path) -> None:
    case = report_case(harness, "family", "Colin Powell", lfw(faces_dir, SAME_PERSON[0]))
    seen = report_sighting(harness, "citizen-1", lfw(faces_dir, SAME_PERSON[1]))
    stranger = report_sighting(harness, "citizen-2", lfw(faces_dir, "George_W_Bush_0001"))
    candidates = list(harness.db.candidates.find())
    assert [(c["case"], c["sighting"]) for c in candidates] == [(case, seen)]
    assert candidates[0]["distance"] < 0.6 and candidates[0]["band"] in ("strong", "review")
    assert not harness.db.candidates.find_one({"sighting": stranger})
    from workers.matching import match_photo  # noqa: PLC0415 - run the same job again by hand

    match_photo(str(candidates[0]["sighting_photo_id"]))
    assert harness.db.candidates.count_documents({}) == 1  # never created twice


def test_a_face_still_owned_by_the_draft_is_matched_as_its_sightings(harness: Harness, faces_dir: Path) -> None:
    case = report_case(harness, "family", "Colin Powell", lfw(faces_dir, SAME_PERSON[0]))
    seen = report_sighting(harness, "citizen-1", lfw(faces_dir, SAME_PERSON[1]))
    photo = harness.db.photos.find_one({"owner.kind": "sighting", "owner.id": seen})
    # The analysis recorded the photo but had not yet moved its face when the draft became this sighting.
    harness.db.faces.update_many({"photo_id": photo["_id"]}, {"$set": {"owner": {"kind": "draft", "id": "x"}}})
    harness.db.candidates.delete_many({})
    from workers.matching import match_photo  # noqa: PLC0415 - the match job queued in between

    match_photo(str(photo["_id"]))
    assert [(c["case"], c["sighting"]) for c in harness.db.candidates.find()] == [(case, seen)]


def test_a_case_reported_after_the_sighting_still_gets_its_candidate(harness: Harness, faces_dir: Path) -> None:
    seen = report_sighting(harness, "early-citizen", lfw(faces_dir, SAME_PERSON[1]))
    case = report_case(harness, "late-family", "Colin Powell", lfw(faces_dir, SAME_PERSON[2]))
    assert [(c["case"], c["sighting"]) for c in harness.db.candidates.find()] == [(case, seen)]


def test_a_closed_case_gets_no_new_candidates(harness: Harness, faces_dir: Path) -> None:
    case = report_case(harness, "family", "Colin Powell", lfw(faces_dir, SAME_PERSON[0]))
    report_sighting(harness, "citizen-1", lfw(faces_dir, SAME_PERSON[1]))  # warms this worker's gallery
    send(harness, "family", f"found {case}")
    assert harness.db.cases.find_one({"reference": case})["status"] == "closed"
    harness.db.candidates.delete_many({})
    report_sighting(harness, "citizen-2", lfw(faces_dir, SAME_PERSON[2]))
    assert harness.db.candidates.count_documents({}) == 0


def test_the_same_person_reported_twice_is_flagged(harness: Harness, faces_dir: Path) -> None:
    first = report_case(harness, "mother", "Colin Powell", lfw(faces_dir, SAME_PERSON[0]))
    second = report_case(harness, "brother", "Colin L. Powell", lfw(faces_dir, SAME_PERSON[1]))
    flagged = harness.db.cases.find_one({"reference": second})
    assert [d["case"] for d in flagged.get("possible_duplicates", [])] == [first]


def test_faces_of_a_group_photo_sent_for_a_case_do_not_match(harness: Harness, faces_dir: Path) -> None:
    """Until the family sends a photo of the missing person alone, bystanders must not become candidates."""
    report_case(harness, "family", "Barack Obama", faces_dir / "groups/two_people.jpg")
    assert {f["quality"] for f in harness.db.faces.find({"owner.kind": "case"})} == {"ambiguous"}
    report_sighting(harness, "citizen", faces_dir / "small/face_recognition_examples/Barack_Obama/obama.jpg")
    assert harness.db.candidates.count_documents({}) == 0
    said = [m["text"] for m in harness.db.outbox.find({"contact": "simulator:family"})]
    assert any("shows 2 faces" in text for text in said)
