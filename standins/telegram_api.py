"""A stand-in Telegram Bot API: records sendMessage/sendPhoto/sendDocument, serves getFile and file downloads."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from flask import Flask, abort, jsonify, request


class TelegramStandIn:
    def __init__(self, token: str) -> None:
        self.token = token
        self.sent: list[dict[str, Any]] = []  # every message the bot sent, in order, with "at" (time.time())
        self.by_chat: dict[int, list[dict[str, Any]]] = {}  # the same records, per chat
        self.files: dict[str, bytes] = {}  # file_id -> bytes, served through getFile
        self.fail_next: list[int] = []  # HTTP statuses to answer the next sends with
        self.retry_after = 3  # seconds a 429 asks to wait
        self.updates: list[dict[str, Any]] = []  # served once by getUpdates
        self._lock = threading.Lock()
        self.app = self._build()

    def add_file(self, file_id: str, data: bytes) -> None:
        self.files[file_id] = data

    def texts(self, chat_id: int) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.sent if int(m["chat_id"]) == chat_id]

    def _build(self) -> Flask:
        app = Flask("telegram-standin")

        @app.post(f"/bot{self.token}/<method>")
        def call(method: str) -> Any:
            params = {k: _maybe_json(v) for k, v in request.form.items()} | (request.get_json(silent=True) or {})
            if method == "getMe":
                return _ok({"id": 1, "is_bot": True, "first_name": "Homeward", "username": "homeward_test_bot"})
            if method == "getFile":
                file_id = params["file_id"]
                if file_id not in self.files:
                    return jsonify(ok=False, error_code=400, description="Bad Request: invalid file_id"), 400
                return _ok(
                    {
                        "file_id": file_id,
                        "file_unique_id": file_id,
                        "file_size": len(self.files[file_id]),
                        "file_path": f"photos/{file_id}.jpg",
                    }
                )
            if method == "getUpdates":
                offset = int(params.get("offset") or 0)
                waiting = [u for u in self.updates if u["update_id"] >= offset]
                if not waiting:
                    time.sleep(0.2)  # a long poll that found nothing
                return _ok(waiting)
            if method in ("sendMessage", "sendPhoto", "sendDocument"):
                return self._record(method, params)
            if method == "setWebhook":
                self.sent.append({"method": method, **params, "chat_id": 0})
                return _ok(True)
            abort(404)

        @app.get(f"/file/bot{self.token}/photos/<name>")
        def download(name: str) -> Any:
            data = self.files.get(name.rsplit(".", 1)[0])
            return (data, 200, {"Content-Type": "image/jpeg"}) if data is not None else abort(404)

        return app

    def _record(self, method: str, params: dict[str, Any]) -> Any:
        with self._lock:
            if self.fail_next:
                status = self.fail_next.pop(0)
                if status == 429:  # flood control, as Telegram says it: how long to wait
                    wait = {"retry_after": self.retry_after}
                    description = f"Too Many Requests: retry after {self.retry_after}"
                    return jsonify(ok=False, error_code=429, description=description, parameters=wait), 429
                description = "Forbidden: bot was blocked by the user" if status == 403 else "Internal Server Error"
                return jsonify(ok=False, error_code=status, description=description), status
            record = {"method": method, **params, "has_photo": "photo" in request.files, "at": time.time()}
            for kind in ("photo", "document"):  # what the chat shows: tests read it back
                if kind in request.files:
                    record[f"{kind}_data"] = request.files[kind].read()
                    record[f"{kind}_name"] = request.files[kind].filename
            self.sent.append(record)
            self.by_chat.setdefault(int(params["chat_id"]), []).append(record)
            message_id = len(self.sent)
        return _ok(
            {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "text": params.get("text", ""),
            }
        )


def _ok(result: Any) -> Any:
    return jsonify(ok=True, result=result)


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
