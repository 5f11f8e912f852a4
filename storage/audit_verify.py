"""Checking the audit chain (`homeward audit verify`): every entry in place, unaltered, signed, and the API reads
the chain vouches for still as they were sealed. storage/audit.py writes the chain; this reads it back.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo import DESCENDING
from pymongo.database import Database

from storage import api_reads
from storage.audit import EXPIRED_ACTION, GENESIS, READS_ACTION, SIGNED, VERIFY_BATCH, entry_hash, note_hash
from storage.sealing import Keyring, keyring


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int  # how many entries were found intact before the first break (all of them when ok)
    head: str  # the hash of the last intact entry: keep `entries:head` elsewhere to notice a cut-off tail
    problem: str = ""
    unsigned: int = 0  # of the intact entries, how many were written before entries were signed

    @property
    def anchor(self) -> str:
        """The head as `SEQ:HASH`, what `homeward audit verify --expect` takes."""
        return f"{self.entries}:{self.head}"


@dataclass
class _Walk:
    """Where a walk along the chain is: the next seq, the hash it must follow, what the signatures showed."""

    ring: Keyring
    expected: int = 1
    prev: str = GENESIS
    signed: bool = False  # a signed entry was met: every later one must be signed too
    unsigned: int = 0
    unchecked: str = ""  # the first of the entries since the last checked signature whose key is not listed
    kept: str | None = None  # the hash of the entry `expect` names, once passed

    def verdict(self, problem: str = "") -> Verdict:
        return Verdict(not problem, self.expected - 1, self.prev, problem, self.unsigned)


def verify_chain(db: Database, expect: tuple[int, str] | None = None) -> Verdict:
    """Walk the chain from the first entry; stop at the first entry that is missing, altered or out of place.

    `expect` is a head kept elsewhere (`seq`, `hash`): the chain must still hold that entry, unchanged.
    Entries are read by ranges of seq (the unique index), a thousand at a time, so memory stays flat.
    """
    walk, start = _Walk(keyring()), 1
    expired = db.audit.find_one({"action": EXPIRED_ACTION}, {"facts": 1}, sort=[("seq", DESCENDING)])
    through = expired["facts"]["through"] if expired else None  # trusted once the walk reaches its entry intact
    while True:
        batch = sorted(db.audit.find({"seq": {"$gte": start, "$lt": start + VERIFY_BATCH}}), key=lambda e: e["seq"])
        if not batch:
            later = db.audit.find_one({"seq": {"$gte": start}})  # entries beyond a gap of a whole batch
            if later is None:
                break
            batch = [later]
        with_notes = [e["_id"] for e in batch if e.get("detail_hash")]
        notes = {n["_id"]: n for n in db.audit_notes.find({"_id": {"$in": with_notes}})} if with_notes else {}
        for entry in batch:
            problem = _problem(entry, walk.expected, walk.prev, notes.get(entry["_id"])) or _signature(entry, walk)
            if not problem and entry.get("action") == READS_ACTION and not _expired(entry, through):
                problem = _reads_problem(db, entry)
            if problem:
                return walk.verdict(problem)
            if expect and entry["seq"] == expect[0]:
                walk.kept = entry["hash"]
            walk.expected, walk.prev = walk.expected + 1, entry["hash"]
        start += VERIFY_BATCH
    outside = db.audit.count_documents({"seq": {"$exists": False}})
    if outside:
        first = db.audit.find_one({"seq": {"$exists": False}}, {"_id": 1})
        return walk.verdict(f"{outside} audit document(s) are outside the chain, the first is _id {first['_id']}")  # type: ignore[index]
    if walk.unchecked:
        return walk.verdict(
            f"{walk.unchecked} and the entries after it are signed under data key(s) that are not listed: list the "
            "data key it names after the current one in HOMEWARD_DATA_KEY (or restore the data dir's data_keys file)"
        )
    return walk.verdict(_against_kept(walk, expect) if expect else "")


def _signature(entry: dict[str, Any], walk: _Walk) -> str:
    """What is wrong with the entry's signature, if anything; notes what the walk learnt from it."""
    where = f"audit entry {entry['seq']} (_id {entry['_id']})"
    version = entry.get("v")
    if version is None:
        if walk.signed:
            return f"{where} is not signed but follows signed entries: the chain was rewritten from there on"
        walk.unsigned += 1
        return ""
    if version != SIGNED:
        return f"{where} has format v{version}, which this version of Homeward cannot check: upgrade Homeward"
    walk.signed = True
    mac = walk.ring.audit_mac(str(entry.get("kid")), str(entry["hash"]).encode())
    if mac is None:
        walk.unchecked = walk.unchecked or f"{where}, signed under data key {entry.get('kid')},"
        return ""
    if not hmac.compare_digest(mac.encode(), str(entry.get("mac")).encode()):
        return f"{where} was rewritten: its signature does not match (its hash was recomputed without the audit key)"
    walk.unchecked = ""  # a valid signature vouches for every entry before it
    return ""


