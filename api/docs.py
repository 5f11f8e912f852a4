"""The API's documents: /api/v1/openapi.json, and /api/docs, a page rendered here from it (no script, no CDN)."""

from __future__ import annotations

from flask import Response, jsonify, render_template

from api.openapi import DOCUMENT
from api.routes import blueprint

PROBLEMS = {
    "unauthorized": "No valid key: send `Authorization: Bearer hw_...`. A revoked key stops at once; ask for another.",
    "scope": "The key lacks the scope the call needs (named in `detail`); ask the operator for a key with it.",
    "not-found": "No such record of your organisation. Another organisation's records answer the same.",
    "invalid-request": "Each wrong field is in `errors` (its name, a JSON pointer, what to write). Nothing was stored.",
    "unsupported-media-type": "Send JSON as application/json, photos as multipart/form-data.",
    "too-large": "A photo (or the whole body) is over the limit; send a smaller one. Nothing was stored.",
    "not-a-photo": "A part is not a photo that can be read (JPEG, PNG, WebP, HEIC...). Nothing was stored.",
    "precondition-required": "Updates need If-Match with the ETag you read, so no one's change is lost.",
    "precondition-failed": "The record changed since you read it: read it again, then retry.",
    "closed": "A closed record is not changed and takes no photos.",
    "outcome-refused": "Only an approved match takes an outcome, and a reunited one is final.",
    "idempotency-key-reused": "The Idempotency-Key was used for a different request; use a new key.",
    "idempotency-key-in-use": "The first request with this key is still running; retry after Retry-After.",
    "delivery-under-way": "Only a delivered or failed webhook delivery is sent again; this one is still being tried.",
    "already-registered": "Your organisation has this external_id already (made by API or import): PATCH that record.",
    "rate-limited": "Too many calls this minute; wait Retry-After seconds.",
}


@blueprint.get("/v1/openapi.json")
def openapi() -> Response:
    return jsonify(DOCUMENT)


@blueprint.get("/docs")
def docs() -> str:
    return render_template("api_docs.html", document=DOCUMENT, problems=PROBLEMS)
