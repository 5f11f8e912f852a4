"""Idempotency keys of the partner API: a POST retried with the same key gets the first answer, never a second effect.

The first request claims (API key, Idempotency-Key) in a unique index before it does anything; its answer is kept
with the claim. A retry finds the answer and gets it again; one arriving while the first still runs is told to
wait; one with another body is refused (the key was reused by mistake). A claim whose request died (the process
crashed) is taken over after STALE_S, and the work itself is idempotent underneath (a found person is created
once per key: storage/found_persons.py `source`), so a takeover completes rather than repeats. Kept KEEP_HOURS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from core.times import as_utc

STALE_S = 60  # a first request still unanswered after this is taken to have died
KEEP_HOURS = 24  # an answer is replayed this long; after it the key may be used afresh


def claim(db: Database, api_key: ObjectId, key: str, fingerprint: str) -> dict[str, Any] | None:
    """None when this request may go ahead (the claim is now its own); else the claim already there."""
    now = datetime.now(UTC)
    doc = {"api_key": api_key, "key": key, "fingerprint": fingerprint, "state": "running", "claimed_at": now}
    for _ in range(3):
        try:
            db.api_requests.insert_one(doc | {"created_at": now})
            return None
        except DuplicateKeyError:
            existing = db.api_requests.find_one({"api_key": api_key, "key": key})
        if existing is None:
            continue  # released between the two: claim again
        claimed = as_utc(existing["claimed_at"])
        expired = as_utc(existing.get("created_at", claimed)) < now - timedelta(hours=KEEP_HOURS)
        stale = existing["state"] == "running" and claimed < now - timedelta(seconds=STALE_S)
        if not (expired or stale):
            return existing
        taken = db.api_requests.update_one(
            {"api_key": api_key, "key": key, "claimed_at": existing["claimed_at"]},
            {"$set": doc | {"created_at": now}, "$unset": {"response": ""}},
        )
        if taken.modified_count == 1:
            return None
    raise RuntimeError("could not claim an idempotency key after 3 attempts")


def finish(db: Database, api_key: ObjectId, key: str, response: dict[str, Any]) -> None:
    """Keep the answer, to give it again to every retry."""
    db.api_requests.update_one({"api_key": api_key, "key": key}, {"$set": {"state": "done", "response": response}})


def release(db: Database, api_key: ObjectId, key: str) -> None:
    """The request failed on our side: forget the claim, so a retry runs it again."""
    db.api_requests.delete_one({"api_key": api_key, "key": key, "state": "running"})


def sweep_api_requests(db: Database, before: datetime) -> int:
    """Forget the answers kept for idempotency keys first used before `before` (the retention sweep's)."""
    return db.api_requests.delete_many({"created_at": {"$lt": before}}).deleted_count
