"""Candidate matches: a (case, sighting face) pair for a reviewer, created once, decided once."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError


def record_candidate(db: Database, case: str, case_face: dict[str, Any], sighting_face: dict[str, Any], distance: float, band: str, top_k: int) -> bool:
    """Create the pair or improve its score; False when nothing changed.

    A pair is never created twice (unique index), a decided pair never
    changes, and a sighting face keeps at most top_k pending candidates.
    """
    pending_better = db.candidates.count_documents({"sighting_face_id": sighting_face["_id"], "status": "pending", "case": {"$ne": case}, "distance": {"$lt": distance}})
    if pending_better >= top_k:
        return False
    fields = {"case_face_id": case_face["_id"], "case_photo_id": case_face["photo_id"], "distance": round(distance, 4), "band": band}
    try:
        db.candidates.insert_one(
            {
                "case": case,
                "sighting": sighting_face["owner"]["id"],
                "sighting_face_id": sighting_face["_id"],
                "sighting_photo_id": sighting_face["photo_id"],
                "status": "pending",
                "created_at": datetime.now(timezone.utc),
                **fields,
            }
        )
        return True
    except DuplicateKeyError:
        improved = db.candidates.update_one({"case": case, "sighting_face_id": sighting_face["_id"], "status": "pending", "distance": {"$gt": distance}}, {"$set": fields})
        return improved.modified_count == 1


def decide(db: Database, candidate_id: ObjectId, status: str, user: str, reason: str = "") -> dict[str, Any] | None:
    """Approve or reject a pending candidate; None if it was already decided (by anyone)."""
    return db.candidates.find_one_and_update(
        {"_id": candidate_id, "status": "pending"},
        {"$set": {"status": status, "decided_by": user, "decided_at": datetime.now(timezone.utc), "reason": reason}},
        return_document=ReturnDocument.AFTER,
    )


def review_queue(db: Database, skip: int, limit: int) -> list[dict[str, Any]]:
    """Pending candidates, strong band first, then oldest first."""
    return list(db.candidates.find({"status": "pending"}).sort([("band", ASCENDING), ("created_at", ASCENDING)]).skip(skip).limit(limit))


def erase_candidates(db: Database, cases: list[str], sightings: list[str]) -> int:
    return db.candidates.delete_many({"$or": [{"case": {"$in": cases}}, {"sighting": {"$in": sightings}}]}).deleted_count
