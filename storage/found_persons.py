"""Found-person records (FP-XXXX): the people an organisation holds, with their photos owned by `found`.

A record is open (matchable, with no lookback limit) until its organisation
closes it; `source` makes registering idempotent: the bulk import and the API use the
organisation and its own `external_id` (so both make one record of it), the panel form a
token of the form, the API without an external id its Idempotency-Key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from core.conversation.references import FOUND_PREFIX
from core.found.record import CLOSED_REASONS, FoundPerson
from core.times import as_utc
from storage.cases import insert_with_reference, open_references
from storage.gallery_changes import bump_gallery
from storage.photos import Owner

KIND = "found"  # the photos' and faces' owner kind
STATUSES = ("open", "closed")
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # before any family was told
NOTIFICATIONS_SHOWN = 200  # the notifications page shows the latest records told of, at most


@dataclass(frozen=True)
class FoundQuery:
    """What a partner's list asks for: every field optional."""

    status: str | None = None
    external_id: str | None = None
    updated_since: datetime | None = None


def found_owner(reference: str) -> Owner:
    return Owner(KIND, reference)


def import_source(organisation: ObjectId, external_id: str) -> str:
    """The same organisation's same id is one record, however often its file is imported."""
    return f"import:{organisation}:{external_id}"


def create_found_person(
    db: Database, organisation: ObjectId, record: FoundPerson, source: str, by: str, api_request: str | None = None
) -> str:
    """Store the record (open) and return its reference; the same `source` again returns the first one's.

    `api_request` names the API call that made it (its Idempotency-Key), so a retry of that call is told from
    another call with the same external id.
    """
    doc = {"organisation": organisation, "status": "open", "source": source, "registered_by": by}
    if api_request:
        doc["api_request"] = api_request
    doc["updated_at"] = datetime.now(UTC)  # what a partner's `updated_since` finds a record by, from its creation on
    return insert_with_reference(db, "found_persons", FOUND_PREFIX, doc | record.as_fields())


def update_found_person(
    db: Database, reference: str, record: FoundPerson, unchanged_since: datetime | None = None
) -> bool:
    """Replace the registered fields; True when any changed.

    With `unchanged_since` (the `updated_at` the caller read), only if nobody changed the record meanwhile: False
    when someone did (the API's If-Match).
    """
    query: dict[str, Any] = {"reference": reference}
    if unchanged_since is not None:
        query["updated_at"] = unchanged_since
    result = db.found_persons.update_one(query, {"$set": record.as_fields() | {"updated_at": datetime.now(UTC)}})
    return result.modified_count == 1


def find_found_person(db: Database, reference: str, organisation: ObjectId | None = None) -> dict[str, Any] | None:
    """The record; with `organisation`, only if it is that organisation's (a registrar sees no other's)."""
    found = db.found_persons.find_one({"reference": reference})
    if found is None or (organisation is not None and found["organisation"] != organisation):
        return None
    return found


def find_by_source(db: Database, source: str) -> dict[str, Any] | None:
    return db.found_persons.find_one({"source": source})


def adopt_external_id(db: Database, reference: str, organisation: ObjectId, external_id: str) -> bool:
    """Key the record by its (changed) external id, as an import would, so a CSV row with that id finds it; False
    when another record of the organisation has that id."""
    try:
        change = {"$set": {"source": import_source(organisation, external_id)}}
        db.found_persons.update_one({"reference": reference}, change)
    except DuplicateKeyError:
        return False
    return True


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


def page_found_persons(
    db: Database, organisation: ObjectId, query: FoundQuery, after: tuple[datetime, ObjectId] | None, limit: int
) -> list[dict[str, Any]]:
    """One page of an organisation's found persons (see `page_of_organisation`)."""
    return page_of_organisation(db.found_persons, organisation, query, after, limit)


