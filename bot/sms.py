"""SMS through Twilio Programmable SMS: WhatsApp's webhook and client, text only, billed per segment.

Inbound SMS arrive at the same /webhooks/twilio as WhatsApp (bot/twilio.py
tells them apart by the sender's `whatsapp:` prefix). Outbound, a photo
stays behind (the text says what a photo would have shown), a text over
MAX_SEGMENTS parts is shortened with a pointer (core/sms.py), and what was
sent is counted in segments and priced with TWILIO_SMS_PRICE_PER_SEGMENT.
"""

from __future__ import annotations

from bot.channels import Outgoing, Sent
from bot.twilio import TwilioChannel
from core.sms import messages, segments


class SmsChannel(TwilioChannel):
    name = "sms"
    reply_window = None  # SMS may be sent at any time
    fetches_media_by_url = False  # text only: no photo is loaded or linked for it

    def send(self, message: Outgoing) -> Sent:
        bodies = messages(message.text)
        sids = [self._create(from_=self._settings.sms_from, to=message.chat_id, body=body) for body in bodies]
        parts = sum(segments(body) for body in bodies)
        return Sent(sids[0], "text", parts, round(parts * self._settings.sms_price_per_segment, 6))
