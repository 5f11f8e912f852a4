"""Alert the volunteers near an approved appeal's last-seen place (services/volunteers.py), on their own lane."""

from __future__ import annotations

from services.queue import Job, runs
from services.volunteers import alert
from workers.context import current


@runs(Job.ALERT_VOLUNTEERS)
def alert_volunteers(reference: str) -> str:
    """Choose and queue; what happened, for the job's result. Safe to run twice."""
    context = current()
    assert context.queue is not None
    reach = alert(context.connections.db, context.queue, reference, context.settings)
    return f"alerted {reach.alerted}, quiet {reach.quiet}, capped {reach.capped}"
