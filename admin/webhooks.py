"""POST /webhooks/telegram and /webhooks/twilio: check, parse, store, enqueue, acknowledge.

Nothing slow happens here; the platforms wait for this answer. A repeated
delivery answers 200 and does nothing; ignored updates answer 200 too, or
Telegram would redeliver them forever.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, request

from admin.context import homeward
from bot import telegram, twilio
from workers.inbound import accept

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
    if message is not None:
        accept(services.connections.db, services.queue, message)
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
    if message is not None:
        accept(services.connections.db, services.queue, message)
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")
