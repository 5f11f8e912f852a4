"""Found persons matched against cases both ways, with the consistency flags a reviewer sees."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pymongo.database import Database

from config import Settings
from core.found.record import FoundPerson
from services.media_links import photo_token
from services.queue import enqueue_photo_analysis
from storage.candidates import review_queue
from storage.cases import MOST_ASKED_BY_NAME
from storage.connections import Connections
from storage.found_persons import (
    close_found_person,
    create_found_person,
    found_owner,
    open_found_references,
)
from storage.organisations import create_organisation
from storage.photos import save_photo
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_admin_access import PASSWORD, login
from tests.test_api_cases_family import police_of, register_with_photo
from tests.test_found_import import HEADER, import_, summary_of, write_zip
from tests.test_matching import SAME_PERSON, lfw, send
from workers.reconciler import reconcile

STRANGER = "George_W_Bush_0001"


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    return Harness(settings, connections)


def register_found(harness: Harness, photo: Path, name: str = "Shelter North", **fields: object) -> str:
    """A found person registered with one photo, as the panel form and the import do: stored, then analysed."""
    db = harness.db
    organisation = db.organisations.find_one({"name": name})
    org_id = organisation["_id"] if organisation else create_organisation(db, name, "shelter", phone="+44 113 000")
    record = FoundPerson(**({"found_on": date.today(), "held_at": "Ward 3"} | fields))  # type: ignore[arg-type]
    reference = create_found_person(db, org_id, record, f"test:{photo.name}:{fields}", "registrar")
    saved = save_photo(db, photo.read_bytes(), found_owner(reference), "image/jpeg")
    assert harness.context.queue is not None
    enqueue_photo_analysis(harness.context.queue, str(saved.id))
    harness.work()
    return reference


def report(harness: Harness, user: str, photo: Path, age: str = "60", gender: str = "skip") -> str:
    for text in ("hi", "yes", "1", "Colin Powell", age, gender, "Leeds", "yesterday", "skip"):
        send(harness, user, text)
    send(harness, user, photo=photo)
    send(harness, user, "done")
    send(harness, user, "yes")
    return str(harness.db.cases.find_one({"reporter": f"simulator:{user}"}, sort=[("created_at", -1)])["reference"])


def found_candidates(harness: Harness) -> list[tuple[str, str, str]]:
    return [(c["case"], c.get("kind", "sighting"), c.get("found")) for c in harness.db.candidates.find()]


def test_a_found_person_registered_first_meets_the_case_reported_later(harness: Harness, faces_dir: Path) -> None:
    found = register_found(harness, lfw(faces_dir, SAME_PERSON[0]))
    register_found(harness, lfw(faces_dir, STRANGER))
    assert harness.db.candidates.count_documents({}) == 0  # no case yet
    case = report(harness, "family", lfw(faces_dir, SAME_PERSON[1]))
    assert found_candidates(harness) == [(case, "found", found)]
    candidate = harness.db.candidates.find_one()
    assert "sighting" not in candidate and candidate["band"] in ("strong", "review")


def test_a_found_person_registered_after_the_case_becomes_its_candidate(harness: Harness, faces_dir: Path) -> None:
    case = report(harness, "family", lfw(faces_dir, SAME_PERSON[0]))
    found = register_found(harness, lfw(faces_dir, SAME_PERSON[1]))
    register_found(harness, lfw(faces_dir, STRANGER))
    assert found_candidates(harness) == [(case, "found", found)]
    from workers.matching import match_photo  # noqa: PLC0415 - the same job again, as a retry would

    match_photo(str(harness.db.candidates.find_one()["sighting_photo_id"]))
    assert harness.db.candidates.count_documents({}) == 1


def test_a_closed_found_person_is_no_longer_matched(harness: Harness, faces_dir: Path) -> None:
    found = register_found(harness, lfw(faces_dir, SAME_PERSON[0]))
    report(harness, "family", lfw(faces_dir, SAME_PERSON[1]))  # warms this worker's found-person index
    assert close_found_person(harness.db, found, "transferred", "registrar")
    harness.db.candidates.delete_many({})
    report(harness, "other-family", lfw(faces_dir, SAME_PERSON[2]))
    assert harness.db.candidates.count_documents({"kind": "found"}) == 0


def test_flags_say_what_cannot_both_be_true_and_flagged_candidates_wait_behind(
    harness: Harness, faces_dir: Path
) -> None:
    case = report(harness, "family", lfw(faces_dir, SAME_PERSON[0]), age="10", gender="male")
    unlikely = register_found(harness, lfw(faces_dir, SAME_PERSON[1]), gender="female", age_min=60, age_max=70)
    plausible = register_found(harness, lfw(faces_dir, SAME_PERSON[2]), gender="male", age_min=8, age_max=14)
    by_found = {c["found"]: c for c in harness.db.candidates.find({"case": case})}
    assert [f["code"] for f in by_found[unlikely]["flags"]] == ["gender", "age"]
    assert "10 when reported" in by_found[unlikely]["flags"][1]["detail"]
    assert by_found[plausible]["flags"] == []
    # Same band for the comparison: the flagged one waits behind, never hidden.
    harness.db.candidates.update_many({}, {"$set": {"band": "review", "band_rank": 1}})
    assert [c.get("found") for c in review_queue(harness.db, 0, 10)] == [plausible, unlikely]


def test_a_finding_before_the_person_went_missing_is_flagged(harness: Harness, faces_dir: Path) -> None:
    earlier = date.today().replace(year=date.today().year - 1)
    found = register_found(harness, lfw(faces_dir, SAME_PERSON[0]), found_on=earlier)
    report(harness, "family", lfw(faces_dir, SAME_PERSON[1]))
    flags = harness.db.candidates.find_one({"found": found})["flags"]
    assert [f["code"] for f in flags] == ["before_missing"]
    assert "last seen" in flags[0]["detail"]  # the family said "yesterday": the last-seen date, not the report's


def test_a_corrected_record_is_flagged_again_while_its_candidate_waits_and_a_decided_one_keeps_its_flags(
    harness: Harness, environment: dict[str, str], faces_dir: Path, tmp_path: Path
) -> None:
    """The shelter's file said a woman of 20 to 30; its next import corrects it to a man of 55 to 70."""
    create_user(harness.db, "reviewer", PASSWORD, "reviewer")
    case = report(harness, "family", lfw(faces_dir, SAME_PERSON[0]), age="60", gender="male")
    create_organisation(harness.db, "Shelter North", "shelter")
    archive = write_zip(tmp_path / "photos.zip", {"colin.jpg": lfw(faces_dir, SAME_PERSON[1]).read_bytes()})

    def imported(gender: str, ages: str) -> dict[str, object]:
        csv = tmp_path / "found.csv"
        csv.write_text(f"{HEADER}\nSN-7,{date.today().isoformat()},,Ward 3,{ages},{gender},alive,,colin.jpg\n")
        summary = summary_of(import_(environment, str(csv), "--photos", str(archive), "--org", "Shelter North"))
        harness.work()
        candidate = harness.db.candidates.find_one({"case": case})
        assert candidate is not None and summary["rejected"] == []
        return candidate

    flagged = imported("female", "20,30")
    assert [f["code"] for f in flagged["flags"]] == ["gender", "age"] and flagged["flagged"] == 1
    corrected = imported("male", "55,70")
    assert corrected["_id"] == flagged["_id"] and corrected["flags"] == [] and corrected["flagged"] == 0
    approve(harness, corrected["_id"])
    decided = imported("female", "55,70")  # wrong again after the decision: the reviewer decided on no flag
    assert decided["status"] == "approved" and decided["flags"] == []
    assert harness.db.found_persons.find_one({"external_id": "SN-7"})["gender"] == "female"


