"""Cases (missing people) and sightings, with their photos moved from the draft when submitted."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from core.conversation.references import CASE_PREFIX, SIGHTING_PREFIX, make_reference
from core.conversation.state import CaseSummary
from storage.candidates import erase_candidates
from storage.faces import follow_photos
from storage.gallery_changes import bump_gallery
from storage.organisations import find_organisation
from storage.photos import Owner, delete_photos
from storage.places import open_place, seal_place
from storage.sealing import keyring

REFERENCE_ATTEMPTS = 20


def draft_owner(contact: str) -> Owner:
    """Photos of a report or sighting still being written belong to the contact's draft."""
    return Owner("draft", contact)


def create_case(db: Database, contact: str, details: dict[str, Any], source: str) -> str:
    """Store the case, give it the draft's photos, and return its new reference.

    `source` is the inbound message that asked for it: asking twice (a retried job) returns the same case.
    """
    reference = insert_with_reference(
        db, "cases", CASE_PREFIX, {"reporter": contact, "status": "open", "source": source, **details}
    )
    _adopt_draft_photos(db, contact, Owner("case", reference))
    return reference


def create_sighting(db: Database, contact: str, details: dict[str, Any], source: str) -> str:
    """Store the sighting (its place's coordinates sealed), give it the draft's photos, and return its reference."""
    record = ObjectId()  # known before the sighting is written: its place is sealed for it alone
    sealed = details | ({"place": seal_place(details["place"], keyring(), record)} if "place" in details else {})
    reference = insert_with_reference(
        db, "sightings", SIGHTING_PREFIX, {"_id": record, "reporter": contact, "source": source, **sealed}
    )
    _adopt_draft_photos(db, contact, Owner("sighting", reference))
    return reference


def close_case(
    db: Database,
    reference: str,
    *,
    by: str,
    now: datetime | None = None,
    reporter: str | tuple[str, ...] | None = None,
    reason: str | None = None,
) -> bool:
    """Close an open case, recording who (`by`: a panel user, the reporting contact, an API key), when and why.

    Its faces stop taking part in matching. With `reporter`, only a case that contact (or one of those
    contacts) reported is closed (the chat); without, any (the panel). False when nothing was open to close.
    `updated_at` moves too: an organisation syncing its cases by change time hears of the close.
    """
    query: dict[str, Any] = {"reference": reference, "status": "open"}
    if reporter is not None:
        query["reporter"] = {"$in": [reporter] if isinstance(reporter, str) else list(reporter)}
    moment = now or _now()
    change = {"status": "closed", "closed_by": by, "closed_at": moment, "updated_at": moment}
    result = db.cases.update_one(query, {"$set": change | ({"closed_reason": reason} if reason else {})})
    if result.modified_count:
        bump_gallery(db, cases=[reference])
    return result.modified_count == 1


def find_case(db: Database, reference: str) -> dict[str, Any] | None:
    return db.cases.find_one({"reference": reference})


def family_contact(case: dict[str, Any]) -> str:
    """Whom a case's family messages go to: the chat contact that reported it, or, for a case an organisation
    registered, the family's WhatsApp contact once it agreed (storage/partner_cases.py); "" when nobody."""
    family = case.get("family") or {}
    if family.get("consent") == "agreed" and family.get("contact"):
        return str(family["contact"])
    return "" if case.get("organisation") else str(case.get("reporter") or "")


def find_sighting(db: Database, reference: str) -> dict[str, Any] | None:
    """The sighting, its place's coordinates opened (storage/places.py)."""
    found = db.sightings.find_one({"reference": reference})
    if found and "place" in found:
        found["place"] = open_place(found["place"], keyring(), found["_id"])
    return found


def case_names(db: Database, references: list[str]) -> dict[str, dict[str, Any]]:
    """Reference and name of each of these cases, by reference."""
    return {c["reference"]: c for c in db.cases.find({"reference": {"$in": references}}, {"reference": 1, "name": 1})}


