"""WhatsApp (and SMS, bot/sms.py) through Twilio: signed form posts in, media fetched with basic auth, messages out.

twilio-python has no base-URL setting, so outbound calls go through a small
HTTP client that swaps the host for TWILIO_API_BASE_URL (a test stand-in in
the tests; api.twilio.com in production, where it changes nothing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels import MediaTooLarge, Outgoing, SendError, Sent
from config.settings import TwilioSettings
from core.conversation.messages import Attachment, Inbound, Location

# Twilio error codes that retrying won't fix: invalid or unreachable numbers, blocked, outside the window.
# Twilio answers 429 when an account's send queue is full and says nothing of how long to wait.
TOO_MANY_WAIT_S = 1.0
PERMANENT_CODES = {21211, 21408, 21610, 21614, 63003, 63016, 63024}


def signature_matches(settings: TwilioSettings, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    """Check X-Twilio-Signature against the public URL Twilio posted to."""
    return bool(signature) and RequestValidator(settings.auth_token).validate(url, dict(form), signature)


def channel_on(settings: TwilioSettings, channel: str) -> bool:
    """Whether this Twilio channel has a sender number, so its messages can be answered."""
    return bool(settings.sms_from if channel == "sms" else settings.whatsapp_from)


def parse_form(form: Mapping[str, str]) -> Inbound | None:
    """A Twilio WhatsApp or SMS webhook as a plain Inbound; None for status callbacks and the like.

    The two share one shape: a WhatsApp sender is `whatsapp:+…`, an SMS sender the bare number.
    """
    sender, sid = form.get("From", ""), form.get("MessageSid", "")
    if not sender or not sid:
        return None
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    attachments = []
    for index in range(_count(form.get("NumMedia"))):
        content_type = form.get(f"MediaContentType{index}", "")
        kind = (
            "photo"
            if content_type.startswith("image/")
            else "video"
            if content_type.startswith("video/")
            else "audio"
            if content_type.startswith("audio/")
            else "document"
        )
        attachments.append(Attachment(kind, form.get(f"MediaUrl{index}", ""), content_type))
    location = None
    if form.get("Latitude") and form.get("Longitude"):
        try:
            label = ", ".join(part for part in (form.get("Label", ""), form.get("Address", "")) if part)
            location = Location(float(form["Latitude"]), float(form["Longitude"]), label)
        except ValueError:
            location = None  # garbled coordinates: the dialog will ask for the place again
    # The chat id is the bare number; "whatsapp:" is Twilio's address syntax, added back when sending.
    return Inbound(channel, sender.removeprefix("whatsapp:"), sid, form.get("Body", ""), tuple(attachments), location)


def _count(value: str | None) -> int:
    try:
        return max(0, min(int(value or 0), 10))
    except ValueError:
        return 0


class _HostSwappingClient(TwilioHttpClient):
    """Sends Twilio API calls to another host, keeping path and query."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=15)
        self._base = urlsplit(base_url)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        swapped = urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, swapped, *args, **kwargs)


class TwilioChannel:
    name = "whatsapp"
    # WhatsApp allows free-form replies within 24 hours of the person's last message; later ones need an
    # approved template (error 63016 otherwise).
    reply_window = timedelta(hours=24)
    fetches_media_by_url = True  # Twilio fetches MediaUrl itself: a signed link served by the web process

    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        http_client = (
            None if settings.api_base_url == "https://api.twilio.com" else _HostSwappingClient(settings.api_base_url)
        )
        self._client = Client(settings.account_sid, settings.auth_token, http_client=http_client)

    def download(self, attachment: Attachment, max_bytes: int) -> bytes:
        """Media URLs need the account's basic auth and redirect to storage."""
        auth = (self._settings.account_sid, self._settings.auth_token)
        with httpx.stream("GET", attachment.ref, auth=auth, follow_redirects=True, timeout=30) as answer:
            answer.raise_for_status()
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise MediaTooLarge(f"over {max_bytes} bytes")
            return bytes(body)

    def send(self, message: Outgoing) -> Sent:
        sender, recipient = f"whatsapp:{self._settings.whatsapp_from}", f"whatsapp:{message.chat_id}"
        if not message.window_open and self._settings.template_sid:
            # An approved template carries only its text variable: outside the window the photo stays behind.
            variables = json.dumps({"1": message.text[:1000]})
            sid = self._create(
                from_=sender, to=recipient, content_sid=self._settings.template_sid, content_variables=variables
            )
            return Sent(sid, "template")
        if message.media_url:  # Twilio fetches the photo from our signed link and attaches it
            sid = self._create(from_=sender, to=recipient, body=message.text[:1600], media_url=[message.media_url])
            return Sent(sid, "photo")
        return Sent(self._create(from_=sender, to=recipient, body=message.text[:1600]))

    def _create(self, **fields: Any) -> str:
        """One Messages.json call; its SID, or SendError saying whether a retry may help."""
        try:
            return str(self._client.messages.create(**fields).sid)
        except TwilioRestException as exc:
            permanent = exc.code in PERMANENT_CODES or (400 <= (exc.status or 500) < 500 and exc.status != 429)
            wait = TOO_MANY_WAIT_S if exc.status == 429 else None  # Twilio's queue is full: a pace, not a fault
            raise SendError(
                f"twilio {exc.status} {exc.code}: {exc.msg}", permanent=permanent, retry_after=wait
            ) from None
        except (OSError, httpx.HTTPError) as exc:
            raise SendError(f"twilio: {exc}", permanent=False) from None
