"""Conversations: inbound messages, each contact's dialog state, and the outbox.

A contact is one person on one channel ("telegram:1234"). Inbound messages
are stored before anything else happens, unique on the platform's id, so a
redelivered webhook is recognised by the database and does nothing.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from core.conversation.messages import Inbound, inbound_to_doc
from core.conversation.state import State


def store_inbound(db: Database, message: Inbound) -> ObjectId | None:
    """Keep an inbound message as `pending`; None when this platform id was seen before."""
    try:
        return db.inbound.insert_one(inbound_to_doc(message) | {"contact": message.contact, "status": "pending", "received_at": _now()}).inserted_id
    except DuplicateKeyError:
        return None


def contact_of(db: Database, collection: str, message_id: str) -> str | None:
    """The contact an inbound or outbox message belongs to; None once erased."""
    doc = db[collection].find_one({"_id": ObjectId(message_id)}, {"contact": 1})
    return str(doc["contact"]) if doc else None


def pending_inbound(db: Database, contact: str) -> list[dict[str, Any]]:
    return list(db.inbound.find({"contact": contact, "status": "pending"}).sort([("received_at", ASCENDING), ("_id", ASCENDING)]))


def finish_inbound(db: Database, inbound_id: ObjectId, status: str = "done") -> None:
    """Mark a message handled and drop its content: the dialog state holds what matters."""
    db.inbound.update_one({"_id": inbound_id}, {"$set": {"status": status, "handled_at": _now()}, "$unset": {"text": "", "location": "", "attachments": "", "plan": ""}})


def load_state(db: Database, contact: str) -> State:
    doc = db.conversations.find_one({"contact": contact}, {"state": 1})
    return State.from_doc(doc.get("state") if doc else None)


def save_state(db: Database, contact: str, channel: str, chat_id: str, state: State) -> None:
    now = _now()
    db.conversations.update_one(
        {"contact": contact},
        {"$set": {"state": state.to_doc(), "channel": channel, "chat_id": chat_id, "last_inbound_at": now}, "$setOnInsert": {"created_at": now}},
        upsert=True,
    )


def record_consent(db: Database, contact: str, given: bool) -> None:
    db.conversations.update_one({"contact": contact}, {"$set": {"consent": given, "consent_at": _now()}}, upsert=True)


def conversation(db: Database, contact: str) -> dict[str, Any] | None:
    return db.conversations.find_one({"contact": contact})


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
    counter = db.counters.find_one_and_update({"_id": f"outbox:{contact}"}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER)
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


def pending_outbound(db: Database, contact: str) -> list[dict[str, Any]]:
    return list(db.outbox.find({"contact": contact, "status": "pending"}).sort("seq", ASCENDING))


def mark_outbound(db: Database, message_id: ObjectId, status: str, **fields: Any) -> None:
    update: dict[str, Any] = {"$set": {"status": status, f"{status}_at": _now(), **fields}}
    if status != "sent":
        update["$inc"] = {"attempts": 1}
    db.outbox.update_one({"_id": message_id}, update)


def erase_conversation(db: Database, contact: str) -> None:
    """Forget the contact's messages both ways and their dialog state."""
    db.inbound.delete_many({"contact": contact})
    db.outbox.delete_many({"contact": contact})
    db.conversations.delete_many({"contact": contact})
    db.counters.delete_many({"_id": f"outbox:{contact}"})


def _now() -> datetime:
    return datetime.now(timezone.utc)
