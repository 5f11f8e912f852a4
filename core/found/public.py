"""A found person and its matches as its organisation's systems read them (the API's answers; webhooks may reuse).

Only what the organisation registered, where its record stands, and its photos' analysis; never another
organisation's or a family's details. Times are RFC 3339 in UTC (`2026-12-06T21:44:43.123Z`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from core.found.record import FIELDS


def rfc3339(moment: datetime | None) -> str | None:
    """A stored time (naive ones are UTC, as MongoDB gives them) as RFC 3339 UTC with milliseconds."""
    if moment is None:
        return None
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def found_person_public(record: dict[str, Any]) -> dict[str, Any]:
    """The record's registered fields and state, as the API gives them."""
    return (
        {"reference": record["reference"], "status": record.get("status", "open")}
        | {name: record.get(name) for name in FIELDS}
        | {
            "closed_reason": record.get("closed_reason"),
            "created_at": rfc3339(record.get("created_at")),
            "updated_at": rfc3339(record.get("updated_at") or record.get("created_at")),
            "closed_at": rfc3339(record.get("closed_at")),
        }
    )


def etag(public: dict[str, Any]) -> str:
    """A strong ETag of the record's public fields: it changes with any of them, and with nothing else."""
    canonical = json.dumps(public, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def photo_public(photo: dict[str, Any]) -> dict[str, Any]:
    """A photo's analysis: `pending`, then `analysed` (its face takes part in matching) or `rejected` with why."""
    return {
        "id": str(photo["_id"]),
        "status": photo.get("status"),
        "reason": photo.get("reason") if photo.get("status") == "rejected" else None,
        "created_at": rfc3339(photo.get("created_at")),
    }


def match_public(row: dict[str, Any]) -> dict[str, Any]:
    """One row of services/found_persons.py `matches_of_found` (partner=True), as the API gives it."""
    return {
        "id": row["id"],
        "status": row["status"],
        "outcome": row["outcome"],
        "follow_up": row["follow_up"],
        "case": row["case"],
        "since": rfc3339(row["since"]),
        "outcome_settable": row["settable"],
    }
