"""The files of an import uploaded in the panel (its CSV and ZIP), kept only until the import ends.

They hold photos and descriptions of people who cannot consent, so they are
sealed under the data key like every photo (storage/sealing.py), kept in
their own GridFS bucket (backed up and replicated with the database, readable
by a worker on another machine), and deleted when the import is done or
has failed. A key rotation does not re-seal them: an import waits minutes,
and one whose key was retired meanwhile fails asking for the files again.
"""

from __future__ import annotations

import contextlib

import gridfs
from bson import ObjectId
from pymongo.database import Database

from storage.buckets import store_file
from storage.schema import IMPORT_BUCKET as BUCKET
from storage.sealing import keyring

PURPOSE = b"import-file"  # authenticated with the sealed bytes: an upload cannot pass for a photo, nor one for it


def keep_file(db: Database, name: str, data: bytes) -> ObjectId:
    """Store one uploaded file sealed, bound to its own id (it cannot be swapped for another); the id goes in the
    import's record."""
    file_id = ObjectId()
    return store_file(db, BUCKET, keyring().seal(data, PURPOSE, str(file_id)), name, file_id=file_id)


def file_bytes(db: Database, file_id: ObjectId) -> bytes | None:
    """The file as uploaded; None when it is gone (the import ended). SealError when its key is gone."""
    try:
        stored = gridfs.GridFSBucket(db, bucket_name=BUCKET).open_download_stream(file_id).read()
    except gridfs.errors.NoFile:
        return None
    return keyring().open(stored, PURPOSE, str(file_id))


def delete_files(db: Database, file_ids: list[ObjectId]) -> None:
    """Delete the files; one already gone is what was wanted."""
    bucket = gridfs.GridFSBucket(db, bucket_name=BUCKET)
    for file_id in file_ids:
        with contextlib.suppress(gridfs.errors.NoFile):
            bucket.delete(file_id)
