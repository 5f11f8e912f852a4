"""The API's OpenAPI 3.1 document, written as data next to the routes it describes (tests/test_api_openapi.py
checks that every route is in it, and nothing in it is missing from the routes)."""

from __future__ import annotations

from typing import Any

from core.found.record import CLOSED_REASONS, CONDITIONS, GENDERS, MAX_AGE, MAX_PHOTOS, MAX_TEXT
from core.outcomes import OUTCOMES
from core.partner_hooks import EVENTS
from storage.api_keys import SCOPES

TIME = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC"}
TEXT = {"type": "string", "maxLength": MAX_TEXT}
AGE = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_AGE}
RECORD_FIELDS: dict[str, Any] = {
    "found_on": {"type": "string", "format": "date", "description": "when the person was found (YYYY-MM-DD)"},
    "found_place": TEXT,
    "held_at": TEXT | {"description": "where the organisation holds the person now"},
    "age_min": AGE,
    "age_max": AGE,
    "gender": {"type": "string", "enum": list(GENDERS), "default": "unknown"},
    "condition": {"type": "string", "enum": list(CONDITIONS), "default": "alive"},
    "description": TEXT,
    "external_id": TEXT | {"description": "the organisation's own reference for the person"},
}
SCHEMAS: dict[str, Any] = {
    "FoundPersonFields": {"type": "object", "additionalProperties": False, "properties": RECORD_FIELDS},
    "NewFoundPerson": {
        "type": "object",
        "additionalProperties": False,
        "required": ["found_on"],
        "properties": RECORD_FIELDS,
    },
    "Photo": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "analysed", "rejected", "failed"]},
            "reason": {"type": ["string", "null"]},
            "created_at": TIME,
        },
    },
    "FoundPerson": {
        "type": "object",
        "properties": RECORD_FIELDS
        | {
            "reference": {"type": "string", "examples": ["FP-7K3P"]},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "closed_reason": {"type": ["string", "null"], "enum": [*CLOSED_REASONS, None]},
            "created_at": TIME,
            "updated_at": TIME,
            "closed_at": TIME | {"type": ["string", "null"]},
            "photos": {"type": "array", "items": {"$ref": "#/components/schemas/Photo"}},
        },
    },
    "FoundPersonPage": {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/FoundPerson"}},
            "next_cursor": {"type": ["string", "null"], "description": "pass as `cursor` for the next page"},
            "limit": {"type": "integer"},
        },
    },
    "Candidate": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "approved"]},
            "outcome": {"type": ["string", "null"], "enum": [*OUTCOMES, None]},
            "follow_up": {"type": "string", "description": "what became of it, in words"},
            "case": {"type": ["string", "null"], "description": "the family's case reference, once approved"},
            "since": TIME | {"type": ["string", "null"]},
            "outcome_settable": {"type": "boolean"},
        },
    },
    "Candidates": {
        "type": "object",
        "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Candidate"}}},
    },
    "Close": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "enum": list(CLOSED_REASONS)}},
    },
    "Outcome": {
        "type": "object",
        "additionalProperties": False,
        "required": ["outcome"],
        "properties": {"outcome": {"type": "string", "enum": list(OUTCOMES)}},
    },
    "Photos": {
        "type": "object",
        "properties": {
            "photos": {
                "type": "array",
                "maxItems": MAX_PHOTOS,
                "items": {"type": "string", "contentMediaType": "image/*"},
            }
        },
    },
    "NewFoundPersonWithPhotos": {
        "type": "object",
        "required": ["record"],
        "properties": {
            "record": {"$ref": "#/components/schemas/NewFoundPerson"},
            "photos": {
                "type": "array",
                "maxItems": MAX_PHOTOS,
                "items": {"type": "string", "contentMediaType": "image/*"},
            },
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string", "description": "what went wrong and what to do next"},
            "instance": {"type": "string"},
            "request_id": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "pointer": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = {"description": description, "content": {"application/json": {"schema": _ref(name)}}}
    return answer | ({"headers": headers} if headers else {})


ETAG = {"ETag": {"schema": {"type": "string"}, "description": "send it back in If-Match to update"}}
COMMON = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "429": {"$ref": "#/components/responses/TooManyRequests"},
}
OWN = COMMON | {"403": _problem("the key lacks the scope"), "404": _problem("no such record of your organisation")}
REFERENCE = {"name": "reference", "in": "path", "required": True, "schema": {"type": "string"}}
IDEMPOTENCY = {"$ref": "#/components/parameters/IdempotencyKey"}


def _operation(scope: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"summary": summary, "security": [{"apiKey": [scope]}], "responses": OWN | responses} | more


PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "the OpenAPI document", "content": {"application/json": {}}}},
        }
    },
    "/api/v1/found-persons": {
        "post": _operation(
            "found:write",
            "Register a found person (JSON, or multipart with photos)",
            {
                "201": _json(
                    "FoundPerson", "registered (or, retried with its Idempotency-Key, as first registered)", ETAG
                ),
                "400": _problem("wrong fields, each in `errors`"),
                "409": _problem(
                    "the first request with this Idempotency-Key is still running, or the external_id is registered"
                ),
                "413": _problem("a photo over the size limit"),
                "415": _problem("a part that is not a photo, or a body that is not JSON"),
                "422": _problem("the Idempotency-Key was used for another request"),
            },
            parameters=[IDEMPOTENCY],
            requestBody={
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("NewFoundPerson")},
                    "multipart/form-data": {
                        "schema": _ref("NewFoundPersonWithPhotos"),
                        "encoding": {"record": {"contentType": "application/json"}},
                    },
                },
            },
        ),
        "get": _operation(
            "found:read",
            "List your organisation's found persons, least recently changed first, a page at a time",
            {"200": _json("FoundPersonPage", "a page; follow next_cursor"), "400": _problem("a wrong parameter")},
            parameters=[
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "closed"]}},
                {"name": "external_id", "in": "query", "schema": {"type": "string"}},
                {"name": "updated_since", "in": "query", "schema": TIME},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
                },
                {"name": "cursor", "in": "query", "schema": {"type": "string"}},
            ],
        ),
    },
    "/api/v1/found-persons/{reference}": {
        "get": _operation(
            "found:read",
            "Read a found person, with its photos' analysis",
            {"200": _json("FoundPerson", "the record", ETAG)},
            parameters=[REFERENCE],
        ),
        "patch": _operation(
            "found:write",
            "Change registered fields (only those sent)",
            {
                "200": _json("FoundPerson", "changed", ETAG),
                "400": _problem("wrong fields, each in `errors`"),
                "409": _problem("the record is closed, or the external_id is another record's"),
                "412": _problem("If-Match differs: the record changed since read"),
                "428": _problem("If-Match is missing"),
            },
            parameters=[
                REFERENCE,
                {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}},
            ],
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("FoundPersonFields")}}},
        ),
    },
    "/api/v1/found-persons/{reference}/close": {
        "post": _operation(
            "found:write",
            "Close the record: it leaves matching",
            {
                "200": _json("FoundPerson", "closed", ETAG),
                "400": _problem("a wrong reason"),
                "409": _problem("already closed"),
                "412": _problem("If-Match (optional) differs"),
            },
            parameters=[REFERENCE, IDEMPOTENCY, {"name": "If-Match", "in": "header", "schema": {"type": "string"}}],
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("Close")}}},
        ),
    },
    "/api/v1/found-persons/{reference}/photos": {
        "post": _operation(
            "found:write",
            "Add photos; each is analysed by a worker, then matched",
            {
                "201": _json("FoundPerson", "stored; `photos` shows each one's analysis", ETAG),
                "200": _json("FoundPerson", "these photos were stored already", ETAG),
                "400": _problem("no photo, or more than the record may have"),
                "409": _problem("the record is closed"),
                "413": _problem("a photo over the size limit"),
                "415": _problem("a part that is not a photo"),
            },
            parameters=[REFERENCE, IDEMPOTENCY],
            requestBody={"required": True, "content": {"multipart/form-data": {"schema": _ref("Photos")}}},
        ),
    },
    "/api/v1/found-persons/{reference}/candidates": {
        "get": _operation(
            "found:read",
            "The record's matches as your organisation follows them",
            {"200": _json("Candidates", "pending and approved matches, newest first")},
            parameters=[REFERENCE],
        ),
    },
    "/api/v1/found-persons/{reference}/candidates/{candidate_id}/outcome": {
        "post": _operation(
            "outcomes:write",
            "Record what became of an approved match; reunited closes both sides",
            {
                "200": _json("Candidate", "recorded"),
                "400": _problem("a wrong outcome"),
                "409": _problem("not approved yet, or already reunited"),
            },
            parameters=[
                REFERENCE,
                {"name": "candidate_id", "in": "path", "required": True, "schema": {"type": "string"}},
                IDEMPOTENCY,
            ],
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("Outcome")}}},
        ),
    },
}
# The cases organisations register (api/openapi_cases.py builds them with the helpers above, hence imported here).
from api.openapi_cases import CASE_PATHS, CASE_SCHEMAS  # noqa: E402

