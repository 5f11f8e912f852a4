"""Organisations: the operator running Homeward, and the partners (shelters, hospitals, police...) it works with.

Every panel account belongs to one. A partner's registrars see only their own
organisation's found persons; the contact details stored here are what a family
is given when a found person held there may be their relative.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

OPERATOR = "operator"
KINDS = (OPERATOR, "ngo", "police", "shelter", "hospital", "mortuary", "other")
PARTNER_KINDS = KINDS[1:]
CONTACT_FIELDS = ("address", "phone", "hours")
DEFAULT_OPERATOR_NAME = "Homeward"


class OrganisationExists(Exception):
    """That name is taken; pick another (names are what people type at the command line)."""


class NoSuchOrganisation(Exception):
    """No organisation has that name or id; `homeward org list` shows which exist."""


def create_organisation(db: Database, name: str, kind: str, **contact: str) -> ObjectId:
    """A partner organisation (the operator's own is made at first start, by `operator_organisation`)."""
    if kind not in PARTNER_KINDS:
        raise ValueError(f"kind must be one of {', '.join(PARTNER_KINDS)}")
    return _insert(db, name, kind, contact)


def operator_organisation(db: Database, name: str = DEFAULT_OPERATOR_NAME) -> ObjectId:
    """The operator's organisation, made on first call; accounts without an organisation are moved into it."""
    found = db.organisations.find_one({"kind": OPERATOR}, {"_id": 1})
    if found is None:
        with contextlib.suppress(OrganisationExists):  # another process of this start made it first
            _insert(db, name, OPERATOR, {})
        found = db.organisations.find_one({"kind": OPERATOR}, {"_id": 1})
    assert found is not None
    db.users.update_many({"organisation": {"$exists": False}}, {"$set": {"organisation": found["_id"]}})
    return found["_id"]


def find_organisation(db: Database, name_or_id: str | ObjectId) -> dict[str, Any] | None:
    """By its id (as stored or as text) or its exact name."""
    if isinstance(name_or_id, ObjectId):
        return db.organisations.find_one({"_id": name_or_id})
    try:
        by_id = db.organisations.find_one({"_id": ObjectId(name_or_id)})
    except (InvalidId, TypeError):
        by_id = None
    return by_id or db.organisations.find_one({"name": name_or_id})


def require_organisation(db: Database, name_or_id: str | ObjectId) -> dict[str, Any]:
    found = find_organisation(db, name_or_id)
    if found is None:
        raise NoSuchOrganisation(f"no organisation named {str(name_or_id)!r}; `homeward org list` shows which exist")
    return found


def list_organisations(db: Database) -> list[dict[str, Any]]:
    return list(db.organisations.find().sort("name", ASCENDING))


def update_organisation(db: Database, organisation: ObjectId, **changes: str) -> None:
    """Change the name or the contact details (the kind of the operator's own organisation stays)."""
    unknown = set(changes) - {"name", "kind", *CONTACT_FIELDS}
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    if "kind" in changes and changes["kind"] not in PARTNER_KINDS:
        raise ValueError(f"kind must be one of {', '.join(PARTNER_KINDS)}")
    current = require_organisation(db, organisation)
    if current["kind"] == OPERATOR and "kind" in changes:
        raise ValueError("the operator's organisation keeps its kind")
    update = {("contact." + key if key in CONTACT_FIELDS else key): value for key, value in changes.items()}
    try:
        db.organisations.update_one({"_id": organisation}, {"$set": update | {"updated_at": _now()}})
    except DuplicateKeyError:
        raise OrganisationExists(f"an organisation named {changes.get('name')!r} already exists") from None


def is_operator(organisation: dict[str, Any] | None) -> bool:
    return bool(organisation) and organisation.get("kind") == OPERATOR  # type: ignore[union-attr]


def _insert(db: Database, name: str, kind: str, contact: dict[str, str]) -> ObjectId:
    name = name.strip()
    if not name:
        raise ValueError("an organisation needs a name")
    unknown = set(contact) - set(CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"unknown contact fields: {', '.join(sorted(unknown))}")
    doc = {"name": name, "kind": kind, "contact": {key: contact.get(key, "") for key in CONTACT_FIELDS}}
    try:
        return db.organisations.insert_one(doc | {"created_at": _now()}).inserted_id
    except DuplicateKeyError:
        raise OrganisationExists(f"an organisation named {name!r} already exists") from None


def _now() -> datetime:
    return datetime.now(UTC)
