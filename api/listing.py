"""The list's query string read and checked: filters, a page size within bounds, an opaque cursor.

A page asks for at most MAX_LIMIT records: more (10 000 in one request) is refused with a 400 that says the
bound, rather than silently cut, so a partner's loop never mistakes a short page for the end.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from flask import request

from api.problems import field_error, invalid
from storage.found_persons import STATUSES, FoundQuery

DEFAULT_LIMIT, MAX_LIMIT = 50, 100
PARAMETERS = ("status", "external_id", "updated_since", "limit", "cursor")


def list_query() -> tuple[FoundQuery, tuple[datetime, ObjectId] | None, int]:
    """(filters, the cursor's record id, page size) from the query string; 400 naming each wrong parameter."""
    args, errors = request.args, []
    errors += [
        field_error(name, f"unknown parameter; use {', '.join(PARAMETERS)}") for name in args if name not in PARAMETERS
    ]
    status = args.get("status")
    if status is not None and status not in STATUSES:
        errors.append(field_error("status", f"must be one of {', '.join(STATUSES)}"))
    since = _moment(args.get("updated_since"), errors)
    limit = _limit(args.get("limit"), errors)
    after = _cursor(args.get("cursor"), errors)
    if errors:
        raise invalid(errors)
    return FoundQuery(status, args.get("external_id"), since), after, limit


def next_cursor(page: list[dict[str, Any]]) -> str:
    """Where the next page starts: after the last record of this one, by its change time and id (opaque)."""
    last = page[-1]
    moment = last.get("updated_at") or last["created_at"]
    millis = int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * 1000)
    return base64.urlsafe_b64encode(millis.to_bytes(8, "big") + last["_id"].binary).decode().rstrip("=")


def _limit(text: str | None, errors: list[dict[str, str]]) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        errors.append(
            field_error("limit", f"must be a whole number from 1 to {MAX_LIMIT}; follow next_cursor for more")
        )
        return DEFAULT_LIMIT
    return int(text)


def _moment(text: str | None, errors: list[dict[str, str]]) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors.append(field_error("updated_since", "must be an RFC 3339 time with its offset (2026-12-01T09:00:00Z)"))
        return None
    return moment.astimezone(UTC)


def _cursor(text: str | None, errors: list[dict[str, str]]) -> tuple[datetime, ObjectId] | None:
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        if len(raw) != 20:
            raise ValueError("not a cursor")
        return datetime.fromtimestamp(int.from_bytes(raw[:8], "big") / 1000, UTC), ObjectId(raw[8:])
    except (binascii.Error, InvalidId, TypeError, ValueError, OverflowError, OSError):
        errors.append(field_error("cursor", "is not a cursor this API gave; start again without it"))
        return None
