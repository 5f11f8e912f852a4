"""The outbox: messages to contacts, numbered per contact so they are sent in order."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from storage.updates import next_number, next_numbers

# A message claimed this long ago whose platform call began but was never recorded is sent again: its worker
# is dead. Longer than a platform call may take (Twilio's client gives up after 15 s, Telegram's after 5 s) and
# than the contact's lock outlives a dead worker (30 s), so a message still on its way is not sent twice; short,
# because the person waits for it.
SENDING_STALE = timedelta(seconds=45)
DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class Outgoing:
    """One message of a batch (`queue_outbound_many`): whom, on which chat, what, and the `source` that keys it."""

    contact: str
    channel: str
    chat_id: str
    text: str
    source: str
    about: str | None = None
    poster: dict[str, str] | None = None
    lane: str | None = None  # the queue it is sent on, when not the chat's (`due_outbound` asks each lane apart)


def queue_outbound(
    db: Database,
    contact: str,
    channel: str,
    chat_id: str,
    text: str,
    photo_id: ObjectId | None = None,
    source: str | None = None,
    erase_after_send: bool = False,
    about: str | None = None,
    poster: dict[str, str] | None = None,
) -> ObjectId:
    """Append a message to the contact's outbox; its seq keeps the order it is sent in.

    `source` names what caused it (an inbound message and reply number): queueing the same source twice queues it once.
    `about` is the case or sighting reference it concerns, shown to operators if it cannot be delivered.
    `poster` ({appeal, kind}) sends an appeal's poster as the picture (storage/appeals.py), read when it is sent.
    """
    if source and (existing := db.outbox.find_one({"source": source}, {"_id": 1})):
        return ObjectId(existing["_id"])
    doc = _outbound(contact, channel, chat_id, _next_seq(db, contact), text, source, erase_after_send)
    doc |= {"photo_id": photo_id, **({"about": about} if about else {}), **({"poster": poster} if poster else {})}
    try:
        return db.outbox.insert_one(doc).inserted_id
    except DuplicateKeyError:
        if not source:
            raise
        # Another process queued the same source meanwhile (the panel and the reconciler telling one family).
        return _queued_by_another(db, source)


def queue_replies(
    db: Database,
    contact: str,
    channel: str,
    chat_id: str,
    texts: list[str],
    source: str,
    erase_after_send: bool,
    counter_new: bool = False,
) -> list[ObjectId]:
    """Append the replies to one inbound message, numbered `{source}:0`, `{source}:1`...; their outbox ids.

    Only for replies never queued before (their message's first decided plan): they are numbered with one
    counter write and stored with one more, where `queue_outbound` looks each one up first. `counter_new`
    (a contact we never wrote to, most likely) creates the counter at once instead of reading it first.
    """
    if not texts:
        return []
    first = next_number(db.counters, _counter(contact), len(texts), counter_new)
    docs = [
        _outbound(contact, channel, chat_id, first + index, text, f"{source}:{index}", erase_after_send)
        for index, text in enumerate(texts)
    ]
    return list(db.outbox.insert_many(docs).inserted_ids)


def queue_first_replies(db: Database, replies: list[tuple[str, str, str, list[str], str]]) -> list[dict[str, Any]]:
    """Queue the replies to many contacts' first messages at once, claimed for sending by the caller; those stored.

    Each (contact, channel, chat id, texts, source): `queue_replies` for many contacts, whose counters are most
    likely new (one insert for all; one already there counts on alone). The messages are stored `sending`,
    their first try counted, because the caller holds each contact's outbox lock and sends them next: should it
    die first, they are due like any claim whose platform call never began (workers/outbox.py). A source queued
    before (a replay) is not queued again.
    """
    replies = [reply for reply in replies if reply[3]]
    if not replies:
        return []
    fresh = [{"_id": _counter(contact), "seq": len(texts)} for contact, _, _, texts, _ in replies]
    try:
        db.counters.insert_many(fresh, ordered=False)
        taken = set()
    except BulkWriteError as exc:
        taken = {fresh[int(error["index"])]["_id"] for error in exc.details.get("writeErrors") or []}
    docs, now = [], _now()
    for contact, channel, chat_id, texts, source in replies:
        counter = _counter(contact)
        first = next_number(db.counters, counter, len(texts)) if counter in taken else 1
        docs += [
            _outbound(contact, channel, chat_id, first + index, text, f"{source}:{index}", False)
            | {"photo_id": None, "status": "sending", "sending_at": now, "attempts": 1}
            for index, text in enumerate(texts)
        ]
    stored = set(_insert_new(db, docs))
    return [doc for doc in docs if doc["_id"] in stored]


def mark_sent_many(db: Database, sent: list[tuple[ObjectId, dict[str, Any]]]) -> None:
    """`mark_outbound(..., "sent", **fields)` for many messages in one write."""
    if sent:
        now = _now()
        changes = [
            UpdateOne({"_id": _id}, {"$set": {"status": "sent", "sent_at": now, **fields}}) for _id, fields in sent
        ]
        db.outbox.bulk_write(changes, ordered=False)


def queue_outbound_many(db: Database, messages: list[Outgoing]) -> list[ObjectId]:
    """Queue one message each for many contacts in five round trips whatever their number; the ids to wake.

    `queue_outbound`'s guarantee in bulk (a volunteers' appeal: thousands of alerts): a source queued before (a
    run twice) or by another process meanwhile (its duplicate key) is not queued again, nor given back: its wake-up
    was queued with it, or the reconciler queues it again (`due_outbound`). Numbers come from the contacts'
    counters at once.
    """
    sources = [message.source for message in messages]
    queued = {doc["source"] for doc in db.outbox.find({"source": {"$in": sources}}, {"source": 1})}
    new = [message for message in messages if message.source not in queued]
    if len({message.contact for message in new}) != len(new):
        raise ValueError("queue_outbound_many takes one message per contact: queue the others with queue_outbound")
    numbers = next_numbers(db.counters, [_counter(message.contact) for message in new])
    docs = [
        _outbound(m.contact, m.channel, m.chat_id, numbers[_counter(m.contact)], m.text, m.source, False)
        | {"photo_id": None, **({"about": m.about} if m.about else {}), **({"poster": m.poster} if m.poster else {})}
        | ({"lane": m.lane} if m.lane else {})
        for m in new
    ]
    return _insert_new(db, docs)


def _insert_new(db: Database, docs: list[dict[str, Any]]) -> list[ObjectId]:
    """Insert the messages; the ids of those inserted (a duplicate source was queued by another process)."""
    if not docs:
        return []
    try:
        return list(db.outbox.insert_many(docs, ordered=False).inserted_ids)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or []
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        lost = {int(error["index"]) for error in errors}
        return [doc["_id"] for index, doc in enumerate(docs) if index not in lost]


def _outbound(
    contact: str, channel: str, chat_id: str, seq: int, text: str, source: str | None, erase_after_send: bool
) -> dict[str, Any]:
    now = _now()
    return {
        "contact": contact,
        "channel": channel,
        "chat_id": chat_id,
        "seq": seq,
        "text": text,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        **({"source": source} if source else {}),
        **({"erase_after_send": True} if erase_after_send else {}),
    }


def _next_seq(db: Database, contact: str) -> int:
    """The contact's next sequence number; two processes queueing at once get different ones."""
    return next_number(db.counters, _counter(contact))


