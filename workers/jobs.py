"""Jobs. Each takes ids, may run twice (retries, redelivery) and then changes nothing more."""

from __future__ import annotations

import logging
from typing import Any

from core.conversation.catalog import render
from core.errors import PhotoRejected
from core.faces.analysis import PhotoAnalysis, as_case_photo
from core.faces.analysis import analyse_photo as analyse
from core.faces.feedback import photo_feedback
from storage.contacts import language_of
from storage.faces import drop_faces_if_photo_gone, faces_of_photo, move_faces, store_faces
from storage.outbox import queue_outbound
from storage.photos import find_photo, finish_analysis, photo_bytes
from workers.context import WorkerContext, current
from workers.queue import enqueue_matching, enqueue_outbox

log = logging.getLogger(__name__)


def analyse_photo(photo_id: str) -> str:
    """Find, judge and encode the faces of a stored photo; return the photo's new status."""
    context = current()
    db, settings = context.connections.db, context.settings
    photo = find_photo(db, photo_id)
    if photo is None:
        return "gone"  # erased on request while queued: nothing to do
    if photo["status"] != "pending":
        return str(photo["status"])
    jitters = (
        settings.case_photo_jitters if _is_case(photo) else 1
    )  # a case has few photos: the slow path is affordable
    try:
        result = analyse(photo_bytes(db, photo), settings.max_photo_bytes, settings.max_photo_pixels, jitters)
    except PhotoRejected as rejected:
        return record_analysis(context, photo, rejected)
    return record_analysis(context, photo, result)


def record_analysis(context: WorkerContext, photo: dict[str, Any], outcome: PhotoAnalysis | PhotoRejected) -> str:
    """Keep what the analysis found and tell the sender; return the photo's new status.

    The photo may be erased (`delete my data`) while it is being analysed: faces stored
    for a photo that is gone are deleted again, so no face outlives its photo.
    """
    db, photo_id = context.connections.db, photo["_id"]
    if isinstance(outcome, PhotoRejected):
        log.info("photo %s rejected: %s", photo_id, outcome.reason)
        update = {"status": "rejected", "reason": outcome.reason, "detail": outcome.detail[:500]}
    else:
        result = as_case_photo(outcome) if _is_case(photo) else outcome
        store_faces(db, photo, result)
        if drop_faces_if_photo_gone(db, photo_id):
            return "gone"
        update = {
            "status": "analysed",
            "reason": result.verdict,
            "width": result.width,
            "height": result.height,
            "format": result.format,
            "face_count": len(result.faces),
            "timings_ms": result.timings_ms,
        }
        log.info("photo %s analysed: %d face(s) in %s ms", photo_id, len(result.faces), result.timings_ms)
    # Only the first finisher records and tells the sender; a concurrent duplicate run changes nothing.
    claimed = finish_analysis(db, photo_id, update)
    if claimed is None:
        drop_faces_if_photo_gone(db, photo_id)  # erased between storing the faces and now
        return "gone" if find_photo(db, photo_id) is None else str(update["status"])
    # The photo may have moved from a draft to its case while we worked: faces follow their photo.
    move_faces(db, {"photo_id": photo_id}, claimed["owner"])
    _tell_sender(context, claimed)
    if claimed["owner"]["kind"] in ("case", "sighting"):
        assert context.queue is not None
        enqueue_matching(context.queue, str(photo_id))
    return str(update["status"])


def _is_case(photo: dict[str, Any]) -> bool:
    return (photo.get("notify") or {}).get("purpose") == "case" or photo["owner"]["kind"] == "case"


def _tell_sender(context: WorkerContext, photo: dict[str, Any]) -> None:
    notify = photo.get("notify")
    if not notify:
        return
    qualities = [face["quality"] for face in faces_of_photo(context.connections.db, photo["_id"])]
    reply = photo_feedback(photo, qualities)
    if reply is None:
        return
    queued = queue_outbound(
        context.connections.db,
        notify["contact"],
        notify["channel"],
        notify["chat_id"],
        render(reply, language_of(context.connections.db, notify["contact"])),
        source=f"photo:{photo['_id']}",
    )
    assert context.queue is not None
    enqueue_outbox(context.queue, str(queued))
