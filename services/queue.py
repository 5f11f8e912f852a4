"""The queue and how jobs are put on it: ids, never payloads; every job named in `Job`, retries declared here.

A reader follows a job from where it is queued to the code that runs it through its `Job` member: the job's
function in workers/ carries `@runs(Job.X)`, which checks at import that the member names that very function
(tests/test_jobs.py imports them all). Jobs are named, not imported, because the web process queues them too
and must not load the workers' code (face engines, indexes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import redis
from rq import Queue, Retry
from rq.job import Job as RqJob

from bot.channels import SendError
from storage.connections import UNREACHABLE

QUEUE_NAME = "homeward"  # the chat lane: answers and replies (the name the one queue had, so queued work runs on)
PHOTOS_QUEUE = "homeward-photos"  # the photo lane: analysis (clips take seconds to minutes) and matching
# People writing for the first time. When an appeal goes viral thousands of them arrive within minutes; a family
# (anyone already in a conversation, open cases included) is answered before them (services/inbound.py).
FIRST_CONTACTS_QUEUE = "homeward-first"
# The bulk lane: an organisation's import from the panel (minutes to hours), taken only when nothing else waits.
BULK_QUEUE = "homeward-bulk"
# Partner webhooks (services/partner_events.py): a partner that hangs holds a worker for seconds, never a chat one.
PARTNERS_QUEUE = "homeward-partners"
# Appeals to volunteers near the last-seen place (services/volunteers.py): thousands of messages for one appeal,
# choosing them and sending them, served after chats and partners so a large appeal never delays a chat.
VOLUNTEERS_QUEUE = "homeward-volunteers"
# Every accepted message waits here (JSON, oldest first) until the intake job stores it in MongoDB
# (services/inbound.py); it first held them while MongoDB was down, hence its key. One job per INTAKE_WAKE_EVERY.
INTAKE_LINE = "homeward:inbound:spool"
INTAKE_WAKE_EVERY = 10
# First contacts' messages waiting for a batch job (`wake_first_contacts`), and how many one job answers at most.
FIRST_CONTACTS_LINE = "homeward:first-contacts:line"
FIRST_CONTACTS_BATCH = 10


class Job(StrEnum):
    """Every job RQ runs, by the dotted path of its function in workers/ (marked there with `@runs`)."""

    ANALYSE_PHOTO = "workers.jobs.analyse_photo"
    TAKE_IN = "workers.intake.take_in"
    ANSWER_CONVERSATION = "workers.answering.process_conversation"
    ANSWER_FIRST_CONTACTS = "workers.first_contacts.answer_first_contacts"
    SEND_OUTBOX = "workers.outbox.send_outbox"
    MATCH_PHOTO = "workers.matching.match_photo"
    IMPORT_FOUND = "workers.bulk.import_found"
    DELIVER_PARTNER_EVENT = "workers.partner_hooks.deliver_partner_event"
    RENDER_APPEAL = "workers.appeals.render_appeal"
    ALERT_VOLUNTEERS = "workers.volunteers.alert_volunteers"


# Each job's lane. A chat answer must never wait behind a clip's analysis: one worker serves chat alone
# (workers/__main__.py --chat-only, which `make run` gives its first worker), the others chat first, then photos,
# then bulk work (an import holds its worker for minutes: never one that chats only).
LANE = {
    Job.TAKE_IN: QUEUE_NAME,
    Job.ANSWER_CONVERSATION: QUEUE_NAME,
    Job.ANSWER_FIRST_CONTACTS: FIRST_CONTACTS_QUEUE,
    Job.SEND_OUTBOX: QUEUE_NAME,
    Job.ANALYSE_PHOTO: PHOTOS_QUEUE,
    Job.MATCH_PHOTO: PHOTOS_QUEUE,
    Job.IMPORT_FOUND: BULK_QUEUE,
    Job.DELIVER_PARTNER_EVENT: PARTNERS_QUEUE,
    Job.RENDER_APPEAL: PHOTOS_QUEUE,  # a poster takes a fraction of a second of CPU: never on the chat lane
    Job.ALERT_VOLUNTEERS: VOLUNTEERS_QUEUE,
}
# In the order a worker takes from them; a --chat-only worker serves the first two alone.
LANES = (QUEUE_NAME, FIRST_CONTACTS_QUEUE, PARTNERS_QUEUE, VOLUNTEERS_QUEUE, PHOTOS_QUEUE, BULK_QUEUE)
CHAT_LANES = LANES[:2]  # what a --chat-only worker serves

Function = TypeVar("Function", bound=Callable[..., Any])


def runs(job: Job) -> Callable[[Function], Function]:
    """Mark a function as the one that runs `job`; refuses, at import, a `Job` that names another function."""

    def mark(function: Function) -> Function:
        path = f"{function.__module__}.{function.__qualname__}"
        if path != job.value:
            raise RuntimeError(f"{path} is marked as running {job.name}, which names {job.value}: make them agree")
        return function

    return mark


# Temporary failures (a server restarting) heal within minutes; after that a
# person should look at the failed-job registry.
PHOTO_RETRY = Retry(max=3, interval=[10, 60, 300])
# A photo or clip whose analysis was started this many times (RQ's retries and the reconciler's re-queues alike)
# and never finished is given up: marked `failed`, its sender asked for another one, never queued again.
ANALYSIS_ATTEMPTS = 3
# A person is waiting: the first retries come within seconds (a server restarting), then back off.
CONVERSATION_RETRY = Retry(max=8, interval=[1, 3, 5, 10, 30, 60, 300, 900])
# Our own outages (MongoDB, Redis) heal within minutes; a platform's outage is retried per message (workers/outbox.py).
# Results are of no use after a few minutes; a failed job is kept for operators (it holds only an id).
RESULT_KEPT_S = 600
# A chat job's record is the stored message (answered, sent), not RQ's: its result and job hash go at once,
# several Redis writes a message fewer (docs/evaluation/bench.md). A failure is kept like any other.
RESULT_NOT_KEPT = frozenset({Job.TAKE_IN, Job.ANSWER_CONVERSATION, Job.ANSWER_FIRST_CONTACTS, Job.SEND_OUTBOX})
FAILURE_KEPT_S = 30 * 24 * 3600
OUTBOX_RETRY = Retry(max=8, interval=[5, 30, 120, 600, 1800, 3600, 3600, 3600])
# An import is idempotent, so one more run after a passing outage completes it; a second failure is final
# (marked failed on its page, its files deleted): its registrar uploads again, nothing retries it forever.
IMPORT_RETRY = Retry(max=1, interval=[120])
IMPORT_ATTEMPTS = 2
# Our own outages (MongoDB, Redis); a partner's failures are retried per delivery (workers/partner_hooks.py).
PARTNER_RETRY = Retry(max=8, interval=[5, 30, 120, 600, 1800, 3600, 3600, 3600])
PARTNER_TIMEOUT_S = 120  # one stream's due deliveries, 5 s each at most  # the first run and IMPORT_RETRY's one
# One process analyses ~5-10 photos a second: 20 000 rows with photos fit in well under this.
IMPORT_TIMEOUT_S = 6 * 3600


def is_temporary(exc: BaseException) -> bool:
    """Whether trying again later may succeed: a database or Redis outage, or a platform's passing failure.

    The one place this is decided: the conversation job raises such errors for RQ to retry instead of failing
    the message, and the outbox keeps the message's place in the queue.
    """
    if isinstance(exc, SendError):
        return not exc.permanent
    return isinstance(exc, UNREACHABLE)


def make_queue(connection: redis.Redis, name: str = QUEUE_NAME) -> Queue:
    """A handle to put jobs on (each goes to its own lane, see `LANE`), or one lane by name."""
    return Queue(name, connection=connection)


def lanes(connection: redis.Redis, chat_only: bool = False) -> list[Queue]:
    """The queues a worker serves, chat first: RQ takes from the first that has work."""
    return [make_queue(connection, name) for name in (CHAT_LANES if chat_only else LANES)]


# A scheduled job this late was not queued by RQ's scheduler (which queues it within a second): after a Redis
# restart the dead scheduler's lock keeps a new one from starting for up to a minute and a half.
OVERDUE = timedelta(seconds=10)


def enqueue_overdue(connection: redis.Redis, now: datetime) -> int:
    """Queue the delayed jobs (retries, paced sends) due OVERDUE before `now` that RQ's scheduler left; how many.

    Every job is idempotent, so one the scheduler queues at the same moment too only runs twice."""
    moved = 0
    for queue in lanes(connection):
        registry = queue.scheduled_job_registry
        job_ids = registry.get_jobs_to_schedule(int((now - OVERDUE).timestamp()))
        for job in RqJob.fetch_many(job_ids, connection=connection):
            if job is not None:
                queue.enqueue_job(job)
        for job_id in job_ids:
            registry.remove(job_id)
        moved += len(job_ids)
    return moved


def waiting_since(connection: redis.Redis, lane: str) -> datetime | None:
    """When the oldest job still waiting on this lane was queued (None: nothing waits); two Redis reads.

    Work stored after that moment is most likely still in line behind it, not lost: the reconciler
    waits that much longer before it queues such work again (a viral appeal's backlog is not a crash).
    """
    head = connection.lindex(f"{Queue.redis_queue_namespace_prefix}{lane}", 0)
    if head is None:
        return None
    job_id = head.decode() if isinstance(head, bytes) else str(head)
    queued = connection.hget(f"{RqJob.redis_job_namespace_prefix}{job_id}", "enqueued_at")
    if queued is None:
        return None  # deleted meanwhile (erasure forgets jobs): nothing known to wait
    return datetime.fromisoformat(
        (queued.decode() if isinstance(queued, bytes) else str(queued)).replace("Z", "+00:00")
    )


def chat_backlog(connection: redis.Redis) -> int:
    """How many chat jobs wait (both chat lanes), in one Redis round trip: bulk work gives way while it grows."""
    pipeline = connection.pipeline(transaction=False)
    for lane in CHAT_LANES:
        pipeline.llen(f"{Queue.redis_queue_namespace_prefix}{lane}")
    return sum(int(length) for length in pipeline.execute())


def enqueue_photo_analysis(queue: Queue, photo_id: str) -> str:
    """Queue the analysis of one stored photo; the job id makes a second enqueue harmless."""
    job = _put(queue, Job.ANALYSE_PHOTO, photo_id, PHOTO_RETRY, 300, job_id=f"analyse-photo-{photo_id}")
    return job.id


# Jobs name a stored message by its id, never the contact: RQ logs job arguments,
# and a phone number has no business in a log.


def enqueue_conversation(queue: Queue, inbound_id: str, first_contact: bool = False) -> None:
    """Wake the job that answers the pending messages of this message's contact, in order.

    A first contact's job waits in its own lane, behind everyone already in a conversation; the job answers
    all of the contact's pending messages whichever lane woke it, so their order holds either way.
    """
    lane = FIRST_CONTACTS_QUEUE if first_contact else None
    _put(queue, Job.ANSWER_CONVERSATION, inbound_id, CONVERSATION_RETRY, 600, lane=lane)


def line_up(queue: Queue, message: str) -> None:
    """Put an accepted message (JSON) in the intake line, and queue the intake job for every INTAKE_WAKE_EVERY.

    One round trip, two for every tenth: the webhook answers the platform without waiting for MongoDB, which is the
    first thing to saturate in a surge (issue 24). The intake job stores what waits in batches, in order. The 1st
    message of a line that was empty wakes it, so one message alone is stored at once; should a job die, the next
    tenth wakes another, and the reconciler takes in what waits on its next run.
    """
    if (int(queue.connection.rpush(INTAKE_LINE, message)) - 1) % INTAKE_WAKE_EVERY == 0:
        _put(queue, Job.TAKE_IN, "intake", CONVERSATION_RETRY, 600)


def wake_first_contacts(queue: Queue, inbound_ids: list[str]) -> None:
    """Put first contacts' messages in line for a batch (workers/first_contacts.py), in one or two round trips.

    The line is a Redis list of message ids; a batch job takes up to FIRST_CONTACTS_BATCH from its head. One
    job is queued for every FIRST_CONTACTS_BATCH messages put in line (the 1st, the 11th... of a line that does
    not empty), so there are always enough jobs for what waits, and at a burst's peak one job answers ten
    people instead of each taking one. Should the line or a job be lost (Redis restarted, a worker killed), the
    stored message is the truth: the reconciler wakes its conversation once it has waited GRACE.
    """
    if not inbound_ids:
        return
    last = int(queue.connection.rpush(FIRST_CONTACTS_LINE, *inbound_ids))
    first = last - len(inbound_ids) + 1
    due = [item for place, item in enumerate(inbound_ids, first) if (place - 1) % FIRST_CONTACTS_BATCH == 0]
    _put_many(queue, Job.ANSWER_FIRST_CONTACTS, due, CONVERSATION_RETRY, 600)


def enqueue_conversations(queue: Queue, inbound_ids: list[str]) -> None:
    """`enqueue_conversation` for many messages (of different contacts) in one Redis pipeline: the intake's batch."""
    _put_many(queue, Job.ANSWER_CONVERSATION, inbound_ids, CONVERSATION_RETRY, 600)


def enqueue_outbox(queue: Queue, outbox_id: str, lane: str | None = None) -> None:
    """Send the pending messages of this outbox message's contact, in order (volunteers' alerts on their lane)."""
    _put(queue, Job.SEND_OUTBOX, outbox_id, OUTBOX_RETRY, 300, lane=lane)


def enqueue_outboxes(queue: Queue, outbox_ids: list[str], lane: str) -> None:
    """`enqueue_outbox` for many messages in one Redis pipeline (a volunteers' appeal: a chunk of alerts at once)."""
    if outbox_ids:
        _put_many(queue, Job.SEND_OUTBOX, outbox_ids, OUTBOX_RETRY, 300, lane)


def enqueue_outbox_at(queue: Queue, outbox_id: str, when: datetime, attempt: int, lane: str | None = None) -> None:
    """Wake this contact's outbox when its first message is due again; queued once per message and attempt."""
    job_id = f"outbox-retry-{outbox_id}-{attempt}"
    _put(queue, Job.SEND_OUTBOX, outbox_id, OUTBOX_RETRY, 300, job_id=job_id, at=when, lane=lane)


def enqueue_partner_delivery(queue: Queue, delivery_id: str) -> None:
    """Deliver the due events of this delivery's stream (one endpoint, one record), in order."""
    _put(queue, Job.DELIVER_PARTNER_EVENT, delivery_id, PARTNER_RETRY, PARTNER_TIMEOUT_S)


def enqueue_partner_delivery_at(queue: Queue, delivery_id: str, when: datetime, attempt: int) -> None:
    """Wake this delivery's stream when it is due again; queued once per delivery and attempt."""
    job_id = f"partner-retry-{delivery_id}-{attempt}"
    _put(queue, Job.DELIVER_PARTNER_EVENT, delivery_id, PARTNER_RETRY, PARTNER_TIMEOUT_S, job_id=job_id, at=when)


def enqueue_matching(queue: Queue, photo_id: str) -> None:
    """Search the faces of an analysed case, sighting or found-person photo; safe to queue twice."""
    _put(queue, Job.MATCH_PHOTO, photo_id, PHOTO_RETRY, 600)


def enqueue_found_import(queue: Queue, import_id: str) -> None:
    """Run an uploaded import of found persons on the bulk lane; the job id makes a second enqueue harmless."""
    _put(queue, Job.IMPORT_FOUND, import_id, IMPORT_RETRY, IMPORT_TIMEOUT_S, job_id=f"import-found-{import_id}")


def enqueue_appeal_render(queue: Queue, reference: str) -> None:
    """Make an approved appeal's posters and send them to the family; safe to queue twice."""
    _put(queue, Job.RENDER_APPEAL, reference, PHOTO_RETRY, 120, job_id=f"render-appeal-{reference}")


def enqueue_volunteer_alerts(queue: Queue, reference: str, at: datetime | None = None) -> None:
    """Choose an approved appeal's volunteers and queue their alerts; again `at` the end of quiet hours."""
    job_id = f"alert-volunteers-{reference}" + (f"-{at:%Y%m%d%H}" if at else "")
    _put(queue, Job.ALERT_VOLUNTEERS, reference, PHOTO_RETRY, 600, job_id=job_id, at=at)


def match_when_owned(queue: Queue, owner: dict[str, str], photo_ids: Sequence[Any]) -> None:
    """Queue matching for analysed photos of a case, sighting or found person; a draft's wait until it is submitted.

    The one place that decides when a photo is matched: after its analysis (jobs), and when a draft whose photos
    were already analysed becomes a case or sighting (effects). The reconciler re-queues what this missed.
    """
    if owner["kind"] in ("case", "sighting", "found"):
        for photo_id in photo_ids:
            enqueue_matching(queue, str(photo_id))


def _put(
    queue: Queue,
    job: Job,
    item_id: str,
    retry: Retry,
    timeout_s: int,
    *,
    job_id: str | None = None,
    at: datetime | None = None,
    lane: str | None = None,
) -> RqJob:
    """The one way a job is queued: by the id of what it works on, on its lane, failures kept 30 days for operators."""
    lane = lane or LANE[job]
    if queue.name != lane:
        queue = make_queue(queue.connection, lane)
    options = _options(job, retry, timeout_s, job_id)
    options["job_timeout"] = options.pop("timeout")
    if at is None:
        return queue.enqueue(job.value, item_id, **options)
    return queue.enqueue_at(at, job.value, item_id, **options)


def _put_many(
    queue: Queue, job: Job, item_ids: list[str], retry: Retry, timeout_s: int, lane: str | None = None
) -> None:
    """`_put` for many items of one job, in one Redis pipeline (RQ's `enqueue_many`)."""
    if item_ids:
        lane = lane or LANE[job]
        target = queue if queue.name == lane else make_queue(queue.connection, lane)
        options = _options(job, retry, timeout_s, None)
        target.enqueue_many([Queue.prepare_data(job.value, (item,), **options) for item in item_ids])


def _options(job: Job, retry: Retry, timeout_s: int, job_id: str | None) -> dict[str, Any]:
    """Every job's options: its id if it has one, retries, timeout, its result kept a while (not a chat job's: the
    stored record is the truth), and failures kept 30 days for operators."""
    return {
        "job_id": job_id,
        "retry": retry,
        "timeout": timeout_s,
        "result_ttl": 0 if job in RESULT_NOT_KEPT else RESULT_KEPT_S,
        "failure_ttl": FAILURE_KEPT_S,
    }
