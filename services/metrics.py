"""The service's Prometheus metrics: counters and histograms kept by the processes that do the work.

Web and worker processes each count what they do; under `make run` every
child gets PROMETHEUS_MULTIPROC_DIR (the data dir's run/prometheus, emptied
when the supervisor starts), so /metrics adds all processes up. A process
started on its own counts in memory, which is right for one process.

Levels (queue depth, candidates waiting) are not kept here: /metrics reads
them when scraped (admin/metrics.py). Labels are channel or job names only:
never a contact, a phone number or message text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram
from rq.job import Job

from core.times import as_utc
from storage.cases import find_sighting
from storage.connections import Database

MESSAGES_IN = Counter("homeward_messages_in", "Messages received and stored, per channel.", ["channel"])
REPLIES_SENT = Counter("homeward_replies_sent", "Messages delivered to a chat platform, per channel.", ["channel"])
REPLIES_FAILED = Counter(
    "homeward_replies_failed", "Send attempts that failed (retried or given up), per channel.", ["channel"]
)
JOBS = Counter(
    "homeward_jobs",
    "Jobs run, per job function and outcome: succeeded, failed (given up) or retried.",
    ["job", "outcome"],
)
PHOTO_ANALYSIS = Histogram(
    "homeward_photo_analysis_seconds",
    "Time of one photo-analysis job: read the photo, find, judge and encode its faces, store them.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
SIGHTING_TO_CANDIDATE = Histogram(
    "homeward_sighting_to_candidate_seconds",
    "From a sighting being recorded to its first candidate being ready for review.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 3600, 4 * 3600, 24 * 3600),
)
REVIEW_WAIT = Histogram(
    "homeward_review_wait_seconds",
    "How long a candidate waited for its decision, per band.",
    ["band"],
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600),
)
# Kept by the reconciler and the retention sweep: `RECOVERED.labels(kind).inc(n)`, `RETENTION_SWEEPS.inc()`,
# `RETENTION_REMOVED.labels(kind).inc(n)`; `kind` names what was recovered or removed (e.g. "inbound", "photos").
RECOVERED = Counter("homeward_reconciler_recovered", "Stalled items the reconciler put back on their way.", ["kind"])
RETENTION_SWEEPS = Counter("homeward_retention_sweeps", "Retention sweeps completed.")
RETENTION_REMOVED = Counter("homeward_retention_removed", "Items removed by the retention sweep, per kind.", ["kind"])


def sighting_matched(db: Database, reference: str) -> None:
    """Observe how long a sighting waited for its candidates (called when a sighting face produced some)."""
    sighting = find_sighting(db, reference)
    if sighting and sighting.get("created_at"):
        SIGHTING_TO_CANDIDATE.observe(max(0.0, (datetime.now(UTC) - as_utc(sighting["created_at"])).total_seconds()))


def review_decided(candidate: dict[str, Any]) -> None:
    """Observe how long a just-decided candidate waited for its reviewer."""
    if candidate.get("created_at") and candidate.get("decided_at"):
        waited = (as_utc(candidate["decided_at"]) - as_utc(candidate["created_at"])).total_seconds()
        REVIEW_WAIT.labels(candidate.get("band") or "review").observe(max(0.0, waited))


def job_name(job: Job) -> str:
    """`workers.jobs.analyse_photo` -> `analyse_photo`: a short, fixed label (never the arguments)."""
    return (job.func_name or "unknown").rsplit(".", 1)[-1]
