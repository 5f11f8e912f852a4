"""The review queue puts the strong band first, as its page says, then the oldest."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from config import Settings
from storage.candidates import record_candidate
from storage.connections import Connections, connect
from storage.schema import MIGRATIONS_DONE
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_admin_access import PASSWORD, login


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    made = Harness(settings, connections)
    create_user(connections.db, "reviewer", PASSWORD, "reviewer")
    return made


def sighting_face(sighting: str) -> dict[str, object]:
    return {"_id": ObjectId(), "owner": {"kind": "sighting", "id": sighting}, "photo_id": ObjectId()}


def queued_sightings(harness: Harness) -> list[str]:
    """The sightings of the queue page's rows, top to bottom, as a signed-in reviewer sees them."""
    login(harness.client, "reviewer")
    page = harness.client.get("/review")
    assert page.status_code == 200
    return re.findall(r'data-sighting="([^"]+)"', page.get_data(as_text=True))


def test_a_strong_candidate_is_listed_before_an_older_review_one(harness: Harness) -> None:
    case_face = {"_id": ObjectId(), "photo_id": ObjectId()}
    assert record_candidate(harness.db, "C-AAAA", case_face, sighting_face("S-REVIEW"), 0.50, "review")
    earlier = datetime.now(UTC) - timedelta(hours=3)
    harness.db.candidates.update_one({"sighting": "S-REVIEW"}, {"$set": {"created_at": earlier}})
    assert record_candidate(harness.db, "C-AAAA", case_face, sighting_face("S-STRONG"), 0.35, "strong")
    assert queued_sightings(harness) == ["S-STRONG", "S-REVIEW"]


def test_candidates_stored_before_the_band_rank_are_ranked_at_start_up(harness: Harness, settings: Settings) -> None:
    """Documents written by the previous version carry only the band's name; the next start ranks them."""
    old = datetime.now(UTC) - timedelta(days=1)
    for sighting, band, age in (("S-OLD-REVIEW", "review", 2), ("S-OLD-STRONG", "strong", 1)):
        fields = {"sighting_face_id": ObjectId(), "status": "pending", "distance": 0.4}
        fields["created_at"] = old - timedelta(hours=age)
        harness.db.candidates.insert_one({"case": "C-BBBB", "sighting": sighting, "band": band} | fields)
    harness.db.counters.delete_one({"_id": MIGRATIONS_DONE})  # a database the previous version kept
    assert settings.mongodb_uri and settings.redis_url
    connect(settings.mongodb_uri, settings.mongodb_database, settings.redis_url).close()  # what a restart does
    assert queued_sightings(harness) == ["S-OLD-STRONG", "S-OLD-REVIEW"]
