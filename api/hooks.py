"""/api/v1/webhooks: a partner's systems register, rotate and remove their own webhook endpoints, and read and
redeliver their deliveries.

The same functions as the panel's page (admin/partner_hooks.py) and `homeward hooks` (cli/hooks.py): the URL and
events checked by services/partner_events.py `register_endpoint`, secrets kept sealed by storage/partner_hooks.py,
redeliveries by `redeliver_now`. One scope, `webhooks:write`, for every call: an endpoint decides where the
organisation's events go, so reading or changing them is kept apart from the keys that only read or write records.
A secret is in the answer that made it, once: a retry with the same Idempotency-Key gets the answer without it.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, g, jsonify, url_for

from admin.context import homeward
from api.body import json_object
from api.problems import ApiError, field_error, invalid
from api.routes import blueprint, key_actor, needs, organisation
from core.partner_hooks import EVENTS, HookRefused, check_events, rfc3339
from services.partner_events import redeliver_now, register_endpoint
from storage.audit import audited
from storage.partner_events import LOG_SHOWN, endpoint_log, find_delivery
from storage.partner_hooks import NoSuchEndpoint, list_endpoints, remove_endpoint, require_endpoint, rotate_secret

SCOPE = "webhooks:write"
URL_LIMIT = 2000
NOT_KEPT = "(shown only in the first answer: rotate the secret if it was lost)"


@blueprint.post("/v1/webhooks")
@needs(SCOPE)
def add_webhook() -> Response:
    """Register an endpoint (`url`, `events`: all when left out); 201 with its secret, shown only this once."""
    url, events = _read_endpoint(json_object())
    db, settings = homeward().connections.db, homeward().settings
    try:
        with audited(db, key_actor(), "add webhook", f"organisation:{organisation()}", ", ".join(events)):
            endpoint_id, secret = register_endpoint(
                db, organisation(), url, events, key_actor(), settings.partner_hooks_allow_private
            )
    except HookRefused as refused:
        raise invalid([field_error("url", str(refused))]) from None
    endpoint = require_endpoint(db, endpoint_id, organisation())
    location = url_for("api.read_webhook", endpoint_id=str(endpoint_id))
    return _with_secret(endpoint, secret, 201, {"Location": location})


@blueprint.get("/v1/webhooks")
@needs(SCOPE)
def list_webhooks() -> Response:
    """The organisation's endpoints, oldest first, never their secrets."""
    endpoints = list_endpoints(homeward().connections.db, organisation())
    return jsonify({"data": [endpoint_public(endpoint) for endpoint in endpoints]})


@blueprint.get("/v1/webhooks/<endpoint_id>")
@needs(SCOPE)
def read_webhook(endpoint_id: str) -> Response:
    return jsonify(endpoint_public(_mine(endpoint_id)))


@blueprint.delete("/v1/webhooks/<endpoint_id>")
@needs(SCOPE)
def remove_webhook(endpoint_id: str) -> Response:
    """Stop calling the endpoint; its deliveries still waiting are given up (the panel's log still lists them)."""
    endpoint, db = _mine(endpoint_id), homeward().connections.db
    with audited(db, key_actor(), "remove webhook", f"partner_hook:{endpoint['_id']}"):
        remove_endpoint(db, endpoint["_id"])
    return Response(status=204)


@blueprint.post("/v1/webhooks/<endpoint_id>/rotate")
@needs(SCOPE)
def rotate_webhook(endpoint_id: str) -> Response:
    """A new secret (in the answer, once); the previous one stays valid, and signed with, for 24 hours."""
    endpoint, db = _mine(endpoint_id), homeward().connections.db
    with audited(db, key_actor(), "rotate webhook secret", f"partner_hook:{endpoint['_id']}"):
        secret = rotate_secret(db, endpoint["_id"])
    return _with_secret(require_endpoint(db, endpoint["_id"]), secret, 200)


@blueprint.get("/v1/webhooks/<endpoint_id>/deliveries")
@needs(SCOPE)
def webhook_deliveries(endpoint_id: str) -> Response:
    """The endpoint's latest deliveries, newest first: status, attempts, last answer and error."""
    endpoint = _mine(endpoint_id)
    rows = endpoint_log(homeward().connections.db, endpoint["_id"], LOG_SHOWN)
    return jsonify({"data": [delivery_public(row) for row in rows]})


