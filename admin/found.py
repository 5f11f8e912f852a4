"""Found persons in the panel: a registrar registers and keeps its organisation's; the operator's people read them all.

A registrar sees only its own organisation's records and photos: another organisation's answer 404, as an
unknown reference does, so a guessed reference tells nothing. Every view of a record or a photo is audited,
as a case's is. Registering sends each photo to the workers' analysis the way a chat photo is.

A record's page follows its matches (what each became); a registrar sets the outcome of its approved ones, and
its notifications page lists the families told of its organisation's people (with the unseen count in the menu).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for

from admin.auth import current_user, is_registrar, require, require_one_of
from admin.context import homeward
from admin.found_form import FIELDS, LABELS, form_source, new_token, read_photos, read_record
from core.errors import PhotoRejected
from core.faces.crops import photo_with_boxes
from core.faces.images import decode_photo
from core.found.record import CLOSED_REASONS, CONDITIONS, GENDERS, MAX_PHOTOS, InvalidRecord
from core.outcomes import OUTCOMES, OutcomeRefused
from services.found_persons import keep_found_photos, matches_of_found
from services.outcomes import settle
from services.partner_events import found_person_closed
from storage.audit import audit
from storage.candidates import find_candidate
from storage.found_persons import (
    close_found_person,
    create_found_person,
    families_told,
    find_by_source,
    find_found_person,
    found_owner,
    list_found_persons,
)
from storage.organisations import find_organisation, list_organisations
from storage.partner_cases import case_approvals
from storage.photos import find_photo, photo_bytes, photos_of_owner
from storage.users import note_notifications_seen

blueprint = Blueprint("found", __name__, url_prefix="/found")
THUMBNAIL_PX = 480
IMPORT_PAGE = "found_import.index"  # the bulk import's page (CSV + ZIP), linked from the list when it exists


@blueprint.get("/")
@require("registrar")
def index() -> str:
    """Newest first: a registrar's own organisation's; the operator's people every one's, or one organisation's."""
    db, user = homeward().connections.db, _user()
    organisations = {org["_id"]: org for org in list_organisations(db)}
    if is_registrar(user):
        shown = user["organisation"]
    else:
        chosen = find_organisation(db, request.args["organisation"]) if request.args.get("organisation") else None
        shown = chosen["_id"] if chosen else None
    rows = list_found_persons(db, organisation=shown)
    import_page = IMPORT_PAGE if is_registrar(user) and IMPORT_PAGE in current_app.view_functions else None
    return render_template(
        "found_list.html", rows=rows, organisations=organisations, shown=shown, import_page=import_page
    )


@blueprint.route("/new", methods=["GET", "POST"])
@require_one_of("registrar")
def register() -> Any:
    """The form; sent again with an error it comes back as typed (the photos are chosen again)."""
    if request.method == "GET":
        return _form({}, new_token())
    settings, db, user = homeward().settings, homeward().connections.db, _user()
    token = request.form.get("token", "")
    try:
        record = read_record(request.form)
        uploads = read_photos(request.files.getlist("photos"), settings.max_photo_bytes, settings.max_photo_pixels)
    except InvalidRecord as exc:
        flash(f"Nothing registered yet: {exc}.")
        return _form(request.form, token), 400
    source = form_source(user["organisation"], token)
    again = find_by_source(db, source) is not None  # the same form sent twice: one person, one audit entry
    reference = create_found_person(db, user["organisation"], record, source, by=user["username"])
    # A photo stored by the first sending is known by its bytes and kept once.
    keep_found_photos(db, homeward().queue, reference, [(upload.data, upload.content_type) for upload in uploads])
    if not again:
        audit(db, user["username"], "register", f"found:{reference}", f"{len(uploads)} photo(s)")
    flash(f"Registered {reference} with {len(uploads)} photo(s); their faces are being analysed.")
    return redirect(url_for("found.record", reference=reference))


@blueprint.get("/<reference>")
@require("registrar")
def record(reference: str) -> str:
    db = homeward().connections.db
    found = _visible(reference)
    photos = photos_of_owner(db, found_owner(reference)) if _may_see_photos(found) else []
    audit(db, _user()["username"], "view", f"found:{reference}")
    organisation = find_organisation(db, found["organisation"])
    return render_template(
        "found_record.html",
        record=found,
        photos=photos,
        organisation=organisation,
        reasons=CLOSED_REASONS,
        matches=_matches(reference),
        outcomes=OUTCOMES,
    )


def _matches(reference: str) -> list[dict[str, Any]]:
    """The record's candidates as its organisation follows them (a registrar sees no rejected one)."""
    return matches_of_found(homeward().connections.db, reference, partner=is_registrar(_user()))


