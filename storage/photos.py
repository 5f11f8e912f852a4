"""Photos: the bytes in GridFS, a record per photo in `photos`.

GridFS rather than files under the data dir: photos then live, back up and
are erased together with the records that point at them, a web process and
a worker on different hosts see the same photos, and platforms with
throw-away disks (the Procfile deployments) lose nothing on restart.

What is stored is the photo without its metadata (core/faces/metadata.py),
sealed under the data key (storage/sealing.py): GridFS holds no JPEG or PNG
a dump could show. The GPS place a draft's photo carried is kept sealed on
its record until the draft becomes a case or sighting, then dropped: a
sighting takes it as its place only when its sender said yes in the chat.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import gridfs
from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from core.faces.metadata import clean_photo
from core.faces.sender import PhotoSender
from storage.buckets import store_file
from storage.places import opened_coordinates, sealed_coordinates
from storage.schema import PHOTO_BUCKET
from storage.sealing import PHOTO, PHOTO_LOCATION, keyring
from storage.updates import update_then_read


@dataclass(frozen=True)
class Owner:
    kind: str  # case, sighting or cli
    id: str

    def as_doc(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}

    def query(self) -> dict[str, str]:
        """A filter on what this owner holds, by field, as indexed (a whole-document match uses no index)."""
        return {"owner.kind": self.kind, "owner.id": self.id}


@dataclass(frozen=True)
class SavedPhoto:
    id: ObjectId
    created: bool  # False when this owner already had these exact bytes


def save_photo(
    db: Database, data: bytes, owner: Owner, content_type: str = "", sender: PhotoSender | None = None
) -> SavedPhoto:
    """Store the bytes (cleaned of metadata, sealed) and a `pending` record; the same bytes for one owner are kept once.

    `sender` is whom to tell what the worker found (kept as the photo's `notify`).
    """
    digest = hashlib.sha256(data).hexdigest()  # of the bytes as sent: a resent photo is known before cleaning
    existing = db.photos.find_one({**owner.query(), "sha256": digest}, {"_id": 1})
    if existing:
        return SavedPhoto(existing["_id"], created=False)
    clean = clean_photo(data)
    content_type = clean.content_type or content_type
    photo_id = ObjectId()  # known before the record is written: its bytes and GPS are sealed for it alone
    file_id = _upload(db, digest, keyring().seal(clean.data, PHOTO, str(photo_id)), content_type)
    record = {
        "_id": photo_id,
        "owner": owner.as_doc(),
        "sha256": digest,
        "file_id": file_id,
        "size": len(clean.data),
        "content_type": content_type,
        "status": "pending",
        "notify": sender.as_doc() if sender else None,
        "created_at": _now(),
    }
    if clean.location is not None and owner.kind == "draft":  # only a draft's sender can still be asked about it
        record["exif_location"] = sealed_coordinates(*clean.location, PHOTO_LOCATION, keyring(), photo_id)
    try:
        return SavedPhoto(db.photos.insert_one(record).inserted_id, created=True)
    except DuplicateKeyError:
        # A concurrent delivery of the same photo won the race; keep theirs only.
        gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET).delete(file_id)
        winner = db.photos.find_one({**owner.query(), "sha256": digest}, {"_id": 1})
        assert winner is not None
        return SavedPhoto(winner["_id"], created=False)


def _upload(db: Database, name: str, data: bytes, content_type: str) -> ObjectId:
    """Store a file in GridFS under a new id, once more under another id if the first upload was cut off.

    A server killed while a chunk is written may have journaled it anyway; pymongo's retry of that write
    then meets the chunk and GridFS raises FileExists. The half-stored file is deleted and stored again.
    """
    metadata = {"content_type": content_type}
    file_id = ObjectId()
    try:
        store_file(db, PHOTO_BUCKET, data, name, metadata, file_id)
    except gridfs.errors.FileExists:
        with contextlib.suppress(gridfs.errors.NoFile):
            gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET).delete(file_id)
        file_id = store_file(db, PHOTO_BUCKET, data, name, metadata)
    return file_id


def photo_bytes(db: Database, photo: dict[str, Any]) -> bytes:
    """The photo as stored before sealing; SealError when its bytes were sealed for another photo (or planted)."""
    stored = gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET).open_download_stream(photo["file_id"]).read()
    return keyring().open(stored, PHOTO, str(photo["_id"]))


def photo_location(db: Database, owner: Owner) -> dict[str, float] | None:
    """Where the owner's first photo with EXIF GPS was taken, as {latitude, longitude}; None when none had it."""
    photos = db.photos.find(owner.query(), {"exif_location": 1, "created_at": 1})  # the owner index's fields only
    for photo in sorted((p for p in photos if "exif_location" in p), key=lambda p: p["created_at"]):
        latitude, longitude = opened_coordinates(photo["exif_location"], PHOTO_LOCATION, keyring(), photo["_id"])
        return {"latitude": latitude, "longitude": longitude}
    return None


def has_location(db: Database, owner: Owner) -> bool:
    """Whether any of the owner's photos carries a GPS place (still sealed: nothing is opened to tell)."""
    photos = db.photos.find(owner.query(), {"exif_location": 1})  # the owner index's fields only
    return any("exif_location" in photo for photo in photos)


def find_photo(db: Database, photo_id: ObjectId | str) -> dict[str, Any] | None:
    return db.photos.find_one({"_id": ObjectId(photo_id)})


def photos_of_owner(db: Database, owner: Owner) -> list[dict[str, Any]]:
    """A case's or sighting's photos, for showing: status, reason, faces found, when."""
    return list(db.photos.find(owner.query(), {"status": 1, "reason": 1, "face_count": 1, "created_at": 1}))


def start_analysis(db: Database, photo_id: ObjectId) -> dict[str, Any] | None:
    """Count one more start of a pending photo's analysis (`attempts`); the photo after it, None when not pending.

    Counted before the work, in one update: a run that times out or crashes still counts, so a photo that
    kills its job is given up after a few starts instead of being queued again for ever.
    """
    return update_then_read(db.photos, {"_id": photo_id, "status": "pending"}, {"$inc": {"attempts": 1}})


def finish_analysis(db: Database, photo_id: ObjectId, result: dict[str, Any]) -> dict[str, Any] | None:
    """Record the analysis of a pending photo; None when another run finished first (it changes nothing)."""
    return update_then_read(
        db.photos, {"_id": photo_id, "status": "pending"}, {"$set": result | {"analysed_at": _now()}}
    )


def given_up_photos(db: Database, since: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """Photos and clips stored since then whose analysis was given up (workers/jobs.py give_up), newest first."""
    query = {"status": "failed", "created_at": {"$gte": since}}  # exactly the `status_created` index's fields
    fields = {"owner": 1, "detail": 1, "content_type": 1, "created_at": 1, "analysed_at": 1}
    return list(db.photos.find(query, fields).sort("created_at", -1).limit(limit))


def mark_matched(db: Database, photo_id: ObjectId | str) -> None:
    """Stamp that the photo's faces were searched: the reconciler re-queues analysed photos without it."""
    db.photos.update_one({"_id": ObjectId(photo_id)}, {"$set": {"matched_at": _now()}})


def delete_photos(db: Database, owner: Owner) -> int:
    """Erase an owner's photos: bytes, records and faces."""
    return delete_photo_ids(db, [p["_id"] for p in db.photos.find(owner.query(), {"_id": 1})])


def delete_photo_ids(db: Database, photo_ids: list[ObjectId]) -> int:
    """Erase these photos: bytes, records and faces."""
    if not photo_ids:
        return 0
    bucket = gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET)
    photos = list(db.photos.find({"_id": {"$in": photo_ids}}, {"file_id": 1}))
    for photo in photos:
        with contextlib.suppress(gridfs.errors.NoFile):  # already gone: erasure is what we wanted
            bucket.delete(photo["file_id"])
    db.faces.delete_many({"photo_id": {"$in": [p["_id"] for p in photos]}})
    return db.photos.delete_many({"_id": {"$in": [p["_id"] for p in photos]}}).deleted_count


def _now() -> datetime:
    return datetime.now(UTC)


def move_photos(db: Database, photo_ids: list[ObjectId], owner: Owner) -> None:
    """Give photos a new owner (a clip's frames follow the clip from a draft to its sighting)."""
    if photo_ids:
        db.photos.update_many(
            {"_id": {"$in": photo_ids}, "owner": {"$ne": owner.as_doc()}}, {"$set": {"owner": owner.as_doc()}}
        )


def photos_to_reembed(db: Database, open_cases: set[str], sightings_since: datetime) -> list[dict[str, Any]]:
    """Analysed photos (not clips: their frames are photos) of open cases and of sightings since then, oldest first."""
    query = {
        "status": "analysed",
        "format": {"$ne": "VIDEO"},
        "$or": [
            {"owner.kind": "case", "owner.id": {"$in": sorted(open_cases)}},
            {"owner.kind": "sighting", "created_at": {"$gte": sightings_since}},
        ],
    }
    fields = {"owner": 1, "file_id": 1, "rotation": 1, "created_at": 1, "notify": 1, "content_type": 1}
    return list(db.photos.find(query, fields).sort("created_at", 1))


def photo_digests(db: Database, kind: str, ids: list[str]) -> dict[str, dict[str, str]]:
    """By owner id, the sha256 of each photo these owners (of one kind) hold, with its status.

    A re-import skips photos already analysed; a batch of owners in one query (a prefix of the owner index).
    """
    digests: dict[str, dict[str, str]] = {owner_id: {} for owner_id in ids}
    query = {"owner.kind": kind, "owner.id": {"$in": ids}}
    for photo in db.photos.find(query, {"owner": 1, "sha256": 1, "status": 1}):
        digests[photo["owner"]["id"]][photo["sha256"]] = photo["status"]
    return digests
