"""Where MongoDB and Redis are: configured, already running, or started now.

`make run` starts the embedded servers and records them in the data dir, so
a CLI command run beside it (or a second web process) joins the same servers
instead of fighting over the data directory. A server `make run` supervises
stays recorded while it is being restarted: it comes back at the same URL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from config import Settings
from infra.embedded import EmbeddedServer, pid_alive, respawn, start_mongodb, start_redis, write_private


@dataclass(frozen=True)
class ServiceUrls:
    mongodb_uri: str = field(repr=False)  # URLs may hold passwords: kept out of tracebacks
    redis_url: str = field(repr=False)
    started: dict[str, EmbeddedServer] = field(default_factory=dict, compare=False)  # by name: started here


@contextmanager
def backing_services(settings: Settings, supervised: bool = False) -> Iterator[ServiceUrls]:
    """Yield the URLs to use; servers started here are stopped on exit.

    supervised: this process restarts the servers it started when they die (see
    restart_server), so others keep their record meanwhile instead of starting their own.
    """
    running = _read_state(settings.run_dir)
    started: dict[str, EmbeddedServer] = {}
    try:
        mongodb_uri = settings.mongodb_uri or _reuse_or_start("mongodb", running, settings, started)
        redis_url = settings.redis_url or _reuse_or_start("redis", running, settings, started)
        if started:
            _write_state(settings.run_dir, started | running, os.getpid() if supervised else None)
        yield ServiceUrls(mongodb_uri, redis_url, started)
    finally:
        for server in reversed(started.values()):
            server.stop()
        if started:
            _forget(settings.run_dir, list(started))


def restart_server(settings: Settings, urls: ServiceUrls, name: str) -> EmbeddedServer:
    """Start the dead server `name` again at its URL and record its new pid; does not wait for it to answer."""
    server = respawn(urls.started[name], settings.data_dir)
    urls.started[name] = server
    _write_state(settings.run_dir, _read_state(settings.run_dir) | {name: server}, os.getpid())
    return server


def _reuse_or_start(
    name: str, running: dict[str, EmbeddedServer], settings: Settings, started: dict[str, EmbeddedServer]
) -> str:
    if name in running:
        return running[name].url
    server = start_mongodb(settings.data_dir) if name == "mongodb" else start_redis(settings.data_dir)
    started[name] = server
    return server.url


def _state_path(run_dir: Path) -> Path:
    return run_dir / "embedded.json"


def _read_state(run_dir: Path) -> dict[str, EmbeddedServer]:
    """The embedded servers of this data dir that are alive, or dead but being restarted by a live supervisor."""
    try:
        entries = json.loads(_state_path(run_dir).read_text())
    except (OSError, ValueError):
        return {}
    servers = {name: _server(name, entry) for name, entry in entries.items()}
    return {
        name: server
        for name, server in servers.items()
        if pid_alive(server.pid) or (server.supervisor is not None and pid_alive(server.supervisor))
    }


def _server(name: str, entry: dict) -> EmbeddedServer:
    supervisor = int(entry["supervisor"]) if entry.get("supervisor") else None
    return EmbeddedServer(name, entry["url"], int(entry["pid"]), Path(entry["log"]), supervisor=supervisor)


def _write_state(run_dir: Path, servers: dict[str, EmbeddedServer], supervisor: int | None = None) -> None:
    """supervisor: the pid that restarts the servers this process started (those with a process here)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    body = {
        name: {"url": s.url, "pid": s.pid, "log": str(s.log_path)} | _supervisor_entry(s, supervisor)
        for name, s in servers.items()
    }
    write_private(_state_path(run_dir), json.dumps(body, indent=2))  # the Redis URL holds its password


def _supervisor_entry(server: EmbeddedServer, supervisor: int | None) -> dict[str, int]:
    keeper = supervisor if server.process is not None else server.supervisor
    return {"supervisor": keeper} if keeper else {}


def _forget(run_dir: Path, names: list[str]) -> None:
    remaining = {n: s for n, s in _read_state(run_dir).items() if n not in names}
    if remaining:
        _write_state(run_dir, remaining)
    else:
        _state_path(run_dir).unlink(missing_ok=True)
