"""What the workers' periodic maintenance last did, kept in Redis: written by workers/, read for /healthz.

The reconciler (workers/reconciler.py) and the retention sweep (workers/retention.py) each record their last
run here; the web process shows it without loading the workers' code.
"""

from __future__ import annotations

import json
import time
from typing import Any

RECONCILER_LAST_KEY = "homeward:reconciler:last"
RETENTION_LAST_KEY = "homeward:retention:last"


def record_run(connection: Any, key: str, counts: dict[str, int]) -> None:
    """Keep when a maintenance step ran and its counts (how many of each kind it recovered or removed)."""
    connection.set(key, json.dumps({"at": time.time(), "counts": counts}))


def last_run(connection: Any) -> dict[str, Any]:
    """When the reconciler last ran and what it recovered, for /healthz; None values before its first run."""
    seconds_ago, counts = _last(connection, RECONCILER_LAST_KEY)
    return {"last_run_s_ago": seconds_ago, "recovered": counts}


def last_sweep(connection: Any) -> dict[str, Any]:
    """When the retention sweep last ran and what it removed, for /healthz; None values before its first run."""
    seconds_ago, counts = _last(connection, RETENTION_LAST_KEY)
    return {"last_run_s_ago": seconds_ago, "removed": counts}


def _last(connection: Any, key: str) -> tuple[float | None, dict[str, int] | None]:
    raw = connection.get(key)
    if not raw:
        return None, None
    record = json.loads(raw)
    return round(time.time() - record["at"], 1), record["counts"]
