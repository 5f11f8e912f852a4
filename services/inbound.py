"""The one inbound path every channel shares: keep, acknowledge, then store and wake in batches.

The adapters in bot/ only translate a platform's payload into an Inbound;
keeping it is this step, run by the webhooks, the simulator and the Telegram
polling loop alike.

A message is kept if either store can keep it. Normally it goes to a Redis
list, the intake line (valkey writes an append-only file), in one round trip:
the platform's webhook is answered without waiting for MongoDB, the first
thing to saturate when an appeal goes viral. The intake job (workers/intake.py)
then stores the waiting messages in MongoDB a batch at a time, oldest first,
and wakes their conversations; when MongoDB is down they wait in line until it
is back. Redis down: the message is stored in MongoDB `pending` at once, and the
reconciler queues its conversation. Only when neither answers is the platform
asked to deliver it again (NotKept).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from bson import ObjectId
from rq import Queue

from core.conversation.messages import Inbound, inbound_from_doc, inbound_to_doc
from services import metrics
from services.queue import INTAKE_LINE, enqueue_conversations, line_up, wake_first_contacts
from storage.connections import Database, DatabaseUnavailable, within
from storage.contacts import known_among
from storage.inbound import mark_queued, pending_id_of, store_inbound, store_many, unqueued_inbound

# The platforms wait for the answer (Twilio gives up after 15 s and never redelivers).
STORE_TIMEOUT_S = 2.0
# Messages the intake stores in one go: three MongoDB commands for up to this many.
INTAKE_BATCH = 100
UNREADABLE = INTAKE_LINE + ":unreadable"
log = logging.getLogger(__name__)


class NotKept(Exception):
    """Neither MongoDB nor Redis could keep the message: answer so that the platform delivers it again."""


def accept(db: Database, queue: Queue, message: Inbound) -> str:
    """Keep the message; say how: "lined up" (in Redis, for the intake job to store) or "stored" (Redis is down:
    in MongoDB, for the reconciler to wake). A repeated delivery is recognised when it is stored."""
    line = json.dumps(inbound_to_doc(message) | {"received_at": datetime.now(UTC).isoformat()})
    try:
        line_up(queue, line)
    except redis.RedisError as exc:
        _store(db, message, exc)
        return "stored"
    return "lined up"


def _store(db: Database, message: Inbound, cause: Exception) -> None:
    try:
        with within(STORE_TIMEOUT_S):
            stored = store_inbound(db, message, unqueued=True)
    except DatabaseUnavailable as exc:
        raise NotKept(f"Redis ({type(cause).__name__}) and MongoDB ({exc}) are both unreachable") from exc
    if stored is not None:
        metrics.MESSAGES_IN.labels(message.channel).inc()
    log.warning("Redis unreachable (%s): an inbound message is stored for the reconciler to wake", type(cause).__name__)


def wake_unqueued(db: Database, queue: Queue) -> int:
    """Queue the conversations of messages stored while Redis was down (the reconciler, once it reaches Redis again);
    how many messages. Their contacts' jobs answer every pending message in order, so one job a contact."""
    docs = unqueued_inbound(db)
    enqueue_conversations(queue, list({doc["contact"]: str(doc["_id"]) for doc in docs}.values()))
    mark_queued(db, [doc["_id"] for doc in docs])
    return len(docs)


def take_in(db: Database, queue: Queue, looking: Callable[[], Any] = lambda: None) -> int:
    """Store the messages waiting in the intake line in MongoDB, oldest first, and wake their conversations; how many.

    Only one caller at a time (workers/intake.py holds a lock): each batch is read, stored, woken and only then
    removed from the line, so a crash in between stores it again, which the unique platform id makes harmless.
    `looking` is called before each read of the line (the lock's turn-taking). Ends when the line is empty.
    """
    connection, taken = queue.connection, 0
    while True:
        looking()
        raw = connection.lrange(INTAKE_LINE, 0, INTAKE_BATCH - 1)
        if not raw:
            return taken
        messages = _readable(connection, raw)
        ids = store_many(db, messages) if messages else []
        _wake(db, queue, [(message, item) for (message, _), item in zip(messages, ids, strict=True)])
        connection.ltrim(INTAKE_LINE, len(raw), -1)
        taken += len(raw)


def _readable(connection: redis.Redis, raw: list[bytes]) -> list[tuple[Inbound, datetime]]:
    """The batch's messages; an entry accept() never wrote is set aside for a person to look at, not retried."""
    messages = []
    for entry in raw:
        try:
            doc = json.loads(entry)
            messages.append((inbound_from_doc(doc), datetime.fromisoformat(doc["received_at"])))
        except (ValueError, KeyError, TypeError):
            connection.rpush(UNREADABLE, entry)
            log.error("set aside an unreadable entry of the intake line in %s", UNREADABLE)
    return messages


def _wake(db: Database, queue: Queue, stored: list[tuple[Inbound, ObjectId | None]]) -> None:
    """Wake the batch's conversations: newcomers' messages go to the first contacts' line, other contacts' each once.

    A repeated delivery of a message still pending wakes its conversation again (its first job may be lost).
    """
    found = [(message.contact, item or pending_id_of(db, message)) for message, item in stored]
    woken = [(contact, str(item)) for contact, item in found if item is not None]
    known = known_among(db, list({contact for contact, _ in woken})) if woken else set()
    enqueue_conversations(queue, list({contact: item for contact, item in woken if contact in known}.values()))
    wake_first_contacts(queue, [item for contact, item in woken if contact not in known])  # ten at a time in a surge
    for message, item in stored:
        if item is not None:
            metrics.MESSAGES_IN.labels(message.channel).inc()
