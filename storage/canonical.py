"""One canonical encoding for what is hashed and signed (audit entries, API read records), so a value hashes
the same wherever it is checked: sorted JSON, datetimes in UTC to the millisecond MongoDB keeps, ids tagged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId


def canonical(value: Any) -> bytes:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _plain(value: Any) -> Any:
    """JSON-able with one meaning per value: datetimes to UTC milliseconds (what MongoDB keeps), ids to strings."""
    if isinstance(value, datetime):
        return {"$date": to_ms(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
    if isinstance(value, ObjectId):
        return {"$oid": str(value)}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return {"$float": repr(value)}  # 1.0 and 1 must not hash alike
    return value


def to_ms(moment: datetime) -> datetime:
    aware = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)
