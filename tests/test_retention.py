"""Retention: with the clock moved on, each kind of data goes after its period, and only it; searched everywhere."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bson import ObjectId

from config import Settings
from storage.candidates import decide
from storage.cases import close_case
from storage.connections import Connections
from tests.chat_harness import Harness
from tests.test_admin_access import login
from tests.test_matching import SAME_PERSON, lfw, report_case, report_sighting, send
from workers.retention import run_if_due, sweep


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    made = Harness(settings, connections)
    made.context.settings = dataclasses.replace(settings, case_photo_jitters=1)  # time, not accuracy
    return made


def sighting(harness: Harness, user: str, photo: Path) -> str:
    """Another sighting from a citizen who already consented."""
    send(harness, user, photo=photo)
    for text in ("Leeds station", "now", "skip"):
        send(harness, user, text)
    return str(harness.db.sightings.find_one({"reporter": f"simulator:{user}"}, sort=[("created_at", -1)])["reference"])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_kind_goes_after_its_period_and_only_it(harness: Harness, faces_dir: Path) -> None:
    db, keep = harness.db, harness.context.settings.retention
    case = report_case(harness, "family", "Colin Powell", lfw(faces_dir, SAME_PERSON[0]))
    approved = report_sighting(harness, "citizen", lfw(faces_dir, SAME_PERSON[1]))
    rejected = sighting(harness, "citizen", lfw(faces_dir, SAME_PERSON[2]))
    stranger_photo = lfw(faces_dir, "Aaron_Eckhart_0001")
    unmatched = sighting(harness, "citizen", stranger_photo)
    for reference, status in ((approved, "approved"), (rejected, "rejected")):
        candidate = db.candidates.find_one({"sighting": reference})
        assert candidate and decide(db, candidate["_id"], status, "rita", "" if status == "approved" else "Other")
    assert db.candidates.count_documents({"sighting": unmatched}) == 0
    draft_photo = faces_dir / "groups/two_people.jpg"
    for text in ("hi", "yes", "1", "Ana Abandoned", "30", "skip", "Hull", "today", "green coat"):
        send(harness, "drafter", text)
    send(harness, "drafter", photo=draft_photo)  # ...and never finishes the report
    send(harness, "decliner", "hi")
    send(harness, "decliner", "no")
    assert db.conversations.find_one({"contact": "simulator:decliner"})["consent"] is False
    assert db.faces.count_documents({"owner.kind": "draft"}) == 2 and db.inbound.count_documents({}) > 30
    assert db.outbox.count_documents({"status": "sent", "text": {"$ne": ""}}) > 30

    def swept(days: int) -> dict[str, int]:
        return sweep(db, datetime.now(UTC) + timedelta(days=days), keep)

    assert set(swept(0).values()) == {0}  # nothing is old yet
    stubs = db.inbound.count_documents({})
    after_days = swept(keep.inbound_days + 1)
    assert after_days == {
        "sightings": 0, "drafts": 0, "inbound": stubs, "declined": 1, "sent_texts": 0, "decided_images": 0,
        "inactive_contacts": 0, "closed_cases": 0, "closed_found_photos": 0, "closed_found_records": 0,
        "replay_markers": 0, "api_requests": 0, "api_reads": 0, "partner_events": 0, "unanswered_consent": 0,
        "ended_appeals": 0,
    }  # fmt: skip
    assert db.inbound.count_documents({}) == 0  # every message was handled: only the pending would stay
    assert db.conversations.find_one({"contact": "simulator:decliner"}) is None
    assert db.outbox.count_documents({"contact": "simulator:decliner"}) == 0
    assert db.photos.count_documents({"owner.kind": "draft"}) == 1  # drafts are kept a week

    after_week = swept(keep.drafts_days + 1)
    assert after_week["drafts"] == 2 and after_week["sent_texts"] > 30  # the photo, and the half-filled report
    assert (
        db.photos.count_documents({"owner.kind": "draft"}) == 0
        and db.faces.count_documents({"owner.kind": "draft"}) == 0
    )
    assert db.conversations.find_one({"contact": "simulator:drafter"})["state"]["draft"] == {}
    assert db.outbox.count_documents({"text": {"$ne": ""}}) == 0
    assert db.sightings.count_documents({}) == 3 and db.candidates.count_documents({"images_dropped_at": None}) == 2

    assert swept(keep.decided_images_days + 1)["decided_images"] == 2
    approved_face = db.candidates.find_one({"sighting": approved})["sighting_face_id"]
    assert _crop_status(harness, approved_face) == 404  # no longer shown, though the photo is kept

    months = swept(keep.unmatched_sightings_days + 1)
    assert months["sightings"] == 2  # the stranger's and the rejected one; the approved one is needed
    assert {s["reference"] for s in db.sightings.find()} == {approved}
    assert {p["owner"]["id"] for p in db.photos.find()} == {case, approved}
    assert {f["owner"]["id"] for f in db.faces.find()} == {case, approved}
    assert db.photo_files.files.count_documents({}) == 2
    assert db.candidates.count_documents({}) == 2  # decisions stay as statistics
    gone = [
        unmatched, digest(stranger_photo), digest(draft_photo), digest(lfw(faces_dir, SAME_PERSON[2])),
        "Ana Abandoned", "green coat", "simulator:decliner",
    ]  # fmt: skip
    leftovers = harness.leftovers(gone)
    # Rate counters expire in 2 min; the indexes' removal log names the sighting (an id) for a day.
    assert [place for place in leftovers if "'rate:" not in place and "gallery_changes" not in place] == [], leftovers
    assert harness.leftovers([case, approved, "Colin Powell", digest(lfw(faces_dir, SAME_PERSON[1]))])


def test_silent_contacts_and_closed_cases_go_after_their_periods(harness: Harness, faces_dir: Path) -> None:
    db, keep = harness.db, harness.context.settings.retention
    waiting = report_case(harness, "family", "Colin Powell", lfw(faces_dir, SAME_PERSON[0]))
    found_photo = lfw(faces_dir, "Aaron_Eckhart_0001")
    found = report_case(harness, "finder", "Aaron Found", found_photo)
    assert close_case(db, found, by="rita")  # the person came home
    seen = report_sighting(harness, "citizen", lfw(faces_dir, SAME_PERSON[1]))
    assert db.candidates.count_documents({"case": waiting, "sighting": seen, "status": "pending"}) == 1

    def swept(days: int) -> dict[str, int]:
        return sweep(db, datetime.now(UTC) + timedelta(days=days), keep)

    assert swept(keep.inactive_contacts_days - 1)["inactive_contacts"] == 0  # a quiet year is not over yet
    assert swept(keep.inactive_contacts_days + 1)["inactive_contacts"] == 2  # the finder and the citizen
    assert {c["contact"] for c in db.conversations.find()} == {"simulator:family"}  # their case is still open
    assert db.cases.find_one({"reference": found})["reporter"] == ""  # kept for now, naming nobody
    assert db.sightings.find_one({"reference": seen})["reporter"] == ""  # a reviewer still needs it
    leftovers = harness.leftovers(["simulator:finder", "simulator:citizen"])
    assert [place for place in leftovers if "'rate:" not in place] == [], leftovers

    assert swept(keep.closed_cases_days - 1)["closed_cases"] == 0
    assert swept(keep.closed_cases_days + 1)["closed_cases"] == 1
    assert {c["reference"] for c in db.cases.find()} == {waiting}
    assert db.photos.count_documents({"owner.id": found}) == 0 and db.faces.count_documents({"owner.id": found}) == 0
    leftovers = harness.leftovers(["Aaron Found", digest(found_photo)])
    assert leftovers == [], leftovers
    assert harness.leftovers(["simulator:family", "Colin Powell", waiting])  # the open case keeps everything


def test_the_sweep_runs_once_per_period_across_workers_and_counts(harness: Harness) -> None:
    now = datetime.now(UTC)
    harness.db.inbound.insert_one(
        {"_id": ObjectId(), "contact": "simulator:x", "status": "done", "handled_at": now - timedelta(days=3)}
    )
    assert run_if_due(harness.context, now) == {
        "sightings": 0, "drafts": 0, "inbound": 1, "declined": 0, "sent_texts": 0, "decided_images": 0,
        "inactive_contacts": 0, "closed_cases": 0, "closed_found_photos": 0, "closed_found_records": 0,
        "replay_markers": 0, "api_requests": 0, "api_reads": 0, "partner_events": 0, "unanswered_consent": 0,
        "ended_appeals": 0,
    }  # fmt: skip
    assert run_if_due(harness.context, now) is None  # another worker's turn came too soon
    health = harness.client.get("/healthz").get_json()["retention"]
    assert health["removed"]["inbound"] == 1 and health["last_run_s_ago"] < 60


def _crop_status(harness: Harness, face_id: ObjectId) -> int:
    login(harness.client, "admin", "correct-horse-battery")
    return harness.client.get(f"/images/faces/{face_id}/crop.jpg").status_code
