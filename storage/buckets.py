"""GridFS buckets (photos, import files): the one way a file is stored in one.

pymongo checks a bucket's indexes before each file it stores, with a `find_one({})`
on the bucket's files and chunks collections. SecantusDB answers that query by
scanning the whole collection (the limit is applied after), decoding every chunk:
each photo stored cost more the more photos were kept (a bulk import fell from ~7
to ~5 photos a second between 1 000 and 4 000 photos, the database at 93 % CPU).
The indexes are made at start instead (storage/schema.py, GridFS's own names and
options), and the check is skipped.
"""

from __future__ import annotations

from typing import Any

import gridfs
from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.database import Database


def bucket_indexes(bucket_name: str) -> dict[str, list[IndexModel]]:
    """GridFS's own indexes of a bucket (the names pymongo gives them), for storage/schema.py to make at start."""
    return {
        f"{bucket_name}.files": [IndexModel([("filename", ASCENDING), ("uploadDate", ASCENDING)])],
        f"{bucket_name}.chunks": [IndexModel([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)],
    }


def store_file(
    db: Database, bucket_name: str, data: bytes, name: str, metadata: dict[str, Any] | None = None,
    file_id: ObjectId | None = None,
) -> ObjectId:  # fmt: skip
    """Store `data` as one file of the bucket under `file_id` (a new id if None); return the id."""
    file_id = file_id or ObjectId()
    bucket = gridfs.GridFSBucket(db, bucket_name=bucket_name)
    with bucket.open_upload_stream_with_id(file_id, name, metadata=metadata) as stream:
        object.__setattr__(stream, "_ensured_index", True)  # made at start: see the module's docstring
        stream.write(data)
    return file_id
