"""What the sender hears once a worker has looked at their photo (nothing when all is well)."""

from __future__ import annotations

from typing import Any

from core.conversation.messages import Reply
from core.faces.sender import photo_sender
from core.faces.video import MAX_SECONDS


def photo_feedback(photo: dict[str, Any], qualities: list[str]) -> Reply | None:
    """A reply about an analysed, rejected or failed photo; `qualities` has one verdict per face found."""
    sender = photo_sender(photo)
    count = sender.number if sender else 1
    if photo["reason"] in ("video_too_long", "video_unreadable", "video_no_face"):
        return Reply(photo["reason"], {"limit": MAX_SECONDS})
    if photo["reason"] == "video":
        return None  # the kept frames carry the faces; a sighting keeps every person seen
    if photo["status"] == "failed":  # its analysis died every time (workers/jobs.py give_up)
        is_video = photo.get("content_type", "").startswith("video/")
        return Reply("video_failed") if is_video else Reply("feedback_failed", {"count": count})
    if photo["status"] == "rejected":
        return Reply("feedback_unreadable", {"count": count, "why": Reply(f"why_{photo['reason']}")})
    if not qualities:
        return Reply("feedback_no_face", {"count": count})
    if len(qualities) > 1:
        # A sighting keeps every face (the person may be anyone in the crowd); a case needs its one person.
        if sender and sender.purpose == "case":
            return Reply("feedback_several_faces_case", {"count": count, "faces": len(qualities), "name": sender.name})
        return None
    if qualities[0] in ("too_small", "blurred"):
        return Reply(f"feedback_{qualities[0]}", {"count": count})
    return None
