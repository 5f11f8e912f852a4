"""What the reconciler looks for: work that was stored but whose job may never have been queued.

Each query is bounded (`limit`) and returns ids only; queuing their jobs again is
safe because every job is idempotent. Outbox and inbound queries return one
message per contact: a contact's job handles all of its pending messages in order.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.database import Database

from storage.faces import MATCHED_KINDS
from storage.photos import delete_photo_ids

# A message whose send failed waits for RQ's retry (at most an hour apart, services/queue.py OUTBOX_RETRY).
# Photos analysed before `matched_at` existed have none; only recent ones are matched again, not years of them.
MATCH_RECOVERY_WINDOW = timedelta(days=7)


def pending_photos(db: Database, older_than: datetime, limit: int = 100) -> list[str]:
    """Photos stored before `older_than` and still waiting for their analysis."""
    query = {"status": "pending", "created_at": {"$lt": older_than}}
    return [str(p["_id"]) for p in db.photos.find(query, {"_id": 1}).sort("created_at", ASCENDING).limit(limit)]


def unmatched_photos(db: Database, older_than: datetime, limit: int = 100) -> list[str]:
    """Analysed case, sighting and found-person photos whose matching never finished (no `matched_at`), this week."""
    # Exactly the `unmatched` index's fields (SecantusDB scans every photo for a filter naming more);
    # drafts' photos, analysed but matched only once adopted, are passed over here.
    query = {
        "status": "analysed",
        "matched_at": None,
        "analysed_at": {"$lt": older_than, "$gte": older_than - MATCH_RECOVERY_WINDOW},
    }
    found = db.photos.find(query, {"owner.kind": 1}).sort("analysed_at", ASCENDING)
    matchable = (str(p["_id"]) for p in found if p["owner"]["kind"] in MATCHED_KINDS)
    return list(itertools.islice(matchable, limit))


def untold_approvals(db: Database, older_than: datetime, limit: int = 100) -> list[ObjectId]:
    """Candidates approved before `older_than` whose family message was never recorded as queued."""
    query = {"status": "approved", "told_at": None, "decided_at": {"$lt": older_than}}
    return [c["_id"] for c in db.candidates.find(query, {"_id": 1}).sort("decided_at", ASCENDING).limit(limit)]


def sweep_orphan_faces(db: Database, since: datetime, limit: int = 1000) -> tuple[int, datetime | None]:
    """Delete faces created since `since` whose photo no longer exists (erased while being analysed).

    A clip's frame whose clip is gone (erased while the clip was analysed) goes too, with its faces.
    Returns how many faces were deleted, and the creation time to continue from when the batch
    was full (None when every face since `since` was looked at).
    """
    faces = list(
        db.faces.find({"created_at": {"$gte": since}}, {"photo_id": 1, "created_at": 1})
        .sort("created_at", ASCENDING)
        .limit(limit)
    )
    photo_ids = list({f["photo_id"] for f in faces})
    photos = list(db.photos.find({"_id": {"$in": photo_ids}}, {"_id": 1, "video_id": 1}))
    existing = {p["_id"] for p in photos}
    orphans = [photo_id for photo_id in photo_ids if photo_id not in existing]
    deleted = db.faces.delete_many({"photo_id": {"$in": orphans}}).deleted_count if orphans else 0
    deleted += _drop_orphan_frames(db, photos)
    return deleted, faces[-1]["created_at"] if len(faces) == limit else None


def _drop_orphan_frames(db: Database, photos: list[dict[str, Any]]) -> int:
    """Erase the frames (photos, faces) whose clip is gone; how many faces went with them."""
    clips = {p["video_id"] for p in photos if p.get("video_id")}
    if not clips:
        return 0
    kept = {c["_id"] for c in db.photos.find({"_id": {"$in": list(clips)}}, {"_id": 1})}
    frames = [p["_id"] for p in photos if p.get("video_id") in clips - kept]
    if not frames:
        return 0
    faces = db.faces.count_documents({"photo_id": {"$in": frames}})
    delete_photo_ids(db, frames)
    return faces