@blueprint.post("/v1/webhooks/<endpoint_id>/deliveries/<delivery_id>/redeliver")
@needs(SCOPE)
def redeliver_webhook(endpoint_id: str, delivery_id: str) -> Response:
    """Send a delivered or failed delivery again now, with the same event id; 202, it is queued."""
    endpoint, db = _mine(endpoint_id), homeward().connections.db
    delivery = _delivery_of(endpoint, delivery_id)
    with audited(db, key_actor(), "redeliver webhook", f"partner_delivery:{delivery['_id']}"):
        again = redeliver_now(db, homeward().queue, delivery["_id"], organisation())
    if again is None:
        status = delivery["status"]
        detail = (
            f"Delivery {delivery_id} is still being tried ({status}); only a delivered or failed one is sent again."
        )
        raise ApiError(409, detail, "delivery-under-way")
    response = jsonify(delivery_public(again))
    response.status_code = 202
    return response


def endpoint_public(endpoint: dict[str, Any]) -> dict[str, Any]:
    """What a partner reads of an endpoint: never a secret, only until when the previous one still signs."""
    return {
        "id": str(endpoint["_id"]),
        "url": endpoint["url"],
        "events": endpoint["events"],
        "created_at": rfc3339(endpoint.get("created_at")),
        "rotated_at": rfc3339(endpoint.get("rotated_at")),
        "previous_secret_valid_until": rfc3339(endpoint.get("previous_until")),
    }


def delivery_public(delivery: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(delivery["_id"]),
        "event_id": delivery["event_id"],
        "type": delivery["type"],
        "record": delivery["record"],
        "status": delivery["status"],
        "attempts": int(delivery.get("attempts") or 0),
        "last_status": delivery.get("last_status"),
        "last_error": delivery.get("last_error"),
        "created_at": rfc3339(delivery.get("created_at")),
        "next_attempt_at": rfc3339(delivery.get("next_attempt_at")),
        "delivered_at": rfc3339(delivery.get("delivered_at")),
        "failed_at": rfc3339(delivery.get("failed_at")),
    }


def _read_endpoint(body: dict[str, Any]) -> tuple[str, list[str]]:
    """The `url` and `events` of a new endpoint; 400 naming each wrong field."""
    errors = [
        field_error(name, "unknown field; send `url` and `events`") for name in body if name not in ("url", "events")
    ]
    url, events = body.get("url"), body.get("events", list(EVENTS))
    if not isinstance(url, str) or not url.strip() or len(url) > URL_LIMIT:
        errors.append(field_error("url", f"required: the https:// URL to call, at most {URL_LIMIT} characters"))
    if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
        errors.append(field_error("events", f"must be a list among {', '.join(EVENTS)}"))
    else:
        try:
            events = check_events(events)
        except HookRefused as refused:
            errors.append(field_error("events", str(refused)))
    if errors:
        raise invalid(errors)
    return str(url), events


def _with_secret(endpoint: dict[str, Any], secret: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """The endpoint with its new secret; the Idempotency-Key's kept answer has the secret left out."""
    public = endpoint_public(endpoint)
    g.kept_body = json.dumps(public | {"secret": NOT_KEPT}) if "idempotency_key" in g else None
    response = jsonify(public | {"secret": secret})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _mine(endpoint_id: str) -> dict[str, Any]:
    """The endpoint if it is the calling organisation's; 404 otherwise, as for an unknown id."""
    try:
        return require_endpoint(homeward().connections.db, endpoint_id, organisation())
    except NoSuchEndpoint:
        raise ApiError(
            404,
            f"Your organisation has no webhook endpoint {endpoint_id}; GET /api/v1/webhooks lists them.",
            "not-found",
        ) from None


def _delivery_of(endpoint: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    delivery = find_delivery(homeward().connections.db, delivery_id)
    if delivery is None or delivery["endpoint"] != endpoint["_id"]:
        detail = f"Endpoint {endpoint['_id']} has no delivery {delivery_id}; GET its deliveries to see them."
        raise ApiError(404, detail, "not-found")
    return delivery
