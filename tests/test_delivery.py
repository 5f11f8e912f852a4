"""Nothing lost, nothing stuck: a bad message, a dead worker's lock or a platform outage never stops a chat."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis as redis_lib
from pymongo import monitoring
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError
from rq.registry import ScheduledJobRegistry

from bot.channels import SendError
from config import Settings
from core.conversation.catalog.en import MESSAGES
from infra.supervisor import worker_commands
from services.queue import FIRST_CONTACTS_QUEUE, PHOTOS_QUEUE, enqueue_photo_analysis, is_temporary, lanes, make_queue
from standins.telegram_api import TelegramStandIn
from storage.connections import Connections, connect
from storage.inbound import stale_inbound
from storage.outbox import due_outbound, queue_outbound
from storage.photos import Owner, save_photo
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_admin_access import PASSWORD, login
from tests.test_telegram import CHAT, CITIZEN, chat, photo, post, update
from workers.measured_worker import MeasuredWorker
from workers.outbox import send_outbox

pytestmark = pytest.mark.telegram  # the Bot API stand-in answers (tests/conftest.py `environment`)

CONTACT = f"telegram:{CHAT}"
APOLOGY = MESSAGES["message_failed"]


def inbound_of(harness: Harness, **query: object) -> dict[str, Any]:
    found = harness.db.inbound.find_one({"contact": CONTACT, **query})
    assert found is not None
    return found


def test_a_message_that_cannot_be_handled_fails_alone_and_the_next_is_answered(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    chat(harness, CHAT, "hi", "yes")
    # Telegram no longer knows this file: downloading it raises an error the dialog never expects.
    poison = update(CHAT, **photo("expired-file"))
    assert post(harness, poison) == 200
    assert post(harness, update(CHAT, "help")) == 200
    harness.work()
    failed = inbound_of(harness, status="failed")
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error"].startswith("BadRequest at ") and "expired-file" not in failed["error"]
    assert "attachments" not in failed  # what the person sent is not kept with the failure
    said = bot_api.texts(CHAT)
    assert said[-2] == APOLOGY
    assert said[-1] == MESSAGES["menu"]  # the next message was answered as usual
    assert harness.db.inbound.count_documents({"contact": CONTACT, "status": "pending"}) == 0


def test_a_message_tried_too_often_is_given_up_with_an_apology(harness: Harness, bot_api: TelegramStandIn) -> None:
    assert post(harness, update(CHAT, "hi")) == 200
    harness.take_in()
    # Five workers died on this message before (each counted its attempt before starting).
    harness.db.inbound.update_one({"contact": CONTACT}, {"$set": {"attempts": 5, "error": "JobTimeoutException"}})
    assert post(harness, update(CHAT, "hi")) == 200
    harness.work()
    first, second = harness.db.inbound.find({"contact": CONTACT}).sort("received_at", 1)
    assert first["status"] == "failed" and "gave up after 5 attempts" in first["error"]
    assert second["status"] == "done"
    assert bot_api.texts(CHAT) == [APOLOGY, MESSAGES["welcome"]]


@pytest.mark.parametrize(
    ("error", "temporary"),
    [
        (AutoReconnect("primary stepped down"), True),
        (ServerSelectionTimeoutError("no server"), True),
        (redis_lib.ConnectionError("refused"), True),
        (redis_lib.TimeoutError("slow"), True),
        (SendError("telegram: 502", permanent=False), True),
        (SendError("telegram: blocked", permanent=True), False),
        (KeyError("flow"), False),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), False),
    ],
)
def test_only_outages_count_as_temporary(error: BaseException, temporary: bool) -> None:
    assert is_temporary(error) is temporary


def test_a_dead_workers_lock_frees_itself_and_the_messages_are_answered(
    harness: Harness, bot_api: TelegramStandIn, redis: redis_lib.Redis
) -> None:
    # A worker took the lock and was killed: no heartbeat renews it, nobody releases it.
    assert redis.lock(f"lock:conversation:{CONTACT}", timeout=2).acquire(blocking=False)
    assert post(harness, update(CHAT, "hi")) == 200
    harness.work()
    assert bot_api.texts(CHAT) == [MESSAGES["welcome"]]
    assert redis.get(f"lock:conversation:{CONTACT}") is None  # released, not left to expire


def test_messages_that_arrive_together_are_all_answered_by_one_job(harness: Harness, bot_api: TelegramStandIn) -> None:
    # A person types faster than the worker answers: three messages wait when their first job starts.
    for text in ("hi", "yes", "help"):
        assert post(harness, update(CHAT, text)) == 200
    harness.worker.work(burst=True, max_jobs=2)  # the intake stores the three, then one job answers them
    handled = [doc["status"] for doc in harness.db.inbound.find({"contact": CONTACT})]
    assert handled == ["done", "done", "done"]  # not one per job, each waiting behind the others' jobs
    harness.work()
    said = bot_api.texts(CHAT)
    assert said[0] == MESSAGES["welcome"] and len(said) >= 3


def test_a_message_whose_first_try_died_after_queueing_a_reply_sends_each_reply_once(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    assert post(harness, update(CHAT, "hi")) == 200
    harness.take_in()
    inbound = inbound_of(harness, status="pending")
    # The first try decided two replies, queued the first and died: its plan is on the message.
    plan = {"state": None, "replies": ["first reply", "second reply"], "erased": False, "status": "done"}
    harness.db.inbound.update_one({"_id": inbound["_id"]}, {"$set": {"plan": plan, "attempts": 1}})
    queue_outbound(harness.db, CONTACT, "telegram", str(CHAT), "first reply", source=f"{inbound['_id']}:0")
    harness.work()
    assert bot_api.texts(CHAT) == ["first reply", "second reply"]  # the plan is not decided again, nothing twice


def test_a_message_whose_first_try_died_after_saving_its_state_sends_the_decided_replies_once(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    assert post(harness, update(CHAT, "hi")) == 200
    harness.take_in()
    inbound = inbound_of(harness, status="pending")
    # The first try decided, saved the state with its plan in one write, and died before queueing the replies.
    plan = {"inbound": inbound["_id"], "replies": ["decided reply"], "erased": False, "status": "done"}
    state = {"language": "en"}
    harness.db.conversations.insert_one({"contact": CONTACT, "state": state, "plan": plan})
    harness.db.inbound.update_one({"_id": inbound["_id"]}, {"$set": {"attempts": 1}})
    harness.work()
    assert bot_api.texts(CHAT) == ["decided reply"]  # not the welcome: the dialog is not asked again
    assert inbound_of(harness)["status"] == "done"
    assert post(harness, update(CHAT, "help")) == 200  # the next message is decided afresh
    harness.work()
    assert len(bot_api.texts(CHAT)) == 2 and bot_api.texts(CHAT)[1] != "decided reply"


class Commands(monitoring.CommandListener):
    """Each MongoDB command sent while `on`."""

    def __init__(self) -> None:
        self.on, self.seen = False, []  # type: list[str]

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on:
            self.seen.append(f"{event.command_name} {event.command.get(event.command_name)}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextmanager
def counted(settings: Settings) -> Iterator[tuple[Harness, Commands]]:
    """A harness on connections of its own, whose MongoDB commands are listed while `commands.on`."""
    commands = Commands()
    monitoring.register(commands)  # for clients made from now on: this test's own
    connections = connect(settings.mongodb_uri or "", settings.mongodb_database, settings.redis_url or "")
    try:
        yield Harness(settings, connections), commands
    finally:
        commands.on = False
        connections.close()


def test_a_first_message_is_answered_and_sent_by_one_job_in_a_dozen_round_trips(
    settings: Settings, connections: Connections, bot_api: TelegramStandIn
) -> None:
    """The chat path's cost (docs/evaluation/bench.md): every round trip more is paid by every message of a surge."""
    with counted(settings) as (harness, commands):
        assert post(harness, update(CHAT, "hi")) == 200
        assert harness.db.inbound.count_documents({}) == 0  # acknowledged before MongoDB was asked anything
        commands.on = True
        assert harness.worker.work(burst=True, max_jobs=2)  # the intake stores it, one job answers it
        commands.on = False
        assert bot_api.texts(CHAT) == [MESSAGES["welcome"]]  # answered and sent by that one job
        assert not any(queue.count for queue in lanes(harness.worker.connection))  # and nothing left for another
        assert len(commands.seen) <= 14, commands.seen  # 25 before issue 24's step 2 (3 of them the webhook's)


