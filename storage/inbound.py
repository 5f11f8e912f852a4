"""Inbound messages: what contacts sent, kept until handled.

A contact is one person on one channel ("telegram:1234"). Inbound messages
are stored before anything else happens, unique on the platform's id, so a
redelivered webhook is recognised by the database and does nothing. When a
stub goes (the retention sweep, an erasure) a replay marker stays instead: the
SHA-256 of channel and platform id, kept for HOMEWARD_KEEP_REPLAY_MARKERS_DAYS,
so a replay arriving later is still refused without keeping the message.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from core.conversation.messages import Inbound, inbound_to_doc
from storage.outbox import DUPLICATE_KEY


def store_inbound(db: Database, message: Inbound, unqueued: bool = False) -> ObjectId | None:
    """Keep an inbound message as `pending`; None when this platform id was seen before.

    `unqueued`: no job could be queued for it (Redis is down), so the reconciler's next run wakes it.
    """
    if db.replay_markers.find_one({"_id": replay_marker(message.channel, message.message_id)}, {"_id": 1}):
        return None
    try:
        doc = _pending(message, _now()) | ({"unqueued": True} if unqueued else {})
        return db.inbound.insert_one(doc).inserted_id
    except DuplicateKeyError:
        return None


def store_many(db: Database, messages: list[tuple[Inbound, datetime]]) -> list[ObjectId | None]:
    """`store_inbound` for a batch (the intake's, services/inbound.py), in two writes' worth of round trips.

    One read of the replay markers and one unordered insert; per message, its new id, or None when its
    platform id was seen before (a replay, or a second delivery in the batch or before it).
    """
    markers = [replay_marker(message.channel, message.message_id) for message, _ in messages]
    replayed = {doc["_id"] for doc in db.replay_markers.find({"_id": {"$in": markers}}, {"_id": 1})}
    ids: list[ObjectId | None] = [None] * len(messages)
    docs = []
    for index, (message, received_at) in enumerate(messages):
        if markers[index] not in replayed:
            ids[index] = ObjectId()
            docs.append((index, _pending(message, received_at) | {"_id": ids[index]}))
    try:
        if docs:
            db.inbound.insert_many([doc for _, doc in docs], ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or []
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        for error in errors:
            ids[docs[int(error["index"])][0]] = None
    return ids


def _pending(message: Inbound, received_at: datetime) -> dict[str, Any]:
    return inbound_to_doc(message) | {"contact": message.contact, "status": "pending", "received_at": received_at}


def pending_id_of(db: Database, message: Inbound) -> ObjectId | None:
    """The stored copy of this platform message if it still waits to be answered; None if handled or unknown."""
    doc = db.inbound.find_one(
        {"channel": message.channel, "message_id": message.message_id, "status": "pending"}, {"_id": 1}
    )
    return ObjectId(doc["_id"]) if doc else None


def sender_of(db: Database, inbound_id: str) -> str | None:
    """The contact who sent this message; None once erased."""
    doc = db.inbound.find_one({"_id": ObjectId(inbound_id)}, {"contact": 1})
    return str(doc["contact"]) if doc else None


def pending_inbound(db: Database, contact: str, limit: int) -> list[dict[str, Any]]:
    """The contact's oldest `limit` messages still to answer, oldest first (one read for a burst)."""
    order = [("received_at", ASCENDING), ("_id", ASCENDING)]
    return list(db.inbound.find({"contact": contact, "status": "pending"}, sort=order, limit=limit))


def pending_by_ids(db: Database, inbound_ids: list[str]) -> list[dict[str, Any]]:
    """Those of these messages still to answer, and whom each is from: a batch's first look."""
    # By `_id` alone: SecantusDB scans for `_id` with another field (no index holds both).
    docs = db.inbound.find({"_id": {"$in": [ObjectId(item) for item in inbound_ids]}}, {"contact": 1, "status": 1})
    return [doc for doc in docs if doc.get("status") == "pending"]


def pending_of_contacts(db: Database, contacts: list[str]) -> list[dict[str, Any]]:
    """Every message still to answer from these contacts, oldest first, in one read (index `pending_contact`)."""
    order = [("received_at", ASCENDING), ("_id", ASCENDING)]
    return list(db.inbound.find({"status": "pending", "contact": {"$in": contacts}}, sort=order))


def finish_many(db: Database, inbound_ids: list[ObjectId], status: str) -> None:
    """`finish_inbound` for many messages of one outcome, in one write."""
    if inbound_ids:
        db.inbound.update_many({"_id": {"$in": inbound_ids}}, _finished(status))


def unqueued_inbound(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    """Messages stored while Redis was down, never queued (index `unqueued`): their ids and contacts."""
    return list(db.inbound.find({"unqueued": True}, {"contact": 1}).limit(limit))


def mark_queued(db: Database, inbound_ids: list[ObjectId]) -> None:
    """These messages' jobs are queued now: the reconciler leaves them to the usual grace from here."""
    if inbound_ids:
        db.inbound.update_many({"_id": {"$in": inbound_ids}}, {"$unset": {"unqueued": ""}})


# What a handled or failed message no longer keeps: what the person wrote, the plan, the never-queued mark.
DROPPED_WHEN_HANDLED = {"text": "", "location": "", "attachments": "", "plan": "", "unqueued": ""}


def _finished(status: str) -> dict[str, Any]:
    return {"$set": {"status": status, "handled_at": _now()}, "$unset": DROPPED_WHEN_HANDLED}


def save_plan(db: Database, inbound_id: ObjectId, plan: dict[str, Any]) -> None:
    """Write the dialog's decision on the message, so a retry applies it without asking the dialog twice."""
    db.inbound.update_one({"_id": inbound_id}, {"$set": {"plan": plan}})


def finish_inbound(db: Database, inbound_id: ObjectId, status: str = "done") -> None:
    """Mark a message handled and drop its content: the dialog state holds what matters."""
    db.inbound.update_one({"_id": inbound_id}, _finished(status))


def start_attempt(db: Database, doc: dict[str, Any]) -> int:
    """Count one more try at this message before trying, so a message that kills its worker is still counted.

    `doc` was just read by the job holding the contact's lock, so nobody else counts meanwhile; 0 if it is gone.
    """
    if db.inbound.update_one({"_id": doc["_id"]}, {"$inc": {"attempts": 1}}).matched_count == 0:
        return 0
    return int(doc.get("attempts") or 0) + 1


def note_inbound_error(db: Database, inbound_id: ObjectId, error: str) -> None:
    """Record why a try failed on a message that stays pending (a temporary error: it is tried again)."""
    db.inbound.update_one({"_id": inbound_id}, {"$set": {"error": error, "error_at": _now()}})


def fail_inbound(db: Database, inbound_id: ObjectId, error: str) -> None:
    """Give up on a message that cannot be handled: keep why for operators, drop what the person wrote."""
    update = {"$set": {"status": "failed", "failed_at": _now(), "error": error}, "$unset": DROPPED_WHEN_HANDLED}
    db.inbound.update_one({"_id": inbound_id}, update)


def stale_inbound(db: Database, older_than: datetime, limit: int = 100) -> list[str]:
    """Ids of pending messages received before `older_than`, one per contact: its job answers all of them."""
    found: dict[str, str] = {}
    query = {"status": "pending", "received_at": {"$lt": older_than}}
    for doc in db.inbound.find(query, {"contact": 1}).sort("received_at", ASCENDING).limit(limit * 10):
        found.setdefault(doc["contact"], str(doc["_id"]))
        if len(found) >= limit:
            break
    return list(found.values())


def erase_inbound(db: Database, contact: str) -> None:
    """Delete the contact's messages, leaving replay markers so none of them is taken again from a replay."""
    delete_inbound(db, {"contact": contact})


def delete_inbound(db: Database, query: dict[str, Any]) -> int:
    """Delete these stubs, first leaving each one's replay marker; how many went."""
    stubs = list(db.inbound.find(query, {"channel": 1, "message_id": 1}))
    if not stubs:
        return 0
    now = _now()
    for stub in stubs:
        marker = replay_marker(str(stub.get("channel")), str(stub.get("message_id")))
        db.replay_markers.update_one({"_id": marker}, {"$setOnInsert": {"at": now}}, upsert=True)
    return db.inbound.delete_many({"_id": {"$in": [s["_id"] for s in stubs]}}).deleted_count


def replay_marker(channel: str, message_id: str) -> str:
    """What is kept of a platform message id once its stub is gone: a hash that recognises it, nothing more."""
    return hashlib.sha256(f"{channel}:{message_id}".encode()).hexdigest()


def sweep_replay_markers(db: Database, before: datetime) -> int:
    """Forget replay markers left before `before`: platforms stop redelivering long before."""
    return db.replay_markers.delete_many({"at": {"$lt": before}}).deleted_count


def _now() -> datetime:
    return datetime.now(UTC)
