"""Plain chat types: what every channel's message becomes, and what the dialog answers.

bot/ turns Telegram, Twilio and simulator payloads into these; core/ never
sees a platform SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHANNELS = ("telegram", "whatsapp", "sms", "simulator", "simulator-sms")
# Channels that carry no photos: a report there is kept awaiting one (core/conversation/flows.py).
TEXT_ONLY = frozenset({"sms", "simulator-sms"})


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    address: str = ""


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo, video, audio, document, sticker
    ref: str  # how the channel fetches it: a Telegram file_id, a Twilio media URL, a simulator upload key
    content_type: str = ""
    size: int | None = None  # when the platform says, so a huge file is refused before downloading


@dataclass(frozen=True)
class Inbound:
    channel: str
    chat_id: str
    message_id: str  # the platform's id: Telegram update_id, Twilio MessageSid
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    language: str = ""  # the language the platform says the person uses (Telegram's language_code), if any
    group: bool = False  # from a group chat, where one contact would be every member's: refused, content dropped

    @property
    def contact(self) -> str:
        """One key per person per channel, e.g. telegram:1234."""
        return f"{self.channel}:{self.chat_id}"

    @property
    def photos(self) -> list[Attachment]:
        """Pictures to search for faces: photos, and the videos the dialog lets through (sightings only)."""
        return [a for a in self.attachments if a.kind in ("photo", "video")]


@dataclass(frozen=True)
class Reply:
    key: str  # a message in the catalogue
    params: dict[str, Any] = field(default_factory=dict)


def contacts_acting_as(contact: str) -> tuple[str, ...]:
    """The contacts whose reports this one may see and act on: itself, and on WhatsApp the same number's SMS.

    A report made by SMS waits for a photo, which the family can send on WhatsApp from the same phone.
    WhatsApp proves the number; an SMS sender can be forged, so SMS never reaches WhatsApp's reports.
    """
    channel, _, number = contact.partition(":")
    return (contact, f"sms:{number}") if channel == "whatsapp" else (contact,)


def inbound_to_doc(message: Inbound) -> dict[str, Any]:
    return {
        "channel": message.channel,
        "chat_id": message.chat_id,
        "message_id": message.message_id,
        "text": message.text,
        "attachments": [vars(a) for a in message.attachments],
        "location": vars(message.location) if message.location else None,
        **({"language": message.language} if message.language else {}),
        **({"group": True} if message.group else {}),
    }


def inbound_from_doc(doc: dict[str, Any]) -> Inbound:
    return Inbound(
        channel=doc["channel"],
        chat_id=doc["chat_id"],
        message_id=doc["message_id"],
        text=doc.get("text") or "",
        attachments=tuple(Attachment(**a) for a in doc.get("attachments") or ()),
        location=Location(**doc["location"]) if doc.get("location") else None,
        language=doc.get("language") or "",
        group=bool(doc.get("group")),
    )
