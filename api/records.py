"""What every record of the API (a found person, a case) answers alike: its page of a list, its body with photos
and ETag, and the If-Match checks that keep one partner's change from overwriting another's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, request, url_for

from admin.context import homeward
from api.listing import next_cursor
from api.problems import ApiError
from core.found.public import etag, photo_public
from storage.photos import Owner, photos_of_owner


def page_response(
    rows: list[dict[str, Any]], limit: int, public: Callable[[dict[str, Any]], dict[str, Any]], endpoint: str
) -> Response:
    """A list's page from `rows` (asked for one more than `limit`, to know whether another page follows)."""
    page = rows[:limit]
    cursor = next_cursor(page) if len(rows) > limit else None
    response = jsonify({"data": [public(row) for row in page], "next_cursor": cursor, "limit": limit})
    if cursor:
        response.headers["Link"] = f'<{url_for(endpoint, _external=False)}?{next_query(cursor)}>; rel="next"'
    return response


def record_response(
    public: dict[str, Any], owner: Owner, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The record as the API gives it, with its photos' analysis and its ETag (of the record's fields alone)."""
    photos = photos_of_owner(homeward().connections.db, owner)
    response = jsonify(public | {"photos": [photo_public(photo) for photo in photos]})
    response.status_code = status
    response.headers["ETag"] = etag(public)
    response.headers.update(headers or {})
    return response


def require_match(public: dict[str, Any]) -> None:
    """An update must carry If-Match (428 without), and it must be the record's ETag now (412 otherwise)."""
    wanted = request.headers.get("If-Match")
    if not wanted:
        raise ApiError(428, "Send If-Match with the ETag of the record as you last read it.", "precondition-required")
    check_match(public, wanted)


def check_match(public: dict[str, Any], wanted: str) -> None:
    current = etag(public)
    if wanted.strip() != "*" and current not in [tag.strip() for tag in wanted.split(",")]:
        raise changed_meanwhile()


def changed_meanwhile() -> ApiError:
    detail = "The record changed since you read it (If-Match differs from its ETag): GET it again, then retry."
    return ApiError(412, detail, "precondition-failed")


def next_query(cursor: str) -> str:
    return urlencode(request.args.to_dict() | {"cursor": cursor})
