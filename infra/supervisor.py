"""`make run`: the embedded servers, the web process and the workers, up and down together.

Children run in their own sessions and die with this process (see
embedded.die_with_parent), so Ctrl-C reaches only the supervisor, which stops
web and workers first and the servers last, so no job is cut off mid-write.
A child that dies on its own is restarted after a growing delay (0.5 s, 1, 2,
4, 8, then every 10 s while it keeps crashing); the servers come back at the
same address, so the URLs the others were given stay valid. Only Ctrl-C or
SIGTERM stops everything. /healthz shows each child's restarts (infra.status).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from prometheus_client import multiprocess

from config import Settings
from config.process import start_process
from config.settings import only_this_machine
from core.faces import engines
from core.faces.arcface import ModelMissing
from infra.embedded import STOP_TIMEOUT_S, die_with_parent
from infra.services import ServiceUrls, backing_services, restart_server
from infra.status import ProcessStatus, remove_status, write_status
from storage.connections import connect
from storage.users import bootstrap_admin

HEALTHY_TIMEOUT_S = 180.0
RESTART_DELAY_FIRST_S = 0.5
RESTART_DELAY_CAP_S = 10.0
STABLE_AFTER_S = 60.0  # a child that stayed up this long starts again from the first delay when it crashes
WATCH_INTERVAL_S = 0.2
log = logging.getLogger("homeward")


@dataclass
class Child:
    """One supervised process, how to start it again, and its restart record."""

    name: str
    spawn: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes]
    since: float = field(default_factory=time.monotonic)
    since_wall: float = field(default_factory=time.time)
    restarts: int = 0
    crashes_in_a_row: int = 0
    restart_at: float | None = None  # monotonic time of the pending restart; None while it runs
    last_exit: str | None = None

    @classmethod
    def start(cls, name: str, spawn: Callable[[], subprocess.Popen[bytes]]) -> Child:
        return cls(name, spawn, spawn())

    def status(self) -> ProcessStatus:
        return ProcessStatus(self.process.pid, self.restart_at is None, self.since_wall, self.restarts, self.last_exit)


def restart_delay(crashes_in_a_row: int) -> float:
    """0.5 s after a first crash, doubling with each crash in a row, never more than 10 s."""
    return min(RESTART_DELAY_FIRST_S * 2 ** (crashes_in_a_row - 1), RESTART_DELAY_CAP_S)


class _Stop:
    requested = False

    @classmethod
    def handler(cls, signum: int, _frame: FrameType | None) -> None:
        cls.requested = True


def main() -> int:
    started = time.monotonic()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _Stop.handler)
    settings = start_process("homeward")
    try:
        engine = engines.describe(settings.face_engine, settings.arcface_model, settings.dlib_detector)
    except ModelMissing as exc:
        print(f"homeward: {exc}", file=sys.stderr)
        return 2
    open_chat = opens_the_simulator(settings, os.environ)
    with backing_services(settings, supervised=True) as urls:
        login = _admin_login(settings, urls)
        servers = _server_children(settings, urls)
        children = _start_children(settings, urls, open_chat)
        everything = servers | children
        try:
            write_status(settings.run_dir, {name: child.status() for name, child in everything.items()})
            url = f"http://{_display_host(settings.host)}:{settings.port}"
            if _wait_healthy(url, everything):
                _banner(url, login, time.monotonic() - started, settings.simulator, engine, open_chat)
                return _watch(everything, settings.run_dir, settings.metrics_run_dir)
            return 0 if _Stop.requested else 1
        finally:
            _stop_children(children)
            remove_status(settings.run_dir)
            log.info("stopping the embedded servers")
    return 0


def _admin_login(settings: Settings, urls: ServiceUrls) -> str:
    connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
    try:
        generated = bootstrap_admin(connections.db, settings.admin_password)
    finally:
        connections.close()
    if generated:
        return f"user admin, password {generated}  (generated now and shown only this once: note it)"
    if settings.admin_password:
        return "user admin, password from HOMEWARD_ADMIN_PASSWORD"
    return "user admin, with the password shown at the first start"


def _server_children(settings: Settings, urls: ServiceUrls) -> dict[str, Child]:
    """The embedded servers started here, restarted at the same URL when they die."""
    return {
        name: Child(name, lambda name=name: _process_of(restart_server(settings, urls, name).process), server.process)
        for name, server in urls.started.items()
        if server.process is not None
    }


def _process_of(process: subprocess.Popen[bytes] | None) -> subprocess.Popen[bytes]:
    assert process is not None  # servers started by this process always have one
    return process


def opens_the_simulator(settings: Settings, environ: Mapping[str, str]) -> bool:
    """Whether `make run` lets anyone chat in the simulator without a login: a local trial, not a deployment.

    Only when the operator chose nothing (HOMEWARD_SIMULATOR unset), the simulator is on anyway (no chat
    channel configured), and nothing says the service is reached from elsewhere (HOST and PUBLIC_BASE_URL
    loopback), so a newcomer chats at once and a deployment still asks for a reviewer.
    """
    chosen = "HOMEWARD_SIMULATOR" in environ or "HOMEWARD_SIMULATOR_FILE" in environ
    return not chosen and settings.simulator and only_this_machine(settings)


def _start_children(settings: Settings, urls: ServiceUrls, open_chat: bool = False) -> dict[str, Child]:
    env = os.environ | {"MONGODB_URI": urls.mongodb_uri, "REDIS_URL": urls.redis_url, "PYTHONUNBUFFERED": "1"}
    if open_chat:
        env["HOMEWARD_SIMULATOR"] = "open"
    env["PROMETHEUS_MULTIPROC_DIR"] = str(_fresh_metrics_dir(settings.metrics_run_dir))
    commands = {"web": [sys.executable, "-m", "admin"]} | worker_commands(settings.workers)
    if settings.telegram and settings.telegram.mode == "polling":
        commands["telegram-polling"] = [sys.executable, "-m", "workers.polling"]
    return {name: Child.start(name, _launcher(command, env)) for name, command in commands.items()}


def worker_commands(workers: int) -> dict[str, list[str]]:
    """The workers' commands: with two or more, the first half answer chats only, so a clip or an import never holds
    all, and a viral appeal's chats have workers of their own (each waits on the database most of the time)."""
    chat_only = workers // 2
    return {
        f"worker-{number}": [sys.executable, "-m", "workers", *(["--chat-only"] if number <= chat_only else [])]
        for number in range(1, workers + 1)
    }