@blueprint.post("/<reference>/candidates/<candidate_id>/outcome")
@require_one_of("registrar", "reviewer", "admin")
def outcome(reference: str, candidate_id: str) -> Any:
    """A registrar (or the operator's reviewer) records what became of an approved match of this record.

    Another organisation's record or a candidate not of this record answers 404; one not approved yet, 403.
    The audit entry goes first, as for a reviewer's (admin/outcomes.py).
    """
    db, user = homeward().connections.db, _user()
    _visible(reference)
    try:
        candidate = find_candidate(db, ObjectId(candidate_id))
    except InvalidId:
        abort(404)
    if candidate is None or candidate.get("found") != reference:
        abort(404)
    if candidate["status"] != "approved":
        abort(403)
    chosen = request.form.get("outcome", "")
    if chosen not in OUTCOMES:
        abort(400)
    audit(db, user["username"], f"outcome {chosen}", f"candidate:{candidate_id}", f"found:{reference}")
    try:
        settle(db, homeward().queue, candidate["_id"], chosen, user["username"])
        flash(f"Outcome recorded for case {candidate['case']}: {OUTCOMES[chosen].lower()}.")
    except OutcomeRefused as refused:
        audit(db, user["username"], f"outcome {chosen} refused", f"candidate:{candidate_id}", str(refused))
        flash(f"Not recorded: {refused}")
    return redirect(url_for("found.record", reference=reference))


@blueprint.get("/notifications")
@require_one_of("registrar")
def notifications() -> str:
    """The families told of the organisation's found persons, newest first; opening it clears the menu's count."""
    db, user = homeward().connections.db, _user()
    rows = families_told(db, user["organisation"])
    unseen = len(families_told(db, user["organisation"], since=user.get("notifications_seen_at")))
    rows = [row | {"new": n < unseen} for n, row in enumerate(rows)]  # newest first: the first `unseen` are new
    approvals = case_approvals(db, user["organisation"])  # matches approved on the cases it registered by API
    fresh = len(case_approvals(db, user["organisation"], since=user.get("notifications_seen_at")))
    approvals = [row | {"new": n < fresh} for n, row in enumerate(approvals)]
    user["notifications_seen_at"] = datetime.now(UTC)  # this page's menu already counts them as seen
    note_notifications_seen(db, user["username"], user["notifications_seen_at"])
    audit(db, user["username"], "view", "found:notifications")
    return render_template("found_notifications.html", rows=rows, approvals=approvals)


@blueprint.app_context_processor
def _menu() -> dict[str, Any]:
    return {"notifications_count": notifications_count}


def notifications_count() -> int:
    """How many families were told of the registrar's organisation's found persons, and matches of its cases were
    approved, since it last opened the page."""
    user = current_user()
    if not is_registrar(user):
        return 0
    since = user.get("notifications_seen_at")  # type: ignore[union-attr]
    db, organisation = homeward().connections.db, user["organisation"]  # type: ignore[index]
    return len(families_told(db, organisation, since=since)) + len(case_approvals(db, organisation, since=since))


@blueprint.post("/<reference>/close")
@require_one_of("registrar", "reviewer", "admin")
def close(reference: str) -> Any:
    db, user = homeward().connections.db, _user()
    _visible(reference)
    reason = request.form.get("reason", "")
    if reason not in CLOSED_REASONS:
        flash(f"Nothing changed: choose why it is closed ({', '.join(CLOSED_REASONS)}).")
    elif close_found_person(db, reference, reason, by=user["username"]):
        audit(db, user["username"], "close", f"found:{reference}", reason)
        found_person_closed(db, homeward().queue, reference)
        flash(f"{reference} is closed ({reason}); it no longer takes part in matching.")
    return redirect(url_for("found.record", reference=reference))


@blueprint.get("/<reference>/photos/<photo_id>.jpg")
@require("registrar")
def photo(reference: str, photo_id: str) -> Any:
    """A thumbnail of one of the record's photos, audited before any pixel leaves."""
    db = homeward().connections.db
    found = _visible(reference)
    try:
        stored = find_photo(db, ObjectId(photo_id))
    except InvalidId:
        abort(404)
    if stored is None or stored["owner"] != found_owner(reference).as_doc() or not _may_see_photos(found):
        abort(404)
    audit(db, _user()["username"], "view photo", f"found:{reference}", str(photo_id))
    try:
        rgb = decode_photo(photo_bytes(db, stored)).rgb
    except PhotoRejected:
        abort(404)
    thumbnail = photo_with_boxes(rgb, [], size=THUMBNAIL_PX)
    return Response(thumbnail, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=300"})


def _visible(reference: str) -> dict[str, Any]:
    """The record, if this user may see it: a registrar only its own organisation's (else 404, as if unknown)."""
    user = _user()
    mine = user["organisation"] if is_registrar(user) else None
    found = find_found_person(homeward().connections.db, reference, organisation=mine)
    if found is None:
        abort(404)
    return found


def _may_see_photos(found: dict[str, Any]) -> bool:
    """A deceased person's photos: their organisation's registrars and the operator's reviewers, not its viewers."""
    user = _user()
    return found.get("condition") != "deceased" or user["role"] in ("registrar", "reviewer", "admin")


def _form(values: Any, token: str) -> str:
    return render_template(
        "found_form.html",
        values=values,
        token=token,
        fields=FIELDS,
        labels=LABELS,
        genders=GENDERS,
        conditions=CONDITIONS,
        max_photos=MAX_PHOTOS,
        today=date.today().isoformat(),  # the browser refuses a future date before sending (the record would too)
    )


def _user() -> dict[str, Any]:
    return current_user()  # type: ignore[return-value]
