"""A chat message is kept when MongoDB or Redis is down, answered once it is back, and refused only when both are."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymongo
import pytest
import redis as redis_lib
from flask import Flask
from twilio.request_validator import RequestValidator

from admin.context import Homeward
from config import Settings
from infra.embedded import EmbeddedServer, free_port
from services.queue import INTAKE_LINE, make_queue
from standins.telegram_api import TelegramStandIn
from standins.twilio_api import TwilioStandIn
from storage.connections import Connections, redis_client
from storage.users import create_user
from tests.chat_harness import Harness
from tests.conftest import PUBLIC, TWILIO_TOKEN, make_environment, telegram_settings, twilio_settings
from tests.test_admin_access import PASSWORD, login
from tests.test_telegram import SECRET, update
from tests.test_whatsapp import form
from workers.polling import keep_updates
from workers.reconciler import reconcile

CHAT, PHONE = 3003, "+447700900003"


@pytest.fixture
def environment(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, bot_api: TelegramStandIn, twilio_api: TwilioStandIn
) -> dict[str, str]:
    return make_environment(
        servers, tmp_path, **telegram_settings(bot_api), **twilio_settings(twilio_api), HOMEWARD_SIMULATOR="on"
    )


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    return Harness(settings, connections)


def dead_mongodb() -> pymongo.MongoClient:
    """A client for a port nobody listens on, configured as the web process's own (5 s server selection)."""
    return pymongo.MongoClient(f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=5000, tz_aware=True)


def dead_redis() -> redis_lib.Redis:
    return redis_client(f"redis://127.0.0.1:{free_port()}/0")


def serve_with(app: Flask, settings: Settings, mongo: pymongo.MongoClient, database: str, redis: object) -> None:
    """The running app's stores, as if MONGODB_URI or REDIS_URL named a server that went down."""
    app.extensions["homeward"] = Homeward(settings, Connections(mongo, mongo[database], redis))  # type: ignore[arg-type]


def post_both(harness: Harness, text: str) -> list[int]:
    """A Telegram update and a signed Twilio message, as the platforms post them; their HTTP statuses."""
    telegram = harness.client.post(
        "/webhooks/telegram", json=update(CHAT, text), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    fields = form(PHONE, text)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC}/webhooks/twilio", fields)
    twilio = harness.client.post("/webhooks/twilio", data=fields, headers={"X-Twilio-Signature": signature})
    return [telegram.status_code, twilio.status_code]


def later() -> datetime:
    """A reconciler run after the grace period, without waiting for it."""
    return datetime.now(UTC) + timedelta(minutes=1)


def test_with_mongodb_down_messages_are_spooled_then_stored_and_answered(
    harness: Harness, settings: Settings, connections: Connections, bot_api: TelegramStandIn, twilio_api: TwilioStandIn
) -> None:
    serve_with(harness.app, settings, dead_mongodb(), settings.mongodb_database, connections.redis)
    started = time.monotonic()
    assert post_both(harness, "hi") == [200, 200]
    took = (time.monotonic() - started) / 2
    print(f"\nwebhook answer with MongoDB down: {took:.2f} s per message (Twilio gives up after 15 s)")
    assert connections.redis.llen(INTAKE_LINE) == 2 and harness.db.inbound.count_documents({}) == 0

    counts = reconcile(harness.context, later())  # MongoDB is back: the worker's own connections reach it
    harness.work()
    assert counts["spooled"] == 2 and connections.redis.llen(INTAKE_LINE) == 0
    assert harness.db.inbound.count_documents({"status": "done"}) == 2
    assert len(bot_api.texts(CHAT)) == 1 and len(twilio_api.texts(PHONE)) == 1


def test_with_redis_down_messages_are_stored_and_the_reconciler_queues_them_at_its_next_run(
    harness: Harness, settings: Settings, connections: Connections, bot_api: TelegramStandIn, twilio_api: TwilioStandIn
) -> None:
    serve_with(harness.app, settings, connections.mongo, settings.mongodb_database, dead_redis())
    assert post_both(harness, "hi") == [200, 200]
    harness.work()
    assert harness.db.inbound.count_documents({"status": "pending"}) == 2 and bot_api.sent == []

    counts = reconcile(harness.context, datetime.now(UTC))  # Redis is back: no 30 s grace to wait out first
    assert counts["unqueued"] == 2
    harness.work()
    assert len(bot_api.texts(CHAT)) == 1 and len(twilio_api.texts(PHONE)) == 1
    assert reconcile(harness.context, datetime.now(UTC))["unqueued"] == 0  # woken once, not at every run


def test_a_redelivery_of_a_message_still_pending_is_queued_at_once(
    harness: Harness, settings: Settings, connections: Connections, bot_api: TelegramStandIn
) -> None:
    body = update(CHAT, "hi")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    working = harness.app.extensions["homeward"]
    serve_with(
        harness.app,
        settings,
        connections.mongo,
        settings.mongodb_database,
        dead_redis(),
    )
    assert harness.client.post("/webhooks/telegram", json=body, headers=headers).status_code == 200  # stored only
    harness.app.extensions["homeward"] = working  # Redis is back; Telegram delivers the update again
    assert harness.client.post("/webhooks/telegram", json=body, headers=headers).status_code == 200
    harness.work()
    assert len(bot_api.texts(CHAT)) == 1 and harness.db.inbound.count_documents({}) == 1
    assert harness.client.post("/webhooks/telegram", json=body, headers=headers).status_code == 200  # handled now
    harness.work()
    assert len(bot_api.texts(CHAT)) == 1


def test_with_both_down_the_platforms_are_asked_to_deliver_again(
    harness: Harness, settings: Settings, connections: Connections
) -> None:
    serve_with(harness.app, settings, dead_mongodb(), settings.mongodb_database, dead_redis())
    assert post_both(harness, "hi") == [503, 503]
    assert connections.redis.llen(INTAKE_LINE) == 0 and harness.db.inbound.count_documents({}) == 0


def test_with_both_down_polling_fetches_the_same_update_again(
    harness: Harness, settings: Settings, connections: Connections, bot_api: TelegramStandIn
) -> None:
    """TELEGRAM_MODE=polling: an update nobody could keep is not skipped; the next getUpdates brings it back."""
    down = Connections(dead_mongodb(), dead_mongodb()[settings.mongodb_database], dead_redis())
    updates = [update(CHAT, "hi"), update(CHAT, "yes")]
    first = updates[0]["update_id"]
    assert keep_updates(down, make_queue(down.redis), updates, first) == (first, False)

    after_last = updates[-1]["update_id"] + 1
    assert keep_updates(connections, make_queue(connections.redis), updates, first) == (after_last, True)
    harness.work()
    assert harness.db.inbound.count_documents({"status": "done"}) == 2 and len(bot_api.texts(CHAT)) >= 2


def test_with_both_down_the_simulator_says_to_send_again(harness: Harness, settings: Settings) -> None:
    create_user(harness.db, "reviewer", PASSWORD, "reviewer")
    login(harness.client, "reviewer")  # the simulator of a service reachable from outside needs a reviewer
    page = harness.client.get("/simulator/").get_data(as_text=True)  # rendered while the stores are up
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    serve_with(harness.app, settings, dead_mongodb(), settings.mongodb_database, dead_redis())
    answer = harness.client.post("/simulator/send", data={"user": "Asha", "text": "hi"}, headers={"X-CSRFToken": token})
    assert answer.status_code == 503
    assert "again in a minute" in answer.get_json()["error"].lower()
