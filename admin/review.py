"""The review queue, the candidate page, and the decision that answers the family."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import redis
from bson import ObjectId
from bson.errors import InvalidId
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from admin.auth import can, current_user, require
from admin.context import homeward
from admin.overview import review_stats, service_health, sms_periods
from core.conversation.answers import describe_place, describe_time
from core.faces import calibration
from core.outcomes import OUTCOMES
from core.places import coordinates, describe_interval, describe_km, distance_km
from services import metrics
from services.approval import tell_family
from storage.audit import audit, history
from storage.candidates import (
    candidate_kind,
    decide,
    find_candidate,
    overdue_strong,
    pending_by_band,
    review_queue,
)
from storage.cases import case_names, find_case, find_sighting, open_counts
from storage.faces import faces_of_owner
from storage.found_persons import find_found_person, found_owner
from storage.organisations import find_organisation
from storage.outbox import delivery_status, failed_outbound
from storage.photos import Owner

blueprint = Blueprint("review", __name__)
PAGE_SIZE = 20
PHONE_LIKE = re.compile(r"\+?\d[\d ().-]{4,}\d")
REJECT_REASONS = ("Different person", "Photo too poor to tell", "Duplicate of another candidate", "Other")


@blueprint.get("/")
@require("viewer")
def dashboard() -> str:
    services = homeward()
    db = services.connections.db
    overdue = datetime.now(UTC) - timedelta(minutes=services.settings.review_escalate_minutes)
    counts = pending_by_band(db) | open_counts(db)
    escalated = overdue_strong(db, overdue)
    failed_count, failed = failed_outbound(db)
    twilio = services.settings.twilio
    for message in failed:
        message["error"] = _without_numbers(message.get("error") or "")
    return render_template(
        "dashboard.html",
        counts=counts,
        escalated=escalated,
        minutes=services.settings.review_escalate_minutes,
        health=service_health(db, services.queue),
        stats=review_stats(db),
        failed_count=failed_count,
        failed=failed,
        sms=sms_periods(db) if twilio and twilio.sms_from else None,
        sms_currency=twilio.sms_currency if twilio else "",
    )


def _without_numbers(error: str) -> str:
    """A platform's error may quote the phone number or chat id it refused; the panel shows neither."""
    return PHONE_LIKE.sub("[number]", error)[:200]


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
    if case is None:
        abort(404)
    seen = _found_side(found) if candidate_kind(found) == "found" else _sighting_side(found, case)
    told = delivery_status(db, found["family_message_id"]) if found.get("family_message_id") else None
    if told and told.get("error"):
        told["error"] = _without_numbers(told["error"])
    audit(db, current_user()["username"], "view", f"candidate:{candidate_id}")  # type: ignore[index]
    return render_template(
        "candidate.html",
        c=found,
        case=case,
        case_place=describe_place(case.get("place")),
        case_time=describe_time(case),
        delivery=told,
        reasons=REJECT_REASONS,
        outcomes=OUTCOMES,
        history=history(db, [f"candidate:{candidate_id}"]),
        sure=_how_sure(found),
        **seen,
    )


def _how_sure(found: dict[str, Any]) -> str | None:
    """'about 9 in 10 candidates this close were the same person …', or None where the engine was not measured.
    A candidate scored by its case's template is read against the template's table, and the sentence says so."""
    template = bool(found.get("template"))
    share = calibration.how_sure(homeward().settings.face_engine, found["distance"], template)
    if share is None:
        return None
    close = "this close to a case's several photos together" if template else "this close"
    source = calibration.SOURCE_TEMPLATE if template else calibration.SOURCE
    return f"{calibration.in_words(share)} candidates {close} were the same person, {source}"


def _sighting_side(found: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a sighting candidate's other side: the sighting, its place and time, its other faces."""
    db = homeward().connections.db
    sighting = find_sighting(db, found["sighting"])
    if sighting is None:
        abort(404)
    return {
        "sighting": sighting,
        "sighting_place": describe_place(sighting.get("place")),
        "sighting_time": describe_time(sighting),
        "apart": _apart(case, sighting),
        "others": _other_faces(found, Owner("sighting", sighting["reference"])),
        "show_seen_faces": not found.get("images_dropped_at"),
    }


def _found_side(found: dict[str, Any]) -> dict[str, Any]:
    """A found candidate's other side: the record and the organisation holding the person.

    A deceased person's photos are shown to reviewers and admins only, never to viewers (admin/images.py agrees).
    """
    db = homeward().connections.db
    person = find_found_person(db, found["found"])
    if person is None:
        abort(404)
    shown = not found.get("images_dropped_at") and (person.get("condition") != "deceased" or can("reviewer"))
    return {
        "person": person,
        "organisation": find_organisation(db, person["organisation"]) or {},
        "others": _other_faces(found, found_owner(person["reference"])) if shown else [],
        "show_seen_faces": shown,
    }


def _other_faces(found: dict[str, Any], owner: Owner) -> list[dict[str, Any]]:
    if found.get("images_dropped_at"):
        return []
    engine = homeward().settings.face_engine
    return faces_of_owner(homeward().connections.db, owner, except_face=found["sighting_face_id"], engine=engine)


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
    found = _candidate(candidate_id)
    exact = action == "approve" and request.form.get("exact_place") == "1"  # else the family gets ~100 m
    # The entries go first: a decision is never recorded without them (a refused one gets its own entry).
    audit(db, user, action, f"candidate:{candidate_id}", "exact place shared with the family" if exact else reason)
    audit(db, user, action, f"case:{found['case']}", f"candidate {candidate_id}")
    decided = decide(db, found["_id"], "approved" if action == "approve" else "rejected", user, reason, exact)
    if decided is None:
        audit(db, user, f"{action} refused", f"candidate:{candidate_id}", "already decided")
        flash("This candidate was already decided; nothing was changed.")
        return redirect(url_for("review.candidate", candidate_id=candidate_id))
    metrics.review_decided(decided)
    if action == "approve":
        # Redis down: the messages are stored but not queued; the reconciler queues them within a minute.
        with contextlib.suppress(redis.RedisError):
            tell_family(db, homeward().queue, decided["_id"])
        flash("Approved: the family is being told in their chat.")
    else:
        flash("Rejected; the reason is recorded.")
    return redirect(url_for("review.candidate", candidate_id=candidate_id))


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
