"""GET /media/<token>: one photo for a platform that fetches media by URL, no login.

The signed token (services/media_links.py) is the authority. An expired link
answers 410 and anything else 404, neither saying which photo it was.
"""

from __future__ import annotations

from typing import Any

from bson.errors import InvalidId
from flask import Blueprint, Response, abort

from admin.context import homeward
from services.media_links import LinkExpired, LinkInvalid, photo_of
from storage.found_persons import find_found_person
from storage.photos import find_photo, photo_bytes

blueprint = Blueprint("media", __name__, url_prefix="/media")
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF8", "image/gif"))


@blueprint.get("/<token>")
def photo(token: str) -> Any:
    services = homeward()
    try:
        photo_id = photo_of(services.settings.secret_key, token)
    except LinkExpired:
        abort(410)
    except LinkInvalid:
        abort(404)
    try:
        found = find_photo(services.connections.db, photo_id)
    except InvalidId:
        found = None
    if found is None or _deceased_persons(found):
        abort(404)  # erased since the link was made (or, whatever made the link, a deceased person's photo)
    data = photo_bytes(services.connections.db, found)
    return Response(
        data,
        mimetype=_content_type(data, found.get("content_type") or ""),
        headers={"Cache-Control": "private, no-store"},
    )


def _deceased_persons(photo: dict[str, Any]) -> bool:
    """A photo of a person an organisation recorded as deceased: never sent to a family (services/approval.py)."""
    if photo["owner"]["kind"] != "found":
        return False
    person = find_found_person(homeward().connections.db, photo["owner"]["id"])
    return person is None or person.get("condition") == "deceased"


def _content_type(data: bytes, stored: str) -> str:
    """What the bytes are, read from them; the sender's claim only when they don't say."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return stored if stored.startswith("image/") else "application/octet-stream"
