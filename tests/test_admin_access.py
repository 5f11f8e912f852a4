"""Who may do what in the panel: login, roles, CSRF, and a decision taken once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bson import ObjectId
from flask.testing import FlaskClient

from config import Settings
from storage.connections import Connections
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_matching import SAME_PERSON, lfw, report_case, report_sighting, send

PASSWORD = "a-long-test-password"


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    made = Harness(settings, connections)
    for role in ("viewer", "reviewer"):  # "admin" exists already: created at start-up
        create_user(connections.db, role, PASSWORD, role)
    return made


@pytest.fixture
def candidate(harness: Harness, faces_dir: Path) -> ObjectId:
    report_case(harness, "family", "Colin Powell", lfw(faces_dir, SAME_PERSON[0]))
    report_sighting(harness, "citizen", lfw(faces_dir, SAME_PERSON[1]))
    found = harness.db.candidates.find_one()
    assert found is not None
    return ObjectId(found["_id"])


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; return the CSRF token of the session."""
    client.post("/login", data={"username": username, "password": password, "csrf_token": csrf(client, "/login")})
    answer = client.get("/")
    if answer.status_code != 200:
        return ""
    # Logging in starts a new session, with a new token: read it from a page, as a browser would.
    return re.search(r'name="csrf_token" value="([^"]+)"', answer.get_data(as_text=True)).group(1)  # type: ignore[union-attr]


def csrf(client: FlaskClient, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)  # type: ignore[union-attr]


def test_an_anonymous_visitor_is_sent_to_login(harness: Harness, candidate: ObjectId) -> None:
    for path in ("/", "/review", f"/candidates/{candidate}", "/cases/", "/users/"):
        answer = harness.client.get(path)
        assert answer.status_code == 302 and answer.location.startswith("/login"), path
    assert harness.client.post(f"/candidates/{candidate}/decide", data={"action": "approve"}).status_code in (302, 400)
    assert harness.db.candidates.find_one({"_id": candidate})["status"] == "pending"


def test_a_wrong_password_is_refused(harness: Harness) -> None:
    login(harness.client, "reviewer", "not-the-password")
    assert harness.client.get("/").status_code == 302


def test_an_admin_creates_a_reviewer(harness: Harness, settings: Settings) -> None:
    token = login(harness.client, "admin", settings.admin_password or "")
    harness.client.post(
        "/users/",
        data={"username": "nadia", "password": "another-long-password", "role": "reviewer", "csrf_token": token},
    )
    assert harness.db.users.find_one({"username": "nadia"})["role"] == "reviewer"


def test_a_viewer_sees_but_cannot_decide(harness: Harness, candidate: ObjectId) -> None:
    token = login(harness.client, "viewer")
    page = harness.client.get(f"/candidates/{candidate}")
    assert page.status_code == 200 and b"Approve" not in page.data
    answer = harness.client.post(f"/candidates/{candidate}/decide", data={"action": "approve", "csrf_token": token})
    assert answer.status_code == 403
    assert harness.db.candidates.find_one({"_id": candidate})["status"] == "pending"
    assert harness.client.get("/users/").status_code == 403


def test_a_form_without_its_csrf_token_is_refused(harness: Harness, candidate: ObjectId) -> None:
    login(harness.client, "reviewer")
    answer = harness.client.post(f"/candidates/{candidate}/decide", data={"action": "approve"})
    assert answer.status_code == 400
    assert harness.db.candidates.find_one({"_id": candidate})["status"] == "pending"


def citizen_texts(harness: Harness, user: str) -> list[str]:
    """What a citizen was sent, with their sighting's reference masked (the one thing that differs between two)."""
    texts = [m["text"] for m in harness.db.outbox.find({"contact": f"simulator:{user}"}).sort("_id", 1)]
    return [re.sub(r"SG-[0-9A-Z]+", "SG-…", text) for text in texts]


def test_approval_tells_the_family_once(harness: Harness, candidate: ObjectId) -> None:
    citizen_before = citizen_texts(harness, "citizen")
    token = login(harness.client, "reviewer")
    harness.client.post(f"/candidates/{candidate}/decide", data={"action": "approve", "csrf_token": token})
    again = harness.client.post(
        f"/candidates/{candidate}/decide",
        data={"action": "reject", "reason": "Other", "csrf_token": token},
        follow_redirects=True,
    )
    assert b"already decided" in again.data
    decided = harness.db.candidates.find_one({"_id": candidate})
    assert decided["status"] == "approved" and decided["decided_by"] == "reviewer"
    assert decided["told_at"]  # the reconciler has nothing left to do for it
    harness.work()
    family = [m["text"] for m in harness.db.outbox.find({"contact": "simulator:family"})]
    assert sum("confirmed a possible sighting of Colin Powell" in t for t in family) == 1
    assert citizen_texts(harness, "citizen") == citizen_before  # an approval tells the citizen nothing
    assert (
        harness.db.audit.count_documents({"action": "approve", "user": "reviewer"}) == 2
    )  # on the candidate and its case
    assert b'Message to the family: <strong id="delivery">sent' in harness.client.get(f"/candidates/{candidate}").data