SCHEMAS |= CASE_SCHEMAS
PATHS |= CASE_PATHS

# Webhook endpoints (api/hooks.py): one scope for all of them, `webhooks:write`.
HOOK = "webhooks:write"
ENDPOINT_ID = {"name": "endpoint_id", "in": "path", "required": True, "schema": {"type": "string"}}
NULL_TIME = TIME | {"type": ["string", "null"]}
SCHEMAS |= {
    "NewWebhook": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "format": "uri", "description": "https://, on a public address"},
            "events": {
                "type": "array",
                "items": {"type": "string", "enum": list(EVENTS)},
                "description": "the events to send (all when left out)",
            },
        },
    },
    "Webhook": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string", "enum": list(EVENTS)}},
            "created_at": TIME,
            "rotated_at": NULL_TIME,
            "previous_secret_valid_until": NULL_TIME | {"description": "the previous secret signs too until then"},
        },
    },
    "WebhookWithSecret": {
        "allOf": [
            _ref("Webhook"),
            {
                "type": "object",
                "properties": {"secret": {"type": "string", "description": "whsec_...: shown only in this answer"}},
            },
        ]
    },
    "Webhooks": {"type": "object", "properties": {"data": {"type": "array", "items": _ref("Webhook")}}},
    "Delivery": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "event_id": {"type": "string", "description": "the same on every try: dedupe on it"},
            "type": {"type": "string", "enum": list(EVENTS)},
            "record": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "sending", "delivered", "failed"]},
            "attempts": {"type": "integer"},
            "last_status": {"type": ["integer", "null"], "description": "your endpoint's last HTTP answer"},
            "last_error": {"type": ["string", "null"]},
            "created_at": TIME,
            "next_attempt_at": NULL_TIME,
            "delivered_at": NULL_TIME,
            "failed_at": NULL_TIME,
        },
    },
    "Deliveries": {"type": "object", "properties": {"data": {"type": "array", "items": _ref("Delivery")}}},
}
PATHS |= {
    "/api/v1/webhooks": {
        "post": _operation(
            HOOK,
            "Register a webhook endpoint; its secret is in this answer only",
            {
                "201": _json("WebhookWithSecret", "registered"),
                "400": _problem("a wrong URL (not https, not public) or unknown events, in `errors`"),
            },
            parameters=[IDEMPOTENCY],
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("NewWebhook")}}},
        ),
        "get": _operation(HOOK, "Your organisation's webhook endpoints", {"200": _json("Webhooks", "oldest first")}),
    },
    "/api/v1/webhooks/{endpoint_id}": {
        "get": _operation(
            HOOK, "Read an endpoint", {"200": _json("Webhook", "the endpoint")}, parameters=[ENDPOINT_ID]
        ),
        "delete": _operation(
            HOOK,
            "Remove an endpoint; its deliveries still waiting are given up",
            {"204": {"description": "removed"}},
            parameters=[ENDPOINT_ID],
        ),
    },
    "/api/v1/webhooks/{endpoint_id}/rotate": {
        "post": _operation(
            HOOK,
            "A new secret (in this answer only); the previous one also signs for 24 hours",
            {"200": _json("WebhookWithSecret", "rotated")},
            parameters=[ENDPOINT_ID, IDEMPOTENCY],
        ),
    },
    "/api/v1/webhooks/{endpoint_id}/deliveries": {
        "get": _operation(
            HOOK,
            "The endpoint's latest 100 deliveries: status, attempts, last answer and error",
            {"200": _json("Deliveries", "newest first")},
            parameters=[ENDPOINT_ID],
        ),
    },
    "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver": {
        "post": _operation(
            HOOK,
            "Send a delivered or failed delivery again, with the same event id",
            {"202": _json("Delivery", "queued"), "409": _problem("still being tried")},
            parameters=[
                ENDPOINT_ID,
                {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "string"}},
                IDEMPOTENCY,
            ],
        ),
    },
}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Homeward partner API",
        "version": "1.0.0",
        "description": (
            "Organisations' own systems register the found persons they hold, follow their matches and record what "
            "became of them. Authenticate with `Authorization: Bearer hw_...` (a key of your organisation, from the "
            "operator); a key sees only its organisation's records. Errors are application/problem+json (RFC 9457); "
            "every POST takes an Idempotency-Key; times are RFC 3339 UTC; X-Request-Id is echoed."
        ),
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": f"an API key, `hw_...`; scopes: {', '.join(SCOPES)}",
            }
        },
        "parameters": {
            "IdempotencyKey": {
                "name": "Idempotency-Key",
                "in": "header",
                "schema": {"type": "string", "maxLength": 255},
                "description": "a retry with the same key gets the first answer (kept 24 hours), never a second effect",
            }
        },
        "responses": {
            "Unauthorized": _problem("no key, or a wrong or revoked one"),
            "TooManyRequests": _problem("too many calls this minute: wait Retry-After seconds"),
        },
    },
}
