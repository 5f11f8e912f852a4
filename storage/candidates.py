"""Candidate matches: a (case, seen face) pair for a reviewer, created once, decided once.

Two kinds (`kind`): "sighting" (a citizen's sighting; candidates stored before kinds existed have no `kind` and
are sightings) and "found" (a person an organisation holds, storage/found_persons.py). Both keep the other side's
face in the same fields, `sighting_face_id` and `sighting_photo_id`, so the unique pair index (case,
sighting_face_id) and the top-k per face hold for both; a sighting candidate names its sighting in `sighting`, a
found one names its found person in `found` instead (and has no `sighting`).

`flags` (core/found/consistency.py) are what the two sides say that cannot both be true, stored when the pair
is recorded (and again for a pending pair when a found person's record changes, services/consistency.py);
`flagged` (0 or 1) lets the review queue put flagged pairs after the unflagged of the same band.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from core.faces.matching import BAND_ORDER, band_rank
from storage.updates import update_then_read

KINDS = ("sighting", "found")


def record_candidate(
    db: Database,
    case: str,
    case_face: dict[str, Any],
    sighting_face: dict[str, Any],
    distance: float,
    band: str,
    flags: list[dict[str, str]] | None = None,
    template: bool = False,
) -> bool:
    """Create the pair or improve its score; False when nothing changed.

    A pair is never created twice (unique index) and a decided pair never
    changes. Which pairs to record (the top-k cap) is the caller's policy.
    The band's rank is stored with it: the review queue sorts on it.
    The seen face's owner kind ("sighting" or "found") is the candidate's kind.
    `template`: the distance is to the case's template (several photos), which "how sure" reads against its own
    table; it changes with the score (candidates stored before it have none: their closest photo's).
    """
    fields = {
        "case_face_id": case_face["_id"],
        "case_photo_id": case_face["photo_id"],
        "distance": round(distance, 4),
        "template": template,
        "band": band,
        "band_rank": band_rank(band),
    }
    try:
        kind = sighting_face["owner"]["kind"]
        seen = {"kind": kind, ("found" if kind == "found" else "sighting"): sighting_face["owner"]["id"]}
        db.candidates.insert_one(
            {
                "case": case,
                **seen,
                "flags": flags or [],
                "flagged": 1 if flags else 0,
                "sighting_face_id": sighting_face["_id"],
                "sighting_photo_id": sighting_face["photo_id"],
                "status": "pending",
                "created_at": datetime.now(UTC),
                **fields,
            }
        )
        return True
    except DuplicateKeyError:
        pair = {"case": case, "sighting_face_id": sighting_face["_id"]}
        worse = pair | {"status": "pending", "distance": {"$gt": distance}}
        return db.candidates.update_one(worse, {"$set": fields}).modified_count == 1


def pending_distances(db: Database, sighting_face_id: ObjectId) -> dict[str, float]:
    """The cases a sighting face already has pending candidates with, and their distances."""
    found = db.candidates.find({"sighting_face_id": sighting_face_id, "status": "pending"}, {"case": 1, "distance": 1})
    return {str(c["case"]): float(c["distance"]) for c in found}


def pending_of_case(db: Database, case: str) -> list[dict[str, Any]]:
    """A case's candidates still waiting for a reviewer (their seen face's id, to score them again)."""
    return list(db.candidates.find({"case": case, "status": "pending"}, {"sighting_face_id": 1, "distance": 1}))


def withdraw_pending(db: Database, candidate_ids: list[ObjectId]) -> int:
    """Remove candidates no reviewer decided yet that their case no longer supports; a decided one stays."""
    if not candidate_ids:
        return 0
    return db.candidates.delete_many({"_id": {"$in": candidate_ids}, "status": "pending"}).deleted_count


def decide(
    db: Database, candidate_id: ObjectId, status: str, user: str, reason: str = "", exact_place: bool = False
) -> dict[str, Any] | None:
    """Approve or reject a pending candidate; None if it was already decided (by anyone).

    `exact_place`: the reviewer chose to give the family the sighting's place to the metre (kept on the
    candidate, so the reconciler tells a family the same as the panel would have).
    """
    decision = {"status": status, "decided_by": user, "decided_at": datetime.now(UTC), "reason": reason}
    decision |= {"exact_place": True} if exact_place else {}
    return update_then_read(db.candidates, {"_id": candidate_id, "status": "pending"}, {"$set": decision})


def sighting_faces_shown(db: Database, sighting: str) -> bool:
    """Whether a candidate of this sighting still shows its faces (none was decided too long ago, or one waits)."""
    return db.candidates.find_one({"sighting": sighting, "images_dropped_at": None}, {"_id": 1}) is not None


def find_candidate(db: Database, candidate_id: ObjectId) -> dict[str, Any] | None:
    return db.candidates.find_one({"_id": candidate_id})


def note_family_message(db: Database, candidate_id: ObjectId, message_id: ObjectId) -> None:
    """Keep which outbox message told the family, so the candidate page shows its delivery."""
    db.candidates.update_one({"_id": candidate_id}, {"$set": {"family_message_id": message_id}})


def note_told(db: Database, candidate_id: ObjectId) -> None:
    """Record that the family's message and the thank-you were queued (or that nobody was left to tell)."""
    db.candidates.update_one({"_id": candidate_id}, {"$set": {"told_at": datetime.now(UTC)}})


