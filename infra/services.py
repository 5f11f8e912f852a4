"""Where MongoDB and Redis are: configured, already running, or started now.

`make run` starts the embedded servers and records them in the data dir, so
a CLI command run beside it (or a second web process) joins the same servers
instead of fighting over the data directory.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from config import Settings
from infra.embedded import EmbeddedServer, pid_alive, start_mongodb, start_redis


@dataclass(frozen=True)
class ServiceUrls:
    mongodb_uri: str
    redis_url: str


@contextmanager
def backing_services(settings: Settings) -> Iterator[ServiceUrls]:
    """Yield the URLs to use; servers started here are stopped on exit."""
    running = _read_state(settings.run_dir)
    started: list[EmbeddedServer] = []
    try:
        mongodb_uri = settings.mongodb_uri or _reuse_or_start("mongodb", running, settings, started)
        redis_url = settings.redis_url or _reuse_or_start("redis", running, settings, started)
        if started:
            _write_state(settings.run_dir, {s.name: s for s in started} | running)
        yield ServiceUrls(mongodb_uri, redis_url)
    finally:
        for server in reversed(started):
            server.stop()
        if started:
            _forget(settings.run_dir, [s.name for s in started])


def _reuse_or_start(name: str, running: dict[str, EmbeddedServer], settings: Settings, started: list[EmbeddedServer]) -> str:
    if name in running:
        return running[name].url
    server = start_mongodb(settings.data_dir) if name == "mongodb" else start_redis(settings.data_dir)
    started.append(server)
    return server.url


def _state_path(run_dir: Path) -> Path:
    return run_dir / "embedded.json"


def _read_state(run_dir: Path) -> dict[str, EmbeddedServer]:
    """The embedded servers another live process of this data dir started."""
    try:
        entries = json.loads(_state_path(run_dir).read_text())
    except (OSError, ValueError):
        return {}
    return {
        name: EmbeddedServer(name, entry["url"], int(entry["pid"]), Path(entry["log"]))
        for name, entry in entries.items()
        if pid_alive(int(entry["pid"]))
    }


def _write_state(run_dir: Path, servers: dict[str, EmbeddedServer]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    body = {name: {"url": s.url, "pid": s.pid, "log": str(s.log_path)} for name, s in servers.items()}
    temporary = _state_path(run_dir).with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(body, indent=2))
    temporary.replace(_state_path(run_dir))


def _forget(run_dir: Path, names: list[str]) -> None:
    remaining = {n: s for n, s in _read_state(run_dir).items() if n not in names}
    if remaining:
        _write_state(run_dir, remaining)
    else:
        _state_path(run_dir).unlink(missing_ok=True)
