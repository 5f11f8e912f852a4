"""The connections of this worker process, opened once and shared by its jobs.

RQ jobs take ids only, so they need somewhere to find the database; this is
that place, set up by the worker's main before the first job runs.
"""
from __future__ import annotations

from dataclasses import dataclass

from config import Settings, load_settings
from storage.connections import Connections, connect


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    connections: Connections


_current: WorkerContext | None = None


def install(context: WorkerContext) -> None:
    global _current
    _current = context


def current() -> WorkerContext:
    """The process's context; built from the environment on first use (e.g. `rq worker`)."""
    global _current
    if _current is None:
        settings = load_settings()
        if not (settings.mongodb_uri and settings.redis_url):
            raise RuntimeError("a worker started on its own needs MONGODB_URI and REDIS_URL; `make run` sets them")
        _current = WorkerContext(settings, connect(settings.mongodb_uri, settings.mongodb_database, settings.redis_url))
    return _current
