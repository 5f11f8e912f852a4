"""One door per platform for outbound calls: download a file, send a message.

Every adapter raises SendError with a `permanent` flag: temporary failures
(timeouts, 5xx, rate limits) are retried by the outbox worker, permanent ones
(blocked bot, bad number) are recorded where a reviewer can see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.conversation.messages import Attachment


class SendError(Exception):
    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class MediaTooLarge(Exception):
    """The platform's file is over the photo limit; nothing was kept."""


@dataclass(frozen=True)
class Outgoing:
    chat_id: str
    text: str
    photo: bytes | None = None
    window_open: bool = True  # WhatsApp: did the person write to us in the last 24 hours?
    media_url: str | None = None  # the photo as a signed public link, for platforms that fetch media (WhatsApp)


@dataclass(frozen=True)
class Sent:
    platform_id: str
    sent_as: str = "text"  # text, photo, or template (WhatsApp outside the 24-hour window)


class Channel(Protocol):
    name: str

    def download(self, attachment: Attachment, max_bytes: int) -> bytes: ...

    def send(self, message: Outgoing) -> Sent: ...
