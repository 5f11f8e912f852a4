"""What became of approved matches: setting a match's outcome, and the funnel of a period (core/outcomes.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from admin.auth import current_user, require
from admin.context import homeward
from admin.overview import describe_duration
from core.outcomes import OUTCOMES, OutcomeRefused, funnel
from services.outcomes import settle
from storage.audit import audit
from storage.outcomes import funnel_rows

blueprint = Blueprint("outcomes", __name__)
PERIODS = (7, 30, 90, 365)


@blueprint.post("/candidates/<candidate_id>/outcome")
@require("reviewer")
def record(candidate_id: str) -> Any:
    """A reviewer records what the match became; the audit entry goes first, as for decisions."""
    services, user = homeward(), current_user()["username"]  # type: ignore[index]
    outcome = request.form.get("outcome", "")
    if outcome not in OUTCOMES:
        abort(400)
    try:
        candidate = ObjectId(candidate_id)
    except InvalidId:
        abort(404)
    db = services.connections.db
    audit(db, user, f"outcome {outcome}", f"candidate:{candidate_id}")
    try:
        settle(db, services.queue, candidate, outcome, user)
        flash(f"Outcome recorded: {OUTCOMES[outcome].lower()}.")
    except OutcomeRefused as refused:
        audit(db, user, f"outcome {outcome} refused", f"candidate:{candidate_id}", str(refused))
        flash(f"Not recorded: {refused}")
    return redirect(url_for("review.candidate", candidate_id=candidate_id))


@blueprint.get("/outcomes")
@require("viewer")
def index() -> str:
    """The funnel of the last N days: candidates, approved, contacted, reunited or not, per organisation."""
    days = request.args.get("days", type=int) or 30
    days = days if days in PERIODS else 30
    since = datetime.now(UTC) - timedelta(days=days)
    figures = funnel(funnel_rows(homeward().connections.db, since))
    return render_template(
        "outcomes.html",
        funnel=figures,
        days=days,
        periods=PERIODS,
        median=describe_duration(figures.median_report_to_reunion_s),
    )
