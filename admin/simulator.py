"""/simulator: chat as pretend people, through the same inbound path as Telegram and WhatsApp."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request

from admin.context import homeward
from bot.simulator import keep_upload
from core.conversation.messages import Attachment, Inbound, Location
from storage.outbox import messages_after
from workers.inbound import NotKept, accept

blueprint = Blueprint("simulator", __name__, url_prefix="/simulator")


@blueprint.before_request
def only_when_enabled() -> None:
    if not homeward().settings.simulator:
        abort(404)


@blueprint.get("/")
def page() -> str:
    return render_template("simulator.html")


@blueprint.post("/send")
def send() -> Any:
    services = homeward()
    user = (request.form.get("user") or "").strip()[:40]
    if not user:
        return jsonify(error="choose who is writing"), 400
    attachments = []
    upload = request.files.get("file")
    if upload and upload.filename:
        data = upload.read()
        kind = _kind(upload.mimetype or "")
        ref = (
            keep_upload(services.connections.redis, data)
            if kind in ("photo", "video") and len(data) <= services.settings.max_photo_bytes
            else ""
        )
        attachments.append(Attachment(kind, ref, upload.mimetype or "", len(data)))
    message = Inbound(
        "simulator", user, uuid.uuid4().hex, request.form.get("text", "")[:4000], tuple(attachments), _location()
    )
    try:
        accept(services.connections.db, services.queue, message)
    except NotKept:
        return jsonify(error="the databases are unreachable; send it again in a minute"), 503
    return jsonify(ok=True)


@blueprint.get("/messages")
def messages() -> Any:
    """The bot's replies to one pretend person, oldest first, after a given sequence number."""
    user = request.args.get("user", "")
    after = request.args.get("after", 0, type=int)
    return jsonify(messages=messages_after(homeward().connections.db, f"simulator:{user}", after))


def _kind(mimetype: str) -> str:
    for prefix, kind in (("image/", "photo"), ("video/", "video"), ("audio/", "audio")):
        if mimetype.startswith(prefix):
            return kind
    return "document"


def _location() -> Location | None:
    try:
        latitude, longitude = float(request.form["latitude"]), float(request.form["longitude"])
    except (KeyError, ValueError):
        return None
    return Location(latitude, longitude, request.form.get("address", "")[:200])
