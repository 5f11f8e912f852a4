"""Face records: one per face found, with its vector stored as 512 bytes of float32."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
from bson import Binary, ObjectId
from pymongo import UpdateOne
from pymongo.database import Database

from core.faces.analysis import PhotoAnalysis
from core.faces.model import ENCODING_SIZE
from storage.photos import Owner

# What matching needs of a face: its vector, whose it is, and which photo shows it.
MATCH_FIELDS = {"encoding": 1, "owner": 1, "photo_id": 1}
# What a worker's vector index holds of a face: its vector, whose it is, when it was found, which engine made it.
INDEX_FIELDS = {"encoding": 1, "owner": 1, "created_at": 1, "engine": 1}
INDEX_BATCH = 5_000


def vector_to_bytes(encoding: np.ndarray) -> Binary:
    vector = np.asarray(encoding, dtype="<f4").reshape(ENCODING_SIZE)
    return Binary(vector.tobytes())


def bytes_to_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4", count=ENCODING_SIZE)


def store_faces(db: Database, photo: dict[str, Any], analysis: PhotoAnalysis) -> int:
    """Upsert the photo's faces by (photo, index): running it twice stores nothing more."""
    now = datetime.now(UTC)
    writes = [
        UpdateOne(
            {"photo_id": photo["_id"], "index": index},
            {
                "$setOnInsert": {
                    "photo_id": photo["_id"],
                    "index": index,
                    "owner": photo["owner"],
                    "box": list(face.box),
                    "score": face.score,
                    "size_px": face.size_px,
                    "sharpness": face.sharpness,
                    "quality": face.quality,
                    "quality_reason": face.quality_reason,
                    "encoding": vector_to_bytes(face.encoding),
                    "created_at": now,
                    **({"matchable_since": now} if photo["owner"]["kind"] in ("case", "sighting") else {}),
                }
            },
            upsert=True,
        )
        for index, face in enumerate(analysis.faces)
    ]
    if not writes:
        return 0
    return db.faces.bulk_write(writes, ordered=False).upserted_count


def drop_faces_if_photo_gone(db: Database, photo_id: ObjectId) -> int:
    """Delete the faces of a photo that was erased while they were being stored; how many went."""
    if db.photos.find_one({"_id": photo_id}, {"_id": 1}) is not None:
        return 0
    return db.faces.delete_many({"photo_id": photo_id}).deleted_count


def move_faces(db: Database, query: dict[str, Any], owner: dict[str, str]) -> None:
    """Give faces a new owner; case and sighting faces are stamped as matchable from now."""
    update: dict[str, Any] = {"owner": owner}
    if owner["kind"] in ("case", "sighting"):
        update["matchable_since"] = datetime.now(UTC)
    # $and, not a merged dict: the query may itself filter on owner (a draft), which a merge would overwrite.
    db.faces.update_many({"$and": [query, {"owner": {"$ne": owner}}]}, {"$set": update})


def faces_of_photo(db: Database, photo_id: ObjectId) -> list[dict[str, Any]]:
    return list(db.faces.find({"photo_id": photo_id}).sort("index", 1))


def find_face(db: Database, face_id: ObjectId) -> dict[str, Any] | None:
    """A face without its vector: box, index, owner, photo."""
    return db.faces.find_one({"_id": face_id}, {"encoding": 0})


def usable_faces(db: Database, photo_id: ObjectId) -> list[dict[str, Any]]:
    """The faces of a photo good enough to match."""
    return list(db.faces.find({"photo_id": photo_id, "quality": "ok"}))


def faces_of_owner(db: Database, owner: Owner, except_face: ObjectId | None = None) -> list[dict[str, Any]]:
    """A case's or sighting's faces, for showing: id and quality, no vector."""
    query: dict[str, Any] = {"owner": owner.as_doc()}
    if except_face is not None:
        query["_id"] = {"$ne": except_face}
    return list(db.faces.find(query, {"_id": 1, "quality": 1, "quality_reason": 1}))


def usable_faces_of_owner(db: Database, owner: Owner) -> list[dict[str, Any]]:
    """A case's or sighting's faces good enough to match, with their vectors."""
    return list(db.faces.find({"owner": owner.as_doc(), "quality": "ok"}, MATCH_FIELDS))


def usable_case_faces(db: Database, matchable_since: datetime | None = None) -> list[dict[str, Any]]:
    """Case faces good enough to match, of any case status; only those stamped matchable since then, when given."""
    query: dict[str, Any] = {"owner.kind": "case", "quality": "ok"}
    if matchable_since is not None:
        query["matchable_since"] = {"$gte": matchable_since}
    return list(db.faces.find(query, MATCH_FIELDS))


def recent_sighting_faces(db: Database, since: datetime) -> Iterator[dict[str, Any]]:
    """Sighting faces good enough to match, found since then: what a newly reported case is searched against."""
    return iter(db.faces.find({"owner.kind": "sighting", "quality": "ok", "created_at": {"$gte": since}}, MATCH_FIELDS))


def matchable_faces(
    db: Database, kind: str, stamped_since: datetime | None = None, found_since: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Case or sighting faces good enough to match, streamed: what a worker's vector index is built from.

    Only those stamped matchable since `stamped_since` (new ones), or found since `found_since`, when given.
    """
    if stamped_since is not None:
        # Exactly the kind_matchable_since index: with `quality` too, SecantusDB scans the whole collection.
        query: dict[str, Any] = {"owner.kind": kind, "matchable_since": {"$gte": stamped_since}}
    else:
        query = {"owner.kind": kind, "quality": "ok"}
    if found_since is not None:
        query["created_at"] = {"$gte": found_since}
    found = db.faces.find(query, INDEX_FIELDS | {"quality": 1}, batch_size=INDEX_BATCH)
    return (face for face in found if face["quality"] == "ok")


def count_matchable_faces(db: Database, kind: str, found_since: datetime | None = None) -> int:
    """How many faces `matchable_faces` would stream: the total of a rebuild's progress line."""
    query: dict[str, Any] = {"owner.kind": kind, "quality": "ok"}
    if found_since is not None:
        query["created_at"] = {"$gte": found_since}
    return db.faces.count_documents(query)


def faces_by_ids(db: Database, face_ids: list[ObjectId]) -> dict[ObjectId, dict[str, Any]]:
    """The faces still stored among these (an index may hold one erased a moment ago), by id."""
    return {f["_id"]: f for f in db.faces.find({"_id": {"$in": face_ids}}, MATCH_FIELDS)}
