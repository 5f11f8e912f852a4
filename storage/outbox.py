"""The outbox: messages to contacts, numbered per contact so they are sent in order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database


def queue_outbound(
    db: Database,
    contact: str,
    channel: str,
    chat_id: str,
    text: str,
    photo_id: ObjectId | None = None,
    source: str | None = None,
    erase_after_send: bool = False,
) -> ObjectId:
    """Append a message to the contact's outbox; its seq keeps the order it is sent in.

    `source` names what caused it (an inbound message and reply number): queueing the same source twice queues it once.
    """
    if source and (existing := db.outbox.find_one({"source": source}, {"_id": 1})):
        return ObjectId(existing["_id"])
    counter = db.counters.find_one_and_update(
        {"_id": _counter(contact)}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    doc = {
        "contact": contact,
        "channel": channel,
        "chat_id": chat_id,
        "seq": counter["seq"],
        "text": text,
        "photo_id": photo_id,
        "status": "pending",
        "attempts": 0,
        "created_at": _now(),
        **({"source": source} if source else {}),
        **({"erase_after_send": True} if erase_after_send else {}),
    }
    return db.outbox.insert_one(doc).inserted_id


def recipient_of(db: Database, outbox_id: str) -> str | None:
    """The contact this message is for; None once erased."""
    doc = db.outbox.find_one({"_id": ObjectId(outbox_id)}, {"contact": 1})
    return str(doc["contact"]) if doc else None


def pending_outbound(db: Database, contact: str) -> list[dict[str, Any]]:
    return list(db.outbox.find({"contact": contact, "status": "pending"}).sort("seq", ASCENDING))


def mark_outbound(db: Database, message_id: ObjectId, status: str, **fields: Any) -> None:
    update: dict[str, Any] = {"$set": {"status": status, f"{status}_at": _now(), **fields}}
    if status != "sent":
        update["$inc"] = {"attempts": 1}
    db.outbox.update_one({"_id": message_id}, update)


def forget_sent(db: Database, message_id: ObjectId, contact: str) -> None:
    """Delete a message once sent; with the contact's last message goes its sequence counter too."""
    db.outbox.delete_one({"_id": message_id})
    if not db.outbox.count_documents({"contact": contact}, limit=1):
        db.counters.delete_one({"_id": _counter(contact)})


def delivery_status(db: Database, message_id: ObjectId) -> dict[str, Any] | None:
    """How a message fared: status, how it was sent, the last error and the attempts."""
    return db.outbox.find_one({"_id": message_id}, {"status": 1, "sent_as": 1, "error": 1, "attempts": 1})


def messages_after(db: Database, contact: str, after: int) -> list[dict[str, Any]]:
    """A contact's messages numbered after `after`, oldest first: seq, text and status only."""
    fields = {"_id": 0, "seq": 1, "text": 1, "status": 1}
    return list(db.outbox.find({"contact": contact, "seq": {"$gt": after}}, fields).sort("seq", ASCENDING))


def erase_outbox(db: Database, contact: str) -> None:
    db.outbox.delete_many({"contact": contact})
    db.counters.delete_many({"_id": _counter(contact)})


def _counter(contact: str) -> str:
    return f"outbox:{contact}"


def _now() -> datetime:
    return datetime.now(UTC)
