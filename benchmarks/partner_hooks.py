"""Partner webhook deliveries under failures: `homeward bench hooks --deliveries N`.

Starts fresh embedded servers and a local receiver that answers 500 to one request in five; records N events
(two per record: an approval, then its outcome) for one endpoint, starts real worker processes
(`python -m workers`), then queues the deliveries and times them until every one was delivered. Prints one
JSON line: seconds, deliveries/s, requests, how many events were acknowledged more than once (allowed: at
least once) and, what must be 0, events that reached the receiver under more than one id and records whose
events were acknowledged out of order. The target (issue 26): 10 000 delivered within 10 minutes, none under
a different event id.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rq import Worker

from config import load_settings
from infra.embedded import start_mongodb, start_redis
from services.queue import enqueue_partner_delivery, make_queue
from storage.connections import connect
from storage.organisations import create_organisation
from storage.partner_events import record_event
from storage.partner_hooks import add_endpoint

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("candidate.approved", "outcome.recorded")


class Receiver:
    """Answers 500 to every fifth request, 200 to the others; keeps (record, type, event id, answer) of each."""

    def __init__(self) -> None:
        self.lock, self.requests, self.seen = threading.Lock(), 0, []

    def answer(self, body: bytes) -> int:
        event = json.loads(body)
        with self.lock:
            self.requests += 1
            code = 500 if self.requests % 5 == 0 else 200
            self.seen.append((event["data"]["record"], event["type"], event["id"], code))
        return code


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            code = receiver.answer(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def figures(receiver: Receiver, deliveries: int, seconds: float) -> dict[str, Any]:
    """What the receiver saw: ids per event, acknowledgements per event, order per record."""
    ids, acknowledged, order = defaultdict(set), defaultdict(int), defaultdict(list)
    for record, kind, event_id, code in receiver.seen:
        ids[(record, kind)].add(event_id)
        if code == 200:
            acknowledged[(record, kind)] += 1
            order[record].append(kind)
    return {
        "deliveries": deliveries,
        "delivered": len(acknowledged),
        "seconds": round(seconds, 1),
        "deliveries_per_s": round(deliveries / seconds, 1) if seconds else None,
        "requests": receiver.requests,
        "acknowledged_twice": sum(1 for count in acknowledged.values() if count > 1),
        "under_another_id": sum(1 for found in ids.values() if len(found) > 1),
        "out_of_order": sum(1 for kinds in order.values() if _before(kinds, KINDS[1], KINDS[0])),
    }


def latencies(db: Any, since: datetime) -> dict[str, Any]:
    """Seconds from queueing to each delivery (p50, p99, max), and the most tries one took."""
    done = list(
        db.partner_deliveries.find({"status": "delivered"}, {"created_at": 1, "delivered_at": 1, "attempts": 1})
    )
    waits = sorted((d["delivered_at"].replace(tzinfo=UTC) - since).total_seconds() for d in done)
    if not waits:
        return {}
    at = lambda share: round(waits[min(len(waits) - 1, int(share * len(waits)))], 1)  # noqa: E731
    return {
        "p50_s": at(0.5),
        "p99_s": at(0.99),
        "max_s": round(waits[-1], 1),
        "most_tries": max(d["attempts"] for d in done),
    }


def _before(kinds: list[str], later: str, earlier: str) -> bool:
    """Whether `later` was acknowledged before `earlier` was (or without it ever being): order broken."""
    return later in kinds and (earlier not in kinds or kinds.index(later) < kinds.index(earlier))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=1000, help="How many events to deliver (even).")
    parser.add_argument("--workers", type=int, default=2, help="Worker processes.")
    parser.add_argument("--timeout", type=float, default=900, help="Give up after this many seconds.")
    args = parser.parse_args()
    receiver = Receiver()
    server = serve(receiver)
    with tempfile.TemporaryDirectory() as tmp:
        mongodb, redis_server = start_mongodb(Path(tmp)), start_redis(Path(tmp))
        workers: list[subprocess.Popen[bytes]] = []
        try:
            os.environ |= {"HOMEWARD_DATA_DIR": tmp, "MONGODB_URI": mongodb.url, "REDIS_URL": redis_server.url}
            os.environ |= {"HOMEWARD_ADMIN_PASSWORD": "benchmark-admin-1", "HOMEWARD_LOG_LEVEL": "WARNING"}
            os.environ |= {"HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE": "1", "HOMEWARD_RECONCILE_SECONDS": "5"}
            settings = load_settings()
            connections = connect(mongodb.url, settings.mongodb_database, redis_server.url, settings.data_keys())
            shelter = create_organisation(connections.db, "Bench Shelter", "shelter")
            url = f"http://127.0.0.1:{server.server_port}/events"
            add_endpoint(connections.db, shelter, url, list(KINDS), "bench")
            start, deliveries = time.perf_counter(), []
            for number in range(args.deliveries):  # as the panel and workers would over a while, before the clock
                record = f"FP-{number // 2:05d}"
                deliveries += record_event(connections.db, KINDS[number % 2], record, shelter, {"record": record})
            recorded = time.perf_counter() - start
            workers = [
                subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, stdout=subprocess.DEVNULL)
                for _ in range(args.workers)
            ]
            while len(Worker.all(connection=connections.redis)) < args.workers:
                time.sleep(0.2)  # their face models loaded
            queue, start, queued_at = make_queue(connections.redis), time.perf_counter(), datetime.now(UTC)
            for delivery in deliveries:
                enqueue_partner_delivery(queue, str(delivery))
            while connections.db.partner_deliveries.count_documents({"status": "delivered"}) < args.deliveries:
                if time.perf_counter() - start > args.timeout:
                    break
                time.sleep(1)
            seconds = time.perf_counter() - start
            result = figures(receiver, args.deliveries, seconds) | {"recording_seconds": round(recorded, 1)}
            result |= {"workers": args.workers, "cores": os.cpu_count()} | latencies(connections.db, queued_at)
            connections.close()
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
            redis_server.stop()
            mongodb.stop()
            server.shutdown()
    print(json.dumps(result))
    return 0 if result["delivered"] == args.deliveries and not result["under_another_id"] else 1


if __name__ == "__main__":
    sys.exit(main())
