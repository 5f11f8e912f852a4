"""Collections and their indexes, created idempotently at every start.

Unique indexes carry the domain's "never twice" rules, so a retried job or a
duplicate webhook is refused by the database itself, not by hopeful code.
"""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database

PHOTO_BUCKET = "photo_files"  # GridFS bucket: photo_files.files / photo_files.chunks

INDEXES: dict[str, list[IndexModel]] = {
    "users": [IndexModel([("username", ASCENDING)], unique=True, name="username_unique")],
    "photos": [
        # The same picture sent twice for the same case or sighting is stored once.
        IndexModel([("owner.kind", ASCENDING), ("owner.id", ASCENDING), ("sha256", ASCENDING)], unique=True, name="owner_sha256_unique"),
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="status_created"),
    ],
    "faces": [
        # A photo's faces are numbered; re-running its analysis rewrites the same slots.
        IndexModel([("photo_id", ASCENDING), ("index", ASCENDING)], unique=True, name="photo_index_unique"),
        IndexModel([("owner.kind", ASCENDING), ("owner.id", ASCENDING)], name="owner"),
        IndexModel([("owner.kind", ASCENDING), ("quality", ASCENDING), ("created_at", DESCENDING)], name="kind_quality_created"),
    ],
}


def ensure_indexes(db: Database) -> None:
    for collection, indexes in INDEXES.items():
        db[collection].create_indexes(indexes)