def _queued_by_another(db: Database, source: str) -> ObjectId:
    """The message another process queued for `source`; its insert may still be committing, so look again briefly."""
    for _ in range(100):
        if existing := db.outbox.find_one({"source": source}, {"_id": 1}):
            return ObjectId(existing["_id"])
        time.sleep(0.02)
    raise RuntimeError(f"a message for {source} was queued by another process but cannot be read back")


def recipient_of(db: Database, outbox_id: str) -> str | None:
    """The contact this message is for; None once erased."""
    doc = db.outbox.find_one({"_id": ObjectId(outbox_id)}, {"contact": 1})
    return str(doc["contact"]) if doc else None


def outbox_source(db: Database, outbox_id: str) -> str | None:
    """What caused this message (its `source`), None for one without or erased."""
    doc = db.outbox.find_one({"_id": ObjectId(outbox_id)}, {"source": 1})
    return doc.get("source") if doc else None


def pending_outbound(db: Database, contact: str, limit: int) -> list[dict[str, Any]]:
    """The contact's first `limit` messages still to send, in order: pending, or claimed (`sending`) but not recorded.

    One read for several messages: the sender holds the contact's outbox lock, so nobody else changes them
    meanwhile. Whether a claimed message reached the platform is the outbox job's to decide (workers/outbox.py).
    """
    query = {"contact": contact, "status": {"$in": ["pending", "sending"]}}
    return list(db.outbox.find(query, sort=[("seq", ASCENDING)], limit=limit))


