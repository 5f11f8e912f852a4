"""A registrar follows its found persons' matches: what each became, the families told, and the outcome it sets.

A real case (reported in the chat) and a real found person (registered with a photo of the same man) meet in
matching; a reviewer approves; the registrar of the organisation holding him is told, and records the reunion.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from bson import ObjectId
from pymongo.database import Database

from config import Settings
from core.found.record import FoundPerson
from storage.connections import Connections
from storage.found_persons import create_found_person, families_told
from storage.organisations import create_organisation
from storage.schema import date_families_told
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_found_matching import approve, register_found, report
from tests.test_found_panel import signed_in, token_of
from tests.test_matching import SAME_PERSON, lfw
from tests.test_panel_security import PASSWORD

SHELTER = "Shelter North"


def menu(page: str) -> str:
    return page.split("</nav>")[0]


def test_a_registrar_follows_its_match_from_review_to_reunion_and_another_organisation_sees_none_of_it(
    settings: Settings, connections: Connections, faces_dir: Path
) -> None:
    harness = Harness(settings, connections)
    db = harness.db
    create_user(db, "reviewer", PASSWORD, "reviewer")
    case = report(harness, "family", lfw(faces_dir, SAME_PERSON[0]))
    found = register_found(harness, lfw(faces_dir, SAME_PERSON[1]), name=SHELTER, external_id="SN-0042")
    candidate = db.candidates.find_one({"found": found})
    assert candidate is not None and candidate["status"] == "pending"
    create_user(db, "sita", PASSWORD, "registrar", db.organisations.find_one({"name": SHELTER})["_id"])
    create_user(db, "hari", PASSWORD, "registrar", create_organisation(db, "City Hospital", "hospital"))
    sita, hari = signed_in(harness.app, "sita"), signed_in(harness.app, "hari")
    outcome_of = f"/found/{found}/candidates/{candidate['_id']}/outcome"

    page = sita.get(f"/found/{found}").get_data(as_text=True)
    matches = page.split('id="matches"')[1]
    assert "under review" in matches and case not in matches  # a family's case is not shared before approval
    assert "Notifications (" not in menu(page) and "Notifications" in menu(page)
    token = token_of(page)
    assert sita.post(outcome_of, data={"csrf_token": token, "outcome": "reunited"}).status_code == 403  # pending

    approve(harness, candidate["_id"])
    page = sita.get(f"/found/{found}").get_data(as_text=True)
    matches = page.split('id="matches"')[1]
    assert "family informed" in matches and case in matches and "Colin Powell" not in page
    assert "Notifications (1)" in menu(page)
    listed = sita.get("/found/notifications").get_data(as_text=True)
    assert found in listed and case in listed and "Colin Powell" not in listed
    assert "Notifications (" not in menu(listed)  # opening the page is seeing them
    assert "Notifications (" not in menu(sita.get("/found/").get_data(as_text=True))

    other = hari.get("/found/notifications").get_data(as_text=True)
    assert found not in other and case not in other and "Notifications (" not in menu(other)
    assert hari.get(f"/found/{found}").status_code == 404
    hari_token = token_of(hari.get("/users/password").get_data(as_text=True))
    assert hari.post(outcome_of, data={"csrf_token": hari_token, "outcome": "reunited"}).status_code == 404
    assert db.candidates.find_one({"_id": candidate["_id"]}).get("outcome") is None

    answer = sita.post(outcome_of, data={"csrf_token": token, "outcome": "reunited"})
    assert answer.status_code == 302
    harness.work()
    assert db.cases.find_one({"reference": case})["status"] == "closed"
    person = db.found_persons.find_one({"reference": found})
    assert person["status"] == "closed" and person["closed_reason"] == "reunited"
    settled = db.candidates.find_one({"_id": candidate["_id"]})
    assert settled["outcome"] == "reunited" and settled["outcome_by"] == "sita"
    page = sita.get(f"/found/{found}").get_data(as_text=True)
    assert "reunited" in page.split('id="matches"')[1] and f'action="{outcome_of}"' not in page
    sita.post(outcome_of, data={"csrf_token": token, "outcome": "reunited"})  # a second click changes nothing
    thanks = list(db.outbox.find({"source": f"reunited:{candidate['_id']}"}))
    assert len(thanks) == 1 and case in thanks[0]["text"] and "together again" in thanks[0]["text"]
    assert db.audit.count_documents({"user": "sita", "action": "outcome reunited"}) == 2  # both tries, audited


def test_a_family_told_before_the_notifications_existed_is_listed_after_the_upgrade(db: Database) -> None:
    organisation = create_organisation(db, SHELTER, "shelter")
    record = FoundPerson(found_on=date.today(), held_at="Ward 3")
    reference = create_found_person(db, organisation, record, "test:older", "registrar")
    told = {"candidate": ObjectId(), "case": "HW-OLD1", "at": datetime.now(UTC)}
    db.found_persons.update_one({"reference": reference}, {"$push": {"families_told": told}})  # as stored before
    assert families_told(db, organisation) == []
    assert date_families_told(db) == 1 and date_families_told(db) == 0
    assert [(row["reference"], row["case"]) for row in families_told(db, organisation)] == [(reference, "HW-OLD1")]
