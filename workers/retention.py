"""The retention sweep: remove what is past its period (config/settings.py `Retention`), and count it.

It runs from the reconciler (workers/reconciler.py), which one worker per
period already runs under a Redis lock; a second key makes the sweep itself
run once per HOMEWARD_RETENTION_SWEEP_MINUTES across all workers. Each kind
is bounded per sweep, so a backlog is worked off over several sweeps.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from config.settings import Retention
from services import metrics
from services.maintenance import RETENTION_LAST_KEY, record_run
from storage.appeals import sweep_ended_appeals
from storage.audit import expire_api_reads
from storage.connections import Database
from storage.idempotency import KEEP_HOURS, sweep_api_requests
from storage.inbound import sweep_replay_markers
from storage.partner_cases import forget_unanswered_families
from storage.partner_events import sweep_partner_events
from storage.retention import (
    sweep_abandoned_drafts,
    sweep_closed_cases,
    sweep_closed_found_photos,
    sweep_closed_found_records,
    sweep_decided_images,
    sweep_declined_consent,
    sweep_handled_inbound,
    sweep_inactive_contacts,
    sweep_sent_texts,
    sweep_unmatched_sightings,
)

if TYPE_CHECKING:  # the context is only passed in: its type, not its import (search indexes, engines)
    from workers.context import WorkerContext

DUE_KEY = "homeward:retention:due"

log = logging.getLogger(__name__)


def sweep(db: Database, now: datetime, keep: Retention) -> dict[str, int]:
    """Remove everything older than its period as seen from `now`; how many of each kind went."""
    days = lambda n: now - timedelta(days=n)  # noqa: E731 - the cutoff of a period in days
    return {
        "sightings": sweep_unmatched_sightings(db, days(keep.unmatched_sightings_days)),
        "drafts": sweep_abandoned_drafts(db, days(keep.drafts_days)),
        "inbound": sweep_handled_inbound(db, days(keep.inbound_days)),
        "declined": sweep_declined_consent(db, days(keep.inbound_days)),
        "sent_texts": sweep_sent_texts(db, days(keep.sent_text_days)),
        "decided_images": sweep_decided_images(db, days(keep.decided_images_days), now),
        "inactive_contacts": sweep_inactive_contacts(db, days(keep.inactive_contacts_days)),
        "closed_cases": sweep_closed_cases(db, days(keep.closed_cases_days)),
        "closed_found_photos": sweep_closed_found_photos(db, days(keep.closed_found_days)),
        "closed_found_records": sweep_closed_found_records(db, days(keep.closed_found_records_days)),
        "replay_markers": sweep_replay_markers(db, days(keep.replay_markers_days)),
        "api_requests": sweep_api_requests(db, now - timedelta(hours=KEEP_HOURS)),
        "api_reads": expire_api_reads(db, days(keep.api_reads_days)),
        "partner_events": sweep_partner_events(db, days(keep.partner_events_days)),
        "unanswered_consent": forget_unanswered_families(db, days(keep.unanswered_consent_days), 100),
        "ended_appeals": sweep_ended_appeals(db, days(keep.ended_appeals_days)),
    }


def run_if_due(context: WorkerContext, now: datetime) -> dict[str, int] | None:
    """Sweep unless a worker did within the period (None then); a failed sweep is tried again at the next call."""
    connection, keep = context.connections.redis, context.settings.retention
    if not connection.set(DUE_KEY, 1, nx=True, ex=keep.sweep_minutes * 60):
        return None
    try:
        counts = sweep(context.connections.db, now, keep)
    except Exception:
        connection.delete(DUE_KEY)
        raise
    record_run(connection, RETENTION_LAST_KEY, counts)
    metrics.RETENTION_SWEEPS.inc()
    for kind, n in counts.items():
        if n:
            metrics.RETENTION_REMOVED.labels(kind).inc(n)
    log.info("retention sweep removed: %s", " ".join(f"{kind}={n}" for kind, n in counts.items()))
    return counts
