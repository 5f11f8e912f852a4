"""GET /a/<token>: an approved appeal's public page and its posters, for anyone; no login, cookies or tracking.

The token is the appeal's own unguessable one (storage/appeals.py), never its reference. While the appeal
runs the page shows what the family chose and the posters to download; once it has ended (the person found,
the case closed or erased, the family withdrew it) the page and every poster answer 410 with a neutral
text, and a token never issued (or an appeal never approved) answers 404. The page asks search engines not
to index it, loads nothing from elsewhere, and has the panel's Content-Security-Policy.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template

from admin.context import homeward
from core.appeals.links import bot_links
from core.conversation.catalog import text
from services.appeals import public_appeal, shown
from storage.appeals import POSTER_KINDS, poster_bytes
from storage.cases import find_case

blueprint = Blueprint("public_appeals", __name__, url_prefix="/a")
ENDED = "This appeal has ended. Thank you."
PAGE_WORDS = ("age", "last_seen", "description", "seen", "tell", "careful", "share", "pdf", "png", "phone", "ends")
PUBLIC_HEADERS = {"X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}


@blueprint.get("/<token>")
def page(token: str) -> Any:
    appeal = _running(token)
    if appeal is None:
        return _ended()
    settings = homeward().settings
    case = find_case(homeward().connections.db, appeal["case"]) or {}
    whatsapp = settings.twilio.whatsapp_from if settings.twilio else ""
    html = render_template(
        "public_appeal.html",
        appeal=appeal,
        shown=shown(appeal, case),
        links=bot_links(appeal["reference"], settings.telegram_bot_username, whatsapp),
        token=token,
        words=_words(appeal.get("language") or "en", appeal["reference"]),
    )
    return Response(html, headers=PUBLIC_HEADERS, mimetype="text/html")


@blueprint.get("/<token>/poster-<kind>")
def poster(token: str, kind: str) -> Any:
    if kind not in POSTER_KINDS:
        abort(404)
    appeal = _running(token)
    data = poster_bytes(homeward().connections.db, appeal, kind) if appeal else None
    if data is None:
        return _ended() if appeal is None else abort(404)  # approved, its posters not made yet: a moment
    download = f"attachment; filename=homeward-{appeal['reference']}-{kind.replace('.', '-', 1)}"  # type: ignore[index]
    headers = PUBLIC_HEADERS | {"Content-Disposition": download, "Cache-Control": "no-store"}
    return Response(data, mimetype=POSTER_KINDS[kind], headers=headers)


def _words(language: str, reference: str) -> dict[str, str]:
    """The page's words in the family's language (the catalogue's `page_*` sentences)."""
    return {key: text(f"page_{key}", language, appeal=reference) for key in PAGE_WORDS}


def _running(token: str) -> dict[str, Any] | None:
    """The approved appeal behind the token; None when it has ended; 404 for a token that was never public."""
    appeal = public_appeal(homeward().connections.db, token)
    if appeal is None or appeal["status"] in ("requested", "refused"):
        abort(404)
    return appeal if appeal["status"] == "approved" else None


def _ended() -> Response:
    html = render_template("public_appeal_ended.html", text=ENDED)
    return Response(html, status=410, headers=PUBLIC_HEADERS, mimetype="text/html")
