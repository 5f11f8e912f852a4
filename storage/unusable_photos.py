"""Photos a bulk import found no usable face in, by content: a re-run refuses them again without analysing them.

Only the sha256 and the reason are kept (never the photo), per organisation
and face engine (another engine may find the face). A re-run of a large file
whose bad rows were left in it then costs no face analysis for them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bson import ObjectId
from pymongo.database import Database


def remember_unusable(db: Database, organisation: ObjectId, engine: str, digest: str, reason: str) -> None:
    db.unusable_photos.update_one(
        {"_id": f"{organisation}:{engine}:{digest}"},
        {"$set": {"organisation": organisation, "engine": engine, "reason": reason, "at": datetime.now(UTC)}},
        upsert=True,
    )


def unusable_photos(db: Database, organisation: ObjectId, engine: str) -> dict[str, str]:
    """sha256 -> why, for this organisation's photos this engine found no usable face in."""
    query = {"organisation": organisation, "engine": engine}  # exactly the organisation_engine index
    return {doc["_id"].rsplit(":", 1)[1]: doc["reason"] for doc in db.unusable_photos.find(query, {"reason": 1})}
