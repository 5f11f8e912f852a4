"""Jobs. Each takes ids, may run twice (retries, redelivery) and then changes nothing more."""

from __future__ import annotations

import logging
from typing import Any

from bson import ObjectId

from core.conversation.catalog import render
from core.errors import PhotoRejected
from core.faces.analysis import PhotoAnalysis, as_case_photo
from core.faces.analysis import analyse_photo as analyse
from core.faces.feedback import photo_feedback
from core.faces.sender import photo_sender
from core.faces.video import VideoAnalysis, VideoFrame, analyse_video, frame_jpeg, looks_like_video
from services.queue import ANALYSIS_ATTEMPTS, Job, enqueue_outbox, match_when_owned, runs
from storage.contacts import language_of
from storage.faces import drop_faces_if_photo_gone, faces_of_photo, follow_photos, store_faces
from storage.outbox import queue_outbound
from storage.photos import (
    Owner,
    delete_photo_ids,
    find_photo,
    finish_analysis,
    move_photos,
    photo_bytes,
    save_photo,
    start_analysis,
)
from workers.context import WorkerContext, current

log = logging.getLogger(__name__)


@runs(Job.ANALYSE_PHOTO)
def analyse_photo(photo_id: str) -> str:
    """Find, judge and encode the faces of a stored photo; return the photo's new status."""
    context = current()
    db, settings = context.connections.db, context.settings
    photo = start_analysis(db, ObjectId(photo_id))
    if photo is None:
        found = find_photo(db, photo_id)
        return "gone" if found is None else str(found["status"])  # erased while queued, or already done
    if photo["attempts"] > ANALYSIS_ATTEMPTS:
        return give_up(context, photo)
    # A case has few photos: the slow path is affordable.
    jitters = settings.case_photo_jitters if _is_case(photo) else 1
    data = photo_bytes(db, photo)
    if not _of_one_person(photo) and looks_like_video(data, photo.get("content_type", "")):
        return _analyse_video(context, photo, data)
    try:
        result = analyse(data, settings.max_photo_bytes, settings.max_photo_pixels, jitters, context.engine)
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
        result = as_case_photo(outcome) if _of_one_person(photo) else outcome
        store_faces(db, photo, result)
        if drop_faces_if_photo_gone(db, photo_id):
            return "gone"
        update = result.photo_fields()
        log.info("photo %s analysed: %d face(s) in %s ms", photo_id, len(result.faces), result.timings_ms)
    # Only the first finisher records and tells the sender; a concurrent duplicate run changes nothing.
    claimed = finish_analysis(db, photo_id, update)
    if claimed is None:
        drop_faces_if_photo_gone(db, photo_id)  # erased between storing the faces and now
        return "gone" if find_photo(db, photo_id) is None else str(update["status"])
    # The photo may have moved from a draft to its case while we worked: faces follow their photo.
    follow_photos(db, [photo_id], claimed["owner"])
    _tell_sender(context, claimed)
    assert context.queue is not None
    match_when_owned(context.queue, claimed["owner"], [photo_id])
    return str(update["status"])


def give_up(context: WorkerContext, photo: dict[str, Any]) -> str:
    """A photo or clip whose analysis died every time it was started: `failed`, its sender asked once for another.

    Only a pending photo is marked, so the sender hears it once, and a failed photo is never queued again.
    """
    detail = f"gave up after {ANALYSIS_ATTEMPTS} attempts"
    log.warning("photo %s: %s", photo["_id"], detail)
    claimed = finish_analysis(
        context.connections.db, photo["_id"], {"status": "failed", "reason": "gave_up", "detail": detail}
    )
    if claimed is not None:
        _tell_sender(context, claimed, [])
    return "failed"


def _of_one_person(photo: dict[str, Any]) -> bool:
    """A case's or found person's photo shows the one person it is of: with others in it, none is matched.

    (Found persons' photos keep one jitter, unlike cases': a bulk import brings thousands.)
    """
    return _is_case(photo) or photo["owner"]["kind"] == "found"


def _is_case(photo: dict[str, Any]) -> bool:
    sender = photo_sender(photo)
    return (sender is not None and sender.purpose == "case") or photo["owner"]["kind"] == "case"


