"""API keys: how an organisation's own systems call /api/v1/ (Authorization: Bearer hw_...).

A key belongs to one partner organisation and carries scopes; only its
SHA-256 is stored (the key is random, 256 bits: a slow hash would add nothing
but latency to every call), so the key itself is shown once, when made. A
revoked key stops working at its next call: every call looks its hash up here,
nothing is cached. `last_used_at` is written at most once a minute per key
and process, so a busy key does not write on every read.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from storage.organisations import OPERATOR, require_organisation

# webhooks:write: a partner's endpoints decide where its events go, so managing them is a scope of its own.
SCOPES = ("found:read", "found:write", "cases:read", "cases:write", "outcomes:write", "webhooks:write")
PREFIX = "hw_"
SHOWN = 10  # characters of a key kept in clear (`hw_` and 7 more), so people can tell their keys apart
NOTE_USE_EVERY_S = 60.0
_noted: dict[ObjectId, float] = {}  # key id -> monotonic time of this process's last `last_used_at` write


class InvalidKeyRequest(ValueError):
    """The key cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class NewKey:
    id: ObjectId
    secret: str  # the whole key: shown once, never stored


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    """The scopes in their canonical order; InvalidKeyRequest naming an unknown one or none at all."""
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise InvalidKeyRequest(f"unknown scope {', '.join(unknown)}: choose among {', '.join(SCOPES)}")
    if not scopes:
        raise InvalidKeyRequest(f"give at least one scope: {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in scopes]


def create_api_key(
    db: Database, organisation: ObjectId, scopes: list[str], by: str, name: str = "", key_id: ObjectId | None = None
) -> NewKey:
    """A new key of a partner organisation; its secret is in the answer and nowhere else.

    `key_id` lets the caller audit the key's id before it exists (the audit entry comes first).
    """
    chosen = check_scopes(scopes)
    if require_organisation(db, organisation)["kind"] == OPERATOR:
        raise InvalidKeyRequest("API keys belong to partner organisations; the operator's people use the panel")
    secret = PREFIX + secrets.token_urlsafe(32)
    doc = {
        "_id": key_id or ObjectId(),
        "organisation": organisation,
        "name": name.strip()[:100],
        "scopes": chosen,
        "hash": key_hash(secret),
        "shown": secret[:SHOWN],
        "created_at": _now(),
        "created_by": by,
        "last_used_at": None,
        "revoked_at": None,
    }
    return NewKey(db.api_keys.insert_one(doc).inserted_id, secret)


def key_by_secret(db: Database, secret: str) -> dict[str, Any] | None:
    """The key with this secret, unless it is unknown or revoked."""
    if not secret.startswith(PREFIX):
        return None
    found = db.api_keys.find_one({"hash": key_hash(secret)})
    return found if found is not None and found.get("revoked_at") is None else None


def find_api_key(db: Database, key_id: str | ObjectId) -> dict[str, Any] | None:
    try:
        return db.api_keys.find_one({"_id": ObjectId(key_id)})
    except (InvalidId, TypeError):
        return None


def list_api_keys(db: Database, organisation: ObjectId | None = None) -> list[dict[str, Any]]:
    """Newest first: one organisation's, or every one's; revoked ones too (they say when)."""
    query = {} if organisation is None else {"organisation": organisation}
    order = [("organisation", ASCENDING), ("created_at", DESCENDING)]
    return list(db.api_keys.find(query).sort(order))


def revoke_api_key(db: Database, key_id: ObjectId, by: str) -> bool:
    """Stop the key at once; False when it was already revoked (or never existed)."""
    found = db.api_keys.find_one({"_id": key_id}, {"revoked_at": 1})
    if found is None or found.get("revoked_at") is not None:
        return False
    db.api_keys.update_one({"_id": key_id}, {"$set": {"revoked_at": _now(), "revoked_by": by}})
    return True


def note_key_used(db: Database, key_id: ObjectId) -> None:
    """Record the key's last use (at most once a minute per key in this process)."""
    now = time.monotonic()
    if now - _noted.get(key_id, -NOTE_USE_EVERY_S) < NOTE_USE_EVERY_S:
        return
    _noted[key_id] = now
    db.api_keys.update_one({"_id": key_id}, {"$max": {"last_used_at": _now()}})


def _now() -> datetime:
    return datetime.now(UTC)
