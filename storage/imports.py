"""Imports of found persons uploaded in the panel (collection `imports`): who sent what, and how far it got.

An import is `queued` (its files kept, its job on the bulk lane), `running`
(rows done of total, updated every few rows), then `done` with its summary
(the JSON `homeward found import` prints) or `failed` with the reason. Its
files are deleted when it ends either way (storage/import_files.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import DESCENDING
from pymongo.database import Database

from storage.updates import update_then_read

STATUSES = ("queued", "running", "done", "failed")
UNFINISHED = STATUSES[:2]
LISTED = 100  # the newest imports a page lists


def create_import(
    db: Database, organisation: ObjectId, by: str, names: dict[str, str], files: list[ObjectId], dry_run: bool
) -> ObjectId:
    """Record an upload whose files are kept; `names` are the CSV's and the ZIP's file names as uploaded."""
    doc = {
        "organisation": organisation,
        "by": by,
        "csv_name": names["csv"],
        "zip_name": names["zip"],
        "files": files,
        "dry_run": dry_run,
        "status": "queued",
        "attempts": 0,
        "rows_done": 0,
        "rows_total": None,
        "created_at": datetime.now(UTC),
    }
    return db.imports.insert_one(doc).inserted_id


def find_import(db: Database, import_id: str, organisation: ObjectId | None = None) -> dict[str, Any] | None:
    """The import; with `organisation`, only if it is that organisation's (None otherwise, as for an unknown id)."""
    try:
        found = db.imports.find_one({"_id": ObjectId(import_id)})
    except (InvalidId, TypeError):
        return None
    if found is None or (organisation is not None and found["organisation"] != organisation):
        return None
    return found


def list_imports(db: Database, organisation: ObjectId | None = None) -> list[dict[str, Any]]:
    """Newest first: one organisation's, or every one's."""
    query = {} if organisation is None else {"organisation": organisation}
    return list(db.imports.find(query, {"files": 0}).sort("created_at", DESCENDING).limit(LISTED))


def start_import(db: Database, import_id: ObjectId) -> dict[str, Any] | None:
    """Mark it running and count the attempt; None when it has ended (a job run again after the end)."""
    query = {"_id": import_id, "status": {"$in": ["queued", "running"]}}
    update = {"$set": {"status": "running", "started_at": datetime.now(UTC)}, "$inc": {"attempts": 1}}
    return update_then_read(db.imports, query, update)


def end_unfinished(db: Database, import_id: ObjectId, reason: str) -> bool:
    """Mark failed an import still queued or running; False when it ended meanwhile."""
    query = {"_id": import_id, "status": {"$in": ["queued", "running"]}}
    fields = {"status": "failed", "error": reason, "finished_at": datetime.now(UTC), "files": []}
    return update_then_read(db.imports, query, {"$set": fields}) is not None


def record_progress(db: Database, import_id: ObjectId, rows_done: int, rows_total: int) -> None:
    db.imports.update_one({"_id": import_id}, {"$set": {"rows_done": rows_done, "rows_total": rows_total}})


def retry_later(db: Database, import_id: ObjectId, reason: str) -> None:
    """It stopped and will run once more: back to queued, saying why."""
    db.imports.update_one({"_id": import_id}, {"$set": {"status": "queued", "error": reason}})


def unfinished_imports(db: Database, uploaded_before: datetime, limit: int) -> list[dict[str, Any]]:
    """Imports still queued or running that were uploaded before the cutoff: their worker died under them."""
    found: list[dict[str, Any]] = []
    for status in UNFINISHED:  # one query each: SecantusDB scans for `$in` beside a range, uses the index for these
        if len(found) < limit:  # (a limit of 0 is none)
            query = {"status": status, "created_at": {"$lt": uploaded_before}}
            found += db.imports.find(query).limit(limit - len(found))
    return found


def finish_import(db: Database, import_id: ObjectId, summary: dict[str, Any] | None, error: str | None = None) -> None:
    """Done with its summary, or failed with the reason; either way it no longer lists files (they are deleted)."""
    fields: dict[str, Any] = {"status": "failed" if error else "done", "finished_at": datetime.now(UTC), "files": []}
    fields |= {"error": error} if error else {"summary": summary, "error": None}
    db.imports.update_one({"_id": import_id}, {"$set": fields})
