"""/api/v1/found-persons: an organisation's systems register, read, update, close and follow their found persons.

The same paths as the panel's registrars: records through storage/found_persons.py checked by FoundPerson, photos
through the panel's photo checks (admin/found_form.py) and services/found_persons.py (stored, then analysed by a
worker), outcomes through services/outcomes.py `settle`. A key sees only its organisation's records.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from flask import Response, g, jsonify, request, url_for
from werkzeug.datastructures import FileStorage

from admin.context import homeward
from admin.found_form import UnreadablePhoto, read_photos
from api.body import json_object, read_choice, read_record
from api.listing import list_query
from api.problems import ApiError, field_error, invalid
from api.records import changed_meanwhile, check_match, page_response, record_response, require_match
from api.routes import blueprint, key_actor, needs, organisation
from core.found.public import found_person_public, match_public
from core.found.record import CLOSED_REASONS, FIELDS, MAX_PHOTOS, InvalidRecord
from core.outcomes import OUTCOMES, OutcomeRefused
from services.consistency import reflag_found
from services.found_persons import keep_found_photos, matches_of_found
from services.outcomes import settle
from services.partner_events import found_person_closed
from storage.audit import audit
from storage.candidates import find_candidate
from storage.found_persons import (
    adopt_external_id,
    close_found_person,
    create_found_person,
    find_by_source,
    find_found_person,
    found_owner,
    import_source,
    page_found_persons,
    update_found_person,
)
from storage.photos import photos_of_owner

TOO_LARGE, NOT_IMAGE = ("too_large_file",), ("not_an_image", "video", "empty")


@blueprint.post("/v1/found-persons")
@needs("found:write")
def create() -> Response:
    """Register a found person (JSON, or multipart: a `record` part of JSON and `photos` parts); 201 with it."""
    db = homeward().connections.db
    body, uploads = record_and_photos()
    record = read_record(body)
    key = g.get("idempotency_key")
    call = f"api:{organisation()}:{hashlib.sha256(key.encode()).hexdigest()[:32] if key else uuid.uuid4().hex}"
    source = import_source(organisation(), record.external_id) if record.external_id else call
    existing = find_by_source(db, source)
    if existing is not None and existing.get("api_request") != call:
        raise _already_registered(existing, record.external_id)
    again = existing is not None
    reference = create_found_person(db, organisation(), record, source, by=key_actor(), api_request=call)
    keep_found_photos(db, homeward().queue, reference, uploads)
    if not again:
        audit(db, key_actor(), "register", f"found:{reference}", f"{len(uploads)} photo(s), by API")
    location = url_for("api.read", reference=reference)
    return _answer(_mine(reference), 201, {"Location": location})


@blueprint.get("/v1/found-persons")
@needs("found:read")
def index() -> Response:
    """The organisation's records, least recently changed first, filtered, a page at a time (`next_cursor`)."""
    query, after, limit = list_query()
    rows = page_found_persons(homeward().connections.db, organisation(), query, after, limit + 1)
    return page_response(rows, limit, found_person_public, "api.index")


@blueprint.get("/v1/found-persons/<reference>")
@needs("found:read")
def read(reference: str) -> Response:
    return _answer(_mine(reference))


@blueprint.patch("/v1/found-persons/<reference>")
@needs("found:write")
def update(reference: str) -> Response:
    """Change registered fields (only those sent); If-Match must carry the ETag read, so no change is lost."""
    found = _mine(reference)
    require_match(found_person_public(found))
    if found.get("status") != "open":
        raise ApiError(409, f"{found['reference']} is closed; a closed record is not changed.", "closed")
    record = read_record(json_object(), base={name: found.get(name) for name in FIELDS})
    db = homeward().connections.db
    renamed = bool(record.external_id) and record.external_id != (found.get("external_id") or "")
    if renamed and (other := find_by_source(db, import_source(organisation(), record.external_id))):
        raise _already_registered(other, record.external_id)
    if not update_found_person(db, found["reference"], record, unchanged_since=found["updated_at"]):
        raise changed_meanwhile()
    if renamed:  # an import of the new id finds this record (one registered meanwhile keeps it: this keeps its old)
        adopt_external_id(db, found["reference"], organisation(), record.external_id)
    reflag_found(db, found["reference"])  # as an import's correction does
    audit(db, key_actor(), "update", f"found:{found['reference']}", ", ".join(sorted(json_object())))
    return _answer(_mine(reference))


@blueprint.post("/v1/found-persons/<reference>/close")
@needs("found:write")
def close(reference: str) -> Response:
    """Close the record (`reason`: reunited, transferred, died, other): it leaves matching at once."""
    found = _mine(reference)
    if request.headers.get("If-Match"):
        check_match(found_person_public(found), request.headers["If-Match"])
    reason = read_choice(json_object(), "reason", CLOSED_REASONS)
    db = homeward().connections.db
    if found.get("status") != "open":
        raise ApiError(409, f"{found['reference']} is already closed ({found.get('closed_reason')}).", "closed")
    audit(db, key_actor(), "close", f"found:{found['reference']}", reason)
    if close_found_person(db, found["reference"], reason, by=key_actor()):
        found_person_closed(db, homeward().queue, found["reference"])
    return _answer(_mine(reference))


