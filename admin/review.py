"""The review queue, the candidate page, and the decision that answers the family."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bson import ObjectId
from bson.errors import InvalidId
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from admin.auth import current_user, require
from admin.context import homeward
from core.conversation.answers import citizen_thanks, describe_place, describe_time, family_answer
from core.conversation.catalog import render
from core.places import coordinates, describe_interval, describe_km, distance_km
from storage.audit import audit, history
from storage.candidates import (
    decide,
    find_candidate,
    note_family_message,
    overdue_strong,
    pending_by_band,
    review_queue,
)
from storage.cases import case_names, find_case, find_sighting, open_counts
from storage.contacts import find_contact, language_of
from storage.faces import faces_of_owner
from storage.outbox import delivery_status, queue_outbound
from storage.photos import Owner
from workers.queue import enqueue_outbox

blueprint = Blueprint("review", __name__)
PAGE_SIZE = 20
REJECT_REASONS = ("Different person", "Photo too poor to tell", "Duplicate of another candidate", "Other")


@blueprint.get("/")
@require("viewer")
def dashboard() -> str:
    services = homeward()
    db = services.connections.db
    overdue = datetime.now(UTC) - timedelta(minutes=services.settings.review_escalate_minutes)
    counts = pending_by_band(db) | open_counts(db)
    escalated = overdue_strong(db, overdue)
    return render_template(
        "dashboard.html", counts=counts, escalated=escalated, minutes=services.settings.review_escalate_minutes
    )


@blueprint.get("/review")
@require("viewer")
def queue() -> str:
    page = max(1, request.args.get("page", 1, type=int))
    db = homeward().connections.db
    rows = review_queue(db, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
    cases = case_names(db, [r["case"] for r in rows])
    return render_template("queue.html", rows=rows[:PAGE_SIZE], cases=cases, page=page, more=len(rows) > PAGE_SIZE)


@blueprint.get("/candidates/<candidate_id>")
@require("viewer")
def candidate(candidate_id: str) -> str:
    db = homeward().connections.db
    found = _candidate(candidate_id)
    case = find_case(db, found["case"])
    sighting = find_sighting(db, found["sighting"])
    if case is None or sighting is None:
        abort(404)
    sighting_faces = faces_of_owner(db, Owner("sighting", sighting["reference"]), except_face=found["sighting_face_id"])
    told = delivery_status(db, found["family_message_id"]) if found.get("family_message_id") else None
    audit(db, current_user()["username"], "view", f"candidate:{candidate_id}")  # type: ignore[index]
    return render_template(
        "candidate.html",
        c=found,
        case=case,
        sighting=sighting,
        sighting_place=describe_place(sighting.get("place")),
        sighting_time=describe_time(sighting),
        case_place=describe_place(case.get("place")),
        case_time=describe_time(case),
        apart=_apart(case, sighting),
        others=sighting_faces,
        delivery=told,
        reasons=REJECT_REASONS,
        history=history(db, [f"candidate:{candidate_id}"]),
    )


@blueprint.post("/candidates/<candidate_id>/decide")
@require("reviewer")
def decision(candidate_id: str) -> Any:
    db = homeward().connections.db
    user = current_user()["username"]  # type: ignore[index]
    action = request.form.get("action")
    reason = " ".join(request.form.get("reason", "").split())[:300]
    if action not in ("approve", "reject"):
        abort(400)
    if action == "reject" and not reason:
        flash("Say why you reject it: the reason is kept with the decision.")
        return redirect(url_for("review.candidate", candidate_id=candidate_id))
    decided = decide(
        db, _candidate(candidate_id)["_id"], "approved" if action == "approve" else "rejected", user, reason
    )
    if decided is None:
        flash("This candidate was already decided; nothing was changed.")
        return redirect(url_for("review.candidate", candidate_id=candidate_id))
    audit(db, user, action, f"candidate:{candidate_id}", reason)
    audit(db, user, action, f"case:{decided['case']}", f"candidate {candidate_id}")
    if action == "approve":
        _answer_family(decided)
        flash("Approved: the family is being told in their chat.")
    else:
        flash("Rejected; the reason is recorded.")
    return redirect(url_for("review.candidate", candidate_id=candidate_id))


def _answer_family(candidate: dict[str, Any]) -> None:
    """Queue the family's message (with the sighting photo) and the citizen's thank-you."""
    services = homeward()
    db = services.connections.db
    case = find_case(db, candidate["case"])
    sighting = find_sighting(db, candidate["sighting"])
    family = find_contact(db, case["reporter"]) if case else None
    if case is None or sighting is None or family is None:
        return  # erased meanwhile: there is nobody left to tell
    message_id = queue_outbound(
        db,
        family["contact"],
        family["channel"],
        family["chat_id"],
        render(family_answer(case, sighting), language_of(db, family["contact"])),
        photo_id=candidate["sighting_photo_id"],
        source=f"approve:{candidate['_id']}",
    )
    note_family_message(db, candidate["_id"], message_id)
    enqueue_outbox(services.queue, str(message_id))
    citizen = find_contact(db, sighting["reporter"])
    if citizen is not None:
        thanks = queue_outbound(
            db,
            citizen["contact"],
            citizen["channel"],
            citizen["chat_id"],
            render(citizen_thanks(sighting), language_of(db, citizen["contact"])),
            source=f"thanks:{sighting['reference']}",
        )
        enqueue_outbox(services.queue, str(thanks))


def _apart(case: dict[str, Any], sighting: dict[str, Any]) -> dict[str, str | None]:
    """What a reviewer would otherwise work out: how far, how long after, and both places on a map."""
    km = distance_km(case.get("place"), sighting.get("place"))
    return {
        "distance": describe_km(km) if km is not None else None,
        "interval": describe_interval(case.get("time"), sighting.get("time")),
        "case_map": _map_link(case.get("place")),
        "sighting_map": _map_link(sighting.get("place")),
    }


def _map_link(place: dict[str, Any] | None) -> str | None:
    """OpenStreetMap at the coordinates, or a search for the typed place; None when there is neither."""
    if point := coordinates(place):
        lat, lon = (f"{value:.5f}" for value in point)
        return f"https://www.openstreetmap.org/?{urlencode({'mlat': lat, 'mlon': lon})}#map=16/{lat}/{lon}"
    typed = ((place or {}).get("text") or "").strip()
    return f"https://www.openstreetmap.org/search?{urlencode({'query': typed})}" if typed else None


def _candidate(candidate_id: str) -> dict[str, Any]:
    try:
        found = find_candidate(homeward().connections.db, ObjectId(candidate_id))
    except InvalidId:
        found = None
    if found is None:
        abort(404)
    return found
