"""`make run` as a newcomer uses it: up and healthy, Ctrl-C leaves nothing behind, data survives."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from infra.embedded import free_port, pid_alive

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def start(command: list[str], data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_URL", "HOMEWARD_ADMIN_PASSWORD")}
    env |= {"HOMEWARD_DATA_DIR": str(data_dir), "PORT": str(port)}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def read_until_up(process: subprocess.Popen[str], timeout: float = 180) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if "Stop with Ctrl-C" in line:
            return "".join(seen)
    raise AssertionError("never came up:\n" + "".join(seen))


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def healthz(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
        return json.load(answer)


def wait_gone(pids: set[int], timeout: float = 30) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.2)
    return {p for p in pids if pid_alive(p)}


def test_make_run_starts_healthy_and_stops_cleanly_keeping_its_data(tmp_path: Path) -> None:
    port = free_port()
    first = start(["make", "--no-print-directory", "run"], tmp_path, port)
    banner = read_until_up(first)
    assert f"http://127.0.0.1:{port}/" in banner and "user admin, password " in banner
    assert healthz(port) == {"ok": True, "mongodb": {"ok": True}, "redis": {"ok": True}, "workers": {"ok": True, "count": 1}}
    started = descendants(first.pid)
    assert len(started) >= 5  # supervisor, SecantusDB, valkey, web, worker

    first.send_signal(signal.SIGTERM)  # SIGTERM to make itself
    first.wait(60)  # make forwards it, waits for the supervisor, then dies of the same signal
    assert wait_gone(started) == set(), "processes left behind after SIGTERM"
    assert not (tmp_path / "run/embedded.json").exists()

    second = start([sys.executable, "-m", "infra.supervisor"], tmp_path, port)
    banner = read_until_up(second)
    assert "password shown at the first start" in banner  # the admin account was kept
    started = descendants(second.pid)
    os.killpg(second.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert second.wait(60) == 0
    assert wait_gone(started) == set(), "processes left behind after Ctrl-C"


def test_a_bad_setting_stops_the_start_naming_it(tmp_path: Path) -> None:
    env = os.environ | {"HOMEWARD_DATA_DIR": str(tmp_path), "PORT": "eighty"}
    done = subprocess.run([sys.executable, "-m", "infra.supervisor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "PORT must be a whole number" in done.stderr