@pytest.mark.parametrize("permanent", [False, True])
def test_a_failed_send_is_logged_and_kept_without_the_phone_number_the_platform_quoted(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, permanent: bool
) -> None:
    quoted = "twilio 400 21211: The 'To' number whatsapp:+91 98765 43210 (+919876543210) is not valid"

    def refuse(outgoing: object) -> None:
        raise SendError(quoted, permanent=permanent)

    monkeypatch.setattr(harness.context.channels["telegram"], "send", refuse)
    message = queue_outbound(harness.db, CONTACT, "telegram", str(CHAT), "hello")
    with caplog.at_level(logging.WARNING, logger="workers.outbox"):
        send_outbox(str(message))
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "workers.outbox")
    kept = harness.db.outbox.find_one({"_id": message})["error"]
    assert "21211" in logged and "is not valid" in logged and "21211" in kept  # the platform's words stay
    for shown in (logged, kept):
        assert not re.search(r"98765|43210|919876543210", shown), shown


def test_a_platform_outage_waits_in_order_then_gives_up_and_goes_on(harness: Harness, bot_api: TelegramStandIn) -> None:
    bot_api.fail_next = [500]
    chat(harness, CHAT, "hi")
    waiting = harness.db.outbox.find_one({"contact": CONTACT})
    assert waiting["status"] == "pending" and waiting["attempts"] == 1 and "Server Error" in waiting["error"]
    delay = waiting["next_attempt_at"] - datetime.now(UTC)
    assert timedelta(seconds=2) < delay <= timedelta(seconds=5)
    scheduled = ScheduledJobRegistry(queue=make_queue(harness.worker.connection)).get_job_ids()
    assert f"outbox-retry-{waiting['_id']}-1" in scheduled  # the retry is booked for when it is due
    chat(harness, CHAT, "yes")  # its answer waits behind the first message, not ahead of it
    assert harness.db.outbox.count_documents({"contact": CONTACT, "status": "pending"}) >= 2
    assert bot_api.texts(CHAT) == []
    # Later: the first message is due and has used up all but its last attempt; the platform fails once more.
    harness.db.outbox.update_one(
        {"_id": waiting["_id"]}, {"$set": {"attempts": 7, "next_attempt_at": datetime.now(UTC)}}
    )
    bot_api.fail_next = [500]
    sent = send_outbox(str(waiting["_id"]))
    assert harness.db.outbox.find_one({"_id": waiting["_id"]})["status"] == "failed"
    assert sent >= 1 and len(bot_api.texts(CHAT)) == sent  # the replies to "yes" went out after it
    assert harness.db.outbox.count_documents({"contact": CONTACT, "status": "pending"}) == 0


