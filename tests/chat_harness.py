"""Drive Homeward's web app and a real RQ worker together, as the platforms and `make run` would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from pymongo.database import Database

from admin.app import create_app
from config import Settings
from storage.connections import Connections
from workers import context
from workers.metrics import MeasuredWorker
from workers.queue import make_queue

# Every collection that may hold something of a contact; erasure must empty them of it.
CONTACT_COLLECTIONS = ("inbound", "outbox", "conversations", "cases", "sightings", "photos", "faces", "counters")


class Harness:
    def __init__(self, settings: Settings, connections: Connections) -> None:
        self.app: Flask = create_app(settings, connections)
        self.client: FlaskClient = self.app.test_client()
        self.db: Database = connections.db
        self.context = context.WorkerContext(settings, connections)
        context.install(self.context)
        self.worker = MeasuredWorker([make_queue(connections.redis)], connection=connections.redis)

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
            if not self.worker.work(burst=True) and make_queue(self.worker.connection).count == 0:
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
