"""`make run` under a benchmark: start the supervisor in a data dir, wait until it is up, kill a child, see it healed.

Shared by the chaos and heal benchmarks, so both measure the same thing: the
seconds from SIGKILL until /healthz answers 200 with a new process in place.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def start_supervisor(data_dir: Path, port: int, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """The supervisor with the embedded servers, as `make run` starts it; its messages go to data_dir/run.log."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_URL", "HOMEWARD_ADMIN_PASSWORD")}
    env |= {"HOMEWARD_DATA_DIR": str(data_dir), "PORT": str(port), "HOMEWARD_LOG_LEVEL": "WARNING"} | (extra or {})
    log = open(data_dir / "run.log", "wb")  # noqa: SIM115 - the supervisor keeps writing to it
    command = [sys.executable, "-m", "infra.supervisor"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@contextmanager
def supervised(data_dir: Path, port: int, extra: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`make run` up (its banner shown) for the length of the block, then stopped, killed if it will not stop."""
    supervisor = start_supervisor(data_dir, port, extra)
    try:
        wait_for_banner(data_dir / "run.log", supervisor)
        yield supervisor
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(supervisor.pid, signal.SIGKILL)


def wait_for_banner(log: Path, supervisor: subprocess.Popen[bytes], timeout: float = 180) -> None:
    """Until the supervisor says it is up; exits with its messages if it stops or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Stop with Ctrl-C" in log.read_text(errors="replace"):
            return
        if supervisor.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"make run did not come up; its messages:\n{log.read_text(errors='replace')[-3000:]}")


def processes(run_dir: Path) -> dict[str, Any]:
    """The supervisor's children by name (pid, up, restarts), as it last wrote them."""
    return json.loads((run_dir / "supervisor.json").read_text())["processes"]


def kill(run_dir: Path, child: str) -> tuple[int, float]:
    """SIGKILL one child of the supervisor; its pid and the wall-clock time of the kill."""
    pid = int(processes(run_dir)[child]["pid"])
    os.kill(pid, signal.SIGKILL)
    return pid, time.time()


def wait_healed(port: int, child: str, old_pid: int, timeout: float) -> float | None:
    """The wall-clock time /healthz first answered 200, ok, with a new running `child`; None if not within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                state = json.load(answer)
            process = state.get("processes", {}).get(child, {})
            if state.get("ok") and process.get("pid") != old_pid and process.get("up"):
                return time.time()
        except (urllib.error.URLError, OSError, ValueError):
            pass  # 503 while a part is down, or no answer while the web process is
        time.sleep(0.05)
    return None
