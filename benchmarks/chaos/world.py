"""The platforms as the contacts see them: deliver a message as Telegram or Twilio would, wait for the answer."""

from __future__ import annotations

import argparse
import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from twilio.request_validator import RequestValidator

from benchmarks.chaos.people import AUTH, FROM, PEOPLE, REFERENCE, SECRET, TELEGRAM_BACKOFF_S, Contact, Sent, Step
from standins.telegram_api import TelegramStandIn
from standins.twilio_api import TwilioStandIn


class World:
    """The stand-ins, the running product and the bookkeeping every contact thread shares."""

    def __init__(self, port: int, telegram: TelegramStandIn, twilio: TwilioStandIn, args: argparse.Namespace) -> None:
        self.port, self.telegram, self.twilio, self.args = port, telegram, twilio, args
        self.base = f"http://127.0.0.1:{port}"
        self.validator = RequestValidator(AUTH)
        self.ids = itertools.count(1_000_000)
        self.messages_sent = 0
        self.lock = threading.Lock()
        self.telegram_redeliveries = 0
        self.twilio_refused = 0
        self.contacts: list[Contact] = []

    def replies(self, contact: Contact) -> list[dict[str, Any]]:
        if contact.platform == "telegram":
            return self.telegram.by_chat.get(int(contact.address), [])
        return self.twilio.by_to.get(f"whatsapp:{contact.address}", [])

    def post(self, contact: Contact, step: Step) -> bool:
        """Deliver one message as the platform would; False when it never reached Homeward."""
        with self.lock:
            self.messages_sent += 1
        if contact.platform == "telegram":
            return self._telegram(contact, step)
        return self._twilio(contact, step)

    def _telegram(self, contact: Contact, step: Step) -> bool:
        message: dict[str, Any] = {
            "message_id": next(self.ids),
            "date": int(time.time()),
            "chat": {"id": contact.address, "type": "private"},
            "from": {"id": contact.address, "is_bot": False, "first_name": "Chaos"},
        }
        if step.send is None and contact.kind == "hostile":
            file_id = f"clip-{contact.person}-{contact.media_sent}"  # the stand-in holds it (run.py)
            contact.media_sent += 1
            size = len(self.telegram.files[file_id])
            video = {"width": 1280, "height": 720, "duration": 30, "mime_type": "video/mp4", "file_size": size}
            message["video"] = {"file_id": file_id, "file_unique_id": file_id} | video
        elif step.send is None:
            file_id = f"face-{contact.person}"
            message["photo"] = [{"file_id": file_id, "file_unique_id": file_id, "width": 250, "height": 250}]
        else:
            message["text"] = step.send.format(name=_name(contact))
        body = json.dumps({"update_id": next(self.ids), "message": message}).encode()
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        give_up = time.monotonic() + self.args.reply_timeout
        for attempt in itertools.count():
            if _post(f"{self.base}/webhooks/telegram", body, headers):
                return True
            if time.monotonic() >= give_up:
                return False
            with self.lock:
                self.telegram_redeliveries += 1
            time.sleep(TELEGRAM_BACKOFF_S[min(attempt, len(TELEGRAM_BACKOFF_S) - 1)])
        return False  # not reached: count() never ends

    def _twilio(self, contact: Contact, step: Step) -> bool:
        form = {
            "From": f"whatsapp:{contact.address}",
            "To": f"whatsapp:{FROM}",
            "Body": "" if step.send is None else step.send.format(name=_name(contact)),
            "MessageSid": f"SM{next(self.ids):032d}",
            "NumMedia": "0",
            "ProfileName": "Chaos",
            "WaId": str(contact.address).lstrip("+"),
        }
        if step.send is None:
            url = f"{self.twilio.url}/media/ME{contact.person}"  # type: ignore[attr-defined]
            form |= {"NumMedia": "1", "MediaUrl0": url, "MediaContentType0": "image/jpeg"}
        url = f"{self.base}/webhooks/twilio"
        signature = self.validator.compute_signature(url, form)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        if _post(url, urllib.parse.urlencode(form).encode(), headers):
            return True
        with self.lock:
            self.twilio_refused += 1
        return False


def _name(contact: Contact) -> str:
    return PEOPLE[contact.person].replace("_", " ")


def _post(url: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=15) as answer:
            return 200 <= answer.status < 300
    except (urllib.error.URLError, OSError):
        return False  # an error status, a refused connection or a timeout: the platform sees a failure


def converse(world: World, contact: Contact) -> None:
    """The contact's script, one message at a time; it stops at the first message left unanswered."""
    pace = random.Random(str(contact.address))
    for step in contact.script:
        time.sleep(pace.uniform(0.1, 0.6))  # a person reads and types
        before = len(world.replies(contact))
        sent = Sent(step.expect, before, time.time())
        contact.sent.append(sent)
        sent.accepted = world.post(contact, step)
        if not sent.accepted or not _awaitanswered(world, contact, sent, world.args.reply_timeout):
            return
    contact.finished = True


def _awaitanswered(world: World, contact: Contact, sent: Sent, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answered(world, contact, sent):
            return True
        time.sleep(0.2)
    return False


def answered(world: World, contact: Contact, sent: Sent) -> bool:
    for reply in world.replies(contact)[sent.replies_before :]:
        text = reply.get("text") or reply.get("caption") or reply.get("Body") or ""
        if sent.expect in text:
            sent.answered_at, sent.off_script = reply["at"], False
            if found := REFERENCE.search(text):
                contact.reference = found.group(1)
            return True
    sent.off_script = len(world.replies(contact)) > sent.replies_before
    return False
