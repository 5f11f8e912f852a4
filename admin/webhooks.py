"""POST /webhooks/telegram and /webhooks/twilio (WhatsApp and SMS): check, parse, store, enqueue, acknowledge.

Nothing slow happens here; the platforms wait for this answer. A repeated
delivery answers 200 and does nothing; ignored updates answer 200 too, or
Telegram would redeliver them forever. A message is acknowledged once either
MongoDB or Redis has kept it; only when neither can is the answer 503, so the
platform delivers it again.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, request

from admin.context import Homeward, homeward
from bot import telegram, twilio
from core.conversation.messages import Inbound
from services.inbound import NotKept, accept

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@blueprint.post("/telegram")
def telegram_update() -> Any:
    services = homeward()
    settings = services.settings.telegram
    if settings is None:
        abort(404)
    if not telegram.secret_matches(settings, request.headers.get("X-Telegram-Bot-Api-Secret-Token")):
        abort(403)
    data = request.get_json(silent=True)
    message = None
    try:
        message = telegram.parse_update(data) if isinstance(data, dict) else None
    except Exception:  # noqa: BLE001 - a malformed update must not make Telegram redeliver it forever
        log.warning("ignored an unreadable Telegram update")
    if message is not None and not _kept(services, message):
        return "", 503
    return "", 200


@blueprint.post("/twilio")
def twilio_message() -> Any:
    services = homeward()
    settings = services.settings.twilio
    if settings is None:
        abort(404)
    url = services.settings.public_base_url + request.full_path.rstrip("?")
    if not twilio.signature_matches(settings, url, request.form, request.headers.get("X-Twilio-Signature")):
        abort(403)
    message = twilio.parse_form(request.form)
    if message is not None and not twilio.channel_on(settings, message.channel):
        log.warning("ignored a Twilio %s message: that channel has no sender number configured", message.channel)
        message = None
    if message is not None and not _kept(services, message):
        return Response(EMPTY_TWIML, 503, mimetype="text/xml")
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")


def _kept(services: Homeward, message: Inbound) -> bool:
    """Accept the message; False when neither store could keep it."""
    try:
        accept(services.connections.db, services.queue, message)
    except NotKept as exc:
        log.error("could not keep an inbound %s message, asking for redelivery: %s", message.channel, exc)
        return False
    return True