def list_cases(
    db: Database, status: str | None = None, among: list[str] | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Newest cases first, optionally of one status or among some references: what a list shows of each."""
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status
    if among is not None:
        query["reference"] = {"$in": among}
    fields = {"reference": 1, "name": 1, "age": 1, "status": 1, "created_at": 1, "possible_duplicates": 1}
    return list(db.cases.find(query, fields).sort("created_at", DESCENDING).limit(limit))


def open_counts(db: Database) -> dict[str, int]:
    """Open cases, and how many of them may be a person reported twice."""
    return {
        "open_cases": db.cases.count_documents({"status": "open"}),
        "duplicates": db.cases.count_documents({"status": "open", "possible_duplicates.0": {"$exists": True}}),
    }


def is_open(db: Database, reference: str) -> bool:
    # By reference alone (its unique index) and the status checked here: SecantusDB scans for both together.
    case = db.cases.find_one({"reference": reference}, {"status": 1})
    return case is not None and case.get("status") == "open"


# Above this many references, reading every open reference is cheaper than asking for them by name: SecantusDB
# answers `$in` in time that grows faster than the list (100: 9 ms, 1 000: 550 ms, 5 000: 12.5 s), while all
# 5 000 open references come back in under 100 ms.
MOST_ASKED_BY_NAME = 200


def open_references(db: Database, among: list[str] | None = None, collection: str = "cases") -> set[str]:
    """References of the open cases, or of another collection's open records (only those among `among`).

    Those among `among` are looked up by reference alone and their status checked here: with the status in
    the filter too, SecantusDB tests every open case against the whole list (100 references among 5 000
    open cases: 550 ms, against 9 ms by the unique reference index).
    """
    wanted = None if among is None else set(among)
    if wanted is None or len(wanted) > MOST_ASKED_BY_NAME:
        every_open = {str(reference) for reference in db[collection].distinct("reference", {"status": "open"})}
        return every_open if wanted is None else every_open & wanted
    found = db[collection].find({"reference": {"$in": sorted(wanted)}}, {"_id": 0, "reference": 1, "status": 1})
    return {str(record["reference"]) for record in found if record.get("status") == "open"}


def flag_possible_duplicate(db: Database, case: str, other: str, distance: float) -> bool:
    """Note on a case that it may be the same person as another open case; once per other case."""
    flag = {"case": other, "distance": round(distance, 4)}
    not_yet = {"reference": case, "possible_duplicates.case": {"$ne": other}}
    return db.cases.update_one(not_yet, {"$push": {"possible_duplicates": flag}}).modified_count == 1


SUMMARY_FIELDS = {"reference": 1, "name": 1, "status": 1, "created_at": 1}


def case_summaries(db: Database, contacts: tuple[str, ...]) -> tuple[CaseSummary, ...]:
    """The cases these contacts reported (a chat sees its own, and on WhatsApp the same number's SMS ones), then
    those an organisation registered that this family agreed to follow (storage/partner_cases.py)."""
    cases = list(
        db.cases.find({"reporter": {"$in": list(contacts)}}, SUMMARY_FIELDS).sort("created_at", DESCENDING).limit(50)
    )
    cases += _followed_cases(db, contacts)
    if not cases:
        return ()  # most contacts report no case: no count to make
    counts = {
        row["_id"]: row["n"]
        for row in db.photos.aggregate(
            [
                {"$match": {"owner.kind": "case", "owner.id": {"$in": [c["reference"] for c in cases]}}},
                {"$group": {"_id": "$owner.id", "n": {"$sum": 1}}},
            ]
        )
    }
    references = [c["reference"] for c in cases]
    faces, appeals = _usable_face_counts(db, references), running_appeals(db, references)
    return tuple(
        CaseSummary(
            c["reference"],
            c["name"],
            c["status"],
            c["created_at"].strftime("%d %b %Y"),
            counts.get(c["reference"], 0),
            faces.get(c["reference"], 0),
            appeals.get(c["reference"]),
            c.get("by"),
        )
        for c in cases
    )


def _followed_cases(db: Database, contacts: tuple[str, ...]) -> list[dict[str, Any]]:
    """Organisations' cases whose family agreed, from one of these chats, to hear of them; `by` names the
    organisation. By `family.contact` alone (its index), the consent judged here."""
    named = db.cases.find(
        {"family.contact": {"$in": list(contacts)}}, SUMMARY_FIELDS | {"family": 1, "organisation": 1}
    )
    followed = [case for case in named if (case.get("family") or {}).get("consent") == "agreed"]
    for case in followed:
        case["by"] = (find_organisation(db, case["organisation"]) or {}).get("name") or "?"
    return followed


def _usable_face_counts(db: Database, references: list[str]) -> dict[str, int]:
    """Case reference -> how many of its faces are good enough to match (and to show on an appeal's poster)."""
    counts: dict[str, int] = {}
    for face in db.faces.find({"owner.kind": "case", "owner.id": {"$in": references}}, {"owner": 1, "quality": 1}):
        if face.get("quality") == "ok":
            counts[face["owner"]["id"]] = counts.get(face["owner"]["id"], 0) + 1
    return counts


def running_appeals(db: Database, references: list[str]) -> dict[str, str]:
    """Case reference -> its requested or approved appeal (storage/appeals.py keeps them)."""
    # By case alone (the index's first field; a case has few appeals): SecantusDB scans for two `$in`s.
    docs = db.appeals.find({"case": {"$in": references}}, {"case": 1, "reference": 1, "status": 1})
    return {doc["case"]: doc["reference"] for doc in docs if doc["status"] in ("requested", "approved")}


def erase_contact(db: Database, contact: str) -> dict[str, int]:
    """Delete every case and sighting the contact reported, with their photos and faces."""
    erased = {"photos": delete_photos(db, draft_owner(contact))}
    references: dict[str, list[str]] = {}
    for collection, kind in (("cases", "case"), ("sightings", "sighting")):
        references[kind] = [doc["reference"] for doc in db[collection].find({"reporter": contact}, {"reference": 1})]
        for reference in references[kind]:
            erased["photos"] += delete_photos(db, Owner(kind, reference))
        erased[collection] = db[collection].delete_many({"reporter": contact}).deleted_count
    erased["candidates"] = erase_candidates(db, references["case"], references["sighting"])
    if references["case"] or references["sighting"]:
        bump_gallery(db, cases=references["case"], sightings=references["sighting"])
    return erased


def discard_draft(db: Database, contact: str) -> int:
    return delete_photos(db, draft_owner(contact))


def _adopt_draft_photos(db: Database, contact: str, owner: Owner) -> None:
    """The draft's photos, and their faces, now belong to the case or sighting (the contact's job holds its lock)."""
    draft = draft_owner(contact).query()
    photo_ids = [photo["_id"] for photo in db.photos.find(draft, {"_id": 1})]
    if not photo_ids:
        return
    # The photos' GPS places served only to ask the sender (workers/effects.py took the place if they agreed).
    db.photos.update_many(
        {"_id": {"$in": photo_ids}}, {"$set": {"owner": owner.as_doc()}, "$unset": {"exif_location": ""}}
    )
    follow_photos(db, photo_ids, owner.as_doc())


def analysed_photo_ids(db: Database, owner: Owner) -> list[str]:
    """Photos of a case or sighting whose faces are ready to match."""
    photos = db.photos.find(owner.query(), {"status": 1})  # the owner index's fields only: a few photos to check
    return [str(p["_id"]) for p in photos if p.get("status") == "analysed"]


def insert_with_reference(db: Database, collection: str, prefix: str, doc: dict[str, Any]) -> str:
    """Insert `doc` under a new random reference; the same `source` asked again returns the first one's."""
    if existing := db[collection].find_one({"source": doc["source"]}, {"reference": 1}):
        return str(existing["reference"])
    for _ in range(REFERENCE_ATTEMPTS):
        reference = make_reference(prefix, secrets.token_bytes(4))
        try:
            db[collection].insert_one(doc | {"reference": reference, "created_at": _now()})
            return reference
        except DuplicateKeyError:
            if existing := db[collection].find_one({"source": doc["source"]}, {"reference": 1}):
                return str(existing["reference"])  # a concurrent run of the same request won
            continue  # the reference is taken: draw again (810 000 per prefix)
    raise RuntimeError(f"no free {prefix} reference after {REFERENCE_ATTEMPTS} draws")


def _now() -> datetime:
    return datetime.now(UTC)
