"""`homeward doctor`: is this install able to run (data dir, face models, servers)?"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from cli import settings as cli_settings
from config import Settings
from core.faces import engines
from infra.services import backing_services
from storage.connections import connect


@click.command("doctor")
def doctor_command() -> None:
    """Check the install: models load, servers reachable, data dir writable."""
    settings = cli_settings.load()
    checks: list[tuple[str, Callable[[], str]]] = [
        ("data dir writable", lambda: _check_writable(settings.data_dir)),
        ("face engine loads", lambda: _check_engine(settings)),
        ("MongoDB and Redis reachable", lambda: _check_servers(settings)),
    ]
    failed = 0
    for name, check in checks:
        try:
            click.echo(f"ok    {name}: {check()}")
        except Exception as exc:  # noqa: BLE001 - doctor reports every failure and goes on
            failed += 1
            click.echo(f"FAIL  {name}: {exc}")
    if failed:
        raise click.ClickException(f"{failed} check(s) failed")


def _check_writable(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory):
        pass
    return str(directory)


def _check_engine(settings: Settings) -> str:
    """The configured engine's models load and run; says which model runs under which licence."""
    started = time.perf_counter()
    engine = engines.get(settings.face_engine, settings.arcface_model, settings.dlib_detector)
    engine.load()
    engine.detect(np.zeros((100, 100, 3), np.uint8))
    seconds = time.perf_counter() - started
    described = engines.describe(settings.face_engine, settings.arcface_model, settings.dlib_detector)
    return f"{described}; ready in {seconds:.1f} s"


def _check_servers(settings: Settings) -> str:
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
        try:
            version = connections.mongo.server_info().get("version", "?")
            connections.redis.ping()
        finally:
            connections.close()
    where = "configured" if settings.mongodb_uri and settings.redis_url else "embedded"
    return f"{where}; MongoDB protocol {version}, Redis answers PING"
