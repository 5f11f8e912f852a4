"""/simulator: chat as pretend people, through the same inbound path as Telegram and WhatsApp.

Anything sent here reaches the review queue, so the simulator asks for a
reviewer login unless HOMEWARD_SIMULATOR=open says on purpose that anyone may
chat (`make run` sets it for a local trial). Listening on loopback is no proof
of a local caller: a reverse proxy on this host makes every visitor local.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for

from admin.auth import can, current_user
from admin.context import homeward
from bot.simulator import UploadsFull, keep_upload
from core.conversation.messages import Attachment, Inbound, Location
from core.sms import as_sent, segments
from services.inbound import NotKept, accept
from storage.outbox import messages_after

blueprint = Blueprint("simulator", __name__, url_prefix="/simulator")


@blueprint.before_request
def only_when_enabled() -> Any:
    settings = homeward().settings
    if not settings.simulator:
        abort(404)
    if settings.simulator_open or can("reviewer"):
        return None
    if current_user() is not None:
        abort(403)
    if request.endpoint == "simulator.page":
        return redirect(url_for("auth.login", next=request.full_path))
    return jsonify(error="log in to the panel as a reviewer first, then reload this page"), 401


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
        try:
            ref = (
                keep_upload(services.connections.redis, data, services.settings.simulator_upload_bytes)
                if kind in ("photo", "video") and len(data) <= services.settings.max_photo_bytes
                else ""
            )
        except UploadsFull:
            return jsonify(error="the simulator holds too many photos right now; send it again in a few minutes"), 429
        attachments.append(Attachment(kind, ref, upload.mimetype or "", len(data)))
    message = Inbound(
        _channel(request.form),
        user,
        uuid.uuid4().hex,
        request.form.get("text", "")[:4000],
        tuple(attachments),
        _location(),
    )
    try:
        accept(services.connections.db, services.queue, message)
    except NotKept:
        return jsonify(error="the databases are unreachable; send it again in a minute"), 503
    return jsonify(ok=True)


@blueprint.get("/messages")
def messages() -> Any:
    """The bot's replies to one pretend person, oldest first, after a given sequence number.

    A pretend SMS phone reads each reply as SMS would carry it, with the segments it takes.
    """
    user, channel = request.args.get("user", ""), _channel(request.args)
    after = request.args.get("after", 0, type=int)
    replies = messages_after(homeward().connections.db, f"{channel}:{user}", after)
    if channel == "simulator-sms":
        replies = [
            reply | {"text": as_sent(reply["text"]), "segments": segments(as_sent(reply["text"]))} for reply in replies
        ]
    return jsonify(messages=replies)


def _channel(fields: Any) -> str:
    """The simulator's channel: a pretend phone without apps (`sms=1`) talks as SMS does, text only."""
    return "simulator-sms" if fields.get("sms") == "1" else "simulator"


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
