"""/api/v1/cases: a police station's or NGO's system registers missing-person reports on behalf of families.

The organisation is the reporter; the case is stored as a family's chat report is, its photos analysed by the usual
photo jobs, so it takes part in matching like any other. The family's WhatsApp number is optional and asked for
consent first (services/partner_cases.py). A key sees only its organisation's cases: another's answer 404.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from typing import Any

from bson import ObjectId
from flask import Response, g, jsonify, request, url_for

from admin.context import homeward
from api.body import built, json_object, read_choice, read_fields
from api.found import checked_photos, record_and_photos
from api.listing import list_query
from api.problems import ApiError, field_error, invalid
from api.records import changed_meanwhile, check_match, page_response, record_response, require_match
from api.routes import blueprint, key_actor, needs, organisation
from core.conversation.state import MAX_PHOTOS
from core.outcomes import OUTCOMES, OutcomeRefused
from core.partner_cases import CLOSED_REASONS, FIELDS, UPDATABLE, PartnerCase, case_public, stored_fields
from services.consistency import reflag_case
from services.found_persons import keep_photos
from services.outcomes import settle
from services.partner_cases import ask_family, candidate_of_case, matches_of_case
from services.partner_events import case_closed
from storage.audit import audit
from storage.cases import close_case, find_case
from storage.partner_cases import (
    case_by_source,
    create_partner_case,
    find_partner_case,
    page_partner_cases,
    update_partner_case,
)
from storage.photos import Owner, photos_of_owner

INTEGERS, DATES = ("age", "age_min", "age_max"), ("last_seen_on",)


@blueprint.post("/v1/cases")
@needs("cases:write")
def case_create() -> Response:
    """Register a missing person for a family (JSON, or multipart: a `record` part and `photos`); 201 with it."""
    db = homeward().connections.db
    body, uploads = record_and_photos(most=MAX_PHOTOS)
    case = _read_case(body, {}, FIELDS)
    twilio = homeward().settings.twilio
    if case.family_whatsapp and not (twilio and twilio.whatsapp_from):  # Twilio may carry SMS alone
        detail = "this Homeward has no WhatsApp channel configured; leave it out, or ask the operator"
        raise invalid([field_error("family_whatsapp", detail)])
    key = g.get("idempotency_key")
    digest = hashlib.sha256(key.encode()).hexdigest()[:32] if key else uuid.uuid4().hex
    source = f"api-case:{organisation()}:{digest}"
    again = case_by_source(db, source) is not None
    reference = create_partner_case(db, organisation(), case, source, by=key_actor())
    keep_photos(db, homeward().queue, Owner("case", reference), uploads)
    ask_family(db, homeward().queue, find_case(db, reference) or {})
    if not again:
        audit(db, key_actor(), "report", f"case:{reference}", f"{len(uploads)} photo(s), by API")
    return _answer(_mine(reference), 201, {"Location": url_for("api.case_read", reference=reference)})


@blueprint.get("/v1/cases")
@needs("cases:read")
def case_index() -> Response:
    """The organisation's cases, least recently changed first, filtered, a page at a time (`next_cursor`)."""
    query, after, limit = list_query()
    rows = page_partner_cases(homeward().connections.db, organisation(), query, after, limit + 1)
    return page_response(rows, limit, case_public, "api.case_index")


@blueprint.get("/v1/cases/<reference>")
@needs("cases:read")
def case_read(reference: str) -> Response:
    return _answer(_mine(reference))


@blueprint.patch("/v1/cases/<reference>")
@needs("cases:write")
def case_update(reference: str) -> Response:
    """Change registered fields (only those sent); If-Match must carry the ETag read, so no change is lost."""
    case = _mine(reference)
    require_match(case_public(case))
    if case.get("status") != "open":
        raise ApiError(409, f"{case['reference']} is closed; a closed case is not changed.", "closed")
    changed = _read_case(json_object(), stored_fields(case), UPDATABLE)
    db = homeward().connections.db
    if not update_partner_case(db, case["reference"], changed, unchanged_since=case["updated_at"]):
        raise changed_meanwhile()
    reflag_case(db, case["reference"])  # a corrected age or gender: its pending candidates' flags follow
    audit(db, key_actor(), "update", f"case:{case['reference']}", ", ".join(sorted(json_object())))
    return _answer(_mine(reference))