def _expired(entry: dict[str, Any], through: ObjectId | None) -> bool:
    return through is not None and entry["facts"]["last"] <= through


def _reads_problem(db: Database, entry: dict[str, Any]) -> str:
    """What is wrong with the API reads this entry vouches for: a record edited, deleted or slipped in."""
    facts = entry.get("facts") or {}
    where = f"the API reads audit entry {entry['seq']} vouches for"
    records = api_reads.in_range(db, facts["first"], facts["last"])
    ring = keyring()
    for record in records:
        mac = ring.audit_mac(str(record.get("kid")), api_reads.record_hash(record).encode())
        if mac is not None and not hmac.compare_digest(mac.encode(), str(record.get("mac")).encode()):
            return f"API read record {record['_id']} (of {where}) was altered: its signature does not match"
    missing = facts["count"] - len(records)
    if missing == 1:
        gone = api_reads.ids_xor([ObjectId(facts["ids_xor"]), *(r["_id"] for r in records)])
        return f"API read record {gone} (of {where}) was deleted"
    if missing:
        return (
            f"{where} {facts['count']} read records from {facts['first']} to {facts['last']}, but {len(records)} "
            "are there: records were deleted or slipped in"
        )
    if api_reads.ids_xor(r["_id"] for r in records) != facts["ids_xor"] or api_reads.digest(records) != facts["digest"]:
        return f"{where} read records from {facts['first']} to {facts['last']}, but they were replaced or edited"
    return ""


def _against_kept(walk: _Walk, expect: tuple[int, str]) -> str:
    """Whether the chain still holds the head kept elsewhere."""
    seq, kept = expect
    last = walk.expected - 1
    found = GENESIS if seq == 0 else walk.kept
    if found is None:
        return (
            f"the chain ends at entry {last}, but the kept head is entry {seq}: "
            f"entries {last + 1} to {seq} were cut off, or the chain was rewritten"
        )
    if found != kept:
        return f"audit entry {seq} has hash {found}, not the kept {kept}: the chain was rewritten up to there"
    return ""


def _problem(entry: dict[str, Any], expected: int, prev: str, note: dict[str, Any] | None) -> str:
    seq = entry.get("seq")
    where = f"audit entry {seq} (_id {entry['_id']}, {entry.get('action')!r} on {entry.get('target')!r})"
    if seq != expected:
        return f"audit entry {expected} is missing: the next one found is {where}"
    if entry.get("prev") != prev:
        return f"{where} does not follow entry {expected - 1}: its prev hash differs (an entry was replaced)"
    if entry_hash(entry) != entry.get("hash"):
        return f"{where} was altered: its hash does not match its content"
    if note is not None and note_hash(note.get("salt", ""), note.get("detail", "")) != entry.get("detail_hash"):
        return f"the note of {where} was altered: its text does not match the hash in the entry"
    return ""
