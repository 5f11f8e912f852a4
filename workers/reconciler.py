"""Nothing lost, nothing stuck: queue again the work that was stored but whose job may not exist.

Storing and queuing are two steps on two servers, so a crash or an outage in
between leaves work stored without a job: a message never answered, a photo
never analysed or matched, a reply never sent, a family never told, a partner's
webhook never delivered. Every few
seconds one worker (a Redis lock picks it) looks for such work older than a
grace period and queues it again; every job is idempotent, so a job queued
twice does its work once. It also drains the inbound spool (messages kept in
Redis while MongoDB was down), deletes faces whose photo was erased (and the
frames of a clip erased while it was analysed), runs the retention sweep
when it is due, ends the panel's imports a dead worker left unfinished
(deleting their files), and vouches in the audit chain for the partner API's
reads recorded since its last run (storage/audit.py seal_api_reads: every few
seconds keeps each batch small and no read long unvouched for; the retention
sweep's hour would leave an hour of reads that could be edited unnoticed).
A photo whose analysis keeps dying is not queued for ever: its job gives up
at its fourth start (workers/jobs.py give_up), and a failed photo is not
pending.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from services import appeals
from services.approval import tell_family
from services.inbound import wake_unqueued
from services.maintenance import RECONCILER_LAST_KEY, record_run
from services.partner_cases import ask_unasked
from services.partner_events import record_missed
from services.queue import (
    CHAT_LANES,
    PARTNERS_QUEUE,
    PHOTOS_QUEUE,
    QUEUE_NAME,
    VOLUNTEERS_QUEUE,
    enqueue_appeal_render,
    enqueue_conversation,
    enqueue_matching,
    enqueue_overdue,
    enqueue_partner_delivery,
    enqueue_photo_analysis,
    enqueue_volunteer_alerts,
    waiting_since,
)
from services.volunteers import requeue_outbox
from storage.appeals import unsent_approved, volunteers_due
from storage.audit import seal_api_reads
from storage.inbound import stale_inbound
from storage.outbox import SENDING_STALE, due_outbound
from storage.partner_events import due_deliveries
from storage.recovery import pending_photos, sweep_orphan_faces, unmatched_photos, untold_approvals
from workers import bulk, intake, retention

if TYPE_CHECKING:  # the context is only passed in: its type, not its import (search indexes, engines)
    from workers.context import WorkerContext

LOCK_KEY = "homeward:reconciler:lock"
SWEPT_KEY = "homeward:reconciler:faces_swept_until"
REQUEUED_KEY = "homeward:reconciler:requeued:"
PARTNER_EVENTS_KEY = "homeward:reconciler:partner_events_since"
# Work younger than this is probably on its way; older, its job may be lost.
GRACE = timedelta(seconds=30)
# The same item is queued again at most this often: a long queue is not a lost job.
REQUEUE_AGAIN_AFTER_S = 300
# Faces stored by a job still running when the sweep passes are looked at again in the next sweeps.
SWEEP_MARGIN = timedelta(minutes=10)
SWEEP_START = datetime(2000, 1, 1, tzinfo=UTC)
BATCH = 100

log = logging.getLogger(__name__)


def reconcile(context: WorkerContext, now: datetime) -> dict[str, int]:
    """Queue again what is stored but stuck; return how many of each kind were recovered."""
    db, connection, queue = context.connections.db, context.connections.redis, context.queue
    assert queue is not None
    cutoff = now - GRACE
    chats, photos = _cutoff(context, now, CHAT_LANES), _cutoff(context, now, (PHOTOS_QUEUE,))
    replies, hooks = _cutoff(context, now, (QUEUE_NAME,)), _cutoff(context, now, (PARTNERS_QUEUE,))
    alerts = _cutoff(context, now, (VOLUNTEERS_QUEUE,))
    stale = now - SENDING_STALE  # a claim whose worker may have died during the call is sent again from then
    counts = {
        "spooled": intake.drain(context),  # what a lost intake job left in line, or what waited for MongoDB
        "overdue_jobs": enqueue_overdue(connection, now),  # delayed jobs a stopped RQ scheduler left
        "unqueued": wake_unqueued(db, queue),  # stored while Redis was down: no grace to wait out
        "inbound": _requeue(context, "inbound", stale_inbound(db, chats, BATCH), enqueue_conversation),
        "photos": _requeue(context, "analyse", pending_photos(db, photos, BATCH), enqueue_photo_analysis),
        "matching": _requeue(context, "match", unmatched_photos(db, photos, BATCH), enqueue_matching),
        "outbox": _requeue(
            context, "outbox", due_outbound(db, replies, BATCH, stale_before=stale), partial(requeue_outbox, db)
        )
        + _requeue(
            context,
            "outbox",
            due_outbound(db, alerts, BATCH, VOLUNTEERS_QUEUE, stale_before=stale),
            partial(requeue_outbox, db),
        ),
        "partner_deliveries": _requeue(context, "partner", due_deliveries(db, hooks, BATCH), enqueue_partner_delivery),
        "partner_events": _partner_events(context, now),
        "approvals": _tell_families(context, cutoff),
        "family_questions": ask_unasked(db, queue, cutoff),  # organisations' cases: the family's consent question
        "orphan_faces": _sweep_faces(context, now),
        "abandoned_imports": bulk.end_abandoned_imports(context, now),
        "api_reads_sealed": seal_api_reads(db, now),
        "appeals_tidied": appeals.tidy(db, queue),
        "appeals_rendered": _requeue(context, "appeal", unsent_approved(db, photos, BATCH), enqueue_appeal_render),
        "volunteer_alerts": _requeue(
            context, "volunteers", volunteers_due(db, alerts, BATCH), enqueue_volunteer_alerts
        ),
    }
    record_run(connection, RECONCILER_LAST_KEY, counts)
    if any(counts.values()):
        log.info("reconciler recovered: %s", " ".join(f"{kind}={n}" for kind, n in counts.items() if n))
    _sweep_retention(context, now)
    return counts


def _cutoff(context: WorkerContext, now: datetime, lanes: tuple[str, ...]) -> datetime:
    """Work stored before this may have lost its job: the grace before now, or before the oldest job still in line.

    During a backlog (a viral appeal) every job queued after the oldest waiting one is still in line: queuing
    its work again would only add a duplicate job per item, each costing its round trips, so throughput would
    fall as the backlog grows (issue 24). Work whose job really was lost is queued once the line reaches it.
    Each lane is judged by its own line: an hour of volunteers' alerts waiting says nothing of the chat's, and
    a chat's short line must not make alerts still in theirs look lost (they would be queued a second time).
    """
    waiting = [when for lane in lanes if (when := waiting_since(context.connections.redis, lane)) is not None]
    return min([now, *waiting]) - GRACE


def _sweep_retention(context: WorkerContext, now: datetime) -> None:
    """The retention sweep rides on the reconciler's lock, at its own, slower cadence (workers/retention.py)."""
    try:
        retention.run_if_due(context, now)
    except Exception as exc:  # noqa: BLE001 - a server down: the next reconcile tries again
        log.warning("the retention sweep could not run (%s: %s); it tries again shortly", type(exc).__name__, exc)


