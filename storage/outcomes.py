"""Outcomes of approved candidates (core/outcomes.py says which may follow which), and the funnel's rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo.database import Database

from core.outcomes import OutcomeRefused, check_outcome
from storage.candidates import find_candidate


def record_outcome(
    db: Database, candidate_id: ObjectId, outcome: str, by: str, now: datetime | None = None
) -> dict[str, Any]:
    """Set the candidate's outcome (with who and when, and its history); raise OutcomeRefused when it may not.

    Set only if nobody changed it since it was read, so two people closing the same match cannot both win.
    """
    candidate = find_candidate(db, candidate_id)
    if candidate is None:
        raise OutcomeRefused("no such candidate: it may have been erased")
    current = candidate.get("outcome")
    check_outcome(candidate["status"], current, outcome)
    now = now or datetime.now(UTC)
    result = db.candidates.update_one(
        {"_id": candidate_id, "status": "approved", "outcome": current},
        {
            "$set": {"outcome": outcome, "outcome_by": by, "outcome_at": now},
            "$push": {"outcomes": {"outcome": outcome, "by": by, "at": now}},
        },
    )
    if result.modified_count != 1:
        raise OutcomeRefused("someone changed this match's outcome meanwhile: look again")
    return candidate | {"outcome": outcome, "outcome_by": by, "outcome_at": now}


def funnel_rows(db: Database, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
    """Candidates created in [since, until): status, outcome and when, the case's report time, the organisation.

    The organisation is the name of the one holding the found person, for found-person candidates.
    """
    created: dict[str, Any] = {"$gte": since} | ({"$lt": until} if until else {})
    fields = {"status": 1, "outcome": 1, "outcome_at": 1, "case": 1, "kind": 1, "found": 1}
    rows = list(db.candidates.find({"created_at": created}, fields))
    reunited = sorted({row["case"] for row in rows if row.get("outcome") == "reunited"})
    reported = {c["reference"]: c["created_at"] for c in db.cases.find({"reference": {"$in": reunited}})}
    holders = _holders(db, sorted({row["found"] for row in rows if row.get("found")}))
    return [
        row | {"reported_at": _aware(reported.get(row["case"])), "organisation": holders.get(row.get("found", ""))}
        for row in rows
    ]


def _holders(db: Database, found: list[str]) -> dict[str, str]:
    """Found-person reference -> the name of the organisation holding them."""
    records = list(db.found_persons.find({"reference": {"$in": found}}, {"reference": 1, "organisation": 1}))
    names = {o["_id"]: o["name"] for o in db.organisations.find({"_id": {"$in": [r["organisation"] for r in records]}})}
    return {r["reference"]: names.get(r["organisation"], "") for r in records}


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
