"""Send a contact's queued messages, in order, recording delivery or failure per message."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.channels import Outgoing, SendError
from storage.contacts import find_contact
from storage.outbox import forget_sent, mark_outbound, pending_outbound, recipient_of
from storage.photos import find_photo, photo_bytes
from workers.context import WorkerContext, current
from workers.media_links import photo_link

WHATSAPP_WINDOW = timedelta(hours=24)
log = logging.getLogger(__name__)


def send_outbox(outbox_id: str) -> int:
    """Send what is pending for this message's contact; a temporary failure stops here (order kept) and RQ retries."""
    context = current()
    db = context.connections.db
    contact = recipient_of(db, outbox_id)
    if contact is None:
        return 0  # erased meanwhile
    sent = 0
    with context.connections.redis.lock(f"lock:outbox:{contact}", timeout=300, blocking_timeout=300):
        window_open = _window_open(find_contact(db, contact))
        for message in pending_outbound(db, contact):
            channel = context.channels.get(message["channel"])
            if channel is None:
                mark_outbound(db, message["_id"], "failed", error=f"channel {message['channel']} is not configured")
                continue
            try:
                result = channel.send(
                    Outgoing(
                        message["chat_id"],
                        message["text"],
                        _photo(context, message),
                        window_open,
                        media_url=_media_url(context, message),
                    )
                )
            except SendError as exc:
                log.warning(
                    "sending to a %s contact failed (%s): %s",
                    message["channel"],
                    "permanent" if exc.permanent else "will retry",
                    exc,
                )
                mark_outbound(db, message["_id"], "failed" if exc.permanent else "pending", error=str(exc))
                if exc.permanent:
                    continue
                raise
            _after_send(context, message, result.platform_id, result.sent_as)
            sent += 1
    return sent


def _after_send(context: WorkerContext, message: dict[str, Any], platform_id: str, sent_as: str) -> None:
    db = context.connections.db
    if message.get("erase_after_send"):
        # The goodbye to an erased contact leaves no trace, not even its sequence counter.
        forget_sent(db, message["_id"], message["contact"])
        return
    mark_outbound(db, message["_id"], "sent", platform_id=platform_id, sent_as=sent_as)


def _photo(context: WorkerContext, message: dict[str, Any]) -> bytes | None:
    if not message.get("photo_id"):
        return None
    photo = find_photo(context.connections.db, message["photo_id"])
    return photo_bytes(context.connections.db, photo) if photo else None


def _media_url(context: WorkerContext, message: dict[str, Any]) -> str | None:
    """WhatsApp fetches a photo by URL: a signed link, good for one photo and an hour, served by the web process."""
    settings = context.settings
    if not message.get("photo_id") or message["channel"] != "whatsapp" or not settings.public_base_url:
        return None
    return photo_link(settings.public_base_url, settings.secret_key, str(message["photo_id"]))


def _window_open(doc: dict[str, Any] | None) -> bool:
    last = (doc or {}).get("last_inbound_at")
    if last is None:
        return False
    last = last if last.tzinfo else last.replace(tzinfo=UTC)
    return datetime.now(UTC) - last < WHATSAPP_WINDOW
