"""What the panel's registrars and the partner API both do to a found person: keep its photos, follow its matches.

One path each, so a photo sent by API is analysed exactly as one chosen in the panel's form, and an organisation
sees the same of its matches in the panel as through the API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import redis
from rq import Queue

from core.outcomes import follow_up, may_set_outcome
from services.queue import enqueue_photo_analysis
from storage.candidates import candidates_of_found
from storage.connections import Database
from storage.found_persons import found_owner
from storage.photos import Owner, save_photo


def keep_found_photos(db: Database, queue: Queue | None, reference: str, photos: Iterable[tuple[bytes, str]]) -> int:
    """Store each photo (bytes, content type) of the found person and queue its analysis; how many were new."""
    return keep_photos(db, queue, found_owner(reference), photos)


def keep_photos(db: Database, queue: Queue | None, owner: Owner, photos: Iterable[tuple[bytes, str]]) -> int:
    """Store each photo (bytes, content type) of a found person or a case and queue its analysis; how many were new.

    A photo already kept for this owner (the same bytes sent again) is neither stored nor queued twice. The stored
    photo is the truth: with Redis down it waits `pending`, and the reconciler queues it (workers/reconciler.py).
    """
    created = 0
    for data, content_type in photos:
        saved = save_photo(db, data, owner, content_type)
        if saved.created:
            created += 1
            if queue is not None:
                with contextlib.suppress(redis.RedisError):
                    enqueue_photo_analysis(queue, str(saved.id))
    return created


def matches_of_found(db: Database, reference: str, partner: bool) -> list[dict[str, Any]]:
    """The record's candidates as its organisation follows them: what each became, a case's reference once approved.

    The reference is what the family's message shares. A partner (a registrar, an API key) is not shown rejected
    ones: a reviewer's "no" leaves no lead to follow, and it would name a family's case nobody shared with them.
    """
    rows = []
    for candidate in candidates_of_found(db, reference):
        status, outcome = candidate["status"], candidate.get("outcome")
        if partner and status == "rejected":
            continue
        since: datetime | None = (
            candidate.get("outcome_at") or candidate.get("decided_at") or candidate.get("created_at")
        )
        rows.append(
            {
                "id": str(candidate["_id"]),
                "status": status,
                "outcome": outcome,
                "follow_up": follow_up(status, outcome),
                "case": candidate["case"] if status == "approved" or not partner else None,
                "since": since,
                "by": candidate.get("outcome_by") if outcome else None,
                "settable": may_set_outcome(status, outcome),
            }
        )
    return rows
