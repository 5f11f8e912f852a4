"""A stand-in Twilio REST API: records Messages.json posts (WhatsApp and SMS), serves media behind basic auth.

Like Twilio, it fetches each outbound MediaUrl when the message is created and
keeps what it got, so a test can check that the link really serves the photo.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from flask import Flask, Response, jsonify, request


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    content_type: str
    cache_control: str
    body: bytes


class TwilioStandIn:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.sent: list[dict[str, Any]] = []  # every message sent, in order, with "at" (time.time())
        self.by_to: dict[str, list[dict[str, Any]]] = {}  # the same records, per "whatsapp:+..." recipient
        self.media: dict[str, tuple[bytes, str]] = {}
        self.media_requests: list[bool] = []  # whether each media fetch carried the right credentials
        self.fetched: list[Fetched] = []  # what each outbound MediaUrl answered when fetched
        # How MediaUrls are fetched; a test may route the public host to the app (httpx.WSGITransport).
        self.fetch_with: httpx.Client = httpx.Client(timeout=10)
        self._lock = threading.Lock()
        self.app = self._build()

    def texts(self, to: str) -> list[str]:
        """The WhatsApp messages' bodies sent to a number, in order."""
        return [m.get("Body", "") for m in self.sent if m["To"] == f"whatsapp:{to}"]

    def sms(self, to: str) -> list[str]:
        """The SMS bodies sent to a number (an SMS recipient is the bare number), in order."""
        return [m.get("Body", "") for m in self.sent if m["To"] == to]

    def _fetch(self, url: str) -> Fetched:
        answer = self.fetch_with.get(url)
        headers = answer.headers
        return Fetched(
            url, answer.status_code, headers.get("content-type", ""), headers.get("cache-control", ""), answer.content
        )

    def _build(self) -> Flask:
        app = Flask("twilio-standin")

        @app.post(f"/2010-04-01/Accounts/{self.account_sid}/Messages.json")
        def create_message() -> Any:
            auth = request.authorization
            if not auth or (auth.username, auth.password) != (self.account_sid, self.auth_token):
                return jsonify(code=20003, message="Authenticate", status=401), 401
            urls = request.form.getlist("MediaUrl")
            with self._lock:
                record: dict[str, Any] = dict(request.form) | {"at": time.time()} | ({"MediaUrl": urls} if urls else {})
                self.sent.append(record)
                self.by_to.setdefault(request.form["To"], []).append(record)
                sid = f"SM{len(self.sent):032d}"
            for url in urls:
                self.fetched.append(self._fetch(url))
            return jsonify(sid=sid, status="queued", to=request.form["To"], body=request.form.get("Body", "")), 201

        @app.get("/media/<name>")
        def media(name: str) -> Any:
            auth = request.authorization
            allowed = bool(auth) and (auth.username, auth.password) == (self.account_sid, self.auth_token)
            self.media_requests.append(allowed)
            if not allowed:
                return Response("unauthorised", 401)
            data, content_type = self.media[name]
            return Response(data, 200, content_type=content_type)

        return app
