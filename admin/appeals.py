"""Appeals for reviewers: the families' requests, each approved or refused with a recorded reason.

The risk check is a person's: someone who left a violent home may not want to be found, so nothing is public
until a reviewer says why it is safe (or why not), and the reason is in the audit log.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from admin.auth import current_user, require
from admin.context import homeward
from core.appeals.links import page_link
from core.cities import city_choices, named_city
from core.places import coordinates
from services import appeals
from storage.appeal_sightings import sighting_counts, sightings_of_appeal
from storage.appeals import appeals_with_status, find_appeal
from storage.audit import audit, history
from storage.cases import find_case

blueprint = Blueprint("appeals", __name__, url_prefix="/appeals")


@blueprint.get("/")
@require("reviewer")
def index() -> str:
    db = homeward().connections.db
    shown = {status: appeals_with_status(db, status) for status in ("requested", "approved")}
    counts = sighting_counts(db, [a["reference"] for a in shown["approved"]])  # only a public appeal is scanned
    return render_template("appeals.html", shown=shown, sightings=counts)


@blueprint.get("/<reference>")
@require("reviewer")
def appeal(reference: str) -> str:
    db, settings = homeward().connections.db, homeward().settings
    found = find_appeal(db, reference)
    if found is None:
        abort(404)
    audit(db, current_user()["username"], "view", f"appeal:{reference}")  # type: ignore[index]
    case = find_case(db, found.get("case") or "") or {}
    typed = (case.get("place") or {}).get("text") or ""
    return render_template(
        "appeal.html",
        appeal=found,
        case=case,
        cities=city_choices() if coordinates(case.get("place")) is None else None,
        suggested=named_city(typed) or "none",
        page=page_link(settings.public_base_url, found["token"]) if found["status"] == "approved" else None,
        history=history(db, [f"appeal:{reference}"]),
        sightings=sightings_of_appeal(db, reference, found.get("case") or ""),
    )


@blueprint.post("/<reference>/decide")
@require("reviewer")
def decide(reference: str) -> Any:
    services, user = homeward(), current_user()["username"]  # type: ignore[index]
    decision, reason = request.form.get("decision"), request.form.get("reason", "")
    if decision not in ("approve", "refuse"):
        abort(400)
    city = request.form.get("city")  # a typed last-seen place: the city volunteers are alerted in, or none
    try:
        if decision == "approve":
            appeals.approve(services.connections.db, services.queue, reference, user, reason, _city(city))
        else:
            appeals.refuse(services.connections.db, services.queue, reference, user, reason)
    except ValueError as missing:
        flash(f"Not decided: {missing}.")
        return redirect(url_for("appeals.appeal", reference=reference))
    except appeals.NotWaiting:
        flash(f"{reference} was already decided or has ended; nothing was changed.")
        return redirect(url_for("appeals.appeal", reference=reference))
    flash(f"{reference} {'approved: its posters are being made and sent' if decision == 'approve' else 'refused'}.")
    return redirect(url_for("appeals.index"))


def _city(chosen: str | None) -> str | None:
    """The form's city: a bundled city's name, "" for "none: alert no volunteers", None when it offered none."""
    return "" if chosen == "none" else chosen


@blueprint.post("/<reference>/end")
@require("reviewer")
def end(reference: str) -> Any:
    services, user = homeward(), current_user()["username"]  # type: ignore[index]
    audit(services.connections.db, user, "appeal ended", f"appeal:{reference}", request.form.get("reason", "")[:300])
    appeals.end(services.connections.db, services.queue, reference, "ended by a reviewer")
    flash(f"{reference} is taken down: its page answers 410 and its posters are deleted.")
    return redirect(url_for("appeals.appeal", reference=reference))
