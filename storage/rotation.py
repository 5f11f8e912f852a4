"""Re-seal everything stored under the current data key: what `homeward rotate-key` runs.

Values sealed under an older key, those sealed before values were bound to
their records, and those stored before encryption existed, are opened and
sealed again under the key that seals now, bound to their record; values
already so are left alone, so a run that was interrupted simply runs again.
The start-up migration `seal_every_value` (storage/schema.py) runs it once
per database, before unsealed and unbound values are refused.
Each write is a compare-and-set on the old value: a face or photo erased or
changed meanwhile is not brought back.

A photo's bytes cannot be changed in place in GridFS, so a new file is
written (marked `resealed_from` the old one), the record is pointed at it,
then the old file is deleted and the mark removed. A run interrupted
anywhere in between is finished by the next one (`_finish_interrupted`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import gridfs
from bson import Binary
from pymongo.database import Database

from storage.buckets import store_file
from storage.faces import encoding_bytes, face_record
from storage.partner_hooks import reseal_secrets
from storage.places import open_place, seal_place
from storage.schema import PHOTO_BUCKET
from storage.sealing import FACE_ENCODING, OVERHEAD, PHOTO, PHOTO_LOCATION, Keyring

# (what, done, of how many): called now and then, and at the end of each kind.
Progress = Callable[[str, int, int], None]
REPORT_EVERY = 200


@dataclass
class Resealed:
    faces: int = 0
    photos: int = 0
    locations: int = 0
    secrets: int = 0  # partner webhooks' (storage/partner_hooks.py)
    skipped: dict[str, int] = field(default_factory=dict)  # gone or changed meanwhile

    @property
    def total(self) -> int:
        return self.faces + self.photos + self.locations + self.secrets


def reseal_everything(db: Database, keys: Keyring, progress: Progress | None = None) -> Resealed:
    """Bring every sealed (or still plain) value under the current key; how many were re-sealed."""
    report = progress or (lambda _what, _done, _total: None)
    done = Resealed()
    _finish_interrupted(db)
    _reseal_faces(db, keys, report, done)
    _reseal_photos(db, keys, report, done)
    _reseal_locations(db, keys, done)
    _reseal_sighting_places(db, keys, done)
    done.secrets = reseal_secrets(db, keys)
    return done


def not_under_current_key(db: Database, keys: Keyring) -> int:
    """How many stored values a rotation would still re-seal (0 once one has finished)."""
    faces = sum(1 for face in db.faces.find({}, {"encoding": 1}) if not keys.is_current(face["encoding"], True))
    bucket = gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET)
    photos = 0
    for photo in db.photos.find({}, {"file_id": 1}):
        with contextlib.suppress(gridfs.errors.NoFile):
            photos += not keys.is_current(_head(bucket, photo["file_id"]), True)
    return faces + photos


def _reseal_faces(db: Database, keys: Keyring, report: Progress, done: Resealed) -> None:
    total = db.faces.count_documents({})
    for number, face in enumerate(db.faces.find({}, {"encoding": 1, "photo_id": 1, "engine": 1, "index": 1}), 1):
        old, record = face["encoding"], face_record(face)
        if not keys.is_current(old, bound=True):
            new = Binary(keys.seal(encoding_bytes(old, keys, record), FACE_ENCODING, record))
            if db.faces.update_one({"_id": face["_id"], "encoding": old}, {"$set": {"encoding": new}}).modified_count:
                done.faces += 1
            else:
                done.skipped["faces"] = done.skipped.get("faces", 0) + 1
        if number % REPORT_EVERY == 0:
            report("faces", number, total)
    report("faces", total, total)


def _reseal_photos(db: Database, keys: Keyring, report: Progress, done: Resealed) -> None:
    bucket = gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET)
    total = db.photos.count_documents({})
    for number, photo in enumerate(db.photos.find({}, {"file_id": 1, "sha256": 1}), 1):
        if number % REPORT_EVERY == 0:
            report("photos", number, total)
        old_id = photo["file_id"]
        try:
            if keys.is_current(_head(bucket, old_id), bound=True):
                continue
            stream = bucket.open_download_stream(old_id)
            stored, metadata = stream.read(), dict(stream.metadata or {})
        except gridfs.errors.NoFile:
            done.skipped["photos"] = done.skipped.get("photos", 0) + 1  # erased meanwhile
            continue
        record = str(photo["_id"])
        sealed = keys.seal(keys.open(stored, PHOTO, record), PHOTO, record)
        new_id = store_file(db, PHOTO_BUCKET, sealed, photo.get("sha256", ""), metadata | {"resealed_from": old_id})
        if db.photos.update_one({"_id": photo["_id"], "file_id": old_id}, {"$set": {"file_id": new_id}}).modified_count:
            _retire(db, bucket, new_id, old_id)
            done.photos += 1
        else:
            bucket.delete(new_id)  # the photo was erased or changed meanwhile: keep nothing of it
            done.skipped["photos"] = done.skipped.get("photos", 0) + 1
    report("photos", total, total)


def _reseal_locations(db: Database, keys: Keyring, done: Resealed) -> None:
    for photo in db.photos.find({"exif_location": {"$exists": True}}, {"exif_location": 1}):
        old, record = photo["exif_location"], str(photo["_id"])
        if keys.is_current(old, bound=True):
            continue
        new = Binary(keys.seal(keys.open(old, PHOTO_LOCATION, record), PHOTO_LOCATION, record))
        if db.photos.update_one(
            {"_id": photo["_id"], "exif_location": old}, {"$set": {"exif_location": new}}
        ).modified_count:
            done.locations += 1


def _reseal_sighting_places(db: Database, keys: Keyring, done: Resealed) -> None:
    """Sightings' coordinates: sealed ones under an older key, and plain ones stored before sealing."""
    for sighting in db.sightings.find({}, {"place": 1}):
        old = sighting.get("place")
        if not isinstance(old, dict) or ("sealed" in old and keys.is_current(old["sealed"], bound=True)):
            continue
        new = seal_place(open_place(old, keys, sighting["_id"]), keys, sighting["_id"])
        if (
            new != old
            and db.sightings.update_one({"_id": sighting["_id"], "place": old}, {"$set": {"place": new}}).modified_count
        ):
            done.locations += 1


def _finish_interrupted(db: Database) -> None:
    """Files a stopped run left marked: keep the one its record points at, delete the other."""
    bucket = gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET)
    files = db[f"{PHOTO_BUCKET}.files"]
    for marked in files.find({"metadata.resealed_from": {"$exists": True}}, {"metadata.resealed_from": 1}):
        if db.photos.find_one({"file_id": marked["_id"]}, {"_id": 1}) is not None:
            _retire(db, bucket, marked["_id"], marked["metadata"]["resealed_from"])
        else:
            with contextlib.suppress(gridfs.errors.NoFile):
                bucket.delete(marked["_id"])


def _retire(db: Database, bucket: gridfs.GridFSBucket, new_id: object, old_id: object) -> None:
    """The record points at the new file: delete the old one (unless something still points at it), unmark the new."""
    if db.photos.find_one({"file_id": old_id}, {"_id": 1}) is None:
        with contextlib.suppress(gridfs.errors.NoFile):
            bucket.delete(old_id)
    db[f"{PHOTO_BUCKET}.files"].update_one({"_id": new_id}, {"$unset": {"metadata.resealed_from": ""}})


def _head(bucket: gridfs.GridFSBucket, file_id: object) -> bytes:
    """The first bytes of a stored file: enough to tell under which key it is sealed."""
    return bucket.open_download_stream(file_id).read(OVERHEAD)
