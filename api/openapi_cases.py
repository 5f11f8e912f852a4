"""The OpenAPI description of /api/v1/cases (api/cases.py); its lists and outcomes are described as found persons'."""

from __future__ import annotations

from typing import Any

from api.openapi_found import FOUND_PATHS
from api.openapi_parts import AGE, ETAG, IDEMPOTENCY, REFERENCE, TIME, json_answer, operation, problem, ref
from core.conversation.catalog import LANGUAGES
from core.conversation.flows import MAX_FREE_TEXT, MAX_GENDER, MAX_NAME, MAX_PLACE
from core.conversation.state import MAX_PHOTOS
from core.outcomes import OUTCOMES
from core.partner_cases import CLOSED_REASONS, FAMILY_CHAT, MAX_EXTERNAL_ID

NULLABLE_TEXT = {"type": ["string", "null"]}
CASE_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": MAX_NAME, "description": "the missing person's name"},
    "age": AGE | {"description": "age in years when reported; or give age_min and age_max"},
    "age_min": AGE,
    "age_max": AGE,
    "gender": NULLABLE_TEXT | {"maxLength": MAX_GENDER, "description": "as the family says it, if kept"},
    "last_seen_place": NULLABLE_TEXT | {"maxLength": MAX_PLACE},
    "last_seen_on": {"type": ["string", "null"], "format": "date", "description": "YYYY-MM-DD"},
    "description": NULLABLE_TEXT | {"maxLength": MAX_FREE_TEXT},
    "language": {"type": "string", "enum": list(LANGUAGES), "default": "en", "description": "the family's"},
    "external_id": NULLABLE_TEXT | {"maxLength": MAX_EXTERNAL_ID, "description": "your own reference"},
}
FAMILY_WHATSAPP = {
    "type": ["string", "null"],
    "pattern": r"^\+[1-9][0-9]{7,14}$",
    "description": "the family's WhatsApp number, given with its agreement: it is asked for consent first",
}
PHOTOS = {"type": "array", "maxItems": MAX_PHOTOS, "items": {"type": "string", "contentMediaType": "image/*"}}
CASE_SCHEMAS: dict[str, Any] = {
    "CaseFields": {"type": "object", "additionalProperties": False, "properties": CASE_FIELDS},
    "NewCase": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": CASE_FIELDS | {"family_whatsapp": FAMILY_WHATSAPP},
    },
    "NewCaseWithPhotos": {
        "type": "object",
        "required": ["record"],
        "properties": {"record": ref("NewCase"), "photos": PHOTOS},
    },
    "Case": {
        "type": "object",
        "properties": CASE_FIELDS
        | {
            "reference": {"type": "string", "examples": ["HW-7K3P"]},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "family_chat": {
                "type": "string",
                "enum": list(FAMILY_CHAT),
                "description": "the family's WhatsApp chat: none given, asked, agreed, declined, withdrawn later, "
                "or unanswered (forgotten after HOMEWARD_KEEP_UNANSWERED_CONSENT_DAYS without an answer)",
            },
            "closed_reason": {"type": ["string", "null"]},
            "created_at": TIME,
            "updated_at": TIME,
            "closed_at": TIME | {"type": ["string", "null"]},
            "photos": {"type": "array", "items": ref("Photo")},
        },
    },
    "CasePage": {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": ref("Case")},
            "next_cursor": {"type": ["string", "null"], "description": "pass as `cursor` for the next page"},
            "limit": {"type": "integer"},
        },
    },
    "CaseCandidate": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["sighting", "found"]},
            "status": {"type": "string", "enum": ["pending", "approved"]},
            "outcome": {"type": ["string", "null"], "enum": [*OUTCOMES, None]},
            "follow_up": {"type": "string"},
            "since": TIME | {"type": ["string", "null"]},
            "outcome_settable": {"type": "boolean"},
            "match": {
                "type": ["object", "null"],
                "description": "once approved, what the approval shares: a sighting's reference, place (to ~100 m) "
                "and time; or the found person's reference, the organisation holding them and its contact details",
            },
        },
    },
    "CaseCandidates": {"type": "object", "properties": {"data": {"type": "array", "items": ref("CaseCandidate")}}},
    "CaseClose": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "enum": list(CLOSED_REASONS)}},
    },
    "CasePhotos": {"type": "object", "properties": {"photos": PHOTOS}},
}
CANDIDATE_ID = {"name": "candidate_id", "in": "path", "required": True, "schema": {"type": "string"}}
FOUND = "/api/v1/found-persons"
LIST_PARAMETERS = FOUND_PATHS[FOUND]["get"]["parameters"]  # the same filters and pages as found persons'


