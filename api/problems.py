"""Errors as application/problem+json (RFC 9457): a title, what to do next in `detail`, and for a 400 every field.

`type` is a link into the API's documentation page, where each kind of problem says how to fix it; a generic
HTTP refusal (404, 405) keeps `about:blank`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from storage.connections import UNREACHABLE

PROBLEM_TYPE = "application/problem+json"
DOCS = "/api/docs#problem-"
log = logging.getLogger(__name__)


@dataclass
class ApiError(Exception):
    """Raise to answer with a problem document; `errors` lists each field wrong in the request."""

    status: int
    detail: str
    kind: str = ""  # the anchor of its explanation on /api/docs; empty: about:blank
    errors: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def invalid(errors: list[dict[str, str]], detail: str = "") -> ApiError:
    """A 400 naming every field that is wrong (`field`, its JSON `pointer`, and what to write instead)."""
    summary = detail or "The request has wrong fields: " + "; ".join(f"{e['field']}: {e['detail']}" for e in errors)
    return ApiError(400, summary, "invalid-request", errors)


def field_error(name: str, detail: str) -> dict[str, str]:
    return {"field": name, "pointer": f"/{name}" if name else "", "detail": detail}


def problem(error: ApiError) -> Response:
    body: dict[str, Any] = {
        "type": DOCS + error.kind if error.kind else "about:blank",
        "title": HTTPStatus(error.status).phrase,
        "status": error.status,
        "detail": error.detail,
        "instance": request.path,
        "request_id": g.get("request_id", ""),
    }
    if error.errors:
        body["errors"] = error.errors
    response = Response(json.dumps(body, ensure_ascii=False), error.status, mimetype=PROBLEM_TYPE)
    response.headers.update(error.headers)
    return response


def install(app: Flask) -> None:
    """Answer every error under /api/ as a problem document; the panel's pages keep their own."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return problem(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if not request.path.startswith("/api/"):
            return error
        return problem(_from_http(error))


def unexpected(error: Exception) -> Response:
    """Any other failure of an API call (registered on the API's blueprint: the panel keeps Flask's own)."""
    if isinstance(error, UNREACHABLE):
        detail = "The database is unreachable just now; nothing was changed. Try again in a minute."
        return problem(ApiError(503, detail, headers={"Retry-After": "60"}))
    if isinstance(error, HTTPException):
        return problem(_from_http(error))
    log.exception("an API call failed (request %s)", g.get("request_id", ""))
    detail = (
        "Something went wrong on our side. Retry with the same Idempotency-Key (a create is then done once), "
        f"or quote request id {g.get('request_id', '')} to the operator."
    )
    return problem(ApiError(500, detail))


def _from_http(error: HTTPException) -> ApiError:
    status = error.code or 500
    if isinstance(error, RequestEntityTooLarge):
        return ApiError(413, "The request body is too large; send each photo under the photo limit.", "too-large")
    details = {
        404: "No such resource: check the URL, and that the record is your organisation's.",
        405: f"This URL does not take {request.method}; /api/docs lists what each URL takes.",
    }
    headers = {"Allow": ", ".join(error.valid_methods)} if getattr(error, "valid_methods", None) else {}  # type: ignore[attr-defined]
    return ApiError(status, details.get(status, error.description or HTTPStatus(status).phrase), headers=headers)
