"""One door per platform for outbound calls: download a file, send a message.

Every adapter raises SendError with a `permanent` flag: temporary failures
(timeouts, 5xx, rate limits) are retried by the outbox worker, permanent ones
(blocked bot, bad number) are recorded where a reviewer can see them. A rate
limit says how long to wait (`retry_after`), and the reply waits that long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from core.conversation.messages import Attachment


class SendError(Exception):
    """`retry_after`: the platform asked us to wait this many seconds (HTTP 429): a pace, not the message's fault."""

    def __init__(self, message: str, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class MediaTooLarge(Exception):
    """The platform's file is over the photo limit; nothing was kept."""


@dataclass(frozen=True)
class Outgoing:
    chat_id: str
    text: str
    photo: bytes | None = None
    window_open: bool = True  # did the person write to us within the channel's reply window (Channel.reply_window)?
    media_url: str | None = None  # the photo as a signed public link, for channels that fetch media by URL
    document: bytes | None = None  # a file to keep (an appeal's poster as a PDF), sent as a document, not a picture
    document_name: str = ""


@dataclass(frozen=True)
class Sent:
    platform_id: str
    sent_as: str = "text"  # text, photo, document, or template (WhatsApp outside the 24-hour window)
    segments: int | None = None  # SMS: the parts it was billed as (core/sms.py)
    cost: float | None = None  # SMS: segments times the configured price per segment


class Channel(Protocol):
    """A platform's rules the outbox asks about, and its two calls."""

    name: str
    # How long after a person's last message free-form replies may be sent (None: any time).
    reply_window: timedelta | None
    # Whether the platform fetches a photo from a public URL (a signed link) rather than taking its bytes.
    fetches_media_by_url: bool

    def download(self, attachment: Attachment, max_bytes: int) -> bytes: ...

    def send(self, message: Outgoing) -> Sent: ...
