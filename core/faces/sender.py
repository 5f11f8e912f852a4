"""Whom a photo's analysis reports to: kept with the photo when it is stored, read by the job that analyses it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PhotoSender:
    """Whom to tell what the analysis of their photo found, and how to word it; kept with the photo (`notify`)."""

    contact: str
    channel: str
    chat_id: str
    number: int  # the photo's number in its report or sighting ("photo 2 shows no face")
    purpose: str  # case or sighting: a sighting may show several people, a case photo must show one
    name: str = ""  # the missing person's name, for case photos

    def as_doc(self) -> dict[str, Any]:
        return asdict(self)


def photo_sender(photo: dict[str, Any]) -> PhotoSender | None:
    """The sender kept with a stored photo, or None (a video's frame, or a photo stored before senders were kept)."""
    notify = photo.get("notify")
    return PhotoSender(**notify) if notify else None
