"""What became of a match: a reviewer records it, `reunited` closes the case and thanks the family once, the funnel
counts it, and the exports carry it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import redis
from bson import ObjectId

from config import Settings
from core.outcomes import OutcomeRefused, check_outcome, funnel
from infra.embedded import free_port
from services.outcomes import settle
from services.queue import make_queue
from storage.candidates import decide
from tests.chat_harness import Harness
from tests.test_admin_access import candidate, harness, login  # noqa: F401 - fixtures

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _row(status: str, outcome: str | None = None, organisation: str | None = None, days: int = 3) -> dict:
    return {
        "status": status,
        "outcome": outcome,
        "outcome_at": NOW,
        "reported_at": NOW - timedelta(days=days),
        "organisation": organisation,
    }


def test_the_funnel_counts_each_stage_and_the_time_to_reunion() -> None:
    rows = [
        _row("pending"),
        _row("rejected"),
        _row("approved"),
        _row("approved", "unreachable"),
        _row("approved", "contacted", "Sunrise Shelter"),
        _row("approved", "not_the_person", "Sunrise Shelter"),
        _row("approved", "reunited", "Sunrise Shelter", days=2),
        _row("approved", "reunited", days=4),
    ]
    figures = funnel(rows)
    assert (figures.candidates, figures.approved, figures.contacted) == (8, 6, 4)
    assert (figures.reunited, figures.not_the_person, figures.unreachable) == (2, 1, 1)
    assert figures.median_report_to_reunion_s == timedelta(days=3).total_seconds()
    shelter = figures.by_organisation["Sunrise Shelter"]
    assert (shelter.candidates, shelter.approved, shelter.reunited) == (3, 3, 1)


def test_only_an_approved_match_has_an_outcome_and_reunited_is_final() -> None:
    with pytest.raises(OutcomeRefused, match="approve it first"):
        check_outcome("pending", None, "contacted")
    with pytest.raises(OutcomeRefused, match="already reunited"):
        check_outcome("approved", "reunited", "not_the_person")
    check_outcome("approved", "contacted", "reunited")  # contacted first, reunited later: the usual path


def test_reunited_closes_the_case_thanks_the_family_once_and_is_counted(
    harness: Harness,  # noqa: F811 - the fixture
    settings: Settings,
    candidate: ObjectId,  # noqa: F811 - the fixture
) -> None:
    token = login(harness.client, "reviewer")
    harness.client.post(f"/candidates/{candidate}/decide", data={"action": "approve", "csrf_token": token})
    url = f"/candidates/{candidate}/outcome"
    harness.client.post(url, data={"outcome": "contacted", "csrf_token": token})
    assert harness.db.cases.find_one()["status"] == "open"  # contacted is not yet a reunion
    harness.client.post(url, data={"outcome": "reunited", "csrf_token": token})
    again = harness.client.post(url, data={"outcome": "not_the_person", "csrf_token": token}, follow_redirects=True)
    assert b"already reunited" in again.data
    stored = harness.db.candidates.find_one({"_id": candidate})
    assert stored["outcome"] == "reunited" and stored["outcome_by"] == "reviewer"
    assert [entry["outcome"] for entry in stored["outcomes"]] == ["contacted", "reunited"]
    assert harness.db.cases.find_one()["status"] == "closed"
    harness.work()
    family = [m["text"] for m in harness.db.outbox.find({"contact": "simulator:family"})]
    assert sum("together again" in text for text in family) == 1
    assert harness.db.audit.count_documents({"action": "outcome reunited", "user": "reviewer"}) == 1
    page = re.sub(r">\s+<", "><", harness.client.get("/outcomes?days=30").get_data(as_text=True))
    assert "<td>All</td><td>1</td><td>1</td><td>1</td><td>1</td><td>0</td>" in page
    admin = harness.client.application.test_client()
    login(admin, "admin", settings.admin_password or "")
    export = admin.get("/exports/candidates.csv").get_data(as_text=True).splitlines()
    assert export[0].endswith("outcome,outcome_at,outcome_by") and ",reunited," in export[1]


def test_a_viewer_cannot_record_an_outcome(
    harness: Harness,  # noqa: F811 - the fixture
    candidate: ObjectId,  # noqa: F811 - the fixture
) -> None:
    token = login(harness.client, "reviewer")
    harness.client.post(f"/candidates/{candidate}/decide", data={"action": "approve", "csrf_token": token})
    viewer = harness.client.application.test_client()
    token = login(viewer, "viewer")
    answer = viewer.post(f"/candidates/{candidate}/outcome", data={"outcome": "reunited", "csrf_token": token})
    assert answer.status_code == 403
    assert harness.db.cases.find_one()["status"] == "open"


def test_reunited_is_recorded_while_redis_is_down_and_the_thanks_waits_in_the_outbox(
    harness: Harness,  # noqa: F811 - the fixture
    candidate: ObjectId,  # noqa: F811 - the fixture
) -> None:
    decide(harness.db, candidate, "approved", "reviewer")
    unreachable = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    settle(harness.db, make_queue(unreachable), candidate, "reunited", "reviewer")
    assert harness.db.candidates.find_one({"_id": candidate})["outcome"] == "reunited"
    assert harness.db.cases.find_one()["status"] == "closed"
    thanks = harness.db.outbox.find_one({"source": f"reunited:{candidate}"})
    assert thanks is not None and thanks["status"] == "pending"  # the reconciler queues it once Redis is back
