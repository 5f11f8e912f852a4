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
import signal
import sys
import tempfile
from pathlib import Path

from benchmarks.supervised import kill, start_supervisor, wait_for_banner, wait_healed
from infra.embedded import free_port

KINDS = ("worker-1", "web", "mongodb", "redis")
HEAL_TIMEOUT_S = 30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port, data_dir = free_port(), Path(tmp)
        supervisor = start_supervisor(data_dir, port)
        try:
            wait_for_banner(data_dir / "run.log", supervisor)
            figures: dict[str, list[float]] = {kind: [] for kind in KINDS}
            for _ in range(args.rounds):
                for kind in KINDS:
                    figures[kind].append(kill_and_heal(data_dir / "run", port, kind))
            print("seconds from SIGKILL to /healthz 200 with a new process, by round")
            print("(each round kills the same children again, so their restart delay doubles: 0.5, 1, 2 s)")
            for kind, seconds in figures.items():
                print(f"  {kind:9} " + "  ".join(f"{s:5.2f}" for s in seconds))
        finally:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(60)
    return 0


def kill_and_heal(run_dir: Path, port: int, kind: str) -> float:
    """SIGKILL the child `kind`; seconds until the service is healthy again with a new process for it."""
    pid, killed_at = kill(run_dir, kind)
    healed_at = wait_healed(port, kind, pid, HEAL_TIMEOUT_S)
    if healed_at is None:
        raise TimeoutError(f"{kind} not healed within {HEAL_TIMEOUT_S} s")
    return healed_at - killed_at


if __name__ == "__main__":
    sys.exit(main())