def _launcher(command: list[str], env: dict[str, str]) -> Callable[[], subprocess.Popen[bytes]]:
    return lambda: subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - the child must ask for its own death signal
    )


def _wait_healthy(url: str, children: dict[str, Child]) -> bool:
    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    while time.monotonic() < deadline and not _Stop.requested:
        if _dead(children):
            log.error("%s stopped during start-up; see its messages above", ", ".join(_dead(children)))
            return False
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if json.load(answer).get("ok"):
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            pass  # not up yet
        time.sleep(0.3)
    if not _Stop.requested:
        log.error("not healthy after %.0f s; see %s/healthz", HEALTHY_TIMEOUT_S, url)
    return False


def _watch(children: dict[str, Child], run_dir: Path, metrics_dir: Path | None = None) -> int:
    """Restart whatever dies, until Ctrl-C or SIGTERM."""
    while not _Stop.requested:
        changed = False
        for child in children.values():
            if child.restart_at is None and (code := child.process.poll()) is not None:
                _end_group(child.process.pid)
                multiprocess.mark_process_dead(child.process.pid, str(metrics_dir or run_dir / "prometheus"))
                _crashed(child, _describe_exit(code))
                changed = True
            elif child.restart_at is not None and time.monotonic() >= child.restart_at:
                _restart(child)
                changed = True
        if changed:
            write_status(run_dir, {name: child.status() for name, child in children.items()})
        time.sleep(WATCH_INTERVAL_S)
    log.info("stopping")
    return 0


def _crashed(child: Child, how: str) -> None:
    """Schedule the restart, backing off while it keeps crashing; it never gives up."""
    now = time.monotonic()
    up_for = now - child.since
    child.crashes_in_a_row = 1 if up_for >= STABLE_AFTER_S else child.crashes_in_a_row + 1
    delay = restart_delay(child.crashes_in_a_row)
    child.restart_at = now + delay
    child.last_exit = how
    looping = ""
    if delay >= RESTART_DELAY_CAP_S:
        looping = f"; {child.crashes_in_a_row} crashes in a row, retrying every {delay:.0f} s until it stays up"
    log.error(
        "%s (pid %d) %s after %.1f s up; restart %d in %.1f s%s",
        child.name,
        child.process.pid,
        how,
        up_for,
        child.restarts + 1,
        delay,
        looping,
    )


def _restart(child: Child) -> None:
    child.restart_at = None
    child.since, child.since_wall = time.monotonic(), time.time()
    try:
        child.process = child.spawn()
    except OSError as exc:
        _crashed(child, f"could not start ({exc})")
        return
    child.restarts += 1
    log.warning("%s restarted (pid %d, restart %d)", child.name, child.process.pid, child.restarts)


def _fresh_metrics_dir(path: Path) -> Path:
    """Every child keeps its metric files here; a new start begins from zero (Prometheus sees a counter reset)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _end_group(pid: int) -> None:
    """What a dead child forked (the RQ scheduler of a worker) would outlive it: its process group goes too."""
    with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left in the group
        os.killpg(pid, signal.SIGTERM)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def _stop_children(children: dict[str, Child]) -> None:
    processes = [child.process for child in children.values()]
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _dead(children: dict[str, Child]) -> list[str]:
    return [name for name, child in children.items() if child.process.poll() is not None]


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def _banner(url: str, login: str, seconds: float, simulator: bool, engine: str = "", open_chat: bool = False) -> None:
    chat = f"  Chat         {url}/simulator/  (be a family or a citizen)\n" if simulator else ""
    if open_chat:
        chat += (
            "               open without a login (HOMEWARD_SIMULATOR=open, set for this local run; =on asks for one)\n"
        )
    elif simulator:
        chat += "               log in as a reviewer first (HOMEWARD_SIMULATOR=open lets anyone chat)\n"
    print(
        f"\n  Homeward is up in {seconds:.1f} s\n"
        f"  Admin panel  {url}/\n"
        f"{chat}"
        f"  Health       {url}/healthz\n"
        f"  Login        {login}\n"
        f"  Face engine  {engine}\n"
        f"  Stop with Ctrl-C.\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
