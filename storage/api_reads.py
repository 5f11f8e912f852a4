"""Who read what through the partner API: one cheap, unchained record per GET, vouched for later by the chain.

Chaining every read (storage/audit.py `audit`: four round trips on one head every writer contends for) spent
most of a read's time and capped all API traffic at the chain's ~50-70 entries/s. A read is recorded here
instead with one insert: the key, its organisation, the method and route, the references it named and the
request id (ids only, never personal data), with `mac`, an HMAC of the record under the audit key, so an
edited record is named by `homeward audit verify`. The reconciler then seals what was recorded
(storage/audit.py `seal_api_reads`): one chained entry per batch carrying its count, first and last ids, a
SHA-256 over its records in `_id` order and the XOR of their ids (one deleted record is named by it).

Records are batched by `_id`, whose first bytes are the second it was made: only records older than
SEAL_GRACE are sealed, so a request still inserting its record never lands inside a sealed range.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from storage.canonical import canonical, to_ms
from storage.sealing import keyring

SEAL_GRACE = timedelta(seconds=60)  # far beyond any insert's round trip: a later record never predates a seal
HASHED = ("_id", "key", "organisation", "method", "route", "targets", "request_id", "at")


def record_read(
    db: Database, key: ObjectId, organisation: ObjectId, method: str, route: str, targets: list[str], request_id: str
) -> ObjectId:
    """Record one API read with one insert; its id."""
    ring = keyring()
    record: dict[str, Any] = {
        "_id": ObjectId(),
        "key": key,
        "organisation": organisation,
        "method": method,
        "route": route,
        "targets": targets,
        "request_id": request_id,
        "at": to_ms(datetime.now(UTC)),
        "kid": ring.audit_key_id(),
    }
    record["mac"] = ring.audit_mac(record["kid"], record_hash(record).encode())
    db.api_reads.insert_one(record)
    return record["_id"]  # type: ignore[no-any-return]


def reads_about(db: Database, targets: list[str], limit: int = 100) -> list[dict[str, Any]]:
    """The latest reads of these targets, newest first, shaped as audit entries for a record's history."""
    found = db.api_reads.find({"targets": {"$in": targets}}).sort("at", DESCENDING).limit(limit)
    return [
        {
            "_id": read["_id"],
            "at": read["at"],
            "user": f"api-key:{read['key']}",
            "action": f"api {read['method']} {read['route']}",
            "target": next((t for t in read["targets"] if t in targets), ""),
            "detail": f"request {read['request_id']}",
        }
        for read in found
    ]


def unsealed(db: Database, after: ObjectId | None, now: datetime, limit: int) -> list[dict[str, Any]]:
    """The next records to seal: after the last sealed one, older than the grace, in `_id` order."""
    before = ObjectId.from_datetime(now - SEAL_GRACE)
    span: dict[str, Any] = {"$lt": before} | ({"$gt": after} if after else {})
    return list(db.api_reads.find({"_id": span}).sort("_id", ASCENDING).limit(limit))


def in_range(db: Database, first: ObjectId, last: ObjectId) -> list[dict[str, Any]]:
    """The records a sealed batch covers, in `_id` order."""
    return list(db.api_reads.find({"_id": {"$gte": first, "$lte": last}}).sort("_id", ASCENDING))


def batch_facts(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What a chained entry keeps about a batch: enough to notice any record edited, deleted or added."""
    return {
        "count": len(records),
        "first": records[0]["_id"],
        "last": records[-1]["_id"],
        "digest": digest(records),
        "ids_xor": ids_xor(r["_id"] for r in records),
    }


def digest(records: list[dict[str, Any]]) -> str:
    """SHA-256 over the records' canonical encodings (their hashed fields and mac), in the order given."""
    total = hashlib.sha256()
    for record in records:
        total.update(canonical({k: record.get(k) for k in (*HASHED, "kid", "mac")}) + b"\n")
    return total.hexdigest()


def ids_xor(ids: Iterable[ObjectId]) -> str:
    """The XOR of the ids: XORed with what is left of a batch, it is the one id deleted from it."""
    value = 0
    for one in ids:
        value ^= int.from_bytes(one.binary, "big")
    return f"{value:024x}"


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the record's canonical encoding: what its `mac` signs."""
    return hashlib.sha256(canonical({k: record.get(k) for k in HASHED})).hexdigest()
