"""Partner webhook endpoints: the URLs an organisation's systems listen on, the events each wants, its secrets.

Not the chat platforms' inbound webhooks (admin/webhooks.py): these are called by Homeward. A secret is shown
once, when made, and kept sealed (storage/sealing.py, bound to its endpoint), as photos are. A rotation keeps the
previous secret valid for ROTATION_OVERLAP (both signatures are sent meanwhile), so a partner can switch over
without missing a delivery.
"""

from __future__ import annotations

import secrets as random_secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary, ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING
from pymongo.database import Database

from core.times import as_utc
from storage.sealing import Keyring, keyring

HOOK_SECRET = b"partner-hook-secret"
ROTATION_OVERLAP = timedelta(hours=24)
SECRET_PREFIX = "whsec_"


class NoSuchEndpoint(LookupError):
    """No endpoint has that id (for that organisation); `homeward hooks list ORG` shows which exist."""


def add_endpoint(db: Database, organisation: ObjectId, url: str, events: list[str], by: str) -> tuple[ObjectId, str]:
    """Register an endpoint (URL and events already checked); its id and its secret, which is never shown again."""
    endpoint_id, secret = ObjectId(), _new_secret()
    doc = {
        "_id": endpoint_id,
        "organisation": organisation,
        "url": url,
        "events": events,
        "secret": _seal(secret, endpoint_id),
        "created_at": _now(),
        "created_by": by,
    }
    db.partner_hooks.insert_one(doc)
    return endpoint_id, secret


def rotate_secret(db: Database, endpoint_id: ObjectId) -> str:
    """A new secret for the endpoint; the current one stays valid (and signed with) for ROTATION_OVERLAP."""
    endpoint = require_endpoint(db, endpoint_id)
    secret = _new_secret()
    change = {
        "secret": _seal(secret, endpoint_id),
        "previous_secret": endpoint["secret"],
        "previous_until": _now() + ROTATION_OVERLAP,
        "rotated_at": _now(),
    }
    db.partner_hooks.update_one({"_id": endpoint_id}, {"$set": change})
    return secret


def signing_secrets(endpoint: dict[str, Any], now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the previous while a rotation lasts."""
    found = [_open(endpoint["secret"], endpoint["_id"])]
    until = endpoint.get("previous_until")
    if until is not None and as_utc(until) > (now or _now()):
        found.append(_open(endpoint["previous_secret"], endpoint["_id"]))
    return found


def remove_endpoint(db: Database, endpoint_id: ObjectId) -> bool:
    """Stop delivering to it; its deliveries still waiting are failed with that reason (storage/partner_events.py)."""
    return db.partner_hooks.delete_one({"_id": endpoint_id}).deleted_count == 1


def find_endpoint(db: Database, endpoint_id: ObjectId | str) -> dict[str, Any] | None:
    try:
        return db.partner_hooks.find_one({"_id": ObjectId(endpoint_id)})
    except (InvalidId, TypeError):
        return None


def require_endpoint(db: Database, endpoint_id: ObjectId | str, organisation: ObjectId | None = None) -> dict[str, Any]:
    """The endpoint (of `organisation`, when given); NoSuchEndpoint otherwise."""
    endpoint = find_endpoint(db, endpoint_id)
    if endpoint is None or (organisation is not None and endpoint["organisation"] != organisation):
        raise NoSuchEndpoint(f"no webhook endpoint {endpoint_id}; `homeward hooks list ORG` shows which exist")
    return endpoint


def list_endpoints(db: Database, organisation: ObjectId) -> list[dict[str, Any]]:
    """An organisation's endpoints, oldest first, without their secrets."""
    fields = {"secret": 0, "previous_secret": 0}
    return list(db.partner_hooks.find({"organisation": organisation}, fields).sort("created_at", ASCENDING))


def subscribed(db: Database, organisations: list[ObjectId], event: str) -> list[dict[str, Any]]:
    """The endpoints of these organisations that asked for `event` (id, organisation only).

    By organisation alone, the events checked here: SecantusDB plans no index over the `events` array.
    """
    found = db.partner_hooks.find({"organisation": {"$in": organisations}}, {"organisation": 1, "events": 1})
    return [{"_id": hook["_id"], "organisation": hook["organisation"]} for hook in found if event in hook["events"]]


def reseal_secrets(db: Database, keys: Keyring) -> int:
    """Seal every endpoint's secrets under the current data key (`homeward rotate-key`); how many were re-sealed."""
    done = 0
    for endpoint in db.partner_hooks.find({}, {"secret": 1, "previous_secret": 1}):
        for name in ("secret", "previous_secret"):
            old = endpoint.get(name)
            if old is None or keys.is_current(bytes(old), bound=True):
                continue
            record = str(endpoint["_id"])
            new = Binary(keys.seal(keys.open(bytes(old), HOOK_SECRET, record), HOOK_SECRET, record))
            unchanged = {"_id": endpoint["_id"], name: old}  # a rotation of the secret meanwhile wins
            done += db.partner_hooks.update_one(unchanged, {"$set": {name: new}}).modified_count
    return done


def _new_secret() -> str:
    return SECRET_PREFIX + random_secrets.token_urlsafe(32)


def _seal(secret: str, endpoint_id: ObjectId) -> Binary:
    return Binary(keyring().seal(secret.encode(), HOOK_SECRET, str(endpoint_id)))


def _open(sealed: bytes, endpoint_id: ObjectId) -> str:
    return keyring().open(bytes(sealed), HOOK_SECRET, str(endpoint_id)).decode()


def _now() -> datetime:
    return datetime.now(UTC)
