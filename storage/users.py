"""Admin panel accounts: a username, a role and a salted password hash."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError
from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("viewer", "reviewer", "admin")


class UserExists(Exception):
    """That username is taken; pick another."""


def create_user(db: Database, username: str, password: str, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("password must be at least 10 characters long")
    try:
        db.users.insert_one(
            {
                "username": username,
                "role": role,
                "password_hash": generate_password_hash(password),
                "created_at": datetime.now(UTC),
            }
        )
    except DuplicateKeyError:
        raise UserExists(f"a user named {username!r} already exists") from None


def bootstrap_admin(db: Database, password: str | None) -> str | None:
    """Create `admin` on first start; return the password only if it was generated here."""
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


def authenticate(db: Database, username: str, password: str) -> bool:
    """True when the account exists and the password is its own."""
    user = db.users.find_one({"username": username}, {"password_hash": 1})
    return bool(user) and check_password_hash(user["password_hash"], password)  # type: ignore[index]


def list_users(db: Database) -> list[dict[str, Any]]:
    return list(db.users.find({}, {"password_hash": 0}).sort("username", ASCENDING))
