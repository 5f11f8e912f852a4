"""Telegram through python-telegram-bot: updates in, files down, messages out.

PTB is asynchronous; Homeward's workers are not. The channel keeps one event
loop and one initialised Bot per process and runs each call to completion on
it, so a send costs one HTTP request, not a fresh client and a getMe.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, InputFile, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.channels import MediaTooLarge, Outgoing, SendError, Sent
from config.settings import TelegramSettings
from core.conversation.messages import Attachment, Inbound, Location

T = TypeVar("T")


def secret_matches(settings: TelegramSettings, header: str | None) -> bool:
    """Telegram sends back the secret given to setWebhook; compare in constant time."""
    return bool(header) and hmac.compare_digest(header.encode(), settings.webhook_secret.encode())  # type: ignore[union-attr]


def parse_update(data: dict[str, Any]) -> Inbound | None:
    """An Update's message as a plain Inbound; None for updates Homeward ignores (edits, channel posts).

    A message in a group chat becomes an empty Inbound marked `group`, answered with a pointer to a private chat.
    """
    update = Update.de_json(data, None)
    message = update.message if update else None
    if update is None or message is None or message.chat is None:
        return None
    if message.chat.type != "private":
        # A group, supergroup or channel: one chat id for many people. Keep nothing of what was said,
        # only enough to answer that Homeward works in private chats.
        return Inbound("telegram", str(message.chat.id), str(update.update_id), language=_language(message), group=True)
    return Inbound(
        channel="telegram",
        chat_id=str(message.chat.id),
        message_id=str(update.update_id),
        text=message.text or message.caption or "",
        attachments=_attachments(message),
        location=_location(message),
        language=_language(message),
    )


def _language(message: Message) -> str:
    """The IETF tag of the sender's Telegram app language, e.g. 'hi' or 'en-GB'; '' when not shared."""
    sender = message.from_user
    return ((sender.language_code if sender else None) or "")[:16]


def _attachments(message: Message) -> tuple[Attachment, ...]:
    if message.photo:
        largest = max(message.photo, key=lambda p: p.width * p.height)
        return (Attachment("photo", largest.file_id, "image/jpeg", largest.file_size),)
    if message.document:
        mime = message.document.mime_type or ""
        kind = "photo" if mime.startswith("image/") else "video" if mime.startswith("video/") else "document"
        return (Attachment(kind, message.document.file_id, mime, message.document.file_size),)
    for kind, item in (
        ("video", message.video),
        ("video", message.video_note),
        ("video", message.animation),
        ("audio", message.voice),
        ("audio", message.audio),
        ("sticker", message.sticker),
    ):
        if item is not None:
            return (Attachment(kind, item.file_id, "", getattr(item, "file_size", None)),)
    return ()


def _location(message: Message) -> Location | None:
    if message.venue:
        where = message.venue.location
        return Location(where.latitude, where.longitude, f"{message.venue.title}, {message.venue.address}".strip(", "))
    if message.location:
        return Location(message.location.latitude, message.location.longitude)
    return None


class TelegramChannel:
    name = "telegram"
    reply_window = None  # a bot may write to anyone who started it, at any time
    fetches_media_by_url = False  # photos are uploaded with the message

    def __init__(self, settings: TelegramSettings) -> None:
        root = settings.api_base_url
        self._loop = asyncio.new_event_loop()
        self._bot = Bot(settings.token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot")
        self._ready = False

    def download(self, attachment: Attachment, max_bytes: int) -> bytes:
        async def fetch() -> bytes:
            file = await self._bot.get_file(attachment.ref)
            if file.file_size and file.file_size > max_bytes:
                raise MediaTooLarge(f"{file.file_size} bytes")
            return bytes(await file.download_as_bytearray())

        return self._run(fetch())

    def send(self, message: Outgoing) -> Sent:
        async def deliver() -> Sent:
            if message.document is not None:
                document = InputFile(message.document, filename=message.document_name or "document.pdf")
                sent = await self._bot.send_document(
                    int(message.chat_id), document=document, caption=message.text[:1024]
                )
                return Sent(str(sent.message_id), "document")
            if message.photo is not None:
                sent = await self._bot.send_photo(
                    int(message.chat_id), photo=message.photo, caption=message.text[:1024]
                )
                return Sent(str(sent.message_id), "photo")
            sent = await self._bot.send_message(int(message.chat_id), message.text)
            return Sent(str(sent.message_id))

        try:
            return self._run(deliver())
        except (Forbidden, BadRequest) as exc:  # blocked by the user, chat gone, bad request: retrying won't help
            raise SendError(f"telegram: {exc}", permanent=True) from None
        except RetryAfter as exc:  # Telegram's flood control: "retry after N seconds"
            raise SendError(f"telegram: {exc}", permanent=False, retry_after=_seconds(exc.retry_after)) from None
        except (TimedOut, NetworkError, TelegramError) as exc:
            raise SendError(f"telegram: {exc}", permanent=False) from None

    def set_webhook(self, url: str, secret: str) -> bool:
        return self._run(self._bot.set_webhook(url, secret_token=secret, allowed_updates=["message"]))

    def get_updates(self, offset: int, timeout: int) -> list[dict[str, Any]]:
        updates = self._run(self._bot.get_updates(offset=offset, timeout=timeout, allowed_updates=["message"]))
        return [u.to_dict() for u in updates]

    def _run(self, call: Awaitable[T]) -> T:
        if not self._ready:
            self._loop.run_until_complete(self._bot.initialize())
            self._ready = True
        return self._loop.run_until_complete(call)


def _seconds(wait: float | timedelta) -> float:
    """python-telegram-bot gives the wait in seconds or, in newer versions, as a timedelta."""
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
