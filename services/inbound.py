"""The one inbound path every channel shares: store, enqueue, acknowledge.

The adapters in bot/ only translate a platform's payload into an Inbound;
keeping it and waking its conversation is this step, run by the webhooks,
the simulator and the Telegram polling loop alike.

A message is kept if either store can keep it. MongoDB down: it goes to a
Redis list (the spool; valkey writes an append-only file), which the
reconciler drains into MongoDB. Redis down: it is stored `pending`, and the
reconciler queues its conversation. Only when neither answers is the platform
asked to deliver it again (NotKept).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import redis
from rq import Queue

from core.conversation.messages import Inbound, inbound_from_doc, inbound_to_doc
from services import metrics
from services.queue import enqueue_conversation, wake_first_contact
from storage.connections import Database, DatabaseUnavailable, within
from storage.contacts import is_known
from storage.inbound import pending_id_of, store_inbound

SPOOL_KEY = "homeward:inbound:spool"
# The platforms wait for the answer (Twilio gives up after 15 s and never redelivers).
STORE_TIMEOUT_S = 2.0
log = logging.getLogger(__name__)


class NotKept(Exception):
    """Neither MongoDB nor Redis could keep the message: answer so that the platform delivers it again."""


def accept(db: Database, queue: Queue, message: Inbound) -> str:
    """Keep the message and wake its conversation; say what happened.

    "queued" (stored and its conversation woken), "stored" (Redis is down: the
    reconciler wakes it), "spooled" (MongoDB is down: kept in Redis until the
    reconciler stores it), "repeat" (already handled: nothing happens).
    A repeated delivery of a message still pending wakes its conversation again.
    """
    try:
        with within(STORE_TIMEOUT_S):
            inbound_id = store_inbound(db, message) or pending_id_of(db, message)
            first_contact = inbound_id is not None and not is_known(db, message.contact)
    except DatabaseUnavailable as exc:
        return _spool(queue.connection, message, exc)
    if inbound_id is None:
        return "repeat"
    metrics.MESSAGES_IN.labels(message.channel).inc()
    try:
        if first_contact:
            wake_first_contact(queue, str(inbound_id))  # answered ten at a time when many write at once
        else:
            enqueue_conversation(queue, str(inbound_id))
    except redis.RedisError as exc:
        log.warning("stored an inbound message but could not queue it (%s); the reconciler will", type(exc).__name__)
        return "stored"
    return "queued"


def _spool(connection: redis.Redis, message: Inbound, cause: Exception) -> str:
    doc = inbound_to_doc(message) | {"received_at": datetime.now(UTC).isoformat()}
    try:
        connection.rpush(SPOOL_KEY, json.dumps(doc))
    except redis.RedisError as exc:
        raise NotKept(f"MongoDB ({cause}) and Redis ({type(exc).__name__}) are both unreachable") from exc
    log.warning("MongoDB unreachable (%s): an inbound message waits in the Redis spool", cause)
    return "spooled"


def drain_spool(db: Database, queue: Queue, limit: int = 500) -> int:
    """Store the spooled messages in MongoDB, oldest first, and wake their conversations; how many.

    Each is read, stored, queued and only then removed: a crash in between stores it
    again, which the unique platform id makes harmless. Stops at the first failure.
    """
    connection = queue.connection
    drained = 0
    while drained < limit:
        raw = connection.lindex(SPOOL_KEY, 0)
        if raw is None:
            break
        try:
            doc = json.loads(raw)
            message, received_at = inbound_from_doc(doc), datetime.fromisoformat(doc["received_at"])
        except (ValueError, KeyError, TypeError):
            # Never written by accept(): set aside for a person to look at rather than block the spool.
            connection.lmove(SPOOL_KEY, SPOOL_KEY + ":unreadable", "LEFT", "RIGHT")
            log.error("set aside an unreadable entry of the inbound spool in %s:unreadable", SPOOL_KEY)
            continue
        inbound_id = store_inbound(db, message, received_at) or pending_id_of(db, message)
        if inbound_id is not None:
            enqueue_conversation(queue, str(inbound_id))
        connection.lpop(SPOOL_KEY)
        drained += 1
    return drained


def spooled(connection: redis.Redis) -> int:
    """How many messages wait in the spool for MongoDB."""
    return int(connection.llen(SPOOL_KEY))
