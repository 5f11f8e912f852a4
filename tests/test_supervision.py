"""The supervisor's restart policy and what /healthz says about it, without a whole `make run`."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from pathlib import Path

import pytest
from rq import SimpleWorker

from admin.app import create_app
from config import Settings
from infra import supervisor
from infra.status import ProcessStatus, status_path, write_status
from services.queue import make_queue
from storage.connections import Connections


def test_restart_delays_double_from_half_a_second_and_stay_at_ten() -> None:
    assert [supervisor.restart_delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 10, 10, 10]


def run_watch(children: dict[str, supervisor.Child], run_dir: Path, seconds: float) -> None:
    """The supervisor's watch loop for `seconds`, then the stop that Ctrl-C would request."""
    timer = threading.Timer(seconds, lambda: setattr(supervisor._Stop, "requested", True))
    timer.start()
    try:
        assert supervisor._watch(children, run_dir) == 0
    finally:
        supervisor._Stop.requested = False
        supervisor._stop_children(children)


def child(name: str, script: str) -> supervisor.Child:
    return supervisor.Child.start(name, lambda: subprocess.Popen(["sh", "-c", script]))


def test_a_crash_loop_is_retried_with_growing_delays_while_the_others_run_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    children = {"crashing": child("crashing", "exit 3"), "steady": child("steady", "sleep 30")}
    steady_pid = children["steady"].process.pid
    with caplog.at_level(logging.INFO, logger="homeward"):
        run_watch(children, tmp_path, 5.5)  # restarts after 0.5, 1, 2 and 4 s: 3 of them by about 4 s
    processes = json.loads(status_path(tmp_path).read_text())["processes"]
    assert processes["crashing"]["restarts"] == 3 and processes["crashing"]["last_exit"] == "exited with code 3"
    assert processes["steady"] == processes["steady"] | {"pid": steady_pid, "up": True, "restarts": 0}
    crashes = [r.getMessage() for r in caplog.records if "crashing (pid" in r.getMessage()]
    assert [m.split("; ")[1] for m in crashes[:3]] == ["restart 1 in 0.5 s", "restart 2 in 1.0 s", "restart 3 in 2.0 s"]


def test_a_child_that_stayed_up_long_enough_starts_again_from_the_first_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "STABLE_AFTER_S", 0.3)
    children = {"flaky": child("flaky", "sleep 0.5; exit 1")}
    run_watch(children, tmp_path, 3.5)  # each run: 0.5 s up, then 0.5 s waiting, never longer
    assert children["flaky"].restarts >= 2 and children["flaky"].crashes_in_a_row == 1


def test_healthz_shows_the_supervisors_view_only_from_a_live_supervisor(
    settings: Settings, connections: Connections
) -> None:
    worker = SimpleWorker([make_queue(connections.redis)], connection=connections.redis)
    worker.register_birth()
    try:
        client = create_app(settings, connections).test_client()
        status = ProcessStatus(pid=4242, up=True, since=time.time() - 5, restarts=2, last_exit="killed by SIGKILL")
        write_status(settings.run_dir, {"worker-1": status})  # written by this (live) process
        answer = client.get("/healthz")
        assert answer.status_code == 200 and answer.json["ok"] is True  # restarts are history, not a failure
        shown = answer.json["processes"]["worker-1"]
        expected = {"pid": 4242, "up": True, "up_s": 0, "restarts": 2, "last_exit": "killed by SIGKILL"}
        assert shown | {"up_s": 0} == expected
        assert 5 <= shown["up_s"] < 60

        body = json.loads(status_path(settings.run_dir).read_text())
        status_path(settings.run_dir).write_text(json.dumps(body | {"pid": dead_pid()}))  # its supervisor was killed
        assert "processes" not in client.get("/healthz").json
    finally:
        worker.register_death()


def test_a_killed_worker_does_not_count_as_alive_through_its_last_heartbeat(
    settings: Settings, connections: Connections
) -> None:
    worker = SimpleWorker([make_queue(connections.redis)], connection=connections.redis)
    worker.pid = dead_pid()  # registered a moment ago by a process that is gone (kill -9 leaves no death notice)
    worker.register_birth()
    try:
        answer = create_app(settings, connections).test_client().get("/healthz")
    finally:
        worker.register_death()
    assert answer.status_code == 503 and answer.json["workers"] == {"ok": False, "count": 0}


def dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid
