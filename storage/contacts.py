"""Contacts: one record per person on one channel, with their dialog state, consent and chat address.

Also where a contact's whole conversation is forgotten: messages both ways and the record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from core.conversation.catalog import DEFAULT_LANGUAGE
from core.conversation.state import State
from storage.inbound import erase_inbound
from storage.outbox import DUPLICATE_KEY, erase_outbox


def load_state(db: Database, contact: str) -> State:
    doc = db.conversations.find_one({"contact": contact}, {"state": 1})
    return State.from_doc(doc.get("state") if doc else None)


def conversation_of(db: Database, contact: str) -> dict[str, Any] | None:
    """The contact's dialog state and the plan of the message last answered (workers/answering.py); None if new."""
    return db.conversations.find_one({"contact": contact}, {"state": 1, "plan": 1})


def save_state(
    db: Database, contact: str, channel: str, chat_id: str, state: State, plan: dict[str, Any] | None = None
) -> None:
    """Save the dialog state, and with it (one write) the plan of the message it answers, for a retry to apply."""
    db.conversations.update_one(*_state_write(contact, channel, chat_id, state.to_doc(), plan), upsert=True)


def save_states(db: Database, saves: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]]) -> None:
    """`save_state` for many contacts in one write: each (contact, channel, chat id, state doc, plan)."""
    if saves:
        db.conversations.bulk_write([UpdateOne(*_state_write(*save), upsert=True) for save in saves], ordered=False)


def save_new_states(db: Database, saves: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]]) -> None:
    """`save_states` for contacts with no record yet (first messages): one insert, far cheaper than as many upserts
    on SecantusDB; a contact whose record appeared meanwhile (its unique key) is saved by `save_states`."""
    now = _now()
    docs = [
        {"contact": contact, "channel": channel, "chat_id": chat_id, "state": state, "plan": plan}
        | {"last_inbound_at": now, "created_at": now}
        for contact, channel, chat_id, state, plan in saves
    ]
    try:
        if docs:
            db.conversations.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or []
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        save_states(db, [saves[int(error["index"])] for error in errors])


def _state_write(
    contact: str, channel: str, chat_id: str, state: dict[str, Any], plan: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    now = _now()
    fields = {"state": state, "channel": channel, "chat_id": chat_id, "last_inbound_at": now}
    return {"contact": contact}, {
        "$set": fields | ({"plan": plan} if plan is not None else {}),
        "$setOnInsert": {"created_at": now},
    }


def language_of(db: Database, contact: str) -> str:
    """The language the contact reads ('en' until one is chosen), for messages sent outside the conversation."""
    doc = db.conversations.find_one({"contact": contact}, {"state.language": 1})
    language = ((doc or {}).get("state") or {}).get("language")
    return language if isinstance(language, str) and language else DEFAULT_LANGUAGE


def record_consent(db: Database, contact: str, given: bool) -> None:
    db.conversations.update_one({"contact": contact}, {"$set": {"consent": given, "consent_at": _now()}}, upsert=True)


def ask_consent_of(db: Database, contact: str, channel: str, chat_id: str, language: str) -> bool:
    """Note that we asked this contact for consent ourselves (an organisation gave its number); True when it had
    agreed already. Its first answer is then read as yes or no, in `language`; `last_inbound_at` stays unset, so
    no free-form message is sent before it writes (WhatsApp's window: the outbox sends the template).
    """
    doc = db.conversations.find_one({"contact": contact}, {"state": 1})
    if doc is not None and (doc.get("state") or {}).get("consent"):
        return True
    if doc is None:
        state = State(asked_consent=True, language=language).to_doc()
        new = {"state": state, "channel": channel, "chat_id": chat_id, "created_at": _now()}
        db.conversations.update_one({"contact": contact}, {"$setOnInsert": new}, upsert=True)
    else:
        db.conversations.update_one({"contact": contact}, {"$set": {"state.asked_consent": True}})
    return False


def is_known(db: Database, contact: str) -> bool:
    """Whether the contact has a conversation with us already (a first message does not, until it is answered)."""
    return db.conversations.find_one({"contact": contact}, {"_id": 1}) is not None


def known_among(db: Database, contacts: list[str]) -> set[str]:
    """`is_known` for many contacts in one read (the intake's batch)."""
    return {doc["contact"] for doc in db.conversations.find({"contact": {"$in": contacts}}, {"contact": 1})}


def find_contact(db: Database, contact: str) -> dict[str, Any] | None:
    """The contact's record: channel and chat id to answer on, when they last wrote, consent."""
    return db.conversations.find_one({"contact": contact})


def find_contacts(db: Database, contacts: list[str]) -> dict[str, dict[str, Any]]:
    """Many contacts' records at once (one `$in` on the unique index), by contact; those gone are absent."""
    return {doc["contact"]: doc for doc in db.conversations.find({"contact": {"$in": contacts}})}


def erase_conversation(db: Database, contact: str) -> None:
    """Forget the contact's messages both ways and their dialog state."""
    erase_inbound(db, contact)
    erase_outbox(db, contact)
    db.conversations.delete_many({"contact": contact})


def _now() -> datetime:
    return datetime.now(UTC)
