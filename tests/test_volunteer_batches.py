"""A large appeal's alerts are queued in chunks (services/volunteers.py): nobody lost at a chunk's edge, nobody
alerted twice when the selection runs twice, and a volunteer who stops after being chosen gets nothing."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from services import volunteers as alerting
from services.queue import QUEUE_NAME, VOLUNTEERS_QUEUE, enqueue_outbox, enqueue_outboxes, make_queue
from services.volunteers import alert
from standins.telegram_api import TelegramStandIn
from storage.connections import Connections, Database
from storage.outbox import Outgoing, queue_outbound, queue_outbound_many
from storage.updates import next_number, next_numbers
from storage.volunteers import enrol_volunteer
from tests import test_volunteers
from tests.chat_harness import Harness
from tests.test_query_plans import Filters, recorded, whole_scans  # noqa: F401 - recorded is a fixture
from tests.test_reconciler import later
from tests.test_telegram import chat
from tests.test_volunteers import ONE_KM_NORTH, alerts_to, approved_appeal, report_at, volunteer
from workers.reconciler import reconcile

environment, harness = test_volunteers.environment, test_volunteers.harness  # fixtures: Telegram, queries recorded
NEAR = (5101, 5102, 5103, 5104, 5105)


@pytest.fixture
def appeal(harness: Harness, bot_api: TelegramStandIn, faces_dir: Path) -> str:
    """An approved appeal with nobody to alert yet, then five volunteers within a kilometre of its place."""
    reference = approved_appeal(harness, bot_api, report_at(harness, bot_api, faces_dir))
    for chat_id in NEAR:
        volunteer(harness, chat_id, ONE_KM_NORTH, "10")
    return reference


def test_chunks_of_two_alert_each_of_five_volunteers_once(
    harness: Harness,
    bot_api: TelegramStandIn,
    appeal: str,
    recorded: tuple[Filters, Connections],  # noqa: F811
) -> None:
    reach = alert(harness.db, harness.context.queue, appeal, harness.context.settings, chunk=2)
    again = alert(harness.db, harness.context.queue, appeal, harness.context.settings, chunk=3)  # before any is sent
    assert reach.alerted == again.alerted == len(NEAR)
    assert harness.db.outbox.count_documents({"source": {"$regex": f"^volunteer:{appeal}:"}}) == len(NEAR)
    redis = harness.worker.connection
    assert make_queue(redis, VOLUNTEERS_QUEUE).count == len(NEAR) and make_queue(redis, QUEUE_NAME).count == 0
    harness.work()
    assert [len(alerts_to(bot_api, chat_id)) for chat_id in NEAR] == [1] * len(NEAR)
    assert all(len(v["alerts"]) == 1 for v in harness.db.volunteers.find({}, {"alerts": 1}))  # counted once a week
    assert not [scan for scan in whole_scans(harness, recorded[0]) if scan.startswith(("volunteers", "outbox"))]


def test_a_volunteer_who_stops_after_being_chosen_gets_nothing(
    harness: Harness, bot_api: TelegramStandIn, appeal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = alerting.recipients

    def stop_after_choosing(db: Database, place: tuple[float, float]) -> list[dict[str, Any]]:
        found = chosen(db, place)
        chat(harness, NEAR[2], "stop")  # between the selection and the reservation
        return found

    monkeypatch.setattr(alerting, "recipients", stop_after_choosing)
    reach = alert(harness.db, harness.context.queue, appeal, harness.context.settings, chunk=2)
    # A stop whose clean-up of the outbox ran just before an alert was queued (its record gone, the alert not).
    harness.db.volunteers.delete_one({"contact": f"telegram:{NEAR[3]}"})
    harness.work()
    assert "you will get no more alerts" in bot_api.texts(NEAR[2])[-1]
    assert alerts_to(bot_api, NEAR[2]) == alerts_to(bot_api, NEAR[3]) == [] and reach.alerted == len(NEAR) - 1
    assert [len(alerts_to(bot_api, chat_id)) for chat_id in (NEAR[0], NEAR[1], NEAR[4])] == [1, 1, 1]


def test_numbers_taken_in_bulk_and_one_by_one_at_once_are_never_the_same(db: Database) -> None:
    # Alerts numbered in bulk while the chat numbers replies for the same contacts: each number given once.
    keys = [f"outbox:telegram:{n}" for n in range(40)]
    next_number(db.counters, keys[0])  # one counter there already, the others new

    def take(n: int) -> list[tuple[str, int]]:
        if n % 20 == 0:
            return list(next_numbers(db.counters, keys).items())
        return [(keys[n % 40], next_number(db.counters, keys[n % 40]))]

    with ThreadPoolExecutor(max_workers=6) as pool:
        taken = [pair for pairs in pool.map(take, range(120)) for pair in pairs]
    assert len(taken) == len(set(taken)) == 114 + 6 * 40  # a number may be skipped (a race read back), never reused
    assert min(number for key, number in taken if key == keys[0]) == 2 and min(n for _, n in taken) == 1


def test_alerts_in_their_own_line_are_not_queued_again_while_a_lost_reply_is(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    """The reconciler judges alerts by the volunteers' line: a long one is not a crash (nor is a short chat's)."""
    for chat_id in NEAR:
        details = {"place": {"text": "", **ONE_KM_NORTH}, "radius_km": 2, "quiet": (0, 0), "cap": 3}
        enrol_volunteer(harness.db, f"telegram:{chat_id}", details, "en")
    alerts = [
        Outgoing(f"telegram:{n}", "telegram", str(n), "An appeal near you", f"volunteer:AP-TEST:{n}") for n in NEAR
    ]
    in_line = queue_outbound_many(harness.db, [dataclasses.replace(a, lane=VOLUNTEERS_QUEUE) for a in alerts[:4]])
    enqueue_outboxes(harness.context.queue, [str(outbox_id) for outbox_id in in_line], VOLUNTEERS_QUEUE)
    queue_outbound(harness.db, "telegram:5201", "telegram", "5201", "Your reply")  # its job lost
    assert reconcile(harness.context, later())["outbox"] == 1  # the reply; the alerts are still in their line
    assert make_queue(harness.worker.connection, VOLUNTEERS_QUEUE).count == 4
    queue_outbound_many(harness.db, [dataclasses.replace(alerts[4], lane=VOLUNTEERS_QUEUE)])  # its wake-up lost
    harness.work()  # the line moves on: the last alert is still pending
    assert bot_api.texts(5201) == ["Your reply"] and bot_api.texts(NEAR[4]) == []
    assert reconcile(harness.context, later())["outbox"] == 1
    harness.work()
    assert [bot_api.texts(chat_id) for chat_id in NEAR] == [["An appeal near you"]] * len(NEAR)


def test_the_alerts_give_way_while_the_chat_has_a_backlog(
    harness: Harness, bot_api: TelegramStandIn, appeal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerting, "GIVE_WAY_S", 0.5)
    for _ in range(alerting.CHAT_BACKLOG + 1):  # people waiting for answers (jobs of messages since erased)
        enqueue_outbox(harness.context.queue, str(ObjectId()))
    started = time.monotonic()
    reach = alert(harness.db, harness.context.queue, appeal, harness.context.settings, chunk=2)
    assert time.monotonic() - started >= 3 * 0.5  # each of the three chunks waited its turn, then went on
    assert reach.alerted == len(NEAR)
    harness.work()
    assert [len(alerts_to(bot_api, chat_id)) for chat_id in NEAR] == [1] * len(NEAR)
