"""The audit hash chain's cost: `python -m benchmarks.audit_chain [--entries N] [--writers W]`.

Starts an embedded MongoDB, appends N entries from one writer and then N from
W concurrent writers (each append reads the head, signs the entry with an
HMAC and inserts; a writer that loses the race for a `seq` reads the new head
and tries again), and walks the whole chain, checking every hash and
signature, as `homeward audit verify` does. Prints p50/p99 per append,
appends per second, and entries verified per second; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from config.keys import DataKeys, new_key
from infra.embedded import start_mongodb
from storage.audit import audit
from storage.audit_verify import verify_chain
from storage.connections import Database, connect


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mongodb = start_mongodb(Path(tmp))
        try:
            # Entries are signed under a key of this run, not the data dir's.
            connections = connect(mongodb.url, "bench_audit", "redis://127.0.0.1:1", DataKeys((new_key(),), None))
            figures = _measure(connections.db, args.entries, args.writers)
            connections.mongo.close()
        finally:
            mongodb.stop()
    print(json.dumps(figures))
    return 0


def _measure(db: Database, entries: int, writers: int) -> dict[str, float]:
    one = _append(db, entries, 1)
    many = _append(db, entries, writers)
    started = time.perf_counter()
    verdict = verify_chain(db)
    verify_s = time.perf_counter() - started
    assert verdict.ok and verdict.entries == entries + entries // writers * writers, verdict
    figures = {
        "append_p50_ms": one["p50_ms"],
        "append_p99_ms": one["p99_ms"],
        "appends_per_s_1_writer": one["per_s"],
        f"append_p50_ms_{writers}_writers": many["p50_ms"],
        f"append_p99_ms_{writers}_writers": many["p99_ms"],
        f"appends_per_s_{writers}_writers": many["per_s"],
        "verify_entries_per_s": round(verdict.entries / verify_s),
    }
    print(f"{entries} appends, 1 writer: p50 {one['p50_ms']} ms, p99 {one['p99_ms']} ms, {one['per_s']}/s")
    print(f"{entries} appends, {writers} writers: p50 {many['p50_ms']} ms, p99 {many['p99_ms']} ms, {many['per_s']}/s")
    print(f"verify: {verdict.entries} entries in {verify_s:.2f} s ({figures['verify_entries_per_s']}/s), intact")
    return figures


def _append(db: Database, entries: int, writers: int) -> dict[str, float]:
    times: list[float] = []
    lock = threading.Lock()

    def write(count: int) -> None:
        for i in range(count):
            started = time.perf_counter()
            audit(db, "bench", "view", f"case:HW-{i:04d}", "a reason typed by a reviewer" if i % 3 == 0 else "")
            with lock:
                times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=write, args=(entries // writers,)) for _ in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "per_s": round(len(ordered) / elapsed),
    }


if __name__ == "__main__":
    raise SystemExit(main())
