"""Partner events and their deliveries: what happened that an organisation asked to hear, and how each send fared.

An event is stored once under its key (`candidate.approved:<candidate id>@<organisation>`), with the body every
delivery of it sends byte for byte (so its id never changes across retries). Each endpoint subscribed gets one
delivery, numbered in its stream (one endpoint, one record: `seq`), so a later event about a record waits until
the earlier one was delivered or given up, as the outbox keeps a contact's messages in order (storage/outbox.py).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from core.partner_hooks import event_body
from storage.partner_hooks import subscribed
from storage.updates import next_number

# A delivery claimed this long ago and never recorded is tried again: its worker died during the call (5 s).
SENDING_STALE = timedelta(seconds=60)
LOG_SHOWN = 100
SWEPT = 5000  # deliveries of each kind removed by one retention sweep, at most: a backlog goes over several
ERASED = "not sent: the family's case was erased at their request"


def record_event(
    db: Database, kind: str, record: str, organisation: ObjectId, data: dict[str, Any], key: str | None = None
) -> list[ObjectId]:
    """Store the event once, and a delivery per endpoint of `organisation` subscribed to it; the deliveries' ids.

    `record` orders its deliveries; `key` (the record by default) names the event, so the same change recorded
    twice is stored once. Safe to call twice: the second call finds the event and deliveries already there.
    """
    key = f"{kind}:{key or record}@{organisation}"
    endpoints = subscribed(db, [organisation], kind)
    if not endpoints:
        return []
    event = _event(db, key, kind, record, organisation, data, _now())
    return [_delivery(db, event, endpoint["_id"]) for endpoint in endpoints]


def _event(
    db: Database, key: str, kind: str, record: str, organisation: ObjectId, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    event_id = f"evt_{uuid.uuid4().hex}"
    doc = {
        "_id": key,
        "id": event_id,
        "type": kind,
        "record": record,
        "organisation": organisation,
        "occurred_at": now,
        "body": event_body(event_id, kind, now, data),
    }
    try:
        db.partner_events.insert_one(doc)
    except DuplicateKeyError:
        found = db.partner_events.find_one({"_id": key})
        assert found is not None
        return found
    return doc


def _delivery(db: Database, event: dict[str, Any], endpoint: ObjectId) -> ObjectId:
    if existing := db.partner_deliveries.find_one({"event": event["_id"], "endpoint": endpoint}, {"_id": 1}):
        return ObjectId(existing["_id"])
    stream = f"{endpoint}:{event['record']}"
    now = _now()
    doc = {
        "event": event["_id"],
        "event_id": event["id"],
        "type": event["type"],
        "record": event["record"],
        "endpoint": endpoint,
        "organisation": event["organisation"],
        "stream": stream,
        "seq": next_number(db.counters, f"hooks:{stream}"),
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }
    try:
        return db.partner_deliveries.insert_one(doc).inserted_id
    except DuplicateKeyError:  # another process recorded the same event meanwhile
        found = db.partner_deliveries.find_one({"event": event["_id"], "endpoint": endpoint}, {"_id": 1})
        assert found is not None
        return ObjectId(found["_id"])


def find_delivery(db: Database, delivery_id: ObjectId | str) -> dict[str, Any] | None:
    try:
        return db.partner_deliveries.find_one({"_id": ObjectId(delivery_id)})
    except (InvalidId, TypeError):
        return None


def event_of(db: Database, delivery: dict[str, Any]) -> dict[str, Any] | None:
    return db.partner_events.find_one({"_id": delivery["event"]})


def first_pending_delivery(db: Database, stream: str) -> dict[str, Any] | None:
    """The stream's first delivery still to make: pending, or claimed (`sending`) but not recorded."""
    query = {"stream": stream, "status": {"$in": ["pending", "sending"]}}
    return db.partner_deliveries.find_one(query, sort=[("seq", ASCENDING)])


def claim_delivery(db: Database, delivery: dict[str, Any]) -> int:
    """Mark it `sending` just before the call; its attempts, this one included (the stream's lock is held)."""
    now = _now()
    change = {"$set": {"status": "sending", "sending_at": now, "first_try_at": delivery.get("first_try_at") or now}}
    db.partner_deliveries.update_one({"_id": delivery["_id"]}, change | {"$inc": {"attempts": 1}})
    return int(delivery.get("attempts") or 0) + 1


def delivered(db: Database, delivery_id: ObjectId, answer: int) -> None:
    change = {"status": "delivered", "delivered_at": _now(), "last_status": answer, "next_attempt_at": None}
    db.partner_deliveries.update_one({"_id": delivery_id}, {"$set": change})


def retry_delivery(db: Database, delivery_id: ObjectId, when: datetime, error: str) -> None:
    """Due again at `when` after a failed try; the stream waits behind it."""
    change = {"status": "pending", "next_attempt_at": when, "last_error": error}
    db.partner_deliveries.update_one({"_id": delivery_id}, {"$set": change})