def review_queue(db: Database, skip: int, limit: int) -> list[dict[str, Any]]:
    """Pending candidates, strong band first (the core's band rank), flagged after unflagged, then oldest first.

    A flag never hides a candidate: it only waits behind the unflagged ones of its band (those recorded before
    flags existed have no `flagged` and sort as unflagged).
    """
    order = [("band_rank", ASCENDING), ("flagged", ASCENDING), ("created_at", ASCENDING)]
    return list(db.candidates.find({"status": "pending"}).sort(order).skip(skip).limit(limit))


def pending_by_band(db: Database) -> dict[str, int]:
    """How many candidates wait for a decision, per band."""
    return {band: db.candidates.count_documents({"status": "pending", "band": band}) for band in BAND_ORDER}


def overdue_strong(db: Database, before: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """Strong candidates still pending since before `before`, oldest first: the ones to escalate."""
    query = {"status": "pending", "band": "strong", "created_at": {"$lt": before}}
    return list(db.candidates.find(query).sort("created_at", ASCENDING).limit(limit))


def candidate_kind(candidate: dict[str, Any]) -> str:
    """A candidate's kind: those stored before found persons existed are sightings."""
    return str(candidate.get("kind") or "sighting")


def found_faces_shown(db: Database, found: str) -> bool:
    """Whether a candidate of this found person shows its faces (none was decided too long ago, or one waits)."""
    return db.candidates.find_one({"found": found, "images_dropped_at": None}, {"_id": 1}) is not None


def set_flags(db: Database, candidate_id: ObjectId, flags: list[dict[str, str]]) -> bool:
    """A pending candidate's flags, computed again after a side's record changed; a decided one keeps its own."""
    update = {"$set": {"flags": flags, "flagged": 1 if flags else 0}}
    return db.candidates.update_one({"_id": candidate_id, "status": "pending"}, update).modified_count == 1


def candidates_of_case(db: Database, case: str) -> list[dict[str, Any]]:
    """Every candidate of a case, whatever its status, closest first."""
    return list(db.candidates.find({"case": case}).sort("distance", ASCENDING))


def candidates_of_found(db: Database, found: str) -> list[dict[str, Any]]:
    """Every candidate of a found person, whatever its status, newest first (its registrars follow them)."""
    return list(db.candidates.find({"found": found}).sort("created_at", DESCENDING))


def cases_with_pending(db: Database) -> list[str]:
    return [str(case) for case in db.candidates.distinct("case", {"status": "pending"})]


def pending_per_case(db: Database) -> dict[str, int]:
    """How many candidates wait for a decision, per case reference."""
    pipeline = [{"$match": {"status": "pending"}}, {"$group": {"_id": "$case", "n": {"$sum": 1}}}]
    grouped = db.candidates.aggregate(pipeline)
    return {row["_id"]: row["n"] for row in grouped}


def erase_candidates(db: Database, cases: list[str], sightings: list[str], found: list[str] | None = None) -> int:
    """Delete every candidate of these cases, sightings and found persons."""
    either = [{"case": {"$in": cases}}, {"sighting": {"$in": sightings}}]
    if found:
        either.append({"found": {"$in": found}})
    return db.candidates.delete_many({"$or": either}).deleted_count


def rank_unranked(db: Database) -> int:
    """Give candidates recorded before the band rank existed their rank; how many were changed."""
    changed = 0
    for band in BAND_ORDER:
        unranked = {"band": band, "band_rank": {"$exists": False}}
        changed += db.candidates.update_many(unranked, {"$set": {"band_rank": band_rank(band)}}).modified_count
    return changed
