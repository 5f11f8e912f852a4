"""An appeal to many volunteers: `homeward bench appeal --volunteers 100000`.

Starts fresh embedded servers and stores N synthetic volunteers spread over India (a share gathered around
its large cities, the rest anywhere in the country; radius 2, 10 or 50 km; no quiet hours), each a Telegram
contact, their places sealed as the chat stores them. Then one approved appeal last seen in central Delhi is
announced as the job does (services/volunteers.py `alert`): the figures are the seconds to choose the
recipients (target ≤ 1 s: an indexed `$in`, not a scan) and to queue every alert in the outbox and on the
volunteers' lane (target ≤ 60 s), and how many jobs the chat lane got meanwhile (must be 0: alerts never
wait in front of a chat). No worker runs: sending is the outbox's, measured by `homeward bench chat`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bson import ObjectId

from config import load_settings
from core.cities import CITIES
from core.volunteers import RADII_KM, area_cells
from infra.embedded import start_mongodb, start_redis
from services.queue import QUEUE_NAME, VOLUNTEERS_QUEUE, make_queue
from services.volunteers import alert, recipients
from storage.appeals import decide_appeal, request_appeal
from storage.cases import insert_with_reference
from storage.connections import Database, connect
from storage.places import seal_place
from storage.sealing import keyring

DELHI = (28.6139, 77.2090)
INDIA = ((8.0, 33.0), (69.0, 89.0))  # latitude and longitude bounds, roughly the mainland
BATCH = 5000


def volunteer(number: int, rng: random.Random, centres: list[tuple[float, float]]) -> dict[str, Any]:
    if rng.random() < 0.6:  # most people live in or near cities
        latitude, longitude = rng.choice(centres)
        latitude, longitude = latitude + rng.gauss(0, 0.15), longitude + rng.gauss(0, 0.15)
    else:
        latitude, longitude = rng.uniform(*INDIA[0]), rng.uniform(*INDIA[1])
    record, radius = ObjectId(), rng.choice(RADII_KM)
    place = {"text": "", "latitude": latitude, "longitude": longitude}
    return {
        "_id": record, "contact": f"telegram:{900000 + number}", "place": seal_place(place, keyring(), record),
        "radius_km": radius, "cells": area_cells(latitude, longitude, radius), "quiet": [0, 0], "cap": 3,
        "language": rng.choice(["en", "hi"]), "alerts": [], "version": 1,
    }  # fmt: skip


def store(db: Database, count: int) -> float:
    """The volunteers and their contacts; seconds taken (not part of the figures)."""
    rng, centres = random.Random(28), sorted(set(CITIES.values()))
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        docs = [volunteer(number, rng, centres) for number in range(first, min(count, first + BATCH))]
        db.volunteers.insert_many(docs, ordered=False)
        contacts = [{"contact": d["contact"], "channel": "telegram", "chat_id": d["contact"][9:]} for d in docs]
        db.conversations.insert_many(contacts, ordered=False)
    return time.perf_counter() - started


def approved_appeal(db: Database) -> str:
    place = {"text": "Connaught Place", "latitude": DELHI[0], "longitude": DELHI[1]}
    case = insert_with_reference(
        db, "cases", "HW", {"reporter": "telegram:1", "status": "open", "source": "bench", "name": "Ravi Kumar",
                            "place": place},
    )  # fmt: skip
    reference = request_appeal(db, "telegram:1", case, {"photo": False, "name": "Ravi"}, "en", "bench")
    decide_appeal(db, reference, "approved", "bench", "benchmark")
    return reference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=100_000, help="synthetic volunteers (default 100 000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mongodb, redis_server = start_mongodb(Path(tmp)), start_redis(Path(tmp))
        try:
            os.environ |= {"HOMEWARD_DATA_DIR": tmp, "MONGODB_URI": mongodb.url, "REDIS_URL": redis_server.url}
            os.environ |= {"HOMEWARD_ADMIN_PASSWORD": "benchmark-admin-1", "HOMEWARD_LOG_LEVEL": "WARNING"}
            settings = load_settings()
            connections = connect(mongodb.url, settings.mongodb_database, redis_server.url, settings.data_keys())
            db = connections.db
            stored = store(db, args.volunteers)
            reference = approved_appeal(db)
            started = time.perf_counter()
            chosen = recipients(db, DELHI)
            chosen_s = time.perf_counter() - started
            started = time.perf_counter()
            reach = alert(db, make_queue(connections.redis), reference, settings)
            queued_s = time.perf_counter() - started
            result = {
                "volunteers": args.volunteers, "storing_s": round(stored, 1), "recipients": len(chosen),
                "chosen_s": round(chosen_s, 3), "queued": reach.alerted, "all_queued_s": round(queued_s, 1),
                "volunteers_lane_jobs": make_queue(connections.redis, VOLUNTEERS_QUEUE).count,
                "chat_lane_jobs": make_queue(connections.redis, QUEUE_NAME).count, "cores": os.cpu_count(),
            }  # fmt: skip
            connections.close()
        finally:
            redis_server.stop()
            mongodb.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