def test_a_platform_asking_to_slow_down_is_waited_out_as_asked_without_counting_a_try(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    bot_api.fail_next, bot_api.retry_after = [429], 7  # Telegram's flood control: "retry after 7"
    chat(harness, CHAT, "hi")
    waiting = harness.db.outbox.find_one({"contact": CONTACT})
    assert waiting["status"] == "pending" and waiting["attempts"] == 0 and "Retry in 7 seconds" in waiting["error"]
    delay = waiting["next_attempt_at"] - datetime.now(UTC)
    assert timedelta(seconds=5) < delay <= timedelta(seconds=7)  # as long as asked: not the 5 s of a failure
    scheduled = ScheduledJobRegistry(queue=make_queue(harness.worker.connection)).get_job_ids()
    assert any(job.startswith(f"outbox-retry-{waiting['_id']}-") for job in scheduled)  # no worker waits meanwhile
    # Many tries later the platform still asks to wait: the reply waits again, never given up for it.
    harness.db.outbox.update_one(
        {"_id": waiting["_id"]}, {"$set": {"attempts": 7, "next_attempt_at": datetime.now(UTC)}}
    )
    bot_api.fail_next = [429]
    send_outbox(str(waiting["_id"]))
    assert harness.db.outbox.find_one({"_id": waiting["_id"]})["status"] == "pending"
    harness.db.outbox.update_one({"_id": waiting["_id"]}, {"$set": {"next_attempt_at": datetime.now(UTC)}})
    assert send_outbox(str(waiting["_id"])) == 1
    assert bot_api.texts(CHAT) == [MESSAGES["welcome"]]  # once


def test_the_reconciler_finds_due_and_stale_work_once_per_contact(harness: Harness) -> None:
    now = datetime.now(UTC)
    for contact in (CONTACT, f"telegram:{CITIZEN}"):
        for text in ("one", "two"):
            queue_outbound(harness.db, contact, "telegram", contact.split(":")[1], text)
    harness.db.outbox.update_many(
        {"contact": f"telegram:{CITIZEN}"}, {"$set": {"next_attempt_at": now + timedelta(minutes=5)}}
    )
    due = due_outbound(harness.db, now + timedelta(seconds=1))
    assert len(due) == 1 and due[0] in {str(m["_id"]) for m in harness.db.outbox.find({"contact": CONTACT})}
    for chat_id in (CHAT, CHAT, CITIZEN):
        assert post(harness, update(chat_id, "hi")) == 200
    harness.take_in()
    assert stale_inbound(harness.db, now - timedelta(minutes=1)) == []
    assert len(stale_inbound(harness.db, datetime.now(UTC) + timedelta(seconds=1))) == 2


def test_the_overview_lists_undelivered_messages_without_whom_or_what(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    create_user(harness.db, "reviewer", PASSWORD, "reviewer")
    queued = queue_outbound(harness.db, CONTACT, "telegram", str(CHAT), "A private message", about="HW-7K3P")
    bot_api.fail_next = [403]
    send_outbox(str(queued))
    login(harness.client, "reviewer")
    page = harness.client.get("/").get_data(as_text=True)
    assert re.search(r'<div class="n">1</div>chat messages not delivered', page)
    table = page[page.index('<table id="failed">') :]
    table = table[: table.index("</table>")]
    assert "telegram" in table and "HW-7K3P" in table and "blocked by the user" in table
    assert str(CHAT) not in table and "A private message" not in table


def test_the_same_reply_queued_by_two_processes_at_once_is_queued_once(harness: Harness) -> None:
    """The panel and the reconciler may tell one family at the same moment: one message, and neither fails."""
    results: list[object] = []

    def queue() -> None:
        try:
            results.append(queue_outbound(harness.db, CONTACT, "telegram", str(CHAT), "told", source="approval:x"))
        except Exception as exc:  # noqa: BLE001 - the failure is what this test looks for
            results.append(exc)

    threads = [threading.Thread(target=queue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and not isinstance(results[0], Exception), results
    assert harness.db.outbox.count_documents({"source": "approval:x"}) == 1


def test_a_chat_is_answered_by_the_chat_worker_while_photos_wait_their_lane(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    """A family's message never waits behind clips being analysed: `make run`'s first worker serves chat alone."""
    saved = save_photo(harness.db, b"a clip that takes minutes", Owner("sighting", "S-SLOW"), "video/mp4")
    enqueue_photo_analysis(make_queue(harness.context.connections.redis), str(saved.id))
    assert post(harness, update(CHAT, "hi")) == 200
    chat_worker = MeasuredWorker(lanes(harness.worker.connection, chat_only=True), connection=harness.worker.connection)
    chat_worker.work(burst=True)
    assert bot_api.texts(CHAT), "the chat worker answered"
    assert make_queue(harness.worker.connection, PHOTOS_QUEUE).count == 1  # the clip still waits for its lane
    assert harness.db.photos.find_one({"_id": saved.id})["status"] == "pending"
    assert worker_commands(2)["worker-1"][-1] == "--chat-only" and "--chat-only" not in worker_commands(2)["worker-2"]
    assert "--chat-only" not in worker_commands(1)["worker-1"]  # one worker serves both lanes
    four = [command[-1] == "--chat-only" for command in worker_commands(4).values()]
    assert four == [True, True, False, False]  # make run's default: half for chats, half for photos and chats


def test_a_family_already_talking_is_answered_before_people_writing_for_the_first_time(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    """A viral appeal brings thousands of first messages; someone already in a conversation does not wait behind."""
    family, newcomers = CHAT, [CHAT + n for n in range(1, 6)]
    assert post(harness, update(family, "hi")) == 200
    harness.work()
    answered_before = len(bot_api.texts(family))
    for newcomer in newcomers:
        assert post(harness, update(newcomer, "hi")) == 200
    assert post(harness, update(family, "yes")) == 200  # written after every newcomer
    worker = MeasuredWorker(lanes(harness.worker.connection, chat_only=True), connection=harness.worker.connection)
    worker.work(burst=True, max_jobs=2)  # the intake stores all six, then the family's answer, sent by the same job
    assert len(bot_api.texts(family)) > answered_before, "the family's answer came first"
    assert make_queue(harness.worker.connection, FIRST_CONTACTS_QUEUE).count >= 1  # the newcomers wait in their lane
    assert not any(bot_api.texts(newcomer) for newcomer in newcomers)
    harness.work()
    assert all(bot_api.texts(newcomer) for newcomer in newcomers)  # and then everyone else, none lost
