"""GET /healthz: is each part up? 200 when all are, 503 otherwise."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, jsonify
from rq import Worker

from admin.context import homeward
from storage.connections import ping

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Any:
    services = homeward()
    parts = {
        "mongodb": _check(lambda: ping(services.connections.db)),
        "redis": _check(services.connections.redis.ping),
        "workers": _workers(services.connections.redis),
    }
    healthy = all(part["ok"] for part in parts.values())
    return jsonify({"ok": healthy, **parts}), 200 if healthy else 503


def _check(ping: Any) -> dict[str, Any]:
    try:
        ping()
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any failure is "down", reported by its type only
        return {"ok": False, "error": type(exc).__name__}


def _workers(connection: Any) -> dict[str, Any]:
    try:
        workers = Worker.all(connection=connection)
    except Exception as exc:  # noqa: BLE001 - Redis down: already reported under redis
        return {"ok": False, "count": 0, "error": type(exc).__name__}
    now = datetime.now(timezone.utc)
    alive = [w for w in workers if w.last_heartbeat and (now - _aware(w.last_heartbeat)).total_seconds() < w.worker_ttl + 60]
    return {"ok": bool(alive), "count": len(alive)}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