def test_the_candidate_page_shows_the_organisations_record_and_a_deceased_persons_photos_to_reviewers_only(
    harness: Harness, faces_dir: Path
) -> None:
    for role in ("viewer", "reviewer"):
        create_user(harness.db, role, PASSWORD, role)
    report(harness, "family", lfw(faces_dir, SAME_PERSON[0]), age="60", gender="male")
    found = register_found(
        harness, lfw(faces_dir, SAME_PERSON[1]), condition="deceased", gender="male", age_min=55, age_max=70
    )
    candidate = harness.db.candidates.find_one({"found": found})
    page_of = f"/candidates/{candidate['_id']}"
    crop = f"/images/faces/{candidate['sighting_face_id']}/crop.jpg"
    viewer, reviewer = harness.app.test_client(), harness.app.test_client()
    login(viewer, "viewer")
    login(reviewer, "reviewer")
    page = viewer.get(page_of).get_data(as_text=True)
    for shown in ("Shelter North", "Ward 3", "55–70", "deceased", f"Found person {found}"):
        assert shown in page
    assert crop not in page and 'id="deceased-hidden"' in page
    assert viewer.get(crop).status_code == 404  # not by guessing the address either
    assert crop in reviewer.get(page_of).get_data(as_text=True)
    answer = reviewer.get(crop)
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    assert f"Found person {found}" in viewer.get("/review").get_data(as_text=True)


