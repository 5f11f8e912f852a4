"""HOMEWARD_TRACE=path: every MongoDB command and every job of this process, with its duration, as JSON lines.

The tool that found where a message's time goes (docs/evaluation/bench.md): line up
the web's inserts against the worker's jobs and their commands. Each process appends
to the same file (one line per write, so lines never interleave). A line names the
command, the collection and the *names* of the filter's fields, never their values:
the trace holds no phone number, name or text. Off unless set; it costs a write per
command when on.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import redis.connection
from pymongo import monitoring

_lock = threading.Lock()
_file: Any = None
_process = ""


def start(path: Path | None, process: str) -> None:
    """Trace this process to `path` (None: not at all). Call before the MongoDB client is made."""
    global _file, _process
    if path is None or _file is not None:
        return
    _file, _process = open(path, "a", buffering=1, encoding="utf-8"), process  # noqa: SIM115 - open for the process
    monitoring.register(_Commands())
    _trace_redis()


def enabled() -> bool:
    return _file is not None


def record(kind: str, **fields: Any) -> None:
    """One line: when, which process, what kind (mongo, job), and the fields given."""
    if _file is None:
        return
    line = json.dumps({"t": round(time.time(), 4), "process": _process, "pid": os.getpid(), "kind": kind, **fields})
    with _lock:
        _file.write(line + "\n")


def _trace_redis() -> None:
    """Each Redis round trip as a line naming its commands (a pipeline is one trip), never their keys or values.

    redis-py has no listener like pymongo's: its connection's `send_command` (one command) and `pack_commands` (a
    pipeline) are wrapped, as every request of this process passes through one of them just before it is sent.
    """
    connection = redis.connection.AbstractConnection
    one, many = connection.send_command, connection.pack_commands

    def send_command(self: Any, *args: Any, **options: Any) -> Any:
        record("redis", commands=[_name(args)])
        return one(self, *args, **options)

    def pack_commands(self: Any, commands: Any) -> Any:
        commands = list(commands)
        record("redis", commands=[_name(args) for args in commands])
        return many(self, commands)

    connection.send_command, connection.pack_commands = send_command, pack_commands  # type: ignore[method-assign]


def _name(args: Any) -> str:
    name = args[0] if args else "?"
    return (name.decode() if isinstance(name, bytes) else str(name)).upper()


class _Commands(monitoring.CommandListener):
    """pymongo's command events: started (to keep what the command was about), then succeeded or failed."""

    def __init__(self) -> None:
        self._started: dict[tuple[int, int], dict[str, Any]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        collection = command.get(event.command_name)
        batch = command.get("updates") or command.get("deletes") or []  # an update's or delete's first
        shape = command.get("filter") or command.get("query") or (batch[0].get("q") if batch else None) or {}
        self._started[(event.request_id, event.operation_id or 0)] = {
            "command": event.command_name,
            "collection": collection if isinstance(collection, str) else None,
            "fields": sorted(shape) if isinstance(shape, dict) else None,
        }

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._done(event, ok=True)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._done(event, ok=False)

    def _done(self, event: Any, ok: bool) -> None:
        about = self._started.pop((event.request_id, event.operation_id or 0), {"command": event.command_name})
        record("mongo", ms=round(event.duration_micros / 1000, 3), ok=ok, **about)
