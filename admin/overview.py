"""The figures that show at a glance whether the service keeps up: queues, workers, the reconciler, reviews.

Read by the overview page and by /metrics alike, so both tell the same story.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from admin.health import _workers
from core.faces.matching import BAND_ORDER
from core.times import as_utc
from services.queue import lanes
from storage.connections import Database
from storage.outbox import sms_usage
from storage.reports import decisions_since, oldest_pending_inbound

RECONCILER_KEY = "homeward:reconciler:last"  # JSON {"at": ISO time, ...counts}, written by the reconciler
STATS_DAYS = 14


@dataclass(frozen=True)
class ServiceHealth:
    queued: int
    failed: int
    scheduled: int
    running: int
    oldest_pending_s: float | None  # age of the oldest inbound message not yet handled
    workers: int
    reconciler_at: datetime | None
    reconciler_counts: dict[str, Any] = field(default_factory=dict)

    @property
    def reconciler_age_s(self) -> float | None:
        return (datetime.now(UTC) - self.reconciler_at).total_seconds() if self.reconciler_at else None


def service_health(db: Database, queue: Queue) -> ServiceHealth:
    connection = queue.connection
    oldest = oldest_pending_inbound(db)
    at, counts = last_reconciler_run(connection)
    queues = lanes(connection)  # chat and photos: counted together
    return ServiceHealth(
        queued=sum(q.count for q in queues),
        failed=sum(FailedJobRegistry(queue=q).count for q in queues),
        scheduled=sum(ScheduledJobRegistry(queue=q).count for q in queues),
        running=sum(StartedJobRegistry(queue=q).count for q in queues),
        oldest_pending_s=(datetime.now(UTC) - as_utc(oldest)).total_seconds() if oldest else None,
        workers=int(_workers(connection)["count"]),
        reconciler_at=at,
        reconciler_counts=counts,
    )


def last_reconciler_run(connection: redis.Redis) -> tuple[datetime | None, dict[str, Any]]:
    """When the reconciler last ran and what it counted; (None, {}) when it never did or left no readable note."""
    raw = connection.get(RECONCILER_KEY)
    try:
        note = json.loads(raw) if raw else None
        at = datetime.fromisoformat(note["at"]) if isinstance(note, dict) else None
    except (ValueError, TypeError, KeyError):
        return None, {}
    if at is None:
        return None, {}
    return as_utc(at), {k: v for k, v in note.items() if k != "at" and isinstance(v, int | float)}


@dataclass(frozen=True)
class ReviewStats:
    per_day: list[tuple[date, int]]  # candidates decided each day, oldest first
    median_decision_s: float | None
    approval_rate: dict[str, float | None]  # per band; None when nothing of that band was decided
    # Approved, then found in person not to be the one (core/outcomes.py), per band: what an approval is worth.
    not_the_person: dict[str, int] = field(default_factory=dict)


def review_stats(db: Database, today: date | None = None, days: int = STATS_DAYS) -> ReviewStats:
    """Decisions per day over the last `days` days, median time to decision, approval rate per band."""
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    decided = decisions_since(db, datetime(first.year, first.month, first.day, tzinfo=UTC))
    per_day = dict.fromkeys((first + timedelta(days=n) for n in range(days)), 0)
    waits = []
    for row in decided:
        day = as_utc(row["decided_at"]).date()
        if day in per_day:
            per_day[day] += 1
        if row.get("created_at"):
            waits.append((as_utc(row["decided_at"]) - as_utc(row["created_at"])).total_seconds())
    rates: dict[str, float | None] = {}
    wrong: dict[str, int] = {}
    for band in BAND_ORDER:
        of_band = [row for row in decided if row.get("band") == band]
        approved = sum(row["status"] == "approved" for row in of_band)
        rates[band] = approved / len(of_band) if of_band else None
        wrong[band] = sum(row.get("outcome") == "not_the_person" for row in of_band)
    return ReviewStats(sorted(per_day.items()), statistics.median(waits) if waits else None, rates, wrong)


@dataclass(frozen=True)
class SmsPeriod:
    label: str  # "last day", "last week"
    messages: int
    segments: int
    cost: float


def sms_periods(db: Database, now: datetime | None = None) -> list[SmsPeriod]:
    """SMS sent in the last day and the last week: messages, segments billed, and their cost."""
    now = now or datetime.now(UTC)
    return [
        SmsPeriod(label, *sms_usage(db, now - span))
        for label, span in (("last day", timedelta(days=1)), ("last week", timedelta(days=7)))
    ]


def describe_duration(seconds: float | None) -> str:
    """'3 min', '2 h 5 min', '4 d': short enough for a card; 'none' when there is nothing to measure."""
    if seconds is None:
        return "none"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
