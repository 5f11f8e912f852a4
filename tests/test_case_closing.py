"""A case is closed in one place, from the chat or the panel: who closed it and when are kept, matching forgets it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from config import Settings
from storage.cases import create_case
from storage.connections import Connections
from storage.gallery_changes import gallery_version
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_admin_access import PASSWORD, login


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    made = Harness(settings, connections)
    create_user(connections.db, "reviewer", PASSWORD, "reviewer")
    return made


def open_case(harness: Harness, contact: str) -> str:
    return create_case(harness.db, contact, {"name": "Ann Example"}, source=f"test:{contact}")


def just_now(moment: datetime) -> bool:
    return datetime.now(UTC) - timedelta(minutes=1) < moment <= datetime.now(UTC)


def test_a_reviewer_closes_a_case_and_the_case_says_who_and_when(harness: Harness) -> None:
    reference = open_case(harness, "simulator:family")
    before = gallery_version(harness.db)
    token = login(harness.client, "reviewer")
    form = {"reason": "found safe", "csrf_token": token}
    page = harness.client.post(f"/cases/{reference}/close", data=form, follow_redirects=True)
    assert b"is closed" in page.data
    case = harness.db.cases.find_one({"reference": reference})
    assert case["status"] == "closed" and case["closed_by"] == "reviewer" and just_now(case["closed_at"])
    assert gallery_version(harness.db) == before + 1  # workers reload their galleries without it


def test_a_family_closes_its_own_case_from_the_chat(harness: Harness) -> None:
    reference = open_case(harness, "simulator:family")
    other = open_case(harness, "simulator:stranger")
    before = gallery_version(harness.db)
    for text in ("hi", "yes", f"found {reference}", f"found {other}"):
        assert harness.simulator_send("family", text) == 200
        harness.work()
    case = harness.db.cases.find_one({"reference": reference})
    assert case["status"] == "closed" and case["closed_by"] == "simulator:family" and just_now(case["closed_at"])
    assert harness.db.cases.find_one({"reference": other})["status"] == "open"  # not theirs to close
    assert gallery_version(harness.db) == before + 1
