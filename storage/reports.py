"""Read-only queries for operations: the overview's figures, review statistics and exports.

Exports name cases by reference and name only: no contact, phone number,
message text or photo leaves through here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

CASE_EXPORT_FIELDS = ("reference", "name", "status", "created_at", "closed_at")
CANDIDATE_EXPORT_FIELDS = (
    "case",
    "sighting",
    "band",
    "distance",
    "status",
    "created_at",
    "decided_at",
    "decided_by",
    "reason",
    "outcome",
    "outcome_at",
    "outcome_by",
)


def oldest_pending_inbound(db: Database) -> datetime | None:
    """When the oldest message still waiting to be handled arrived; None when none waits."""
    doc = db.inbound.find_one({"status": "pending"}, {"received_at": 1}, sort=[("received_at", ASCENDING)])
    return doc["received_at"] if doc else None


def oldest_pending_candidates(db: Database) -> dict[str, datetime]:
    """Per band, when the longest-waiting pending candidate was created."""
    pipeline = [
        {"$match": {"status": "pending"}},
        {"$group": {"_id": "$band", "oldest": {"$min": "$created_at"}}},
    ]
    return {str(row["_id"]): row["oldest"] for row in db.candidates.aggregate(pipeline) if row.get("oldest")}


def decisions_since(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Candidates decided since `since`: band, status and the two times, for review statistics.

    One query per decision: SecantusDB plans no index for `$in` together with a range, and scanned every candidate.
    """
    fields = {"_id": 0, "band": 1, "status": 1, "created_at": 1, "decided_at": 1, "outcome": 1}
    return [
        row
        for status in ("approved", "rejected")
        for row in db.candidates.find({"status": status, "decided_at": {"$gte": since}}, fields)
    ]


def cases_for_export(
    db: Database, start: datetime | None, end: datetime | None, status: str | None
) -> list[dict[str, Any]]:
    """Cases created in [start, end), optionally of one status, oldest first; identity fields limited to the name."""
    fields = {"_id": 0} | {name: 1 for name in CASE_EXPORT_FIELDS}
    return list(db.cases.find(_filter(start, end, status), fields).sort("created_at", ASCENDING))


def candidates_for_export(
    db: Database, start: datetime | None, end: datetime | None, status: str | None
) -> list[dict[str, Any]]:
    """Candidates created in [start, end), optionally of one status, with their decision and its reason."""
    fields = {"_id": 1, "template": 1} | {name: 1 for name in CANDIDATE_EXPORT_FIELDS}  # template: for how_sure
    return list(db.candidates.find(_filter(start, end, status), fields).sort("created_at", ASCENDING))


def _filter(start: datetime | None, end: datetime | None, status: str | None) -> dict[str, Any]:
    created: dict[str, Any] = {}
    if start is not None:
        created["$gte"] = start
    if end is not None:
        created["$lt"] = end
    return ({"created_at": created} if created else {}) | ({"status": status} if status else {})
