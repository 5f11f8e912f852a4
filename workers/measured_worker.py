"""The worker process's RQ worker: RQ's in-process worker, counting each job's outcome (services/metrics.py)."""

from __future__ import annotations

import time

from rq import SimpleWorker
from rq.job import Job

from services import trace
from services.metrics import JOBS, PHOTO_ANALYSIS, job_name


class MeasuredWorker(SimpleWorker):
    """RQ's in-process worker, counting each job's outcome (and tracing each, with HOMEWARD_TRACE)."""

    def perform_job(self, job: Job, queue: object) -> bool:  # type: ignore[override]
        if not trace.enabled():
            return bool(super().perform_job(job, queue))  # type: ignore[arg-type]
        started = time.monotonic()
        trace.record("job", name=job_name(job), phase="start", queue=getattr(queue, "name", None))
        ok = bool(super().perform_job(job, queue))  # type: ignore[arg-type]
        trace.record("job", name=job_name(job), phase="end", ok=ok, ms=round((time.monotonic() - started) * 1000, 2))
        return ok

    def handle_job_success(self, job: Job, queue: object, started_job_registry: object) -> None:  # type: ignore[override]
        JOBS.labels(job_name(job), "succeeded").inc()
        if job_name(job) == "analyse_photo" and job.started_at and job.ended_at:
            PHOTO_ANALYSIS.observe((job.ended_at - job.started_at).total_seconds())
        super().handle_job_success(job, queue, started_job_registry)  # type: ignore[arg-type]

    def handle_job_failure(  # type: ignore[override]
        self, job: Job, queue: object, started_job_registry: object = None, exc_string: str = ""
    ) -> None:
        JOBS.labels(job_name(job), "retried" if job.should_retry else "failed").inc()
        super().handle_job_failure(job, queue, started_job_registry, exc_string)  # type: ignore[arg-type]
