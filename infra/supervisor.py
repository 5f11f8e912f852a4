"""`make run`: the embedded servers, the web process and the workers, up and down together.

Children run in their own sessions and die with this process (see
embedded.die_with_parent), so Ctrl-C reaches only the supervisor, which stops
web and workers first and the servers last, so no job is cut off mid-write.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import FrameType

from config import Settings
from config.process import start_process
from infra.embedded import STOP_TIMEOUT_S, die_with_parent
from infra.services import ServiceUrls, backing_services
from storage.connections import connect
from storage.users import bootstrap_admin

HEALTHY_TIMEOUT_S = 180.0
log = logging.getLogger("homeward")


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
    with backing_services(settings) as urls:
        login = _admin_login(settings, urls)
        children = _start_children(settings, urls)
        try:
            url = f"http://{_display_host(settings.host)}:{settings.port}"
            if _wait_healthy(url, children):
                _banner(url, login, time.monotonic() - started, settings.simulator)
                return _watch(children)
            return 0 if _Stop.requested else 1
        finally:
            _stop_children(children)
            log.info("stopping the embedded servers")
    return 0


def _admin_login(settings: Settings, urls: ServiceUrls) -> str:
    connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url)
    try:
        generated = bootstrap_admin(connections.db, settings.admin_password)
    finally:
        connections.close()
    if generated:
        return f"user admin, password {generated}  (generated now and shown only this once: note it)"
    if settings.admin_password:
        return "user admin, password from HOMEWARD_ADMIN_PASSWORD"
    return "user admin, with the password shown at the first start"


def _start_children(settings: Settings, urls: ServiceUrls) -> dict[str, subprocess.Popen[bytes]]:
    env = os.environ | {"MONGODB_URI": urls.mongodb_uri, "REDIS_URL": urls.redis_url, "PYTHONUNBUFFERED": "1"}
    commands = {"web": [sys.executable, "-m", "admin"]}
    for number in range(1, settings.workers + 1):
        commands[f"worker-{number}"] = [sys.executable, "-m", "workers"]
    if settings.telegram and settings.telegram.mode == "polling":
        commands["telegram-polling"] = [sys.executable, "-m", "workers.polling"]
    return {name: subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent) for name, command in commands.items()}


def _wait_healthy(url: str, children: dict[str, subprocess.Popen[bytes]]) -> bool:
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


def _watch(children: dict[str, subprocess.Popen[bytes]]) -> int:
    while not _Stop.requested:
        if dead := _dead(children):
            log.error("%s stopped unexpectedly; stopping everything", ", ".join(dead))
            return 1
        time.sleep(0.5)
    log.info("stopping")
    return 0


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in children.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in children.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _dead(children: dict[str, subprocess.Popen[bytes]]) -> list[str]:
    return [name for name, process in children.items() if process.poll() is not None]


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def _banner(url: str, login: str, seconds: float, simulator: bool) -> None:
    chat = f"  Chat         {url}/simulator/  (be a family or a citizen)\n" if simulator else ""
    print(
        f"\n  Homeward is up in {seconds:.1f} s\n"
        f"  Admin panel  {url}/\n"
        f"{chat}"
        f"  Health       {url}/healthz\n"
        f"  Login        {login}\n"
        f"  Stop with Ctrl-C.\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