def give_up_delivery(db: Database, delivery_id: ObjectId, error: str) -> None:
    """Failed for good (tried for a day, or its endpoint removed); the stream's next delivery goes on."""
    change = {"status": "failed", "failed_at": _now(), "last_error": error, "next_attempt_at": None}
    db.partner_deliveries.update_one({"_id": delivery_id}, {"$set": change})


def redeliver(db: Database, delivery_id: ObjectId, organisation: ObjectId) -> dict[str, Any] | None:
    """Send a delivery again (failed or delivered), now, with the same event id; None when it is not theirs."""
    change = {"status": "pending", "next_attempt_at": _now(), "first_try_at": None, "attempts": 0}
    query = {"_id": delivery_id, "organisation": organisation, "status": {"$in": ["failed", "delivered"]}}
    if db.partner_deliveries.update_one(query, {"$set": change}).modified_count != 1:
        return None
    return find_delivery(db, delivery_id)


def due_deliveries(db: Database, now: datetime, limit: int = 100) -> list[str]:
    """Ids of deliveries due by `now` (pending, or claimed before now - SENDING_STALE), the first of each stream."""
    first: dict[str, tuple[int, ObjectId]] = {}
    for query in (
        {"status": "pending", "next_attempt_at": {"$lte": now}},
        {"status": "sending", "sending_at": {"$lt": now - SENDING_STALE}},
    ):
        for doc in db.partner_deliveries.find(query, {"stream": 1, "seq": 1}).limit(limit * 10):
            first[doc["stream"]] = min(first.get(doc["stream"], (doc["seq"], doc["_id"])), (doc["seq"], doc["_id"]))
    return [str(delivery_id) for _, delivery_id in sorted(first.values())[:limit]]


def delivery_log(db: Database, organisation: ObjectId, limit: int = LOG_SHOWN) -> list[dict[str, Any]]:
    """An organisation's latest deliveries, newest first: what its panel page lists."""
    query = {"organisation": organisation}
    return list(db.partner_deliveries.find(query).sort("created_at", DESCENDING).limit(limit))


def endpoint_log(db: Database, endpoint: ObjectId, limit: int = LOG_SHOWN) -> list[dict[str, Any]]:
    """One endpoint's latest deliveries, newest first: what the API's delivery log answers."""
    query = {"endpoint": endpoint}
    return list(db.partner_deliveries.find(query).sort("created_at", DESCENDING).limit(limit))


def sweep_partner_events(db: Database, before: datetime, limit: int = SWEPT) -> int:
    """Remove deliveries delivered or given up before `before`, and the events none is left of; how many went.

    A delivery still pending or being tried is never removed: its day of retries ends first (then it is failed,
    and kept for the log as long as a delivered one).
    """
    gone = list(
        db.partner_deliveries.find({"status": "delivered", "delivered_at": {"$lt": before}}, {"event": 1}).limit(limit)
    )
    gone += list(
        db.partner_deliveries.find({"status": "failed", "failed_at": {"$lt": before}}, {"event": 1}).limit(limit)
    )
    if not gone:
        return 0
    removed = db.partner_deliveries.delete_many({"_id": {"$in": [d["_id"] for d in gone]}}).deleted_count
    events = list({d["event"] for d in gone})
    left = {d["event"] for d in db.partner_deliveries.find({"event": {"$in": events}}, {"event": 1})}
    db.partner_events.delete_many({"_id": {"$in": [event for event in events if event not in left]}})
    return removed


def forget_erased_case(db: Database, cases: list[str], candidates: list[ObjectId]) -> int:
    """An erased case's events: never sent again (undelivered ones are given up), and its reference blanked in
    every stored body; how many events were changed.

    A partner keeps what it was sent before the erasure (it had it legitimately); nothing of the case goes out after.
    """
    records = [*cases, *(str(candidate) for candidate in candidates)]
    if not records:
        return 0
    events = list(db.partner_events.find({"record": {"$in": records}}, {"body": 1}))  # case.closed's record: the case
    keys = [event["_id"] for event in events]
    waiting = [
        d["_id"]
        for d in db.partner_deliveries.find({"event": {"$in": keys}}, {"status": 1})
        if d["status"] in ("pending", "sending")
    ]
    for delivery in waiting:
        give_up_delivery(db, delivery, ERASED)
    changed = 0
    for event in events:
        body = json.loads(event["body"])
        if body.get("data", {}).get("case") in cases:
            body["data"]["case"] = None
            blanked = json.dumps(body, ensure_ascii=False)
            changed += db.partner_events.update_one({"_id": event["_id"]}, {"$set": {"body": blanked}}).modified_count
    return changed


def _now() -> datetime:
    return datetime.now(UTC)
