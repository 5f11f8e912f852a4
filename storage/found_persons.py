"""Found-person records (FP-XXXX): the people an organisation holds, with their photos owned by `found`.

A record is open (matchable, with no lookback limit) until its organisation
closes it; `source` makes registering idempotent: the bulk import uses the
organisation and its own `external_id`, the panel form a token of the form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import DESCENDING
from pymongo.database import Database

from core.conversation.references import FOUND_PREFIX
from core.found.record import CLOSED_REASONS, FoundPerson
from storage.cases import insert_with_reference
from storage.photos import Owner

KIND = "found"  # the photos' and faces' owner kind


def found_owner(reference: str) -> Owner:
    return Owner(KIND, reference)


def import_source(organisation: ObjectId, external_id: str) -> str:
    """The same organisation's same id is one record, however often its file is imported."""
    return f"import:{organisation}:{external_id}"


def create_found_person(db: Database, organisation: ObjectId, record: FoundPerson, source: str, by: str) -> str:
    """Store the record (open) and return its reference; the same `source` again returns the first one's."""
    doc = {"organisation": organisation, "status": "open", "source": source, "registered_by": by}
    return insert_with_reference(db, "found_persons", FOUND_PREFIX, doc | record.as_fields())


def update_found_person(db: Database, reference: str, record: FoundPerson) -> bool:
    """Replace the registered fields; True when any changed."""
    result = db.found_persons.update_one(
        {"reference": reference}, {"$set": record.as_fields() | {"updated_at": datetime.now(UTC)}}
    )
    return result.modified_count == 1


def find_found_person(db: Database, reference: str, organisation: ObjectId | None = None) -> dict[str, Any] | None:
    """The record; with `organisation`, only if it is that organisation's (a registrar sees no other's)."""
    found = db.found_persons.find_one({"reference": reference})
    if found is None or (organisation is not None and found["organisation"] != organisation):
        return None
    return found


def find_by_source(db: Database, source: str) -> dict[str, Any] | None:
    return db.found_persons.find_one({"source": source})


def find_by_sources(db: Database, sources: list[str]) -> dict[str, dict[str, Any]]:
    """The records registered from these sources, by source: a bulk import looks a batch of rows up at once."""
    return {found["source"]: found for found in db.found_persons.find({"source": {"$in": sources}})}


def list_found_persons(
    db: Database, organisation: ObjectId | None = None, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Newest first; one organisation's (a registrar's view) or every one's (the operator's)."""
    query: dict[str, Any] = {}
    if organisation is not None:
        query["organisation"] = organisation
    if status is not None:
        query["status"] = status
    return list(db.found_persons.find(query).sort("created_at", DESCENDING).limit(limit))


def close_found_person(db: Database, reference: str, reason: str, by: str) -> bool:
    """Close an open record (reunited, transferred, died, other); False when it was not open."""
    if reason not in CLOSED_REASONS:
        raise ValueError(f"reason must be one of {', '.join(CLOSED_REASONS)}")
    now = datetime.now(UTC)
    result = db.found_persons.update_one(
        {"reference": reference, "status": "open"},
        {"$set": {"status": "closed", "closed_reason": reason, "closed_by": by, "closed_at": now}},
    )
    return result.modified_count == 1