@blueprint.post("/v1/cases/<reference>/close")
@needs("cases:write")
def case_close(reference: str) -> Response:
    """Close the case (`reason`: found, withdrawn, duplicate, other): it leaves matching at once."""
    case = _mine(reference)
    if request.headers.get("If-Match"):
        check_match(case_public(case), request.headers["If-Match"])
    reason = read_choice(json_object(), "reason", CLOSED_REASONS)
    if case.get("status") != "open":
        raise ApiError(409, f"{case['reference']} is already closed.", "closed")
    db = homeward().connections.db
    audit(db, key_actor(), "close", f"case:{case['reference']}", reason)
    if close_case(db, case["reference"], by=key_actor(), reason=reason):
        case_closed(db, homeward().queue, case["reference"])
    return _answer(_mine(reference))


@blueprint.post("/v1/cases/<reference>/photos")
@needs("cases:write")
def case_photos(reference: str) -> Response:
    """More photos of an open case (multipart `photos` parts): stored, then analysed and matched by a worker."""
    case = _mine(reference)
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "Send the photos as multipart/form-data parts named `photos`.", "unsupported-media-type")
    if case.get("status") != "open":
        raise ApiError(409, f"{case['reference']} is closed; it takes no more photos.", "closed")
    db, owner = homeward().connections.db, Owner("case", case["reference"])
    already = len(photos_of_owner(db, owner))
    uploads = checked_photos(request.files.getlist("photos"), already, required=True, most=MAX_PHOTOS)
    added = keep_photos(db, homeward().queue, owner, uploads)
    audit(db, key_actor(), "add photos", f"case:{case['reference']}", f"{added} photo(s), by API")
    return _answer(_mine(reference), 201 if added else 200)


@blueprint.get("/v1/cases/<reference>/candidates")
@needs("cases:read")
def case_candidates(reference: str) -> Response:
    """The case's matches as the organisation follows them: no rejected one; what an approval shared, once approved."""
    case = _mine(reference)
    return jsonify({"data": matches_of_case(homeward().connections.db, case["reference"])})


@blueprint.post("/v1/cases/<reference>/candidates/<candidate_id>/outcome")
@needs("outcomes:write")
def case_outcome(reference: str, candidate_id: str) -> Response:
    """What became of an approved match (`outcome`: contacted, reunited, not_the_person, unreachable)."""
    case = _mine(reference)
    db = homeward().connections.db
    row = candidate_of_case(db, case["reference"], candidate_id)
    if row is None:
        detail = f"{case['reference']} has no candidate {candidate_id}; GET its candidates to see them."
        raise ApiError(404, detail, "not-found")
    chosen = read_choice(json_object(), "outcome", list(OUTCOMES))
    audit(db, key_actor(), f"outcome {chosen}", f"candidate:{candidate_id}", f"case:{case['reference']}")
    try:
        settle(db, homeward().queue, ObjectId(row["id"]), chosen, key_actor())
    except OutcomeRefused as refused:
        audit(db, key_actor(), f"outcome {chosen} refused", f"candidate:{candidate_id}", str(refused))
        raise ApiError(409, f"Not recorded: {refused}.", "outcome-refused") from None
    return jsonify(candidate_of_case(db, case["reference"], candidate_id))


def _mine(reference: str) -> dict[str, Any]:
    """The case if the calling organisation registered it; 404 otherwise, as for an unknown reference."""
    case = find_partner_case(homeward().connections.db, reference.strip().upper(), organisation())
    if case is None:
        raise ApiError(404, f"Your organisation has no case {reference}; check the reference.", "not-found")
    return case


def _read_case(body: dict[str, Any], base: dict[str, Any], fields: tuple[str, ...]) -> PartnerCase:
    """The case `body` describes over `base` (the stored fields, for an update); 400 naming each wrong field."""
    values = read_fields(body, fields, {"language": "en"} | base, _type_problem)
    typed = {name: _typed(name, values.get(name)) for name in fields}
    return built(lambda: PartnerCase(**typed), FIELDS)


def _type_problem(name: str, value: Any) -> str | None:
    if value is None:
        return "is required: the missing person's name" if name == "name" else None
    if name in INTEGERS:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number of years"
    if isinstance(value, date) and name in DATES:
        return None  # as stored: the base of an update
    if not isinstance(value, str):
        return "must be a string"
    if name in DATES:
        try:
            date.fromisoformat(value)
        except ValueError:
            return "must be a date as YYYY-MM-DD (2026-12-01)"
    return None


def _typed(name: str, value: Any) -> Any:
    if isinstance(value, date) or value is None or name in INTEGERS:
        return value
    text = value.strip()
    if name in DATES:
        return date.fromisoformat(text)
    return text if text or name == "name" else None


def _answer(case: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return record_response(case_public(case), Owner("case", case["reference"]), status, headers)
