"""What every part of the API's OpenAPI document is written with: shared types, answers and parameters."""

from __future__ import annotations

from typing import Any

from core.found.record import MAX_AGE

TIME = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC"}
AGE = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_AGE}


def problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": ref("Problem")}}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(name: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = {"description": description, "content": {"application/json": {"schema": ref(name)}}}
    return answer | ({"headers": headers} if headers else {})


ETAG = {"ETag": {"schema": {"type": "string"}, "description": "send it back in If-Match to update"}}
COMMON = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "429": {"$ref": "#/components/responses/TooManyRequests"},
}
OWN = COMMON | {"403": problem("the key lacks the scope"), "404": problem("no such record of your organisation")}
REFERENCE = {"name": "reference", "in": "path", "required": True, "schema": {"type": "string"}}
IDEMPOTENCY = {"$ref": "#/components/parameters/IdempotencyKey"}


def operation(scope: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"summary": summary, "security": [{"apiKey": [scope]}], "responses": OWN | responses} | more
