"""Make an approved appeal's posters (A4 PNG and PDF, a phone image) and send them to the family.

Safe to run twice: posters are stored once on the record (a second run finds them), the family's message is
keyed by its source. An appeal that ended meanwhile gets nothing, and posters rendered while it ended are
deleted at once (storage/appeals.py `store_posters`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from config import Settings
from core.appeals.links import bot_links, page_link
from core.appeals.poster import PosterDetails, face_area, poster_pdf, render_poster
from core.errors import PhotoRejected
from core.faces.images import decode_photo, turn
from services.appeals import send_posters, shown
from services.queue import Job, enqueue_volunteer_alerts, runs
from storage.appeals import find_appeal, note_sent, store_posters
from storage.cases import find_case
from storage.connections import Database
from storage.faces import best_face_of_owner
from storage.photos import Owner, find_photo, photo_bytes
from workers.context import current

log = logging.getLogger(__name__)


@runs(Job.RENDER_APPEAL)
def render_appeal(reference: str) -> str:
    """Render, keep and send; what happened, for the job's result."""
    context = current()
    db, settings = context.connections.db, context.settings
    appeal = find_appeal(db, reference)
    if appeal is None or appeal["status"] != "approved":
        return "not approved"
    if not appeal.get("posters"):
        case = find_case(db, appeal["case"])
        if case is None:
            return "case gone"
        if not store_posters(db, reference, render_all(appeal, case, _photo(db, appeal), settings)):
            return "ended meanwhile"
        appeal = find_appeal(db, reference) or appeal
    assert context.queue is not None
    send_posters(db, context.queue, appeal, settings)
    enqueue_volunteer_alerts(context.queue, reference)  # before noting it sent: a crash between queues both again
    note_sent(db, reference)
    return "sent"


def render_all(
    appeal: dict[str, Any], case: dict[str, Any], photo: np.ndarray | None, settings: Settings
) -> dict[str, bytes]:
    """The three files of an appeal's poster, in the family's language."""
    details = poster_details(appeal, case, settings)
    a4 = render_poster(details, photo, "a4")
    return {"a4.png": a4, "a4.pdf": poster_pdf(a4), "phone.png": render_poster(details, photo, "phone")}


def poster_details(appeal: dict[str, Any], case: dict[str, Any], settings: Settings) -> PosterDetails:
    """Only what the family chose to show; the last-seen place as typed (an area), never coordinates."""
    reference = appeal["reference"]
    page = page_link(settings.public_base_url, appeal["token"])
    whatsapp = settings.twilio.whatsapp_from if settings.twilio else ""
    links = bot_links(reference, settings.telegram_bot_username, whatsapp)
    return PosterDetails(
        reference=reference,
        language=appeal.get("language") or "en",
        link=links[0] if links else page,
        page=page,
        **shown(appeal, case),
    )


def _photo(db: Database, appeal: dict[str, Any]) -> np.ndarray | None:
    """The case's largest usable face, cut as a portrait, when the family chose to show it."""
    if not (appeal.get("choices") or {}).get("photo"):
        return None
    face = best_face_of_owner(db, Owner("case", appeal["case"]))
    photo = find_photo(db, face["photo_id"]) if face else None
    if face is None or photo is None:
        return None
    try:
        rgb = decode_photo(photo_bytes(db, photo)).rgb
    except PhotoRejected:
        log.warning("appeal %s: its photo no longer decodes; the poster goes without", appeal["reference"])
        return None
    if photo.get("rotation"):
        rgb = turn(rgb, int(photo["rotation"]))
    return face_area(rgb, tuple(face["box"]))  # type: ignore[arg-type]
