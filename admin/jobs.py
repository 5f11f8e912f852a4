"""Jobs, for admins: what failed, what runs, what waits for its retry; requeue or delete, audited.

Below them, the photos and clips whose analysis was given up (it died every time it started): no job
is left to requeue, and their senders were asked for another photo.

A job shows its function, times and the last line of its error only: job
arguments are ids and the traceback's last line names the exception, so no
message text or phone number reaches the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import BaseRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from admin.auth import current_user, require
from admin.context import homeward
from services.metrics import job_name
from services.queue import FAILURE_KEPT_S, lanes, make_queue
from storage.audit import audit
from storage.photos import given_up_photos

blueprint = Blueprint("jobs", __name__, url_prefix="/jobs")
SHOWN = 100  # per registry, newest first
JOB_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
ERROR_CHARS = 200


@dataclass(frozen=True)
class JobRow:
    id: str
    function: str
    state: str  # failed, running or scheduled
    enqueued_at: datetime | None
    at: datetime | None  # failed: when it ended; running: when it started; scheduled: when it will run
    error: str
    tries_left: int | None


@blueprint.get("/")
@require("admin")
def index() -> str:
    queues = lanes(homeward().queue.connection)
    rows = {
        "failed": _rows([FailedJobRegistry(queue=queue) for queue in queues], "failed"),
        "running": _rows([StartedJobRegistry(queue=queue) for queue in queues], "running"),
        "scheduled": _rows([ScheduledJobRegistry(queue=queue) for queue in queues], "scheduled"),
    }
    # Photos whose analysis was given up are no job any more; they are kept as long as failed jobs are.
    since = datetime.now(UTC) - timedelta(seconds=FAILURE_KEPT_S)
    given_up = given_up_photos(homeward().connections.db, since, SHOWN)
    queued = sum(queue.count for queue in queues)
    return render_template("jobs.html", rows=rows, queued=queued, given_up=given_up)


@blueprint.post("/<job_id>/requeue")
@require("admin")
def requeue(job_id: str) -> Any:
    """A failed job runs again from the start; a job waiting for its retry runs now."""
    services = homeward()
    job = _job(job_id)
    audit(services.connections.db, current_user()["username"], "requeue job", f"job:{job_id}", job_name(job))  # type: ignore[index]
    lane = make_queue(services.queue.connection, job.origin)  # the lane it was queued on
    try:
        if job.is_scheduled:
            ScheduledJobRegistry(queue=lane).remove(job)
            lane.enqueue_job(job)
        else:
            FailedJobRegistry(queue=lane).requeue(job)
    except InvalidJobOperation:
        audit(services.connections.db, current_user()["username"], "requeue job refused", f"job:{job_id}")  # type: ignore[index]
        flash("That job is neither failed nor waiting for a retry any more; nothing was changed.")
        return redirect(url_for("jobs.index"))
    flash(f"Requeued {job_name(job)}: a worker will run it shortly.")
    return redirect(url_for("jobs.index"))


@blueprint.post("/<job_id>/delete")
@require("admin")
def delete(job_id: str) -> Any:
    services = homeward()
    job = _job(job_id)
    if job.is_started:
        flash("That job is running; it cannot be deleted now.")
        return redirect(url_for("jobs.index"))
    name = job_name(job)
    audit(services.connections.db, current_user()["username"], "delete job", f"job:{job_id}", name)  # type: ignore[index]
    job.delete()
    flash(f"Deleted the {name} job; it will not run again.")
    return redirect(url_for("jobs.index"))


def _rows(registries: list[BaseRegistry], state: str) -> list[JobRow]:
    """The newest jobs of this state across the lanes, newest first."""
    rows = [row for registry in registries for row in _registry_rows(registry, state)]
    rows.sort(key=lambda row: row.at or row.enqueued_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return rows[:SHOWN]


def _registry_rows(registry: BaseRegistry, state: str) -> list[JobRow]:
    ids = registry.get_job_ids(0, SHOWN - 1, desc=True)
    rows = []
    for job in Job.fetch_many(ids, connection=registry.connection):
        if job is None:
            continue  # expired between the two reads
        if state == "scheduled":
            at = registry.get_scheduled_time(job) if isinstance(registry, ScheduledJobRegistry) else None
        else:
            at = job.ended_at if state == "failed" else job.started_at
        rows.append(
            JobRow(job.id, job_name(job), state, job.enqueued_at, at, error_summary(job.exc_info), job.retries_left)
        )
    return rows


def error_summary(exc_info: str | None) -> str:
    """The last line of a traceback (`KeyError: 'photo'`), shortened: the whole traceback stays in Redis."""
    lines = [line.strip() for line in (exc_info or "").splitlines() if line.strip()]
    return lines[-1][:ERROR_CHARS] if lines else ""


def _job(job_id: str) -> Job:
    if not JOB_ID.fullmatch(job_id):
        abort(404)
    try:
        return Job.fetch(job_id, connection=homeward().queue.connection)
    except NoSuchJobError:
        abort(404)