def _analyse_video(context: WorkerContext, video: dict[str, Any], data: bytes) -> str:
    """A sighting's clip: each kept frame becomes an analysed photo of the sighting, then the clip is marked done.

    A clip erased (`delete my data`) while its frames were stored takes them and their faces with it; frames left
    by a run that died before this check are swept by the reconciler (storage/recovery.py).
    """
    db, settings = context.connections.db, context.settings
    try:
        result = analyse_video(data, settings.max_photo_bytes, settings.max_photo_pixels, engine=context.engine)
    except PhotoRejected as rejected:
        log.info("video %s rejected: %s", video["_id"], rejected.reason)
        update = {"status": "rejected", "reason": rejected.reason, "detail": rejected.detail[:500]}
        frame_ids: list[ObjectId] = []
    else:
        frame_ids = [_store_frame(context, video, frame) for frame in result.frames]
        update = _video_record(result, frame_ids)
        log.info(
            "video %s analysed: %d frame(s) sampled, %d face(s) found, %d kept in %s ms",
            video["_id"],
            result.frames_sampled,
            result.faces_found,
            result.faces_kept,
            result.timings_ms,
        )
    claimed = finish_analysis(db, video["_id"], update)
    if claimed is None and find_photo(db, video["_id"]) is None:
        delete_photo_ids(db, frame_ids)  # erased while we worked: frames stored since then must not stay matchable
        return "gone"
    if claimed is not None:
        # The draft may have become a sighting while we worked: the frames and their faces follow the clip.
        move_photos(db, frame_ids, Owner(**claimed["owner"]))
        follow_photos(db, frame_ids, claimed["owner"])
        engine = context.settings.face_engine
        qualities = [face["quality"] for frame_id in frame_ids for face in faces_of_photo(db, frame_id, engine)]
        _tell_sender(context, claimed, qualities)
        assert context.queue is not None
        match_when_owned(context.queue, claimed["owner"], frame_ids)
    return str(update["status"])


def _store_frame(context: WorkerContext, video: dict[str, Any], frame: VideoFrame) -> ObjectId:
    """Save one kept frame as a JPEG photo of the clip's owner, already analysed; a rerun finds it and adds nothing."""
    db = context.connections.db
    saved = save_photo(db, frame_jpeg(frame), Owner(**video["owner"]), "image/jpeg")
    photo = find_photo(db, saved.id)
    assert photo is not None
    height, width = frame.rgb.shape[:2]
    store_faces(db, photo, PhotoAnalysis(width, height, "JPEG", frame.faces, 0, engine=context.engine.info.name))
    record = {"status": "analysed", "reason": "video_frame", "width": width, "height": height, "format": "JPEG"}
    frame_of = {"video_id": video["_id"], "video_seconds": round(frame.seconds, 2)}
    finish_analysis(db, saved.id, record | frame_of | {"face_count": len(frame.faces), "rotation": 0})
    return saved.id


def _video_record(result: VideoAnalysis, frame_ids: list[ObjectId]) -> dict[str, Any]:
    return {
        "status": "analysed",
        "reason": "video_no_face" if not frame_ids else "video",
        "format": "VIDEO",
        "face_count": result.faces_kept,
        "frame_ids": frame_ids,
        "video": {"seconds": round(result.seconds, 1), "frames_sampled": result.frames_sampled},
        "faces_found": result.faces_found,
        "timings_ms": result.timings_ms,
    }


def _tell_sender(context: WorkerContext, photo: dict[str, Any], qualities: list[str] | None = None) -> None:
    sender = photo_sender(photo)
    if sender is None:
        return
    if qualities is None:
        db, engine = context.connections.db, context.settings.face_engine
        qualities = [face["quality"] for face in faces_of_photo(db, photo["_id"], engine)]
    reply = photo_feedback(photo, qualities)
    if reply is None:
        return
    queued = queue_outbound(
        context.connections.db,
        sender.contact,
        sender.channel,
        sender.chat_id,
        render(reply, language_of(context.connections.db, sender.contact)),
        source=f"photo:{photo['_id']}",
    )
    assert context.queue is not None
    enqueue_outbox(context.queue, str(queued))
