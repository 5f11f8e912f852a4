"""The audit log: who looked at or decided what, and when. Append-only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.database import Database


def audit(db: Database, user: str, action: str, target: str, detail: str = "") -> None:
    db.audit.insert_one(
        {"at": datetime.now(UTC), "user": user, "action": action, "target": target, "detail": detail[:500]}
    )


def history(db: Database, targets: list[str], limit: int = 100) -> list[dict[str, Any]]:
    return list(db.audit.find({"target": {"$in": targets}}).sort("at", DESCENDING).limit(limit))
