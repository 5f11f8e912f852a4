"""The audit log: who looked at or decided what, and when. Append-only and tamper-evident.

Each entry carries `seq` (1, 2, 3, ...), the hash of the entry before it
(`prev`) and its own `hash`, a SHA-256 over a canonical encoding of every
other field: editing, deleting or inserting an entry breaks the chain at that
point, and `homeward audit verify` names where. Two writers cannot both
extend the same head: `seq` is unique, so the slower one gets a duplicate-key
error, reads the new head and tries again.

A plain hash chain proves nothing to someone who can write to the database:
they edit an entry and recompute every later hash. So each entry written by
this version (`v: 2`) is also signed: `mac` is an HMAC-SHA256 of its hash
under the audit key of data key `kid` (storage/sealing.py: derived from the
data key, which is kept outside MongoDB). As every hash covers `prev`, one
valid signature vouches for every entry before it, so

- entries written before signing existed (no `v`) keep verifying, and are
  vouched for by the first signed entry after them; an unsigned entry after a
  signed one is a rewrite;
- entries signed under a data key since retired by `homeward rotate-key` are
  vouched for by the later entries signed under a listed key (a rotation
  writes one); only a tail signed under keys no longer listed cannot be checked.

What no key can show is a tail cut off, or a whole chain rewritten as unsigned
entries: `homeward audit anchor` prints the head (`SEQ:HASH`) to keep off the
machine, and `homeward audit verify --expect SEQ:HASH` checks the chain still
holds it.

Entries hold ids only (`case:HW-7K3P`, `candidate:<id>`, `face:<id>`); free
text a reviewer typed (a reason) lives in `audit_notes`, with a salted hash of
it in the entry. Erasing a person deletes their notes (the salt goes with
them, so the hash left in the chain reveals nothing) without touching the chain.

Reads through the partner API are not chained one by one (storage/api_reads.py: one insert each, signed
with the same audit key): `seal_api_reads`, run by the reconciler, appends one entry per batch of them
whose `facts` (count, first and last ids, digest) the walk of `verify_chain` checks against the records.
Checking the chain lives in storage/audit_verify.py.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage import api_reads
from storage.canonical import canonical, to_ms
from storage.sealing import keyring

GENESIS = "0" * 64  # the `prev` of the first entry
SIGNED = 2  # the `v` of entries signed with an HMAC; entries without `v` were written before signing existed
HEAD = "audit:head"  # in `counters`: the seq of the last entry, a hint that saves searching for it
APPEND_ATTEMPTS = 50
READS_ACTION = "api reads"  # the entry that vouches for a batch of API reads (storage/api_reads.py)
READS_BATCH = 5000
EXPIRED_ACTION = "api reads expired"  # read records past HOMEWARD_KEEP_API_READS_DAYS were deleted up to `through`
VERIFY_BATCH = 1000


class AuditUnavailable(Exception):
    """The audit entry could not be written (too many concurrent writers); the action was not done: try again."""


def audit(
    db: Database,
    user: str,
    action: str,
    target: str,
    detail: str = "",
    at: datetime | None = None,
    facts: dict[str, Any] | None = None,
) -> int:
    """Append an entry to the chain; return its `seq`. Call it before (or with) the action it records.

    `target` names what was acted on by id (never a phone number or a name); `detail` is free text
    (a reason, a filter) kept apart in `audit_notes` so that erasure can remove it; `facts` are ids and
    numbers kept in the entry itself, under its hash (a batch of API reads it vouches for).
    """
    entry_id = ObjectId()
    detail = detail[:500]
    detail_hash = None
    if detail:
        salt = secrets.token_hex(16)
        detail_hash = note_hash(salt, detail)
        db.audit_notes.insert_one({"_id": entry_id, "target": target, "detail": detail, "salt": salt})
    moment = to_ms(at or datetime.now(UTC))
    ring = keyring()
    for _ in range(APPEND_ATTEMPTS):
        seq, prev = _head(db)
        entry: dict[str, Any] = {
            "seq": seq + 1,
            "prev": prev,
            "at": moment,
            "user": user,
            "action": action,
            "target": target,
            "detail_hash": detail_hash,
            "v": SIGNED,
            "kid": ring.audit_key_id(),
        } | ({"facts": facts} if facts else {})
        entry["hash"] = entry_hash(entry)
        entry["mac"] = ring.audit_mac(entry["kid"], entry["hash"].encode())
        try:
            db.audit.insert_one({"_id": entry_id, **entry})
        except DuplicateKeyError:
            time.sleep(random.uniform(0, 0.005))  # another writer extended the head first: build on theirs
            continue
        db.counters.update_one({"_id": HEAD}, {"$max": {"seq": seq + 1}}, upsert=True)
        return seq + 1
    db.audit_notes.delete_one({"_id": entry_id})
    raise AuditUnavailable(f"could not append to the audit log after {APPEND_ATTEMPTS} attempts")


def _head(db: Database) -> tuple[int, str]:
    """The last entry's seq and hash: from the head counter, then forward past entries written since.

    The counter is a hint (it moves after the insert, with $max): the truth is the entries, found by seq
    through the unique index. Without a counter (a new database) the last entry is looked up once.
    """
    counter = db.counters.find_one({"_id": HEAD})
    if counter is None:
        last = db.audit.find_one({"seq": {"$gte": 1}}, {"seq": 1}, sort=[("seq", DESCENDING)])
        seq = int(last["seq"]) if last else 0
    else:
        seq = int(counter["seq"])
    newest = None
    for entry in db.audit.find({"seq": {"$gte": seq}}, {"seq": 1, "hash": 1}):  # usually one: the head itself
        if newest is None or entry["seq"] > newest["seq"]:
            newest = entry
    if newest is None:
        # The counter is ahead of every entry: the tail was deleted. Writing on after it keeps the gap, so the
        # next `audit verify` names the first missing entry instead of a quietly shortened chain.
        return seq, GENESIS
    return int(newest["seq"]), str(newest["hash"])


@contextmanager
def audited(db: Database, user: str, action: str, target: str, detail: str = "") -> Iterator[None]:
    """Write the entry, then do the action inside; if the action raises, a second entry says it failed."""
    audit(db, user, action, target, detail)
    try:
        yield
    except Exception as exc:
        audit(db, user, f"{action} failed", target, type(exc).__name__)
        raise


def history(db: Database, targets: list[str], limit: int = 100) -> list[dict[str, Any]]:
    """The latest entries about these targets, newest first, each with its `detail` (empty once erased).

    Reads through the partner API are kept apart (storage/api_reads.py) and shown here among the entries.
    """
    entries = list(db.audit.find({"target": {"$in": targets}}).sort("at", DESCENDING).limit(limit))
    notes = {n["_id"]: n["detail"] for n in db.audit_notes.find({"_id": {"$in": [e["_id"] for e in entries]}})}
    for entry in entries:
        entry["detail"] = notes.get(entry["_id"], entry.get("detail", ""))
    merged = entries + api_reads.reads_about(db, targets, limit)
    return sorted(merged, key=lambda e: e["at"], reverse=True)[:limit]


def seal_api_reads(db: Database, now: datetime, batch: int = READS_BATCH, most: int = 20) -> int:
    """Vouch in the chain for the API reads recorded since the last sealed one: one entry per batch; how many.

    The last sealed read is found from the chain itself (its latest READS_ACTION entry), so a run that
    stopped after its entry seals nothing twice, and one that stopped before it leaves the reads to the next.
    """
    last = db.audit.find_one({"action": READS_ACTION}, {"facts": 1}, sort=[("seq", DESCENDING)])
    after = last["facts"]["last"] if last else None
    sealed = 0
    for _ in range(most):
        records = api_reads.unsealed(db, after, now, batch)
        if not records:
            break
        facts = api_reads.batch_facts(records)
        audit(db, "homeward", READS_ACTION, f"api-reads:{facts['first']}", facts=facts)
        after, sealed = facts["last"], sealed + len(records)
    return sealed


def erase_notes(db: Database, targets: list[str]) -> int:
    """Delete the free text kept about these targets; the chain keeps their ids and hashes only."""
    if not targets:
        return 0
    return db.audit_notes.delete_many({"target": {"$in": targets}}).deleted_count


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of the canonical encoding of every field but `_id`, `hash` itself and the `mac` that signs it."""
    fields = {key: value for key, value in entry.items() if key not in ("_id", "hash", "mac")}
    return hashlib.sha256(canonical(fields)).hexdigest()