def _refusals(path: str, method: str, *codes: str) -> dict[str, Any]:
    """The found-person route's refusals that a case's route shares (the same checks, the same words)."""
    return {code: FOUND_PATHS[FOUND + path][method]["responses"][code] for code in codes}


CREATE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": ref("NewCase")},
        "multipart/form-data": {
            "schema": ref("NewCaseWithPhotos"),
            "encoding": {"record": {"contentType": "application/json"}},
        },
    },
}
CASE_PATHS: dict[str, Any] = {
    "/api/v1/cases": {
        "post": operation(
            "cases:write",
            "Register a missing person for a family (JSON, or multipart with photos); your organisation reports it",
            {
                "201": json_answer(
                    "Case", "registered (or, retried with its Idempotency-Key, as first registered)", ETAG
                ),
            }
            | _refusals("", "post", "400", "409", "413", "415", "422"),
            parameters=[IDEMPOTENCY],
            requestBody=CREATE_BODY,
        ),
        "get": operation(
            "cases:read",
            "List the cases your organisation registered, least recently changed first, a page at a time",
            {"200": json_answer("CasePage", "a page; follow next_cursor"), "400": problem("a wrong parameter")},
            parameters=LIST_PARAMETERS,
        ),
    },
    "/api/v1/cases/{reference}": {
        "get": operation(
            "cases:read",
            "Read a case, with its photos' analysis and where the family's chat stands",
            {"200": json_answer("Case", "the case", ETAG)},
            parameters=[REFERENCE],
        ),
        "patch": operation(
            "cases:write",
            "Change registered fields (only those sent; the family's number is given only at registration)",
            {
                "200": json_answer("Case", "changed", ETAG),
                "409": problem("the case is closed"),
            }
            | _refusals("/{reference}", "patch", "400", "412", "428"),
            parameters=[
                REFERENCE,
                {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}},
            ],
            requestBody={"required": True, "content": {"application/json": {"schema": ref("CaseFields")}}},
        ),
    },
    "/api/v1/cases/{reference}/close": {
        "post": operation(
            "cases:write",
            "Close the case: it leaves matching",
            {
                "200": json_answer("Case", "closed", ETAG),
            }
            | _refusals("/{reference}/close", "post", "400", "409", "412"),
            parameters=[REFERENCE, IDEMPOTENCY, {"name": "If-Match", "in": "header", "schema": {"type": "string"}}],
            requestBody={"required": True, "content": {"application/json": {"schema": ref("CaseClose")}}},
        ),
    },
    "/api/v1/cases/{reference}/photos": {
        "post": operation(
            "cases:write",
            "Add photos of the missing person; each is analysed by a worker, then matched",
            {
                "201": json_answer("Case", "stored; `photos` shows each one's analysis", ETAG),
                "200": json_answer("Case", "these photos were stored already", ETAG),
                "400": problem("no photo, or more than a case may have"),
                "409": problem("the case is closed"),
            }
            | _refusals("/{reference}/photos", "post", "413", "415"),
            parameters=[REFERENCE, IDEMPOTENCY],
            requestBody={"required": True, "content": {"multipart/form-data": {"schema": ref("CasePhotos")}}},
        ),
    },
    "/api/v1/cases/{reference}/candidates": {
        "get": operation(
            "cases:read",
            "The case's matches as your organisation follows them",
            {"200": json_answer("CaseCandidates", "pending and approved matches, closest first")},
            parameters=[REFERENCE],
        ),
    },
    "/api/v1/cases/{reference}/candidates/{candidate_id}/outcome": {
        "post": operation(
            "outcomes:write",
            "Record what became of an approved match of the case; reunited closes both sides",
            {
                "200": json_answer("CaseCandidate", "recorded"),
            }
            | _refusals("/{reference}/candidates/{candidate_id}/outcome", "post", "400", "409"),
            parameters=[REFERENCE, CANDIDATE_ID, IDEMPOTENCY],
            requestBody={"required": True, "content": {"application/json": {"schema": ref("Outcome")}}},
        ),
    },
}
