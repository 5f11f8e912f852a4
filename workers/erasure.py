"""`delete my data`, everywhere: MongoDB (storage/erasure.py), then the job records and keys in Redis.

RQ keeps finished and failed jobs for a while, with their arguments and, for
a failed one, the traceback, whose message may quote a stored value. Jobs
name ids only, so the ones about this contact are those whose argument is
one of the contact's photo, message or reply ids: they are deleted from every
registry (the running job, the one doing this erasure, excepted: it names a
message already deleted). Keys that name the contact (the rate counter) go too.
"""

from __future__ import annotations

import contextlib
from typing import Any

from rq import Queue, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
)
from rq.results import Result

from core.conversation.rate import rate_key
from services.queue import lanes
from storage.erasure import Footprint, erase_everything
from workers.context import WorkerContext

REGISTRIES = (FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, DeferredJobRegistry, CanceledJobRegistry)
# workers/reconciler.py marks what it queued again under these keys, by kind and id.
REQUEUED_KINDS = ("inbound", "analyse", "match", "outbox")
REQUEUED_KEY = "homeward:reconciler:requeued:"


def erase_contact(context: WorkerContext, contact: str) -> dict[str, int]:
    """Erase the contact from MongoDB, RQ's registries and Redis; how many of each kind went (no names)."""
    erased, found = erase_everything(context.connections.db, contact)
    if context.queue is not None:
        erased["jobs"] = forget_jobs(context.queue, found.job_arguments())
    erased["keys"] = forget_keys(context.connections.redis, contact, found)
    return erased


def forget_jobs(queue: Queue, arguments: set[str]) -> int:
    """Delete the queued, waiting, finished, failed and cancelled jobs (of every lane) naming one of these ids."""
    if not arguments:
        return 0
    running = get_current_job()
    ids: set[str] = set()
    for lane in lanes(queue.connection):  # every lane: a first message's answer ran on the first contacts' lane
        ids.update(lane.get_job_ids())
        for registry in REGISTRIES:
            ids.update(registry(queue=lane).get_job_ids())
    deleted = 0
    for job in Job.fetch_many(sorted(ids), connection=queue.connection):
        if job is None or (running is not None and job.id == running.id) or not _names_any(job, arguments):
            continue
        with contextlib.suppress(NoSuchJobError):
            Result.delete_all(job)
            job.delete()
            deleted += 1
    return deleted


def forget_keys(connection: Any, contact: str, found: Footprint) -> int:
    """Delete the Redis keys that name the contact or its ids: rate counters, the reconciler's requeue marks."""
    keys = [rate_key(contact)]
    keys += [f"{REQUEUED_KEY}{kind}:{item}" for kind in REQUEUED_KINDS for item in sorted(found.job_arguments())]
    return int(connection.delete(*keys)) if keys else 0


def _names_any(job: Job, arguments: set[str]) -> bool:
    try:
        args = job.args
    except Exception:  # noqa: BLE001 - a record that no longer unpickles (old code): judge by its id alone
        args = ()
    return any(str(arg) in arguments for arg in args) or any(job.id.endswith(f"-{item}") for item in arguments)
