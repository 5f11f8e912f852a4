"""Cases for reviewers: a filtered list, and one case with its photos, candidates and history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from admin.auth import current_user, require
from admin.context import homeward
from core.conversation.answers import describe_place, describe_time
from services.appeals import end_for_case
from services.partner_events import case_closed
from storage.audit import audit, history
from storage.candidates import candidates_of_case, cases_with_pending, pending_per_case
from storage.cases import close_case, find_case, is_open, list_cases
from storage.faces import faces_of_owner
from storage.photos import Owner, photos_of_owner

blueprint = Blueprint("cases", __name__, url_prefix="/cases")
FILTERS = {"open": "open", "closed": "closed", "pending": None, "all": None}  # the status each list shows


@blueprint.get("/")
@require("viewer")
def index() -> str:
    db = homeward().connections.db
    shown = request.args.get("filter", "open")
    status = FILTERS.get(shown, FILTERS["open"])
    rows = list_cases(db, status, among=cases_with_pending(db) if shown == "pending" else None)
    return render_template("cases.html", rows=rows, pending=pending_per_case(db), shown=shown)


@blueprint.get("/<reference>")
@require("viewer")
def case(reference: str) -> str:
    db = homeward().connections.db
    found = find_case(db, reference)
    if found is None:
        abort(404)
    faces = faces_of_owner(db, Owner("case", reference), engine=homeward().settings.face_engine)
    photos = photos_of_owner(db, Owner("case", reference))
    candidates = candidates_of_case(db, reference)
    audit(db, current_user()["username"], "view", f"case:{reference}")  # type: ignore[index]
    targets = [f"case:{reference}"] + [f"candidate:{c['_id']}" for c in candidates]
    return render_template(
        "case.html",
        case=found,
        place=describe_place(found.get("place")),
        time=describe_time(found),
        faces=faces,
        photos=photos,
        candidates=candidates,
        history=history(db, targets),
    )


@blueprint.post("/<reference>/close")
@require("reviewer")
def close(reference: str) -> Any:
    db = homeward().connections.db
    user = current_user()["username"]  # type: ignore[index]
    if not is_open(db, reference):
        return redirect(url_for("cases.case", reference=reference))
    audit(db, user, "close", f"case:{reference}", request.form.get("reason", "")[:300])
    if close_case(db, reference, by=user, now=datetime.now(UTC)):
        case_closed(db, homeward().queue, reference)
        end_for_case(db, homeward().queue, reference, "closed")
        flash(f"{reference} is closed; its faces no longer take part in matching.")
    return redirect(url_for("cases.case", reference=reference))
