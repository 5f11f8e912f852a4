"""GET /healthz: is each part up? 200 when all are, 503 otherwise.

Under `make run` it also shows the supervisor's view of its children (pid, up,
up_s, restarts, last_exit); that is history, so restarts alone never make it 503.
So are the reconciler's last run (how long ago, what it recovered) and the retention sweep's (what it removed),
shown but never counted in `ok`.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify
from rq import Worker

from admin.context import homeward
from core.times import as_utc
from infra.embedded import pid_alive
from infra.status import read_status
from services.maintenance import last_run, last_sweep
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
    supervised = read_status(services.settings.run_dir)
    processes = {"processes": supervised} if supervised is not None else {}
    history = {
        "reconciler": _reconciler(services.connections.redis),
        "retention": _retention(services.connections.redis),
    }
    return jsonify({"ok": healthy, **parts, **history, **processes}), 200 if healthy else 503


def _reconciler(connection: Any) -> dict[str, Any]:
    try:
        return last_run(connection)
    except Exception as exc:  # noqa: BLE001 - Redis down: already reported under redis
        return {"last_run_s_ago": None, "recovered": None, "error": type(exc).__name__}


def _retention(connection: Any) -> dict[str, Any]:
    try:
        return last_sweep(connection)
    except Exception as exc:  # noqa: BLE001 - Redis down: already reported under redis
        return {"last_run_s_ago": None, "removed": None, "error": type(exc).__name__}


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
    now = datetime.now(UTC)
    alive = [
        w
        for w in workers
        if w.last_heartbeat and (now - as_utc(w.last_heartbeat)).total_seconds() < w.worker_ttl + 60 and not _gone(w)
    ]
    return {"ok": bool(alive), "count": len(alive)}


def _gone(worker: Worker) -> bool:
    """A worker on this machine whose process is dead: killed workers leave a fresh heartbeat behind for minutes."""
    return worker.hostname == socket.gethostname() and worker.pid is not None and not pid_alive(worker.pid)
