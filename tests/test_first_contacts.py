"""A viral appeal's first messages, answered ten at a time (workers/first_contacts.py), and nothing lost or doubled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from config import Settings
from core.conversation.catalog.en import MESSAGES
from services.queue import FIRST_CONTACTS_QUEUE, lanes, make_queue
from standins.telegram_api import TelegramStandIn
from storage.connections import Connections
from tests.chat_harness import Harness
from tests.test_delivery import counted
from tests.test_telegram import CHAT, post, update
from workers import first_contacts
from workers.reconciler import reconcile

pytestmark = pytest.mark.telegram  # the Bot API stand-in answers (tests/conftest.py `environment`)

NEWCOMERS = [CHAT + 100 + n for n in range(10)]


class Died(BaseException):
    """A worker killed mid-job (not an error the job could catch)."""


def kill_the_batch_in(harness: Harness, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """Run the batch job as its worker is killed when it reaches `step` (nothing after it happens)."""

    def killed(*args: object) -> None:
        raise Died

    monkeypatch.setattr(first_contacts, step, killed)
    head = harness.context.connections.redis.lindex(first_contacts.FIRST_CONTACTS_LINE, 0)
    with pytest.raises(Died):
        first_contacts.answer_first_contacts(head.decode())
    monkeypatch.undo()


def write_first(harness: Harness, chats: list[int], text: str = "hi", intake: bool = True) -> None:
    """Each of these people writes; with `intake`, the intake job stores their messages (what comes in a burst)."""
    for chat_id in chats:
        assert post(harness, update(chat_id, text)) == 200
    if intake:
        assert harness.worker.work(burst=True, max_jobs=1)


def test_ten_people_writing_at_once_are_answered_by_one_job_in_a_dozen_round_trips(
    settings: Settings, connections: Connections, bot_api: TelegramStandIn
) -> None:
    with counted(settings) as (harness, commands):
        write_first(harness, NEWCOMERS, intake=False)
        commands.on = True
        assert harness.worker.work(burst=True, max_jobs=1)  # the intake: the ten are stored together
        commands.on = False
        assert len(commands.seen) <= 3, commands.seen  # the webhooks asked MongoDB nothing; 30 before
        assert harness.db.inbound.count_documents({"status": "pending"}) == len(NEWCOMERS)
        assert make_queue(harness.worker.connection, FIRST_CONTACTS_QUEUE).count == 1  # one job for the ten
        commands.seen.clear()
        commands.on = True
        assert harness.worker.work(burst=True, max_jobs=1)
        commands.on = False
        for chat_id in NEWCOMERS:
            assert bot_api.texts(chat_id) == [MESSAGES["welcome"]]  # each answered once, by that one job
        assert not any(queue.count for queue in lanes(harness.worker.connection))
        assert harness.db.inbound.count_documents({"status": "done"}) == len(NEWCOMERS)
        assert harness.db.outbox.count_documents({"status": "sent"}) == len(NEWCOMERS)
        assert len(commands.seen) <= 12, commands.seen  # one person alone takes 9 or so


def test_a_newcomer_writing_twice_is_answered_in_order_beside_the_others(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    write_first(harness, NEWCOMERS[:3])
    assert post(harness, update(NEWCOMERS[1], "yes")) == 200  # consents before the welcome came
    harness.work()
    assert bot_api.texts(NEWCOMERS[0]) == [MESSAGES["welcome"]]
    assert bot_api.texts(NEWCOMERS[1])[0] == MESSAGES["welcome"] and len(bot_api.texts(NEWCOMERS[1])) >= 2
    assert harness.db.inbound.count_documents({"status": "pending"}) == 0


def test_a_newcomer_whose_conversation_another_job_holds_is_answered_by_that_contacts_own_job(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    write_first(harness, NEWCOMERS[:3])
    lock = harness.context.connections.redis.lock(f"lock:conversation:telegram:{NEWCOMERS[0]}", timeout=1)
    assert lock.acquire(blocking=False)  # a dead worker's: frees itself within a second
    harness.work()
    for chat_id in NEWCOMERS:
        assert bot_api.texts(chat_id) == ([MESSAGES["welcome"]] if chat_id in NEWCOMERS[:3] else [])


def test_a_batch_killed_before_sending_is_sent_once_by_the_reconciler(
    harness: Harness, bot_api: TelegramStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_first(harness, NEWCOMERS[:4])

    kill_the_batch_in(harness, monkeypatch, "send_claimed")
    assert bot_api.sent == []
    assert harness.db.outbox.count_documents({"status": "sending"}) == 4  # stored, claimed, never sent
    make_queue(harness.context.connections.redis, FIRST_CONTACTS_QUEUE).empty()  # the job died with its worker
    later = datetime.now(UTC) + timedelta(minutes=2)  # past the grace and a claim's staleness
    assert reconcile(harness.context, later)["outbox"] == 4
    harness.work()
    for chat_id in NEWCOMERS[:4]:
        assert bot_api.texts(chat_id) == [MESSAGES["welcome"]]  # once each: the dialog was not asked again


def test_a_batch_killed_before_keeping_anything_is_answered_once_by_the_reconciler(
    harness: Harness, bot_api: TelegramStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_first(harness, NEWCOMERS[:3])

    kill_the_batch_in(harness, monkeypatch, "save_new_states")
    make_queue(harness.context.connections.redis, FIRST_CONTACTS_QUEUE).empty()
    assert reconcile(harness.context, datetime.now(UTC) + timedelta(minutes=2))["inbound"] == 3
    harness.work()
    for chat_id in NEWCOMERS[:3]:
        assert bot_api.texts(chat_id) == [MESSAGES["welcome"]]
