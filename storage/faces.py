"""Face records: one per face found and engine, with its vector stored as little-endian float32 bytes, sealed.

Every face records the engine that made its vector (`engine`; faces stored
before engines existed have none and are dlib's). Every query that feeds
matching takes an engine and returns only that engine's faces, so vectors of
different engines are never compared. The vectors are sealed
(storage/sealing.py), each bound to its face (photo, engine, index: the
unique key), and opened here, at the storage boundary: whoever reads a face
(the gallery, matching) gets the plain vector from `stored_vector`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from bson import Binary, ObjectId
from pymongo import UpdateOne
from pymongo.database import Database

from core.faces.analysis import PhotoAnalysis
from core.faces.engines import DEFAULT_ENGINE, ENGINES
from storage.photos import Owner
from storage.sealing import FACE_ENCODING, Keyring, is_sealed, keyring

# The owner kinds whose faces take part in matching (stamped `matchable_since`): drafts' and the command line's never.
MATCHED_KINDS = ("case", "sighting", "found")
# What matching needs of a face: its vector, whose it is, and which photo shows it.
MATCH_FIELDS = {"encoding": 1, "owner": 1, "photo_id": 1, "engine": 1, "index": 1}
# The lengths of plain (unsealed, stored before encryption) vectors: 4 bytes a dimension, per engine.
PLAIN_BYTES = frozenset(4 * engine.dim for engine in ENGINES.values())
# What a worker's vector index holds of a face: its vector, whose it is, when it was found, which engine made it.
INDEX_FIELDS = {"encoding": 1, "owner": 1, "created_at": 1, "engine": 1, "photo_id": 1, "index": 1}
INDEX_BATCH = 5_000


def vector_to_bytes(encoding: np.ndarray) -> Binary:
    vector = np.asarray(encoding, dtype="<f4").reshape(-1)
    return Binary(vector.tobytes())


def sealed_vector(encoding: np.ndarray, record: str | None = None) -> Binary:
    """The vector as it is stored: its bytes sealed under the current data key, for face `record` (face_record)."""
    return Binary(keyring().seal(vector_to_bytes(encoding), FACE_ENCODING, record))


def face_record(face: dict[str, Any]) -> str:
    """What a face's encoding is sealed for: its photo, engine and index (the unique key), so it opens nowhere else."""
    return f"{face['photo_id']}:{face.get('engine') or DEFAULT_ENGINE}:{face['index']}"


def stored_vector(face: dict[str, Any]) -> np.ndarray:
    """A stored face's plain vector; SealError when its encoding was copied from another face, or planted plain."""
    return np.frombuffer(encoding_bytes(face["encoding"], record=face_record(face)), dtype="<f4")


def bytes_to_vector(blob: bytes) -> np.ndarray:
    """The plain vector of an encoding sealed for no record (or plain): the benchmarks' and snapshots' kind."""
    return np.frombuffer(encoding_bytes(blob), dtype="<f4")


def encoding_bytes(blob: bytes, keys: Keyring | None = None, record: str | None = None) -> bytes:
    """The plain bytes of a stored encoding: one stored before encryption is exactly a plain vector long."""
    keys = keys or keyring()
    if len(blob) in PLAIN_BYTES or not is_sealed(blob):
        return keys.unsealed(blob, FACE_ENCODING)
    return keys.open(blob, FACE_ENCODING, record)


def of_engine(engine: str) -> dict[str, Any]:
    """The query part that keeps one engine's faces (faces stored before engines existed are dlib's)."""
    return {"engine": {"$in": [engine, None]}} if engine == DEFAULT_ENGINE else {"engine": engine}


def store_faces(
    db: Database, photo: dict[str, Any], analysis: PhotoAnalysis, created_at: datetime | None = None
) -> int:
    """Upsert the photo's faces by (photo, engine, index): running it twice stores nothing more.

    `created_at` (default now) is when the face was first seen: re-embedding keeps the original
    face's date, so a sighting still leaves the lookback window when it would have.
    """
    now = datetime.now(UTC)
    writes = [
        UpdateOne(
            # Exactly the unique index's fields (every face has its engine since label_engineless_faces):
            # SecantusDB scans the collection for a filter that is not made of one index's fields.
            {"photo_id": photo["_id"], "engine": analysis.engine, "index": index},
            {
                "$setOnInsert": {
                    "photo_id": photo["_id"],
                    "index": index,
                    "engine": analysis.engine,
                    "owner": photo["owner"],
                    "box": list(face.box),
                    "score": face.score,
                    "size_px": face.size_px,
                    "sharpness": face.sharpness,
                    "quality": face.quality,
                    "quality_reason": face.quality_reason,
                    "encoding": sealed_vector(face.encoding, _record_of(photo, analysis, index)),
                    "created_at": created_at or now,
                    **({"matchable_since": now} if photo["owner"]["kind"] in MATCHED_KINDS else {}),
                }
            },
            upsert=True,
        )
        for index, face in enumerate(analysis.faces)
    ]
    if not writes:
        return 0
    return db.faces.bulk_write(writes, ordered=False).upserted_count


def _record_of(photo: dict[str, Any], analysis: PhotoAnalysis, index: int) -> str:
    return face_record({"photo_id": photo["_id"], "engine": analysis.engine, "index": index})


def drop_faces_if_photo_gone(db: Database, photo_id: ObjectId) -> int:
    """Delete the faces of a photo that was erased while they were being stored; how many went."""
    if db.photos.find_one({"_id": photo_id}, {"_id": 1}) is not None:
        return 0
    return db.faces.delete_many({"photo_id": photo_id}).deleted_count


