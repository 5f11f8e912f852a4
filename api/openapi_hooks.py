"""The OpenAPI description of /api/v1/webhooks (api/hooks.py): one scope for all of them, `webhooks:write`."""

from __future__ import annotations

from typing import Any

from api.openapi_parts import IDEMPOTENCY, TIME, json_answer, operation, problem, ref
from core.partner_hooks import EVENTS

HOOK = "webhooks:write"
ENDPOINT_ID = {"name": "endpoint_id", "in": "path", "required": True, "schema": {"type": "string"}}
NULL_TIME = TIME | {"type": ["string", "null"]}
HOOK_SCHEMAS: dict[str, Any] = {
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
            ref("Webhook"),
            {
                "type": "object",
                "properties": {"secret": {"type": "string", "description": "whsec_...: shown only in this answer"}},
            },
        ]
    },
    "Webhooks": {"type": "object", "properties": {"data": {"type": "array", "items": ref("Webhook")}}},
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
    "Deliveries": {"type": "object", "properties": {"data": {"type": "array", "items": ref("Delivery")}}},
}
HOOK_PATHS: dict[str, Any] = {
    "/api/v1/webhooks": {
        "post": operation(
            HOOK,
            "Register a webhook endpoint; its secret is in this answer only",
            {
                "201": json_answer("WebhookWithSecret", "registered"),
                "400": problem("a wrong URL (not https, not public) or unknown events, in `errors`"),
            },
            parameters=[IDEMPOTENCY],
            requestBody={"required": True, "content": {"application/json": {"schema": ref("NewWebhook")}}},
        ),
        "get": operation(
            HOOK, "Your organisation's webhook endpoints", {"200": json_answer("Webhooks", "oldest first")}
        ),
    },
    "/api/v1/webhooks/{endpoint_id}": {
        "get": operation(
            HOOK, "Read an endpoint", {"200": json_answer("Webhook", "the endpoint")}, parameters=[ENDPOINT_ID]
        ),
        "delete": operation(
            HOOK,
            "Remove an endpoint; its deliveries still waiting are given up",
            {"204": {"description": "removed"}},
            parameters=[ENDPOINT_ID],
        ),
    },
    "/api/v1/webhooks/{endpoint_id}/rotate": {
        "post": operation(
            HOOK,
            "A new secret (in this answer only); the previous one also signs for 24 hours",
            {"200": json_answer("WebhookWithSecret", "rotated")},
            parameters=[ENDPOINT_ID, IDEMPOTENCY],
        ),
    },
    "/api/v1/webhooks/{endpoint_id}/deliveries": {
        "get": operation(
            HOOK,
            "The endpoint's latest 100 deliveries: status, attempts, last answer and error",
            {"200": json_answer("Deliveries", "newest first")},
            parameters=[ENDPOINT_ID],
        ),
    },
    "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver": {
        "post": operation(
            HOOK,
            "Send a delivered or failed delivery again, with the same event id",
            {"202": json_answer("Delivery", "queued"), "409": problem("still being tried")},
            parameters=[
                ENDPOINT_ID,
                {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "string"}},
                IDEMPOTENCY,
            ],
        ),
    },
}
