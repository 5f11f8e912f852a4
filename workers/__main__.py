"""A worker process: `python -m workers [--chat-only]`. Loads the face models once (unless chat-only), then serves jobs.

It serves the chat lanes first, then the photo lane, then the bulk lane (services/queue.py LANE); with
`--chat-only` only chats, so answers go out while other workers analyse long clips or run an organisation's
import (`make run` starts its first worker so).

It runs jobs in-process (RQ's SimpleWorker) rather than forking per job, so
the ~1.2 s model load and the database connections are paid once per process,
not once per photo. Each worker also runs the reconciler in a thread (one of
them per period does the work, see workers/reconciler.py).
"""

from __future__ import annotations

import sys

from config.process import start_process
from core.faces.arcface import ModelMissing
from search.gallery import warm_up
from services import trace
from services.queue import lanes
from storage.connections import connect
from workers import reconciler
from workers.context import WorkerContext, install
from workers.measured_worker import MeasuredWorker

MAINTENANCE_INTERVAL_S = 30


def main() -> int:
    settings = start_process("worker")
    trace.start(settings.trace_path, "worker")
    if not (settings.mongodb_uri and settings.redis_url):
        print("worker: MONGODB_URI and REDIS_URL must be set (`make run` sets them)", file=sys.stderr)
        return 2
    connections = connect(settings.mongodb_uri, settings.mongodb_database, settings.redis_url, settings.data_keys())
    context = WorkerContext(settings, connections)
    install(context)
    reconciler.start(context)
    chat_only = "--chat-only" in sys.argv[1:]
    if not chat_only:  # a chat-only worker never looks at a face: it loads no model and no index (~200 MB less)
        try:
            context.engine.load()  # the configured face engine's models, once, before the first job
        except ModelMissing as exc:
            print(f"worker: {exc}", file=sys.stderr)
            return 2
        assert context.gallery is not None and context.sightings is not None and context.found is not None
        # The face indexes load while the first chats are answered.
        warm_up([context.gallery, context.sightings, context.found])
    # Maintenance (which restarts RQ's scheduler after a Redis restart) runs every 30 s, not RQ's 10 min,
    # so retries and delayed sends resume within half a minute.
    queues = lanes(connections.redis, chat_only=chat_only)
    worker = MeasuredWorker(queues, connection=connections.redis, maintenance_interval=MAINTENANCE_INTERVAL_S)
    worker.work(with_scheduler=True, logging_level=settings.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