def follow_photos(db: Database, photo_ids: Sequence[ObjectId], owner: dict[str, str]) -> None:
    """The one way faces change owner: they follow their photos (a draft's to its case or sighting).

    Case, sighting and found-person faces are stamped as matchable from now, so the workers' indexes take them in.
    Called by whoever moved the photos, and again by the jobs that may have raced with that move (analysis, matching).
    """
    if not photo_ids:
        return
    update: dict[str, Any] = {"owner": owner}
    if owner["kind"] in MATCHED_KINDS:
        update["matchable_since"] = datetime.now(UTC)
    # Found by photo alone (an index's first field) and the owner compared here: with the owner in the filter
    # SecantusDB scans every face (tests/test_query_plans.py).
    query = {"photo_id": photo_ids[0]} if len(photo_ids) == 1 else {"photo_id": {"$in": list(photo_ids)}}
    moving = [face["_id"] for face in db.faces.find(query, {"owner": 1}) if face.get("owner") != owner]
    if moving:
        db.faces.update_many({"_id": {"$in": moving}}, {"$set": update})


def faces_of_photo(db: Database, photo_id: ObjectId, engine: str | None = None) -> list[dict[str, Any]]:
    """A photo's faces in order; only one engine's when given (a re-embedded photo has faces of both)."""
    query = {"photo_id": photo_id, **(of_engine(engine) if engine else {})}
    return list(db.faces.find(query).sort("index", 1))


def photo_has_faces_of(db: Database, photo_id: ObjectId, engine: str) -> bool:
    """Whether this engine already embedded the photo (`homeward reembed` skips it then)."""
    return db.faces.find_one({"photo_id": photo_id, **of_engine(engine)}, {"_id": 1}) is not None


def find_face(db: Database, face_id: ObjectId) -> dict[str, Any] | None:
    """A face without its vector: box, index, owner, photo."""
    return db.faces.find_one({"_id": face_id}, {"encoding": 0})


def usable_faces(db: Database, photo_id: ObjectId, engine: str = DEFAULT_ENGINE) -> list[dict[str, Any]]:
    """The faces of a photo good enough to match, of one engine."""
    faces = db.faces.find({"photo_id": photo_id, **of_engine(engine)})  # an index's fields; quality checked here
    return [face for face in faces if face.get("quality") == "ok"]


def _owned_faces(db: Database, owner: Owner, fields: dict[str, int], engine: str | None) -> list[dict[str, Any]]:
    """An owner's faces (one engine's when given), found through the `owner` index.

    The filter names exactly the index's fields and the rest is checked here: an owner has a few faces,
    and SecantusDB uses an index only for a filter of exactly its fields (more: a scan of every face).
    """
    faces = db.faces.find(owner.query(), fields | {"engine": 1, "quality": 1})
    return [face for face in faces if engine is None or (face.get("engine") or DEFAULT_ENGINE) == engine]


def faces_of_owner(
    db: Database, owner: Owner, except_face: ObjectId | None = None, engine: str | None = None
) -> list[dict[str, Any]]:
    """A case's or sighting's faces, for showing: id and quality, no vector; one engine's when given."""
    faces = _owned_faces(db, owner, {"_id": 1, "quality_reason": 1}, engine)
    return [face for face in faces if face["_id"] != except_face]


def usable_faces_of_owner(db: Database, owner: Owner, engine: str = DEFAULT_ENGINE) -> list[dict[str, Any]]:
    """A case's or sighting's faces good enough to match, with their vectors, of one engine."""
    return [face for face in _owned_faces(db, owner, MATCH_FIELDS, engine) if face.get("quality") == "ok"]


def usable_case_faces_of(
    db: Database, cases: list[str], engine: str = DEFAULT_ENGINE
) -> dict[str, list[dict[str, Any]]]:
    """Several cases' usable faces of one engine, with their vectors, in one query (the `owner` index, `$in`):
    what scoring each candidate case by all its photos needs."""
    faces = db.faces.find({"owner.kind": "case", "owner.id": {"$in": cases}}, MATCH_FIELDS | {"quality": 1})
    held: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    for face in faces:
        if face.get("quality") == "ok" and (face.get("engine") or DEFAULT_ENGINE) == engine:
            held[face["owner"]["id"]].append(face)
    return held


def best_face_of_owner(db: Database, owner: Owner) -> dict[str, Any] | None:
    """The largest usable face of a case (photo and box), for an appeal's poster; None when it has none."""
    faces = [
        f for f in _owned_faces(db, owner, {"photo_id": 1, "box": 1, "size_px": 1}, None) if f.get("quality") == "ok"
    ]
    return max(faces, key=lambda face: face.get("size_px") or 0, default=None)


def usable_case_faces(
    db: Database, matchable_since: datetime | None = None, engine: str = DEFAULT_ENGINE
) -> list[dict[str, Any]]:
    """One engine's case faces good enough to match, of any case status; only those stamped matchable since then."""
    query: dict[str, Any] = {"owner.kind": "case", "quality": "ok", **of_engine(engine)}
    if matchable_since is not None:
        query["matchable_since"] = {"$gte": matchable_since}
    return list(db.faces.find(query, MATCH_FIELDS))


def recent_sighting_faces(db: Database, since: datetime, engine: str = DEFAULT_ENGINE) -> Iterator[dict[str, Any]]:
    """One engine's sighting faces good enough to match, found since then: what a new case is searched against."""
    query = {"owner.kind": "sighting", "quality": "ok", "created_at": {"$gte": since}, **of_engine(engine)}
    return iter(db.faces.find(query, MATCH_FIELDS))


def matchable_faces(
    db: Database, kind: str, stamped_since: datetime | None = None, found_since: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Case, sighting or found-person faces good enough to match, streamed: what a worker's vector index is built from.

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