def expire_api_reads(db: Database, before: datetime, most: int = 20) -> int:
    """Delete the sealed batches of API reads recorded before `before`, saying so in the chain first; how many.

    The entry names the last record deleted (`through`), so `verify_chain` no longer looks for the records of the
    batches up to it; a sweep stopped after the entry deletes them at the next one.
    """
    expired = db.audit.find_one({"action": EXPIRED_ACTION}, {"facts": 1}, sort=[("seq", DESCENDING)])
    done = expired["facts"] if expired else {"through": None, "batch_seq": 0}
    cutoff, newest = ObjectId.from_datetime(before), None
    for batch in db.audit.find({"action": READS_ACTION, "seq": {"$gt": done["batch_seq"]}}).sort("seq", 1).limit(most):
        if batch["facts"]["last"] >= cutoff:
            break
        newest = batch
    if newest is not None:
        done = {"through": newest["facts"]["last"], "batch_seq": newest["seq"]}
        audit(db, "homeward", EXPIRED_ACTION, f"api-reads:{done['through']}", facts=done)
    if done["through"] is None:
        return 0
    return db.api_reads.delete_many({"_id": {"$lte": done["through"]}}).deleted_count


def chain_unchained(db: Database) -> int:
    """Bring entries written before the chain existed into it, oldest first, their free text into notes.

    Each old document is taken (deleted atomically, so two processes starting together never both move it)
    and appended again as a chained entry keeping its time.
    """
    moved = 0
    while old := db.audit.find_one_and_delete({"seq": {"$exists": False}}, sort=[("at", ASCENDING)]):
        at = old.get("at") if isinstance(old.get("at"), datetime) else None
        audit(
            db,
            str(old.get("user", "")),
            str(old.get("action", "")),
            str(old.get("target", "")),
            str(old.get("detail") or ""),
            at,
        )
        moved += 1
    return moved


def note_hash(salt: str, detail: str) -> str:
    return hashlib.sha256(f"{salt}\x00{detail}".encode()).hexdigest()
