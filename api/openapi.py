"""The API's OpenAPI 3.1 document, written as data next to the routes it describes (tests/test_api_openapi.py
checks that every route is in it, and nothing in it is missing from the routes).

Each family of routes describes itself (api/openapi_found.py, api/openapi_cases.py, api/openapi_hooks.py, all
written with api/openapi_parts.py); this module puts them together with what belongs to the whole document.
"""

from __future__ import annotations

from typing import Any

from api.openapi_cases import CASE_PATHS, CASE_SCHEMAS
from api.openapi_found import FOUND_PATHS, FOUND_SCHEMAS
from api.openapi_hooks import HOOK_PATHS, HOOK_SCHEMAS
from api.openapi_parts import problem
from storage.api_keys import SCOPES

SCHEMAS: dict[str, Any] = (
    {
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
    | FOUND_SCHEMAS
    | CASE_SCHEMAS
    | HOOK_SCHEMAS
)
PATHS: dict[str, Any] = (
    {
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "the OpenAPI document", "content": {"application/json": {}}}},
            }
        },
    }
    | FOUND_PATHS
    | CASE_PATHS
    | HOOK_PATHS
)
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
            "Unauthorized": problem("no key, or a wrong or revoked one"),
            "TooManyRequests": problem("too many calls this minute: wait Retry-After seconds"),
        },
    },
}
