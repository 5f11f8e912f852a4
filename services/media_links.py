"""Signed, expiring links to one stored photo, for platforms that fetch media by URL (Twilio WhatsApp).

The token is the only authority: it names exactly one photo, is signed with
the app's secret key under a salt used for nothing else, and expires. The
worker that sends the message makes the link; the web process serves it.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "homeward.media.photo.v1"  # a token made for any other purpose never opens a photo
LINK_SECONDS = 60 * 60  # Twilio fetches within seconds; an hour leaves room for a retried send


class LinkExpired(Exception):
    """The token was genuine but is too old."""


class LinkInvalid(Exception):
    """The token was not made by us for a photo (tampered, truncated, another purpose)."""


def photo_token(secret_key: str, photo_id: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt=SALT).dumps({"photo": photo_id})


def photo_link(base_url: str, secret_key: str, photo_id: str) -> str:
    """The public URL that serves this photo for LINK_SECONDS."""
    return f"{base_url.rstrip('/')}/media/{photo_token(secret_key, photo_id)}"


def photo_of(secret_key: str, token: str, max_age: int = LINK_SECONDS) -> str:
    """The photo id the token grants; raises LinkExpired or LinkInvalid."""
    try:
        payload = URLSafeTimedSerializer(secret_key, salt=SALT).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkExpired from None
    except BadSignature:
        raise LinkInvalid from None
    if not isinstance(payload, dict) or not isinstance(payload.get("photo"), str):
        raise LinkInvalid
    return payload["photo"]
