"""Jobs. Each takes ids, may run twice (retries, redelivery) and then changes nothing more."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from core.errors import PhotoRejected
from core.photo_analysis import analyse_photo as analyse
from storage.faces import store_faces
from storage.photos import find_photo, photo_bytes
from workers.context import current

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
    try:
        result = analyse(photo_bytes(db, photo), settings.max_photo_bytes, settings.max_photo_pixels)
    except PhotoRejected as rejected:
        log.info("photo %s rejected: %s", photo_id, rejected.reason)
        update = {"status": "rejected", "reason": rejected.reason, "detail": rejected.detail[:500]}
    else:
        store_faces(db, photo, result)
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
    # Only the first finisher records; a concurrent duplicate run changes nothing.
    db.photos.update_one({"_id": photo["_id"], "status": "pending"}, {"$set": update | {"analysed_at": datetime.now(timezone.utc)}})
    return str(update["status"])
