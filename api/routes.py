"""The API's blueprint and what every call passes through: its key, its throttle, its audit entry, its scopes.

A call without a valid key answers 401 (WWW-Authenticate: Bearer); a key without the scope a route needs, 403;
a record of another organisation, 404 as an unknown one does, so a guessed reference tells nothing. Every call
with a key is audited under the key's id (`api-key:<id>`) before anything is done: a write (POST, PATCH) as an
entry in the chain, a read (GET) as one cheap record in `api_reads` (storage/api_reads.py) that the reconciler
later vouches for in the chain by batches, so reads no longer queue on the chain's head.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from bson import ObjectId
from flask import Blueprint, g, request

from admin.context import homeward
from api import idempotency
from api.problems import ApiError, problem, unexpected
from api.throttle import retry_after
from storage.api_keys import key_by_secret, note_key_used
from storage.api_reads import record_read
from storage.audit import audit

blueprint = Blueprint("api", __name__, url_prefix="/api", template_folder="templates")
blueprint.register_error_handler(ApiError, problem)
blueprint.register_error_handler(Exception, unexpected)
PUBLIC = {"api.openapi", "api.docs"}  # the documents: read without a key
READS = {"GET", "HEAD", "OPTIONS"}  # recorded in api_reads; a write (POST, PATCH) is chained one entry per call
F = TypeVar("F", bound=Callable[..., Any])


@blueprint.before_request
def authenticate() -> Any:
    """The key, its throttle and its audit entry, then (for a POST) its idempotency key."""
    if request.endpoint in PUBLIC or request.endpoint is None:
        return None
    services = homeward()
    db, limit = services.connections.db, services.settings.api_rate_per_minute
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    key = key_by_secret(db, secret.strip()) if scheme.lower() == "bearer" else None
    who = str(key["_id"]) if key else f"address:{request.remote_addr}"
    wait = retry_after(services.connections.redis, who, limit)
    if wait:
        detail = f"More than {limit} calls in a minute; try again in {wait} s."
        raise ApiError(429, detail, "rate-limited", headers={"Retry-After": str(wait)})
    if key is None:
        audit(db, "(anonymous)", "api key refused", "api-key:unknown", f"from {request.remote_addr}")
        detail = "Send a valid API key as `Authorization: Bearer hw_...`; a revoked key no longer works."
        raise ApiError(401, detail, "unauthorized", headers={"WWW-Authenticate": 'Bearer realm="homeward"'})
    g.api_key = key
    note_key_used(db, key["_id"])
    if request.method in READS:
        route, request_id = str(request.url_rule), g.get("request_id", "")
        record_read(db, key["_id"], key["organisation"], request.method, route, [_target()], request_id)
    else:
        audit(db, key_actor(), f"api {request.method} {request.url_rule}", _target())
    return idempotency.begin()


@blueprint.after_request
def finish(response: Any) -> Any:
    return idempotency.end(response)


def needs(scope: str) -> Callable[[F], F]:
    """The route needs this scope of the key: 403 (with the scope named) without it."""

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if scope not in g.api_key["scopes"]:
                raise ApiError(403, f"This key lacks the scope {scope}; ask the operator for a key with it.", "scope")
            return view(*args, **kwargs)

        guarded.scope = scope  # type: ignore[attr-defined] - the OpenAPI test reads it
        return guarded  # type: ignore[return-value]

    return decorator


def key_actor() -> str:
    """Who the audit log names for this call."""
    return f"api-key:{g.api_key['_id']}"


def organisation() -> ObjectId:
    """The organisation of the calling key: the only one whose records it sees."""
    return g.api_key["organisation"]  # type: ignore[no-any-return]


def _target() -> str:
    args = request.view_args or {}
    if "endpoint_id" in args:
        return f"partner_hook:{args['endpoint_id']}"
    if request.path.startswith("/api/v1/webhooks"):
        return "partner_hook:list"
    if "candidate_id" in args:
        return f"candidate:{args['candidate_id']}"
    kind = "case" if request.path.startswith("/api/v1/cases") else "found"  # the partner's cases, or found persons
    return f"{kind}:{args['reference']}" if "reference" in args else f"{kind}:list"
