"""An appeal to many volunteers: `homeward bench appeal --volunteers 100000 [--near N] [--chat-rate R]`.

Starts fresh embedded servers and stores N synthetic volunteers spread over India (a share gathered around
its large cities, the rest anywhere in the country; radius 2, 10 or 50 km; no quiet hours), each a Telegram
contact, their places sealed as the chat stores them; `--near N` puts N of them within a few kilometres of
central Delhi (radius 10 or 50 km), so the appeal has at least N recipients. Then one approved appeal last
seen in central Delhi is announced as the job does (services/volunteers.py `alert`): the figures are the
seconds to choose the recipients (target ≤ 1 s: an indexed `$in`, not a scan) and to queue every alert in the
outbox and on the volunteers' lane (target ≤ 60 s), and how many jobs the chat lane got meanwhile (must be
0: alerts never wait in front of a chat). No worker runs: sending is measured with `--chat-rate R`, which
runs the whole stack as `make run` does (benchmarks/chat_load.py, the Telegram stand-in): first messages at
R a second for `--chat-seconds` while the alerts are queued and SENT by the real workers, and prints the
chat's answer p50/p95 (target p95 ≤ 3 s; also by phase: before, while the alerts were queued, after) with
the alerts' sending time and rate.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bson import ObjectId

from benchmarks import chat_load
from config import Settings, load_settings
from core.cities import CITIES
from core.volunteers import RADII_KM, area_cells
from infra.embedded import start_mongodb, start_redis
from infra.services import backing_services
from services.queue import QUEUE_NAME, VOLUNTEERS_QUEUE, make_queue
from services.volunteers import alert, recipients
from standins.telegram_api import TelegramStandIn
from storage.appeals import decide_appeal, find_appeal, note_sent, request_appeal, store_posters
from storage.cases import find_case, insert_with_reference
from storage.connections import Connections, Database, connect
from storage.places import seal_place
from storage.sealing import keyring
from workers.appeals import render_all

DELHI = (28.6139, 77.2090)
INDIA = ((8.0, 33.0), (69.0, 89.0))  # latitude and longitude bounds, roughly the mainland
BATCH = 5000
FIRST_VOLUNTEER = 900000  # their Telegram chat ids; the chat load's people start at 900 000 000


def volunteer(number: int, rng: random.Random, centres: list[tuple[float, float]], near: bool) -> dict[str, Any]:
    radius = rng.choice(RADII_KM)
    if near:  # within about 5 km of central Delhi, an area that holds it
        latitude, longitude, radius = DELHI[0] + rng.gauss(0, 0.015), DELHI[1] + rng.gauss(0, 0.015), max(10, radius)
    elif rng.random() < 0.6:  # most people live in or near cities
        latitude, longitude = rng.choice(centres)
        latitude, longitude = latitude + rng.gauss(0, 0.15), longitude + rng.gauss(0, 0.15)
    else:
        latitude, longitude = rng.uniform(*INDIA[0]), rng.uniform(*INDIA[1])
    record = ObjectId()
    place = {"text": "", "latitude": latitude, "longitude": longitude}
    return {
        "_id": record, "contact": f"telegram:{FIRST_VOLUNTEER + number}",
        "place": seal_place(place, keyring(), record), "radius_km": radius,
        "cells": area_cells(latitude, longitude, radius), "quiet": [0, 0], "cap": 3,
        "language": rng.choice(["en", "hi"]), "alerts": [], "version": 1,
    }  # fmt: skip


def store(db: Database, count: int, near: int = 0) -> float:
    """The volunteers (the first `near` of them around central Delhi) and their contacts; seconds taken."""
    rng, centres = random.Random(28), sorted(set(CITIES.values()))
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        numbers = range(first, min(count, first + BATCH))
        docs = [volunteer(number, rng, centres, number < near) for number in numbers]
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


def announce(connections: Connections, settings: Settings, reference: str) -> dict[str, Any]:
    """Choose the recipients (timed alone), then queue every alert as the job does; the figures."""
    db = connections.db
    started = time.perf_counter()
    chosen = recipients(db, DELHI)
    chosen_s = time.perf_counter() - started
    started = time.perf_counter()
    reach = alert(db, make_queue(connections.redis), reference, settings)
    return {
        "recipients": len(chosen), "chosen_s": round(chosen_s, 3), "queued": reach.alerted,
        "all_queued_s": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def queued_only(args: argparse.Namespace) -> dict[str, Any]:
    """Fresh servers, no worker: choosing and queueing alone, and the lanes' lengths after."""
    with tempfile.TemporaryDirectory() as tmp:
        mongodb, redis_server = start_mongodb(Path(tmp)), start_redis(Path(tmp))
        try:
            os.environ |= {"HOMEWARD_DATA_DIR": tmp, "MONGODB_URI": mongodb.url, "REDIS_URL": redis_server.url}
            os.environ |= {"HOMEWARD_ADMIN_PASSWORD": "benchmark-admin-1", "HOMEWARD_LOG_LEVEL": "WARNING"}
            settings = load_settings()
            connections = connect(mongodb.url, settings.mongodb_database, redis_server.url, settings.data_keys())
            stored = store(connections.db, args.volunteers, args.near)
            figures = announce(connections, settings, approved_appeal(connections.db))
            figures |= {
                "volunteers_lane_jobs": make_queue(connections.redis, VOLUNTEERS_QUEUE).count,
                "chat_lane_jobs": make_queue(connections.redis, QUEUE_NAME).count,
            }
            connections.close()
        finally:
            redis_server.stop()
            mongodb.stop()
    return {"volunteers": args.volunteers, "storing_s": round(stored, 1)} | figures


