"""The queue and how jobs are put on it: ids, never payloads; retries declared here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis
from rq import Queue, Retry
from rq.job import Job

from bot.channels import SendError
from storage.connections import UNREACHABLE

QUEUE_NAME = "homeward"
# Temporary failures (a server restarting) heal within minutes; after that a
# person should look at the failed-job registry.
PHOTO_RETRY = Retry(max=3, interval=[10, 60, 300])
# A person is waiting: the first retries come within seconds (a server restarting), then back off.
CONVERSATION_RETRY = Retry(max=8, interval=[1, 3, 5, 10, 30, 60, 300, 900])
# Our own outages (MongoDB, Redis) heal within minutes; a platform's outage is retried per message (workers/outbox.py).
# Results are of no use after a few minutes; a failed job is kept for operators (it holds only an id).
RESULT_KEPT_S = 600
FAILURE_KEPT_S = 30 * 24 * 3600
OUTBOX_RETRY = Retry(max=8, interval=[5, 30, 120, 600, 1800, 3600, 3600, 3600])


def is_temporary(exc: BaseException) -> bool:
    """Whether trying again later may succeed: a database or Redis outage, or a platform's passing failure.

    The one place this is decided: the conversation job raises such errors for RQ to retry instead of failing
    the message, and the outbox keeps the message's place in the queue.
    """
    if isinstance(exc, SendError):
        return not exc.permanent
    return isinstance(exc, UNREACHABLE)


def make_queue(connection: redis.Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=connection)


def enqueue_photo_analysis(queue: Queue, photo_id: str) -> str:
    """Queue the analysis of one stored photo; the job id makes a second enqueue harmless."""
    job = _put(queue, "workers.jobs.analyse_photo", photo_id, PHOTO_RETRY, 300, job_id=f"analyse-photo-{photo_id}")
    return job.id


# Jobs name a stored message by its id, never the contact: RQ logs job arguments,
# and a phone number has no business in a log.


def enqueue_conversation(queue: Queue, inbound_id: str) -> None:
    """Wake the job that answers the pending messages of this message's contact, in order."""
    _put(queue, "workers.answering.process_conversation", inbound_id, CONVERSATION_RETRY, 600)


def enqueue_outbox(queue: Queue, outbox_id: str) -> None:
    """Send the pending messages of this outbox message's contact, in order."""
    _put(queue, "workers.outbox.send_outbox", outbox_id, OUTBOX_RETRY, 300)


def enqueue_outbox_at(queue: Queue, outbox_id: str, when: datetime, attempt: int) -> None:
    """Wake this contact's outbox when its first message is due again; queued once per message and attempt."""
    job_id = f"outbox-retry-{outbox_id}-{attempt}"
    _put(queue, "workers.outbox.send_outbox", outbox_id, OUTBOX_RETRY, 300, job_id=job_id, at=when)


def enqueue_matching(queue: Queue, photo_id: str) -> None:
    """Search the faces of an analysed case or sighting photo; safe to queue twice."""
    _put(queue, "workers.matching.match_photo", photo_id, PHOTO_RETRY, 600)


def _put(
    queue: Queue,
    function: str,
    item_id: str,
    retry: Retry,
    timeout_s: int,
    *,
    job_id: str | None = None,
    at: datetime | None = None,
) -> Job:
    """The one way a job is queued: by the id of what it works on, failures kept 30 days for operators."""
    options: dict[str, Any] = {
        "job_id": job_id,
        "retry": retry,
        "job_timeout": timeout_s,
        "result_ttl": RESULT_KEPT_S,
        "failure_ttl": FAILURE_KEPT_S,
    }
    if at is None:
        return queue.enqueue(function, item_id, **options)
    return queue.enqueue_at(at, function, item_id, **options)
