"""Store the accepted messages waiting in the intake line, a batch at a time, one job at a time.

The webhooks put each message in a Redis line and answer the platform at once (services/inbound.py `accept`);
this job stores them in MongoDB and wakes their conversations (services/inbound.py `take_in`). One job at a
time takes them, under one lock, so a person's messages are stored, and so answered, in the order they came.
Jobs queued while one works leave the line to it and end (workers/locks.py `take_turns`). The lock lives
INTAKE_LOCK_TTL_S without its heartbeat: a killed holder holds up everyone's messages only that long.
"""

from __future__ import annotations

from services.inbound import take_in as take_in_line
from services.queue import Job, make_queue, runs
from workers.context import WorkerContext, current
from workers.locks import Held, LockBusy, take_turns

INTAKE_LOCK = "lock:intake"
INTAKE_LOCK_TTL_S = 3.0


@runs(Job.TAKE_IN)
def take_in(_: str) -> int:
    """Store what waits in the intake line and wake its conversations; how many messages (0: another job did)."""
    return _take_turn(current(), wait_s=INTAKE_LOCK_TTL_S * 2)


def drain(context: WorkerContext) -> int:
    """The reconciler's share: take in what a lost job left in line, unless a job is at it now (0 then)."""
    try:
        return _take_turn(context, wait_s=0)
    except LockBusy:
        return 0


def _take_turn(context: WorkerContext, wait_s: float) -> int:
    db, connection = context.connections.db, context.connections.redis
    queue = context.queue or make_queue(connection)

    def work(held: Held) -> int:
        def looking() -> None:
            held.check()  # the lock expired under this job (Redis unreachable): stop, RQ tries again
            held.looking()

        return take_in_line(db, queue, looking=looking)

    return take_turns(connection, INTAKE_LOCK, "intake", work, wait_s=wait_s, ttl=INTAKE_LOCK_TTL_S)
