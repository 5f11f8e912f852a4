"""How fast `make run` heals: `python -m benchmarks.heal [--rounds N]`.

Starts the supervisor (`python -m infra.supervisor`) on a free port with a
temporary data dir, then, round after round, sends SIGKILL to the worker, the
web process, the MongoDB server and the Redis server in turn and prints the
time until /healthz answers 200 with ok true again and the supervisor reports
a new, running process for the one killed. A child killed again within a
minute waits longer before its restart (0.5 s, then 1, then 2: the backoff);
the figures include that delay.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from infra.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("worker-1", "web", "mongodb", "redis")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        supervisor = start_supervisor(Path(tmp), port)
        try:
            wait_for_banner(Path(tmp) / "run.log")
            figures: dict[str, list[float]] = {kind: [] for kind in KINDS}
            for _ in range(args.rounds):
                for kind in KINDS:
                    figures[kind].append(kill_and_heal(port, kind))
            print("seconds from SIGKILL to /healthz 200 with a new process, by round")
            print("(each round kills the same children again, so their restart delay doubles: 0.5, 1, 2 s)")
            for kind, seconds in figures.items():
                print(f"  {kind:9} " + "  ".join(f"{s:5.2f}" for s in seconds))
        finally:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(60)
    return 0


def start_supervisor(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """The supervisor with the embedded servers, as `make run` starts it; its messages go to data_dir/run.log."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_URL", "HOMEWARD_ADMIN_PASSWORD")}
    env |= {"HOMEWARD_DATA_DIR": str(data_dir), "PORT": str(port), "HOMEWARD_LOG_LEVEL": "WARNING"}
    log = open(data_dir / "run.log", "wb")  # noqa: SIM115 - the supervisor keeps writing to it
    command = [sys.executable, "-m", "infra.supervisor"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_banner(log: Path, timeout: float = 180) -> None:
    """Until the supervisor says it is up: before that, a dead child stops the start instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Stop with Ctrl-C" in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"not up within {timeout:.0f} s; see {log}")


def kill_and_heal(port: int, kind: str) -> float:
    """SIGKILL the child `kind`; seconds until the service is healthy again with a new process for it."""
    before = healed_state(port, lambda processes: True)["processes"][kind]
    os.kill(before["pid"], signal.SIGKILL)
    killed = time.monotonic()
    healed_state(port, lambda processes: processes[kind]["pid"] != before["pid"] and processes[kind]["up"])
    return time.monotonic() - killed


def healed_state(port: int, healed: Any, timeout: float = 30) -> dict[str, Any]:
    """The first /healthz answer that is 200, ok, and satisfies healed(processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
                state = json.load(answer)
            if state["ok"] and "processes" in state and healed(state["processes"]):
                return state
        except (urllib.error.URLError, OSError, ValueError):
            pass  # 503 while a part is down, or no answer while the web process is
        time.sleep(0.05)
    raise TimeoutError(f"not healed within {timeout:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