def with_chat(args: argparse.Namespace) -> dict[str, Any]:
    """The whole stack: chat first messages at a steady rate while the appeal's alerts are queued and sent."""
    with chat_load.running_stack(args.workers, None) as (port, telegram, data_dir, _):
        os.environ |= {"HOMEWARD_DATA_DIR": str(data_dir), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
        settings = load_settings()
        with backing_services(settings) as urls:
            connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
            stored = store(connections.db, args.volunteers, args.near)
            reference = approved_appeal(connections.db)
            _render(connections.db, reference, settings)
            load = chat_load.Load(args.chat_rate, args.chat_seconds)
            chatting = threading.Thread(target=chat_load.offer, args=(port, load, args.senders))
            chatting.start()
            time.sleep(min(5.0, args.chat_seconds / 4))  # the chat at its pace before the appeal goes out
            queued_at = time.time()
            figures = announce(connections, settings, reference)
            chatting.join()
            chat_load.wait_for_answers(telegram, load, args.drain_timeout)
            figures |= _sending(telegram, figures["queued"], queued_at, args.drain_timeout)
            connections.close()
        chat = chat_load.figures(telegram, load)
        queueing = (queued_at, queued_at + figures["all_queued_s"])
        phases = _chat_phases(telegram, load, queueing)
    keep = ("offered_per_s", "sent", "answered", "answer_p50_s", "answer_p95_s", "answer_p99_s", "answer_max_s")
    head = {"volunteers": args.volunteers, "storing_s": round(stored, 1), "workers": args.workers}
    return head | figures | {f"chat_{key}": chat[key] for key in keep} | phases


def _chat_phases(telegram: TelegramStandIn, load: chat_load.Load, queueing: tuple[float, float]) -> dict[str, Any]:
    """The chat's answer p50/p95 for messages sent before, while and after the alerts were queued (then sent)."""
    first = {chat: replies[0]["at"] for chat, replies in list(telegram.by_chat.items()) if replies}
    phases: dict[str, list[float]] = {"before": [], "queueing": [], "sending": []}
    for message in load.messages:
        if message.chat in first:
            phase = (
                "before" if message.posted < queueing[0] else "queueing" if message.posted < queueing[1] else "sending"
            )
            phases[phase].append(first[message.chat] - message.posted)
    figures: dict[str, Any] = {}
    for phase, waits in phases.items():
        waits.sort()
        figures[f"chat_{phase}_n"] = len(waits)
        for name, q in (("p50_s", 0.50), ("p95_s", 0.95)):
            figures[f"chat_{phase}_{name}"] = (
                round(waits[min(len(waits) - 1, int(len(waits) * q))], 3) if waits else None
            )
    return figures


def _render(db: Database, reference: str, settings: Settings) -> None:
    """The posters, as the render job makes them (each alert carries the phone poster), noted as sent to the family
    first: the reconciler would queue the render job for an approved appeal not sent, and with it the alerts."""
    note_sent(db, reference)
    appeal = find_appeal(db, reference)
    assert appeal is not None
    case = find_case(db, appeal["case"])
    store_posters(db, reference, render_all(appeal, case or {}, None, settings))


def _sending(telegram: TelegramStandIn, queued: int, since: float, timeout: float) -> dict[str, Any]:
    """Until every alert reached the stand-in (or `timeout`): how many, the seconds from queueing, the rate."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(_alerts_sent(telegram)) < queued:
        time.sleep(0.5)
    sent = sorted(_alerts_sent(telegram))
    seconds = (sent[-1] - since) if sent else None
    return {
        "alerts_sent": len(sent), "alerts_sent_in_s": round(seconds, 1) if seconds else None,
        "alerts_per_s": round(len(sent) / seconds, 1) if seconds else 0.0,
    }  # fmt: skip


def _alerts_sent(telegram: TelegramStandIn) -> list[float]:
    """When each volunteer got their first message (their alert), by the stand-in's clock."""
    chats = list(telegram.by_chat.items())
    return [replies[0]["at"] for chat, replies in chats if replies and int(chat) < chat_load.FIRST_CHAT]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=100_000, help="synthetic volunteers (default 100 000)")
    parser.add_argument("--near", type=int, default=0, help="of them, around the last-seen place (default 0)")
    parser.add_argument("--chat-rate", type=float, default=0, help="chat first messages a second while alerts go out")
    parser.add_argument("--chat-seconds", type=float, default=60, help="how long the chat is offered (default 60)")
    parser.add_argument("--workers", type=int, default=2, help="HOMEWARD_WORKERS with --chat-rate (default 2)")
    parser.add_argument("--senders", type=int, default=64, help="threads posting the chat's webhooks (default 64)")
    parser.add_argument("--drain-timeout", type=float, default=600, help="seconds to wait for answers and alerts")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in's request lines would bury the figures
    load_before = round(os.getloadavg()[0], 2)
    result = with_chat(args) if args.chat_rate else queued_only(args)
    print(json.dumps(result | {"cores": os.cpu_count(), "load_before": load_before}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
