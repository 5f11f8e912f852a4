"""Drive Homeward's web app and a real RQ worker together, as the platforms and `make run` would."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import zlib
from pathlib import Path
from typing import Any

import bson
from flask import Flask
from flask.testing import FlaskClient
from pymongo.database import Database

from admin.app import create_app
from config import Settings
from services.queue import lanes
from storage.connections import Connections
from workers import context, intake
from workers.measured_worker import MeasuredWorker

# Every collection that may hold something of a contact; erasure must empty them of it.
CONTACT_COLLECTIONS = (
    "inbound", "outbox", "conversations", "cases", "sightings", "photos", "faces", "counters", "volunteers",
)  # fmt: skip


class Harness:
    def __init__(self, settings: Settings, connections: Connections) -> None:
        self.app: Flask = create_app(settings, connections)
        self.client: FlaskClient = self.app.test_client()
        self.db: Database = connections.db
        self.context = context.WorkerContext(settings, connections)
        context.install(self.context)
        self.worker = MeasuredWorker(lanes(connections.redis), connection=connections.redis)

    def take_in(self) -> int:
        """Store what the webhooks put in the intake line, as the intake job does a moment after them; how many."""
        return intake.drain(self.context)

    def simulator_send(self, user: str, text: str = "", photo: Path | None = None) -> int:
        """Post as the simulator page does, CSRF token in the header."""
        if not hasattr(self, "_csrf"):
            page = self.client.get("/simulator/").get_data(as_text=True)
            self._csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        data: dict[str, Any] = {"user": user, "text": text}
        if photo is not None:
            data["file"] = (photo.open("rb"), photo.name, "image/jpeg")
        return self.client.post(
            "/simulator/send", data=data, headers={"X-CSRFToken": self._csrf}, content_type="multipart/form-data"
        ).status_code

    def work(self) -> None:
        """Run every queued job (and the jobs they queue) to completion."""
        for _ in range(10):
            if not self.worker.work(burst=True) and not any(q.count for q in lanes(self.worker.connection)):
                return

    def traces_of(self, contact: str, references: list[str]) -> dict[str, int]:
        """How many documents still mention this contact or its references, per collection."""
        found = {}
        for name in CONTACT_COLLECTIONS:
            query: dict[str, Any] = {"$or": [
                {"contact": contact}, {"reporter": contact}, {"_id": f"outbox:{contact}"},
                {"owner.id": {"$in": references + [contact]}}, {"reference": {"$in": references}},
                {"notify.contact": contact},
            ]}  # fmt: skip
            found[name] = self.db[name].count_documents(query)
        return {name: n for name, n in found.items() if n}

    def leftovers(self, needles: list[str | bytes]) -> list[str]:
        """Where any of these still is: every document of every collection (GridFS's too), every Redis key and value.

        Documents are searched as their BSON bytes, so binary fields (face encodings, photo chunks) count;
        Redis values also after undoing RQ's zlib and base64, so job arguments and tracebacks count too.
        """
        wanted = [n.encode() if isinstance(n, str) else n for n in needles]
        found = []
        for name in sorted(self.db.list_collection_names()):
            for doc in self.db[name].find():
                raw = bson.encode(doc)
                found += [f"{name} {doc.get('_id')}: {_shown(n)}" for n in wanted if n in raw]
        connection = self.context.connections.redis
        for key in connection.scan_iter(count=1000):
            for value in [key, *_redis_values(connection, key)]:
                for form in _unwrapped(value):
                    found += [f"redis {key!r}: {_shown(n)}" for n in wanted if n in form]
        return sorted(set(found))


def _redis_values(connection: Any, key: bytes) -> list[bytes]:
    kind = connection.type(key).decode()
    if kind == "string":
        return [connection.get(key) or b""]
    if kind == "hash":
        return [v for pair in connection.hgetall(key).items() for v in pair]
    if kind == "list":
        return list(connection.lrange(key, 0, -1))
    if kind == "set":
        return list(connection.smembers(key))
    if kind == "zset":
        return list(connection.zrange(key, 0, -1))
    if kind == "stream":
        return [v for _, fields in connection.xrange(key) for pair in fields.items() for v in pair]
    return []


def _unwrapped(value: bytes) -> list[bytes]:
    """The value, and what it holds when it is zlib-compressed and/or base64 (how RQ keeps jobs and results)."""
    forms = [value]
    with contextlib.suppress(binascii.Error, ValueError):
        forms.append(base64.b64decode(value, validate=True))
    for form in list(forms):
        with contextlib.suppress(zlib.error):
            forms.append(zlib.decompress(form))
    return forms


def _shown(needle: bytes) -> str:
    return needle.decode(errors="replace") if len(needle) < 64 else f"{len(needle)} bytes of binary"