def claim_outbound(db: Database, message: dict[str, Any]) -> int:
    """Mark a message `sending` just before handing it to the platform; return its attempts, this one included.

    `message` was just read by the job holding the contact's outbox lock, so nobody else claims it meanwhile.
    """
    update = {"$set": {"status": "sending", "sending_at": _now()}, "$inc": {"attempts": 1}}
    if db.outbox.update_one({"_id": message["_id"]}, update).matched_count == 0:
        return 0
    return int(message.get("attempts") or 0) + 1


def retry_outbound(db: Database, message_id: ObjectId, when: datetime, error: str, uncount: bool = False) -> None:
    """Put a message back in the queue after a temporary failure, due again at `when`; `uncount` takes back the
    try its claim counted (the platform only asked us to wait)."""
    update: dict[str, Any] = {"$set": {"status": "pending", "next_attempt_at": when, "error": error}}
    db.outbox.update_one({"_id": message_id}, update | ({"$inc": {"attempts": -1}} if uncount else {}))


def mark_outbound(db: Database, message_id: ObjectId, status: str, **fields: Any) -> None:
    db.outbox.update_one({"_id": message_id}, {"$set": {"status": status, f"{status}_at": _now(), **fields}})


def due_outbound(
    db: Database, now: datetime, limit: int = 100, lane: str | None = None, stale_before: datetime | None = None
) -> list[str]:
    """Ids of one lane's messages due by `now` (pending, or claimed `sending` before it and before `stale_before`),
    one per contact.

    Its job sends the rest, and decides about a claim: sent at once if its platform call never happened, or
    once SENDING_STALE has passed if a worker may have died during the call. The reconciler asks for claims
    only once stale (`stale_before`): a job it queued earlier would only put the claim back on RQ's scheduler,
    which a Redis restart stops for up to a minute and a half, and the reconciler queues an item once in five
    minutes. Each lane is asked apart (chat messages have none), so a volunteers' backlog of thousands neither
    hides a chat message nor is judged by the chat's pace.
    """
    claimed_before = min(now, stale_before) if stale_before else now
    # Two queries, each exactly an index's fields (lane_due, lane_sending): as one `$or` SecantusDB scanned
    # every message of the last week, every reconciler period.
    # Each contact's earliest due message names it (its job sends the rest in order).
    first: dict[str, ObjectId] = {}
    for query in (
        {"status": "pending", "lane": lane, "next_attempt_at": {"$lte": now}},
        {"status": "sending", "lane": lane, "sending_at": {"$lt": claimed_before}},
    ):
        for doc in db.outbox.find(query, {"contact": 1}).limit(limit * 10):
            first[doc["contact"]] = min(first.get(doc["contact"], doc["_id"]), doc["_id"])
    return [str(message_id) for message_id in sorted(first.values())[:limit]]


def failed_outbound(db: Database, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
    """How many messages could not be delivered, and the latest: when, channel, error and case, never whom or what."""
    fields = {"_id": 0, "failed_at": 1, "channel": 1, "error": 1, "about": 1, "attempts": 1}
    count = db.outbox.count_documents({"status": "failed"})
    latest = list(db.outbox.find({"status": "failed"}, fields).sort("failed_at", DESCENDING).limit(limit))
    return count, latest


def sms_usage(db: Database, since: datetime) -> tuple[int, int, float]:
    """SMS sent since `since`: (messages, segments, cost), from what each sent record was billed as."""
    query = {"channel": "sms", "status": "sent", "sent_at": {"$gte": since}}
    messages = segments = 0
    cost = 0.0
    for doc in db.outbox.find(query, {"_id": 0, "segments": 1, "cost": 1}):
        messages += 1
        segments += int(doc.get("segments") or 0)
        cost += float(doc.get("cost") or 0)
    return messages, segments, round(cost, 4)


def date_pending_outbound(db: Database) -> None:
    """Messages queued before `next_attempt_at` existed are due since they were created."""
    query = {"status": "pending", "lane": None, "next_attempt_at": {"$exists": False}}  # lane_due's fields
    for doc in db.outbox.find(query, {"created_at": 1}):
        db.outbox.update_one({"_id": doc["_id"]}, {"$set": {"next_attempt_at": doc.get("created_at") or _now()}})


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
