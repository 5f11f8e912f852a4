"""Public appeals (AP-…): what the family chose to show, the reviewer's decision, the posters, and their end.

An appeal is `requested` (by the family, in the chat), then `approved` or `refused` (by a reviewer, with a
reason), and `ended` when its case closes, is erased, or the family withdraws it. Only an approved appeal
is public, through its unguessable `token` (/a/<token>); its posters are files of the `poster_files`
bucket, deleted when it ends. The record is the truth the reconciler reads: an approved appeal without
`sent_at` is rendered and sent again, an ended one still holding files has them deleted.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import UTC, datetime
from typing import Any

import gridfs
from bson import ObjectId
from gridfs.errors import NoFile
from pymongo import ASCENDING
from pymongo.database import Database

from core.conversation.references import APPEAL_PREFIX
from core.times import as_utc
from storage.buckets import store_file
from storage.cases import insert_with_reference
from storage.schema import POSTER_BUCKET

ACTIVE = ("requested", "approved")
POSTER_KINDS = {"a4.png": "image/png", "a4.pdf": "application/pdf", "phone.png": "image/png"}


def request_appeal(
    db: Database, contact: str, case_reference: str, choices: dict[str, Any], language: str, source: str
) -> str:
    """Store the family's request once (`source`: the message that confirmed it); its AP reference.

    A case with a running appeal keeps it: asking again returns that one.
    """
    running = [doc for doc in db.appeals.find({"case": case_reference}) if doc["status"] in ACTIVE]
    if running:
        return str(running[0]["reference"])
    doc = {
        "case": case_reference,
        "contact": contact,
        "choices": choices,
        "language": language,
        "status": "requested",
        "has_posters": False,
        "sent": False,  # the family has its posters (a field matched against null would make SecantusDB scan)
        "token": secrets.token_urlsafe(18),
        "source": source,
    }
    return insert_with_reference(db, "appeals", APPEAL_PREFIX, doc)


def find_appeal(db: Database, reference: str) -> dict[str, Any] | None:
    return db.appeals.find_one({"reference": reference})


def appeal_by_token(db: Database, token: str) -> dict[str, Any] | None:
    return db.appeals.find_one({"token": token})


def appeals_with_status(db: Database, status: str, limit: int = 200) -> list[dict[str, Any]]:
    """Appeals in one state, oldest first (the reviewers' list of requests)."""
    return list(db.appeals.find({"status": status}).sort("created_at", ASCENDING).limit(limit))


def decide_appeal(db: Database, reference: str, status: str, by: str, reason: str, city: str | None = None) -> bool:
    """A reviewer's decision on a requested appeal; False when it was no longer waiting (decided or ended).

    `city`: for a typed last-seen place, the bundled city volunteers are measured from ("" for none).
    """
    update = {"status": status, "decided_by": by, "decided_at": _now(), "reason": reason}
    update |= {"city": city} if city is not None else {}
    result = db.appeals.update_one({"reference": reference, "status": "requested"}, {"$set": update})
    return result.modified_count == 1


def end_appeal(db: Database, reference: str, why: str) -> dict[str, Any] | None:
    """Mark a running appeal ended; the appeal as it was, or None when it was not running."""
    return db.appeals.find_one_and_update(
        {"reference": reference, "status": {"$in": list(ACTIVE)}},
        {"$set": {"status": "ended", "ended_why": why, "ended_at": _now()}},
    )


def store_posters(db: Database, reference: str, files: dict[str, bytes]) -> bool:
    """Keep the rendered posters on the approved appeal; False (and nothing kept) when it ended meanwhile."""
    ids = {
        kind.replace(".", "_"): store_file(db, POSTER_BUCKET, data, f"{reference}-{kind}")
        for kind, data in files.items()
    }
    result = db.appeals.update_one(
        {"reference": reference, "status": "approved", "has_posters": False},
        {"$set": {"posters": ids, "has_posters": True}},
    )
    if result.modified_count == 1:
        return True
    _delete_files(db, list(ids.values()))
    return False


def poster_bytes(db: Database, appeal: dict[str, Any], kind: str) -> bytes | None:
    """One of the appeal's posters (a4.png, a4.pdf, phone.png), or None when there is none (any more)."""
    file_id = (appeal.get("posters") or {}).get(kind.replace(".", "_"))
    if file_id is None:
        return None
    try:
        return gridfs.GridFSBucket(db, bucket_name=POSTER_BUCKET).open_download_stream(file_id).read()
    except NoFile:
        return None


def delete_posters(db: Database, reference: str) -> int:
    """Delete an ended appeal's poster files, then forget them; how many went. Safe to repeat."""
    appeal = db.appeals.find_one({"reference": reference, "status": "ended"}, {"posters": 1})
    if not appeal or not appeal.get("posters"):
        return 0
    ids = list(appeal["posters"].values())
    _delete_files(db, ids)
    db.appeals.update_one({"_id": appeal["_id"]}, {"$unset": {"posters": ""}, "$set": {"has_posters": False}})
    return len(ids)


def note_sent(db: Database, reference: str) -> None:
    """The family has its posters; the volunteers near the last-seen place are due theirs (queued just before)."""
    update = {"sent": True, "sent_at": _now(), "volunteers_due": True}
    db.appeals.update_one({"reference": reference}, {"$set": update})


def note_volunteers(db: Database, reference: str, reach: dict[str, int]) -> None:
    """How many volunteers near the last-seen place were alerted (and held back: quiet hours, weekly cap)."""
    update = {"volunteers": reach | {"at": _now()}, "volunteers_due": False}
    db.appeals.update_one({"reference": reference}, {"$set": update})


def volunteers_due(db: Database, before: datetime, limit: int = 100) -> list[str]:
    """Approved appeals sent before `before` whose volunteers were never chosen (their job lost in a crash)."""
    query = {"status": "approved", "volunteers_due": True, "sent_at": {"$lt": before}}
    return [doc["reference"] for doc in db.appeals.find(query, {"reference": 1}).limit(limit)]


def unsent_approved(db: Database, before: datetime, limit: int = 100) -> list[str]:
    """Approved appeals decided before `before` whose posters were never sent (a crash between the decision and
    the job); one decided since still has its job in line. By status and `sent` (their index), the time judged
    here: few are ever waiting."""
    docs = db.appeals.find({"status": "approved", "sent": False}, {"reference": 1, "decided_at": 1}).limit(limit)
    return [doc["reference"] for doc in docs if doc.get("decided_at") and as_utc(doc["decided_at"]) < as_utc(before)]


def running_appeal_cases(db: Database, limit: int = 500) -> list[tuple[str, str]]:
    """(appeal, case) of every running appeal, for the reconciler to end those whose case closed meanwhile."""
    pairs = []
    for status in ACTIVE:
        for doc in db.appeals.find({"status": status}, {"reference": 1, "case": 1}).limit(limit):
            pairs.append((doc["reference"], doc["case"]))
    return pairs


def ended_with_posters(db: Database, limit: int = 100) -> list[str]:
    """Ended appeals still holding poster files (a crash between the end and the deletion)."""
    docs = db.appeals.find({"status": "ended", "has_posters": True}, {"reference": 1}).limit(limit)
    return [doc["reference"] for doc in docs]


def appeals_of_contact(db: Database, contact: str) -> list[dict[str, Any]]:
    return list(db.appeals.find({"contact": contact}))


def erase_appeals(db: Database, contact: str) -> int:
    """A contact's erasure: posters deleted, and of each appeal only an ended stub is left (its page says 410).

    The stub keeps the reference and token, nothing of the family or the person: a poster still in circulation
    then meets "This appeal has ended" rather than a page that never existed.
    """
    appeals = appeals_of_contact(db, contact)
    for appeal in appeals:
        _delete_files(db, list((appeal.get("posters") or {}).values()))
    ended = {"status": "ended", "ended_why": "erased", "ended_at": _now(), "has_posters": False}
    forgotten = {
        "contact": "",
        "choices": "",
        "case": "",
        "posters": "",
        "language": "",
        "decided_by": "",
        "reason": "",
    }
    ids = [appeal["_id"] for appeal in appeals]
    return (
        db.appeals.update_many({"_id": {"$in": ids}}, {"$set": ended, "$unset": forgotten}).modified_count if ids else 0
    )


def sweep_ended_appeals(db: Database, before: datetime, limit: int = 500) -> int:
    """Delete appeals ended (or refused) before `before`, stubs and all: their page then answers 404.

    An ended appeal is kept for a while so that a poster still in circulation meets "This appeal has ended"
    (HOMEWARD_KEEP_ENDED_APPEALS_DAYS); any poster file left by a crash goes with it. A refused appeal was never
    public, but it holds the family's choices and the reviewer's reason: it goes after the same period.
    """
    ended = list(db.appeals.find({"status": "ended", "ended_at": {"$lt": before}}, {"posters": 1}).limit(limit))
    ended += list(db.appeals.find({"status": "refused", "decided_at": {"$lt": before}}, {"posters": 1}).limit(limit))
    for appeal in ended:
        _delete_files(db, list((appeal.get("posters") or {}).values()))
    ids = [appeal["_id"] for appeal in ended]
    return db.appeals.delete_many({"_id": {"$in": ids}}).deleted_count if ids else 0


def _delete_files(db: Database, ids: list[ObjectId]) -> None:
    bucket = gridfs.GridFSBucket(db, bucket_name=POSTER_BUCKET)
    for file_id in ids:
        with contextlib.suppress(NoFile):  # deleted by an earlier run
            bucket.delete(file_id)


def _now() -> datetime:
    return datetime.now(UTC)
