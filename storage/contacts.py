"""Contacts: one record per person on one channel, with their dialog state, consent and chat address.

Also where a contact's whole conversation is forgotten: messages both ways and the record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database

from core.conversation.catalog import DEFAULT_LANGUAGE
from core.conversation.state import State
from storage.inbound import erase_inbound
from storage.outbox import erase_outbox


def load_state(db: Database, contact: str) -> State:
    doc = db.conversations.find_one({"contact": contact}, {"state": 1})
    return State.from_doc(doc.get("state") if doc else None)


def save_state(db: Database, contact: str, channel: str, chat_id: str, state: State) -> None:
    now = _now()
    db.conversations.update_one(
        {"contact": contact},
        {
            "$set": {"state": state.to_doc(), "channel": channel, "chat_id": chat_id, "last_inbound_at": now},
            "$setOnInsert": {"created_at": now},
        },
        upsert=True,
    )


def language_of(db: Database, contact: str) -> str:
    """The language the contact reads ('en' until one is chosen), for messages sent outside the conversation."""
    doc = db.conversations.find_one({"contact": contact}, {"state.language": 1})
    language = ((doc or {}).get("state") or {}).get("language")
    return language if isinstance(language, str) and language else DEFAULT_LANGUAGE


def record_consent(db: Database, contact: str, given: bool) -> None:
    db.conversations.update_one({"contact": contact}, {"$set": {"consent": given, "consent_at": _now()}}, upsert=True)


def is_known(db: Database, contact: str) -> bool:
    """Whether the contact has a conversation with us already (a first message does not, until it is answered)."""
    return db.conversations.find_one({"contact": contact}, {"_id": 1}) is not None


def find_contact(db: Database, contact: str) -> dict[str, Any] | None:
    """The contact's record: channel and chat id to answer on, when they last wrote, consent."""
    return db.conversations.find_one({"contact": contact})


def erase_conversation(db: Database, contact: str) -> None:
    """Forget the contact's messages both ways and their dialog state."""
    erase_inbound(db, contact)
    erase_outbox(db, contact)
    db.conversations.delete_many({"contact": contact})


def _now() -> datetime:
    return datetime.now(UTC)