def test_a_matched_and_an_unmatched_sighting_get_the_same_messages(
    harness: Harness, candidate: ObjectId, faces_dir: Path
) -> None:
    """Whoever sends a photo learns nothing of whom it matched: not from the replies, nor from a later message."""
    report_sighting(harness, "stranger", lfw(faces_dir, "George_W_Bush_0001"))
    assert harness.db.candidates.count_documents({}) == 1  # the stranger's sighting matched nobody
    token = login(harness.client, "reviewer")
    harness.client.post(f"/candidates/{candidate}/decide", data={"action": "approve", "csrf_token": token})
    harness.work()
    assert harness.db.candidates.find_one({"_id": candidate})["told_at"]
    assert citizen_texts(harness, "citizen") == citizen_texts(harness, "stranger")
    assert "Thank you: your sighting is recorded" in citizen_texts(harness, "citizen")[-1]


def test_a_failed_message_to_the_family_is_shown_without_the_number_it_quotes(
    harness: Harness, candidate: ObjectId
) -> None:
    token = login(harness.client, "reviewer")
    harness.client.post(f"/candidates/{candidate}/decide", data={"action": "approve", "csrf_token": token})
    told = harness.db.candidates.find_one({"_id": candidate})["family_message_id"]
    error = "Twilio error 63016: +44 7700 900123 is outside the 24 h window"
    harness.db.outbox.update_one({"_id": told}, {"$set": {"status": "failed", "error": error}})
    page = harness.client.get(f"/candidates/{candidate}").get_data(as_text=True)
    assert '<strong id="delivery">failed</strong>' in page
    assert "[number] is outside the 24 h window" in page and "900123" not in page


def test_a_rejection_needs_a_reason_and_sends_nothing(harness: Harness, candidate: ObjectId) -> None:
    token = login(harness.client, "reviewer")
    harness.client.post(f"/candidates/{candidate}/decide", data={"action": "reject", "csrf_token": token})
    assert harness.db.candidates.find_one({"_id": candidate})["status"] == "pending"
    before = harness.db.outbox.count_documents({})
    harness.client.post(
        f"/candidates/{candidate}/decide", data={"action": "reject", "reason": "Different person", "csrf_token": token}
    )
    harness.work()
    decided = harness.db.candidates.find_one({"_id": candidate})
    assert decided["status"] == "rejected" and decided["reason"] == "Different person"
    assert harness.db.outbox.count_documents({}) == before


def test_overdue_strong_candidates_are_highlighted(harness: Harness, candidate: ObjectId) -> None:
    harness.db.candidates.update_one(
        {"_id": candidate}, {"$set": {"band": "strong", "created_at": datetime.now(UTC) - timedelta(hours=2)}}
    )
    login(harness.client, "viewer")
    page = harness.client.get("/").get_data(as_text=True)
    assert 'id="escalated"' in page and f"/candidates/{candidate}" in page


def test_images_need_a_login_and_show_the_face(harness: Harness, candidate: ObjectId) -> None:
    face = harness.db.candidates.find_one({"_id": candidate})["sighting_face_id"]
    assert harness.client.get(f"/images/faces/{face}/crop.jpg").status_code == 302
    login(harness.client, "viewer")
    crop = harness.client.get(f"/images/faces/{face}/crop.jpg")
    assert crop.status_code == 200 and crop.data[:2] == b"\xff\xd8" and "private" in crop.headers["Cache-Control"]


def test_a_name_typed_with_a_right_to_left_override_is_stored_and_shown_without_it(
    harness: Harness, faces_dir: Path
) -> None:
    reference = report_case(harness, "family", "\u202eRavi \u2066Kumar\u200f", lfw(faces_dir, SAME_PERSON[0]))
    assert harness.db.cases.find_one({"reference": reference})["name"] == "Ravi Kumar"
    login(harness.client, "viewer")
    page = harness.client.get(f"/cases/{reference}").get_data(as_text=True)
    assert "Ravi Kumar" in page and not re.search("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", page)


def test_a_viewer_who_guesses_a_draft_photos_face_id_gets_nothing(harness: Harness, faces_dir: Path) -> None:
    for text in ("hi", "yes"):
        send(harness, "citizen", text)
    send(harness, "citizen", photo=lfw(faces_dir, SAME_PERSON[1]))  # a sighting begun, not yet finished
    face = harness.db.faces.find_one({"owner.kind": "draft"})
    assert face is not None
    viewer = harness.app.test_client()  # its own session: the simulator's keeps its CSRF token
    login(viewer, "viewer")
    for shown in ("crop", "photo"):
        assert viewer.get(f"/images/faces/{face['_id']}/{shown}.jpg").status_code == 404, shown
    for text in ("Leeds station", "now", "skip"):
        send(harness, "citizen", text)  # once a sighting, its face is shown only with a candidate: still none
    assert harness.db.faces.find_one({"_id": face["_id"]})["owner"]["kind"] == "sighting"
    assert viewer.get(f"/images/faces/{face['_id']}/crop.jpg").status_code == 404
