"""The intake: webhooks answer at once, a job stores what they lined up in batches, in order, each message once."""

from __future__ import annotations

import pytest
import redis

from config import Settings
from core.conversation.catalog.en import MESSAGES
from services.queue import INTAKE_LINE
from standins.telegram_api import TelegramStandIn
from storage.connections import Connections
from tests.chat_harness import Harness
from tests.test_delivery import counted
from tests.test_first_contacts import Died
from tests.test_telegram import CHAT, post, update

pytestmark = pytest.mark.telegram  # the Bot API stand-in answers (tests/conftest.py `environment`)

PEOPLE = [CHAT + 200 + n for n in range(5)]


def test_a_burst_is_stored_in_one_pass_in_each_persons_order_and_a_repeated_delivery_once(
    settings: Settings, connections: Connections, bot_api: TelegramStandIn
) -> None:
    with counted(settings) as (harness, commands):
        for text in ["hi", "yes", "1"]:
            for person in PEOPLE:
                body = update(person, text)
                assert post(harness, body) == 200
                if person == PEOPLE[0] and text == "hi":
                    assert post(harness, body) == 200  # Telegram delivers it a second time
        assert harness.db.inbound.count_documents({}) == 0  # all acknowledged before MongoDB was asked
        commands.on = True
        assert harness.worker.work(burst=True, max_jobs=1)
        commands.on = False
        assert len(commands.seen) <= 4, commands.seen  # the 16 deliveries in one go, and a look for the repeat's copy
        for person in PEOPLE:
            stored = harness.db.inbound.find({"chat_id": str(person)}).sort([("received_at", 1), ("_id", 1)])
            assert [doc["text"] for doc in stored] == ["hi", "yes", "1"]
        assert connections.redis.llen(INTAKE_LINE) == 0
        harness.work()
        for person in PEOPLE:
            assert bot_api.texts(person)[0] == MESSAGES["welcome"]  # each answered, in order
        assert len(bot_api.texts(PEOPLE[0])) == len(bot_api.texts(PEOPLE[1]))  # the repeat answered once


def test_an_intake_killed_after_storing_stores_nothing_twice_and_everyone_is_answered_once(
    harness: Harness, bot_api: TelegramStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    for person in PEOPLE:
        assert post(harness, update(person, "hi")) == 200

    def killed(*args: object, **kwargs: object) -> None:
        raise Died

    monkeypatch.setattr(redis.Redis, "ltrim", killed)  # stored and woken, never taken off the line
    with pytest.raises(Died):
        harness.take_in()
    monkeypatch.undo()
    assert harness.db.inbound.count_documents({}) == len(PEOPLE)
    assert harness.take_in() == len(PEOPLE)  # the next job (or the reconciler) takes the same ones again
    harness.work()
    assert harness.db.inbound.count_documents({}) == len(PEOPLE)
    for person in PEOPLE:
        assert bot_api.texts(person) == [MESSAGES["welcome"]]


def test_a_dead_intakes_lock_holds_the_line_up_for_seconds_only(harness: Harness, bot_api: TelegramStandIn) -> None:
    lock = harness.context.connections.redis.lock("lock:intake", timeout=1)
    assert lock.acquire(blocking=False)  # a killed worker's: frees itself within its ttl
    for person in PEOPLE:
        assert post(harness, update(person, "hi")) == 200
    assert harness.take_in() == 0  # the reconciler does not wait for it
    harness.work()  # the queued intake job waits out the dead lock, then stores them
    for person in PEOPLE:
        assert bot_api.texts(person) == [MESSAGES["welcome"]]


def test_an_unreadable_entry_is_set_aside_and_the_rest_is_stored(harness: Harness, bot_api: TelegramStandIn) -> None:
    assert post(harness, update(PEOPLE[0], "hi")) == 200
    harness.context.connections.redis.rpush(INTAKE_LINE, b"\xffnot json")
    assert post(harness, update(PEOPLE[1], "hi")) == 200
    harness.work()
    assert harness.context.connections.redis.lrange(INTAKE_LINE + ":unreadable", 0, -1) == [b"\xffnot json"]
    assert bot_api.texts(PEOPLE[0]) == bot_api.texts(PEOPLE[1]) == [MESSAGES["welcome"]]
