"""The removal log the workers' face replicas follow (search/replica.py): which cases', sightings' and found persons'
faces left.

Kept by storage because storage's own removals (closing, erasure, retention) write it; only ids, for a day.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from storage.updates import next_number

GALLERY_COUNTER = "gallery:removals"
GALLERY_INSTANCE = "gallery:instance"

# How long the removal log keeps the references it names; a worker whose index snapshot is older rebuilds.
GALLERY_CHANGES_KEPT = timedelta(days=1)


def bump_gallery(
    db: Database, cases: Sequence[str] | None = None, sightings: Sequence[str] = (), found: Sequence[str] = ()
) -> None:
    """Tell every worker's vector indexes that these cases', sightings' and found persons' faces left matching.

    (Closed or erased.) Entries written before found persons existed have no `found`: none of theirs left.

    Each worker removes just those faces. Without `cases` (None), the workers
    cannot know which faces went and rebuild their indexes from the database:
    slow at scale (~40 s per million faces), so name them.
    """
    seq = next_number(db.counters, GALLERY_COUNTER)
    now = datetime.now(UTC)
    cases_left = None if cases is None else list(cases)
    change = {"seq": seq, "at": now, "cases": cases_left, "sightings": list(sightings), "found": list(found)}
    db.gallery_changes.insert_one(change)
    db.gallery_changes.delete_many({"at": {"$lt": now - GALLERY_CHANGES_KEPT}})  # ids only, and only for a while


def gallery_version(db: Database) -> int:
    """How many removals there have been (closed or erased cases and sightings)."""
    return int((db.counters.find_one({"_id": GALLERY_COUNTER}) or {}).get("seq", 0))


def gallery_removals(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Removals recorded since then, oldest first: `cases`, `sightings` and `found` references (`cases` None: all)."""
    return list(db.gallery_changes.find({"at": {"$gte": since}}).sort("seq", ASCENDING))


def gallery_instance(db: Database) -> str:
    """A name for this database, kept in it: an index snapshot made from another database is not used."""
    db.counters.update_one({"_id": GALLERY_INSTANCE}, {"$setOnInsert": {"name": secrets.token_hex(8)}}, upsert=True)
    return str(db.counters.find_one({"_id": GALLERY_INSTANCE})["name"])  # type: ignore[index]
