"""The OpenAPI description of /api/v1/found-persons (api/found.py)."""

from __future__ import annotations

from typing import Any

from api.openapi_parts import AGE, ETAG, IDEMPOTENCY, REFERENCE, TIME, json_answer, operation, problem, ref
from core.found.record import CLOSED_REASONS, CONDITIONS, GENDERS, MAX_PHOTOS, MAX_TEXT
from core.outcomes import OUTCOMES

TEXT = {"type": "string", "maxLength": MAX_TEXT}
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
FOUND_SCHEMAS: dict[str, Any] = {
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
}
FOUND_PATHS: dict[str, Any] = {
    "/api/v1/found-persons": {
        "post": operation(
            "found:write",
            "Register a found person (JSON, or multipart with photos)",
            {
                "201": json_answer(
                    "FoundPerson", "registered (or, retried with its Idempotency-Key, as first registered)", ETAG
                ),
                "400": problem("wrong fields, each in `errors`"),
                "409": problem(
                    "the first request with this Idempotency-Key is still running, or the external_id is registered"
                ),
                "413": problem("a photo over the size limit"),
                "415": problem("a part that is not a photo, or a body that is not JSON"),
                "422": problem("the Idempotency-Key was used for another request"),
            },
            parameters=[IDEMPOTENCY],
            requestBody={
                "required": True,
                "content": {
                    "application/json": {"schema": ref("NewFoundPerson")},
                    "multipart/form-data": {
                        "schema": ref("NewFoundPersonWithPhotos"),
                        "encoding": {"record": {"contentType": "application/json"}},
                    },
                },
            },
        ),
        "get": operation(
            "found:read",
            "List your organisation's found persons, least recently changed first, a page at a time",
            {"200": json_answer("FoundPersonPage", "a page; follow next_cursor"), "400": problem("a wrong parameter")},
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
        "get": operation(
            "found:read",
            "Read a found person, with its photos' analysis",
            {"200": json_answer("FoundPerson", "the record", ETAG)},
            parameters=[REFERENCE],
        ),
        "patch": operation(
            "found:write",
            "Change registered fields (only those sent)",
            {
                "200": json_answer("FoundPerson", "changed", ETAG),
                "400": problem("wrong fields, each in `errors`"),
                "409": problem("the record is closed, or the external_id is another record's"),
                "412": problem("If-Match differs: the record changed since read"),
                "428": problem("If-Match is missing"),
            },
            parameters=[
                REFERENCE,
                {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}},
            ],
            requestBody={"required": True, "content": {"application/json": {"schema": ref("FoundPersonFields")}}},
        ),
    },
    "/api/v1/found-persons/{reference}/close": {
        "post": operation(
            "found:write",
            "Close the record: it leaves matching",
            {
                "200": json_answer("FoundPerson", "closed", ETAG),
                "400": problem("a wrong reason"),
                "409": problem("already closed"),
                "412": problem("If-Match (optional) differs"),
            },
            parameters=[REFERENCE, IDEMPOTENCY, {"name": "If-Match", "in": "header", "schema": {"type": "string"}}],
            requestBody={"required": True, "content": {"application/json": {"schema": ref("Close")}}},
        ),
    },
    "/api/v1/found-persons/{reference}/photos": {
        "post": operation(
            "found:write",
            "Add photos; each is analysed by a worker, then matched",
            {
                "201": json_answer("FoundPerson", "stored; `photos` shows each one's analysis", ETAG),
                "200": json_answer("FoundPerson", "these photos were stored already", ETAG),
                "400": problem("no photo, or more than the record may have"),
                "409": problem("the record is closed"),
                "413": problem("a photo over the size limit"),
                "415": problem("a part that is not a photo"),
            },
            parameters=[REFERENCE, IDEMPOTENCY],
            requestBody={"required": True, "content": {"multipart/form-data": {"schema": ref("Photos")}}},
        ),
    },
    "/api/v1/found-persons/{reference}/candidates": {
        "get": operation(
            "found:read",
            "The record's matches as your organisation follows them",
            {"200": json_answer("Candidates", "pending and approved matches, newest first")},
            parameters=[REFERENCE],
        ),
    },
    "/api/v1/found-persons/{reference}/candidates/{candidate_id}/outcome": {
        "post": operation(
            "outcomes:write",
            "Record what became of an approved match; reunited closes both sides",
            {
                "200": json_answer("Candidate", "recorded"),
                "400": problem("a wrong outcome"),
                "409": problem("not approved yet, or already reunited"),
            },
            parameters=[
                REFERENCE,
                {"name": "candidate_id", "in": "path", "required": True, "schema": {"type": "string"}},
                IDEMPOTENCY,
            ],
            requestBody={"required": True, "content": {"application/json": {"schema": ref("Outcome")}}},
        ),
    },
}
