"""Admin panel accounts: a username, a role, a salted password hash, and what keeps a session valid.

A session names its user and the user's `session_epoch` at login. Changing the
password, revoking sessions (logging out does), or disabling the account bumps
the epoch, so every session signed before it stops working at its next request.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError
from werkzeug.security import check_password_hash, generate_password_hash

from storage.organisations import OPERATOR, operator_organisation, require_organisation

# Ordered by what they may do: a page open to one role is open to those after it. A registrar (a partner
# organisation's) comes first, so the operator's pages (cases, review, users) are closed to it; its own pages
# check the organisation too.
ROLES = ("registrar", "viewer", "reviewer", "admin")
PARTNER_ROLES = ("registrar",)
MIN_PASSWORD = 10
# Checked when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class UserExists(Exception):
    """That username is taken; pick another."""


class NoSuchUser(Exception):
    """No account has that username; `homeward user list` or the Users page shows who exists."""


def create_user(db: Database, username: str, password: str, role: str, organisation: ObjectId | None = None) -> None:
    """An account of an organisation (the operator's when none is named).

    Registrars belong to partner organisations; viewers, reviewers and admins to the operator's.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    _check_password(password)
    organisation = organisation or operator_organisation(db)
    partner = require_organisation(db, organisation)["kind"] != OPERATOR
    if partner != (role in PARTNER_ROLES):
        raise ValueError(
            f"a {role} belongs to "
            + ("a partner organisation (--org NAME)" if role in PARTNER_ROLES else "the operator's organisation")
        )
    try:
        db.users.insert_one(
            {
                "username": username,
                "role": role,
                "organisation": organisation,
                "password_hash": generate_password_hash(password),
                "created_at": datetime.now(UTC),
                "disabled": False,
                "session_epoch": 0,
            }
        )
    except DuplicateKeyError:
        raise UserExists(f"a user named {username!r} already exists") from None


def bootstrap_admin(db: Database, password: str | None) -> str | None:
    """Create `admin` on first start; return the password only if it was generated here."""
    operator_organisation(db)  # made on first start; accounts from before organisations move into it
    if db.users.find_one({"username": "admin"}, {"_id": 1}):
        return None
    generated = None if password else secrets.token_urlsafe(12)
    try:
        create_user(db, "admin", password or generated or "", "admin")
    except UserExists:
        return None  # another process of this start created it first
    return generated


def find_user(db: Database, username: str) -> dict[str, Any] | None:
    """The account without its password hash: what a request may carry around."""
    return db.users.find_one({"username": username}, {"password_hash": 0})


def authenticate(db: Database, username: str, password: str) -> dict[str, Any] | None:
    """The account when the password is its own, else None; disabled accounts are returned, for the caller to refuse.

    An unknown username still checks a password hash, so the answer takes as long
    as for a known one and timing does not tell which usernames exist.
    """
    user = db.users.find_one({"username": username}) if username else None
    matches = check_password_hash(user["password_hash"] if user else _DUMMY_HASH, password)
    if user is None or not matches:
        return None
    user.pop("password_hash")
    return user


def session_epoch(user: dict[str, Any]) -> int:
    """The account's session epoch: a session stamped with another one is no longer valid."""
    return int(user.get("session_epoch") or 0)


def set_password(db: Database, username: str, password: str) -> None:
    """A new password; every session of the account ends, so a leaked one stops working."""
    _check_password(password)
    _update(db, username, {"$set": {"password_hash": generate_password_hash(password)}})


def set_disabled(db: Database, username: str, disabled: bool) -> None:
    """Disable (or enable again) an account; disabling ends its sessions at once."""
    _update(db, username, {"$set": {"disabled": disabled}})


def revoke_sessions(db: Database, username: str) -> None:
    """End every session of the account, wherever it was signed in."""
    _update(db, username, {})


def note_notifications_seen(db: Database, username: str, at: datetime) -> None:
    """When the account last opened its notifications page: the menu counts what came after.

    Not through `_update`: opening a page must not end the account's sessions.
    """
    db.users.update_one({"username": username}, {"$set": {"notifications_seen_at": at}})


def _update(db: Database, username: str, change: dict[str, Any]) -> None:
    found = db.users.update_one({"username": username}, change | {"$inc": {"session_epoch": 1}})
    if found.matched_count == 0:
        raise NoSuchUser(f"no user named {username!r}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters long")


def list_users(db: Database) -> list[dict[str, Any]]:
    return list(db.users.find({}, {"password_hash": 0}).sort("username", ASCENDING))
