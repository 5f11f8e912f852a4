"""The supervisor's view of its children, kept in run/supervisor.json for /healthz to show.

Written whole (temporary file + rename) on every start, crash and restart, so a
reader never sees half a file. Deployments without `make run` have no such file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.embedded import pid_alive


@dataclass(frozen=True)
class ProcessStatus:
    pid: int
    up: bool  # False while it waits for its restart
    since: float  # wall-clock time it was (re)started
    restarts: int
    last_exit: str | None  # how it last ended: "exit code 1", "killed by SIGKILL"


def status_path(run_dir: Path) -> Path:
    return run_dir / "supervisor.json"


def write_status(run_dir: Path, processes: dict[str, ProcessStatus]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    body = {"pid": os.getpid(), "processes": {name: vars(status) for name, status in processes.items()}}
    temporary = status_path(run_dir).with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(body, indent=2))
    temporary.replace(status_path(run_dir))


def remove_status(run_dir: Path) -> None:
    status_path(run_dir).unlink(missing_ok=True)


def read_status(run_dir: Path) -> dict[str, dict[str, Any]] | None:
    """Each supervised process: pid, up, up_s, restarts, last_exit; None without a live supervisor."""
    try:
        body = json.loads(status_path(run_dir).read_text())
        supervisor, processes = int(body["pid"]), body["processes"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid_alive(supervisor):
        return None  # left behind by a supervisor killed with SIGKILL
    now = time.time()
    return {
        name: {
            "pid": entry["pid"],
            "up": entry["up"],
            "up_s": round(now - entry["since"], 1) if entry["up"] else None,
            "restarts": entry["restarts"],
            "last_exit": entry["last_exit"],
        }
        for name, entry in processes.items()
    }