def approve(harness: Harness, candidate_id: object) -> None:
    reviewer = harness.app.test_client()
    token = login(reviewer, "reviewer")
    answer = reviewer.post(f"/candidates/{candidate_id}/decide", data={"action": "approve", "csrf_token": token})
    assert answer.status_code == 302
    harness.work()


def test_approving_tells_the_family_in_its_language_whom_to_contact_and_what_to_quote(
    harness: Harness, faces_dir: Path
) -> None:
    create_user(harness.db, "reviewer", PASSWORD, "reviewer")
    case = report(harness, "family", lfw(faces_dir, SAME_PERSON[0]))
    send(harness, "family", "language hi")
    found = register_found(harness, lfw(faces_dir, SAME_PERSON[1]), external_id="SN-0042")
    candidate = harness.db.candidates.find_one({"found": found})
    approve(harness, candidate["_id"])
    told = harness.db.outbox.find_one({"source": f"approve:{candidate['_id']}"})
    for said in ("Shelter North", "+44 113 000", case, found, "SN-0042", "संपर्क करें"):
        assert said in told["text"]
    assert told["photo_id"] == candidate["sighting_photo_id"] and told["status"] == "sent"
    person = harness.db.found_persons.find_one({"reference": found})
    assert [t["case"] for t in person["families_told"]] == [case]  # what the organisation's registrars are shown
    assert harness.db.candidates.find_one({"_id": candidate["_id"]})["told_at"] is not None


def test_a_deceased_persons_photo_is_never_sent_to_the_family(harness: Harness, faces_dir: Path) -> None:
    create_user(harness.db, "reviewer", PASSWORD, "reviewer")
    case = report(harness, "family", lfw(faces_dir, SAME_PERSON[0]))
    found = register_found(harness, lfw(faces_dir, SAME_PERSON[1]), condition="deceased")
    candidate = harness.db.candidates.find_one({"found": found})
    approve(harness, candidate["_id"])
    reconcile(harness.context, datetime.now(UTC) + timedelta(hours=1))  # the reconciler telling the family again
    harness.work()
    told = harness.db.outbox.find_one({"source": f"approve:{candidate['_id']}"})
    assert "deceased" in told["text"] and "Shelter North" in told["text"] and case in told["text"]
    photos = {p["_id"] for p in harness.db.photos.find({"owner.kind": "found", "owner.id": found})}
    assert photos and all(m.get("photo_id") not in photos for m in harness.db.outbox.find())
    for photo_id in photos:  # nor through a media link, whoever made it
        token = photo_token(harness.context.settings.secret_key, str(photo_id))
        assert harness.app.test_client().get(f"/media/{token}").status_code == 404


def test_the_open_found_persons_among_many_asked_for(db: Database) -> None:
    """What a worker's index keeps of a bulk import's faces: the open ones, whether asked by name or not."""
    shelter = create_organisation(db, "Shelter South", "shelter")
    references = [
        create_found_person(db, shelter, FoundPerson(found_on=date.today()), f"test:{n}", "registrar") for n in range(3)
    ]
    close_found_person(db, references[0], "reunited", "registrar")
    many = references + [f"FP-NONE{n}" for n in range(MOST_ASKED_BY_NAME)]
    assert open_found_references(db, references) == open_found_references(db, many) == set(references[1:])
    assert open_found_references(db) == set(references[1:])


def test_an_organisations_corrected_case_flags_its_waiting_candidate_again(harness: Harness, faces_dir: Path) -> None:
    """The police registered a girl of 9 by API; the found man of 55 to 70 is flagged, until they correct it."""
    police, _ = police_of(harness)
    case = register_with_photo(police, lfw(faces_dir, SAME_PERSON[0]).read_bytes())["reference"]
    harness.work()
    register_found(harness, lfw(faces_dir, SAME_PERSON[1]), gender="male", age_min=55, age_max=70)
    flagged = harness.db.candidates.find_one({"case": case})
    assert flagged is not None and [f["code"] for f in flagged["flags"]] == ["gender", "age"]
    etag = police.call("GET", f"/cases/{case}").headers["ETag"]
    answer = police.call("PATCH", f"/cases/{case}", {"age": 60, "gender": "male"}, If_Match=etag)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    corrected = harness.db.candidates.find_one({"_id": flagged["_id"]})
    assert corrected["flags"] == [] and corrected["flagged"] == 0  # the queue's order follows the record