def page_of_organisation(
    records: Collection, organisation: ObjectId, query: FoundQuery, after: tuple[datetime, ObjectId] | None, limit: int
) -> list[dict[str, Any]]:
    """One page of an organisation's records (found persons, or the cases it registered), least recently changed
    first, after the record `after` (its change time and id): a partner's system syncs by following the pages, and a
    record changed meanwhile comes again.

    SecantusDB plans an index only for equalities followed by one range, so past a cursor this asks twice (later
    changes; the same moment's later ids); an external id names a handful of records, filtered here.
    """
    base: dict[str, Any] = {"organisation": organisation} | ({"status": query.status} if query.status else {})
    if query.external_id is not None:
        rows = [
            row
            for row in records.find({"organisation": organisation, "external_id": query.external_id})
            if all(row.get(k) == v for k, v in base.items())
            and _changed_at(row) >= (query.updated_since or NEVER)
            and (after is None or (_changed_at(row), row["_id"]) > (as_utc(after[0]), after[1]))
        ]
        return sorted(rows, key=lambda row: (_changed_at(row), row["_id"]))[:limit]
    order = [("updated_at", ASCENDING), ("_id", ASCENDING)]
    since = query.updated_since or NEVER
    if after is None:
        return list(records.find(base | {"updated_at": {"$gte": since}}).sort(order).limit(limit))
    moment, last = after
    same = list(records.find(base | {"updated_at": moment, "_id": {"$gt": last}}).sort(order).limit(limit))
    later = records.find(base | {"updated_at": {"$gt": max(as_utc(moment), since)}}).sort(order)
    return (same + list(later.limit(limit)))[:limit]


def _changed_at(row: dict[str, Any]) -> datetime:
    return as_utc(row.get("updated_at") or row["created_at"])


def close_found_person(db: Database, reference: str, reason: str, by: str) -> bool:
    """Close an open record (reunited, transferred, died, other); False when it was not open.

    Its faces leave matching: every worker's found-person index drops them (storage/gallery_changes.py).
    """
    if reason not in CLOSED_REASONS:
        raise ValueError(f"reason must be one of {', '.join(CLOSED_REASONS)}")
    now = datetime.now(UTC)
    result = db.found_persons.update_one(
        {"reference": reference, "status": "open"},
        {"$set": {"status": "closed", "closed_reason": reason, "closed_by": by, "closed_at": now, "updated_at": now}},
    )
    if result.modified_count:
        bump_gallery(db, cases=[], found=[reference])  # cases=[]: no case left (None would rebuild every index)
    return result.modified_count == 1


def is_found_open(db: Database, reference: str) -> bool:
    """Whether this found person is still matched (by reference alone, its unique index; status checked here)."""
    found = db.found_persons.find_one({"reference": reference}, {"status": 1})
    return found is not None and found.get("status") == "open"


def open_found_references(db: Database, among: list[str] | None = None) -> set[str]:
    """References of the open found persons (only those among `among`, when given): what matching may hold."""
    return open_references(db, among, "found_persons")


def note_family_told(db: Database, reference: str, candidate: ObjectId, case: str) -> None:
    """Record on the found person that a family was told of them (once per candidate): what its registrars see."""
    # By reference alone (its unique index) and the list checked here: SecantusDB scans for both together.
    found = db.found_persons.find_one({"reference": reference}, {"families_told": 1})
    if found is None or any(told["candidate"] == candidate for told in found.get("families_told", [])):
        return
    told = {"candidate": candidate, "case": case, "at": datetime.now(UTC)}
    # `family_told_at` (the latest) is what the notifications page and its count find the records by (indexed).
    change = {"$push": {"families_told": told}, "$set": {"family_told_at": told["at"]}}
    db.found_persons.update_one({"reference": reference}, change)


def families_told(db: Database, organisation: ObjectId, since: datetime | None = None) -> list[dict[str, Any]]:
    """Each family told of one of this organisation's found persons (since `since`), newest first.

    One row per family told: the found person's reference, the case reference the family quotes, and when;
    nothing else of the family (no name, no contact), as the approval's message shares no more.
    """
    rows = notes_since(db.found_persons, organisation, ("families_told", "family_told_at"), since)
    return [{"reference": r["reference"], "status": r["status"], "case": n["case"], "at": n["at"]} for r, n in rows]


def notes_since(
    records: Collection, organisation: ObjectId, fields: tuple[str, str], since: datetime | None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(record, note) for each note of the organisation's records in the list `fields[0]` (each with its `at`;
    `fields[1]` the latest, indexed) since `since`, newest first: what its panel's notifications list."""
    notes, latest = fields
    query: dict[str, Any] = {"organisation": organisation, latest: {"$gt": since or NEVER}}
    found = records.find(query, {"reference": 1, notes: 1, "status": 1}).sort(latest, DESCENDING)
    rows = [
        ({"reference": r["reference"], "status": r.get("status")}, note | {"at": as_utc(note["at"])})
        for r in found.limit(NOTIFICATIONS_SHOWN)
        for note in r.get(notes, [])
    ]
    later = [row for row in rows if since is None or row[1]["at"] > as_utc(since)]
    return sorted(later, key=lambda row: row[1]["at"], reverse=True)
