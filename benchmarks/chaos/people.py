"""Who talks in the chaos run: the accounts they write through, the scripts they follow, what they saw."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BOT_TOKEN, SECRET = "424242:chaos-benchmark-token", "chaos-webhook-secret-0123"
SID, AUTH, FROM = "AC" + "7" * 32, "chaos-twilio-auth-token", "+15550001111"
PEOPLE = ("Aaron_Eckhart", "Colin_Powell", "Tony_Blair", "Hugo_Chavez", "Ariel_Sharon", "Gerhard_Schroeder")


def telegram_env(bot_api_url: str) -> dict[str, str]:
    """The settings that point Homeward's Telegram client at the stand-in Bot API, webhooks on."""
    return {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_API_BASE_URL": bot_api_url,
    }


TELEGRAM_BACKOFF_S = (1, 2, 4, 8, 16)  # then every 16 s, as long as the contact still waits


@dataclass(frozen=True)
class Step:
    send: str | None  # the text; None sends the contact's photo
    expect: str  # a piece of the answer that means the bot understood and moved on


REPORT = (
    Step("hi", "Do you agree?"),
    Step("yes", "What would you like to do?"),
    Step("1", "What is their full name?"),
    Step("{name}", "How old is"),
    Step("34", "gender?"),
    Step("skip", "last seen? Share a location"),
    Step("Central Station, platform 3", "When was"),
    Step("yesterday 5pm", "Describe"),
    Step("blue coat, short dark hair", "clear photos"),
    Step(None, "Photo 1 received"),
    Step("done", "Please check the report"),
    Step("yes", "Its reference is HW-"),
)
SIGHTING = (
    Step("hi", "Do you agree?"),
    Step("yes", "What would you like to do?"),
    Step(None, "Where did you see this person?"),
    Step("Bus stop on Main Street", "When did you see them?"),
    Step("2 hours ago", "Anything else that helps"),
    Step("walking towards the river", "Its reference is SG-"),
)
# A hostile user: three sightings, each a long clip (benchmarks/chaos/hostile.py), one after the other.
HOSTILE = SIGHTING + SIGHTING[2:] * 2
REFERENCE = re.compile(r"reference is ((?:HW|SG)-[0-9A-Z]{4})")


@dataclass
class Sent:
    expect: str
    replies_before: int  # how many messages the chat had before this one was sent
    at: float
    accepted: bool = True  # False: the webhook never took it (a Twilio refusal, or Telegram gave up)
    answered_at: float | None = None
    off_script: bool = False  # answered, but not with what the script expects


@dataclass
class Contact:
    platform: str  # "telegram" or "whatsapp"
    address: int | str  # Telegram chat id or WhatsApp number
    kind: str  # "report", "sighting" or "hostile" (sightings by clip)
    person: int
    sent: list[Sent] = field(default_factory=list)
    reference: str | None = None
    finished: bool = False
    media_sent: int = 0

    @property
    def script(self) -> tuple[Step, ...]:
        return {"report": REPORT, "sighting": SIGHTING, "hostile": HOSTILE}[self.kind]