def _requeue(context: WorkerContext, kind: str, ids: list[str], enqueue: Callable[[Any, str], Any]) -> int:
    connection, queued = context.connections.redis, 0
    for item in ids:
        if connection.set(f"{REQUEUED_KEY}{kind}:{item}", 1, nx=True, ex=REQUEUE_AGAIN_AFTER_S):
            enqueue(context.queue, item)
            queued += 1
    return queued


def _partner_events(context: WorkerContext, now: datetime) -> int:
    """Events of closes and outcomes whose step stopped before recording them, since the last look (less a margin)."""
    connection = context.connections.redis
    raw = connection.get(PARTNER_EVENTS_KEY)
    since = datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw) if raw else now - SWEEP_MARGIN
    recorded = record_missed(context.connections.db, context.queue, since)
    connection.set(PARTNER_EVENTS_KEY, max(since, now - SWEEP_MARGIN).isoformat())
    return recorded


def _tell_families(context: WorkerContext, cutoff: datetime) -> int:
    """Approved candidates whose family was never told (the panel stopped between claim and message)."""
    db, queue = context.connections.db, context.queue
    assert queue is not None
    candidates = untold_approvals(db, cutoff, BATCH)
    for candidate_id in candidates:
        tell_family(db, queue, candidate_id)
    return len(candidates)


def _sweep_faces(context: WorkerContext, now: datetime) -> int:
    """Delete faces whose photo is gone, and frames whose clip is gone, among faces stored since the last sweep."""
    connection = context.connections.redis
    raw = connection.get(SWEPT_KEY)
    since = datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw) if raw else SWEEP_START
    deleted, more_from = sweep_orphan_faces(context.connections.db, since)
    next_since = more_from or max(since, now - SWEEP_MARGIN)
    connection.set(SWEPT_KEY, next_since.isoformat())
    return deleted


def run_once(context: WorkerContext, now: datetime | None = None) -> dict[str, int] | None:
    """Reconcile unless another worker did this period (None then, or when it failed: it runs again next period)."""
    period = context.settings.reconcile_seconds
    try:
        if not context.connections.redis.set(LOCK_KEY, socket.gethostname(), nx=True, ex=max(1, period - 1)):
            return None
        return reconcile(context, now or datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001 - a server down: the next period tries again
        log.warning("the reconciler could not run (%s: %s); it tries again in %d s", type(exc).__name__, exc, period)
        return None


def start(context: WorkerContext) -> threading.Event:
    """Run the reconciler every HOMEWARD_RECONCILE_SECONDS in a daemon thread; set the event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(context.settings.reconcile_seconds):
            run_once(context)

    threading.Thread(target=loop, name="reconciler", daemon=True).start()
    return stop
