"""The queue and how jobs are put on it: ids, never payloads; retries declared here."""

from __future__ import annotations

from datetime import datetime

import redis
from rq import Queue, Retry

from bot.channels import SendError
from storage.connections import UNREACHABLE

QUEUE_NAME = "homeward"
# Temporary failures (a server restarting) heal within minutes; after that a
# person should look at the failed-job registry.
PHOTO_RETRY = Retry(max=3, interval=[10, 60, 300])
# A person is waiting: the first retries come within seconds (a server restarting), then back off.
CONVERSATION_RETRY = Retry(max=8, interval=[1, 3, 5, 10, 30, 60, 300, 900])
# Our own outages (MongoDB, Redis) heal within minutes; a platform's outage is retried per message (workers/outbox.py).
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
    job = queue.enqueue(
        "workers.jobs.analyse_photo",
        photo_id,
        job_id=f"analyse-photo-{photo_id}",
        retry=PHOTO_RETRY,
        job_timeout=300,
        result_ttl=3600,
        failure_ttl=30 * 24 * 3600,
    )
    return job.id


# Jobs name a stored message by its id, never the contact: RQ logs job arguments,
# and a phone number has no business in a log.


def enqueue_conversation(queue: Queue, inbound_id: str) -> None:
    """Wake the job that answers the pending messages of this message's contact, in order."""
    queue.enqueue(
        "workers.answering.process_conversation",
        inbound_id,
        retry=CONVERSATION_RETRY,
        job_timeout=600,
        result_ttl=600,
        failure_ttl=30 * 24 * 3600,
    )


def enqueue_outbox(queue: Queue, outbox_id: str) -> None:
    """Send the pending messages of this outbox message's contact, in order."""
    queue.enqueue(
        "workers.outbox.send_outbox",
        outbox_id,
        retry=OUTBOX_RETRY,
        job_timeout=300,
        result_ttl=600,
        failure_ttl=30 * 24 * 3600,
    )


def enqueue_outbox_at(queue: Queue, outbox_id: str, when: datetime, attempt: int) -> None:
    """Wake this contact's outbox when its first message is due again; queued once per message and attempt."""
    queue.enqueue_at(
        when,
        "workers.outbox.send_outbox",
        outbox_id,
        job_id=f"outbox-retry-{outbox_id}-{attempt}",
        retry=OUTBOX_RETRY,
        job_timeout=300,
        result_ttl=600,
        failure_ttl=30 * 24 * 3600,
    )


def enqueue_matching(queue: Queue, photo_id: str) -> None:
    """Search the faces of an analysed case or sighting photo; safe to queue twice."""
    queue.enqueue(
        "workers.matching.match_photo",
        photo_id,
        retry=PHOTO_RETRY,
        job_timeout=600,
        result_ttl=600,
        failure_ttl=30 * 24 * 3600,
    )
