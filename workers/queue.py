"""The queue and how jobs are put on it: ids, never payloads; retries declared here."""

from __future__ import annotations

import redis
from rq import Queue, Retry

QUEUE_NAME = "homeward"
# Temporary failures (a server restarting) heal within minutes; after that a
# person should look at the failed-job registry.
PHOTO_RETRY = Retry(max=3, interval=[10, 60, 300])
CONVERSATION_RETRY = Retry(max=5, interval=[2, 10, 60, 300, 900])
# Platforms' outages last minutes to hours; messages wait in order meanwhile.
OUTBOX_RETRY = Retry(max=8, interval=[5, 30, 120, 600, 1800, 3600, 3600, 3600])


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