@blueprint.post("/v1/found-persons/<reference>/photos")
@needs("found:write")
def add_photos(reference: str) -> Response:
    """More photos of an open record (multipart `photos` parts): stored, then analysed by a worker."""
    found = _mine(reference)
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "Send the photos as multipart/form-data parts named `photos`.", "unsupported-media-type")
    if found.get("status") != "open":
        raise ApiError(409, f"{found['reference']} is closed; it takes no more photos.", "closed")
    db = homeward().connections.db
    already = len(photos_of_owner(db, found_owner(found["reference"])))
    uploads = checked_photos(request.files.getlist("photos"), already, required=True)
    added = keep_found_photos(db, homeward().queue, found["reference"], uploads)
    audit(db, key_actor(), "add photos", f"found:{found['reference']}", f"{added} photo(s), by API")
    return _answer(_mine(reference), 201 if added else 200)


@blueprint.get("/v1/found-persons/<reference>/candidates")
@needs("found:read")
def candidates(reference: str) -> Response:
    """The record's matches as its organisation follows them (no rejected one; a case's reference once approved)."""
    found = _mine(reference)
    rows = matches_of_found(homeward().connections.db, found["reference"], partner=True)
    return jsonify({"data": [match_public(row) for row in rows]})


@blueprint.post("/v1/found-persons/<reference>/candidates/<candidate_id>/outcome")
@needs("outcomes:write")
def outcome(reference: str, candidate_id: str) -> Response:
    """What became of an approved match (`outcome`: contacted, reunited, not_the_person, unreachable)."""
    found = _mine(reference)
    candidate = _candidate_of(found["reference"], candidate_id)
    chosen = read_choice(json_object(), "outcome", list(OUTCOMES))
    db = homeward().connections.db
    audit(db, key_actor(), f"outcome {chosen}", f"candidate:{candidate_id}", f"found:{found['reference']}")
    try:
        settle(db, homeward().queue, candidate["_id"], chosen, key_actor())
    except OutcomeRefused as refused:
        audit(db, key_actor(), f"outcome {chosen} refused", f"candidate:{candidate_id}", str(refused))
        raise ApiError(409, f"Not recorded: {refused}.", "outcome-refused") from None
    row = next(r for r in matches_of_found(db, found["reference"], partner=True) if r["id"] == candidate_id)
    return jsonify(match_public(row))


def record_and_photos(most: int = MAX_PHOTOS) -> tuple[dict[str, Any], list[tuple[bytes, str]]]:
    """A create's JSON object and photos: the body as JSON, or multipart with a `record` part and `photos` parts."""
    if request.mimetype != "multipart/form-data":
        return json_object(), []
    unknown = [name for name in [*request.form, *request.files] if name not in ("record", "photos")]
    if unknown:
        raise invalid([field_error(name, "unknown part; send `record` and `photos`") for name in unknown])
    part = request.files.get("record")
    if part is None and "record" not in request.form:
        raise invalid([field_error("record", "missing: send the record's JSON as a part named `record`")])
    body = json_object(part.read() if part else request.form["record"])
    return body, checked_photos(request.files.getlist("photos"), already=0, most=most)


def _mine(reference: str) -> dict[str, Any]:
    """The record if it is the calling organisation's; 404 otherwise, as for an unknown reference."""
    found = find_found_person(homeward().connections.db, reference.strip().upper(), organisation=organisation())
    if found is None:
        raise ApiError(404, f"Your organisation has no found person {reference}; check the reference.", "not-found")
    return found


def _candidate_of(reference: str, candidate_id: str) -> dict[str, Any]:
    try:
        candidate = find_candidate(homeward().connections.db, ObjectId(candidate_id))
    except (InvalidId, TypeError):
        candidate = None
    if candidate is None or candidate.get("found") != reference or candidate["status"] == "rejected":
        raise ApiError(
            404, f"{reference} has no candidate {candidate_id}; GET its candidates to see them.", "not-found"
        )
    return candidate


def checked_photos(
    files: list[FileStorage], already: int, required: bool = False, most: int = MAX_PHOTOS
) -> list[tuple[bytes, str]]:
    """The photos sent, each checked as the panel's form checks it; nothing is stored when one is refused."""
    chosen = [file for file in files if file and file.filename]
    if not chosen and not required:
        return []
    settings = homeward().settings
    if already + len(chosen) > most:
        detail = f"at most {most} photos per person: it has {already}, you sent {len(chosen)}"
        raise invalid([field_error("photos", detail)])
    try:
        uploads = read_photos(chosen, settings.max_photo_bytes, settings.max_photo_pixels)
    except UnreadablePhoto as exc:
        status, kind = (413, "too-large") if exc.reason in TOO_LARGE else (415, "not-a-photo")
        if exc.reason not in TOO_LARGE + NOT_IMAGE:
            status, kind = 400, "not-a-photo"
        raise ApiError(status, str(exc).removeprefix("Photos: "), kind, [field_error("photos", str(exc))]) from None
    except InvalidRecord as exc:
        raise invalid([field_error("photos", str(exc).removeprefix("Photos: "))]) from None
    return [(upload.data, upload.content_type) for upload in uploads]


def _answer(found: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return record_response(found_person_public(found), found_owner(found["reference"]), status, headers)


def _already_registered(existing: dict[str, Any], external_id: str) -> ApiError:
    """Another call or an import registered this external id: one record per id, changed with PATCH."""
    reference = existing["reference"]
    detail = f"Your organisation registered external_id {external_id!r} already, as {reference}; PATCH that record."
    return ApiError(409, detail, "already-registered", headers={"Location": url_for("api.read", reference=reference)})
