"""A reply whose worker died around the platform call is sent once, in order, and never waits behind it for long.

Each reply is claimed (`sending`) before the platform is called, and Redis keeps a witness of the call
(workers/outbox.py): these tests leave a claim as a dying worker would, at each moment, and check what the next
try and the reconciler do with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from standins.telegram_api import TelegramStandIn
from storage.outbox import SENDING_STALE, due_outbound, queue_outbound
from tests.chat_harness import Harness
from tests.test_telegram import CHAT
from workers.outbox import CALL_KEY, CALLING, send_outbox
from workers.reconciler import reconcile

pytestmark = pytest.mark.telegram  # the Bot API stand-in answers (tests/conftest.py `environment`)

CONTACT = f"telegram:{CHAT}"


def claim(harness: Harness, message_id: object) -> None:
    """The message as a worker leaves it just before calling the platform: claimed, `sending`, one attempt."""
    claimed = {"status": "sending", "sending_at": datetime.now(UTC), "attempts": 1}
    harness.db.outbox.update_one({"_id": message_id}, {"$set": claimed})


def first_of_two_left_claimed(harness: Harness, witness: str) -> object:
    """ "first" and "second" queued, "first" claimed with this witness of its platform call; first's id."""
    first = queue_outbound(harness.db, CONTACT, "telegram", str(CHAT), "first")
    queue_outbound(harness.db, CONTACT, "telegram", str(CHAT), "second")
    claim(harness, first)
    harness.context.connections.redis.set(f"{CALL_KEY}{first}", witness)
    return first


def test_a_message_left_sending_by_a_dead_worker_is_sent_again_in_order(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    first = first_of_two_left_claimed(harness, CALLING)  # the worker died during the call
    assert send_outbox(str(first)) == 0  # just claimed: maybe still on its way, so nothing overtakes it
    assert bot_api.texts(CHAT) == []
    harness.db.outbox.update_one({"_id": first}, {"$set": {"sending_at": datetime.now(UTC) - timedelta(minutes=3)}})
    assert due_outbound(harness.db, datetime.now(UTC)) == [str(first)]
    assert send_outbox(str(first)) == 2
    assert bot_api.texts(CHAT) == ["first", "second"]
    assert harness.db.outbox.find_one({"_id": first})["attempts"] == 2


def test_a_claim_left_during_the_call_is_queued_again_by_the_reconciler_once_stale_not_before(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    """Queued before it is stale, the job would only hand the claim to RQ's scheduler (stopped for a minute or
    more after a Redis restart), and the reconciler queues an item once in five minutes: the chaos run saw a
    reply wait behind such a claim past the person's patience."""
    first = first_of_two_left_claimed(harness, CALLING)  # the worker died during the call

    def claimed_ago(seconds: float) -> None:
        since = datetime.now(UTC) - timedelta(seconds=seconds)
        harness.db.outbox.update_one({"_id": first}, {"$set": {"sending_at": since}})

    claimed_ago(40)  # past the reconciler's grace (30 s): "second" is due, "first" may still be on its way
    reconcile(harness.context, datetime.now(UTC))
    harness.work()
    assert bot_api.texts(CHAT) == []  # nothing overtakes a claim that may still be under way
    claimed_ago(SENDING_STALE.total_seconds() + 1)
    assert reconcile(harness.context, datetime.now(UTC))["outbox"] == 1
    harness.work()
    assert bot_api.texts(CHAT) == ["first", "second"]


def test_a_claim_whose_platform_call_never_happened_is_sent_at_once(harness: Harness, bot_api: TelegramStandIn) -> None:
    """MongoDB died as it answered the claim: the job stopped before calling the platform, so nobody got it."""
    first = queue_outbound(harness.db, CONTACT, "telegram", str(CHAT), "first")
    claim(harness, first)
    assert send_outbox(str(first)) == 1  # no two-minute wait
    assert bot_api.texts(CHAT) == ["first"]


def test_a_reply_the_platform_took_but_whose_record_was_lost_is_not_sent_twice(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    first = first_of_two_left_claimed(harness, '["42", "text"]')  # taken; MongoDB then went away
    assert send_outbox(str(first)) == 2
    assert bot_api.texts(CHAT) == ["second"]  # "first" already reached the person
    recorded = harness.db.outbox.find_one({"_id": first})
    assert (recorded["status"], recorded["platform_id"]) == ("sent", "42")
    assert harness.context.connections.redis.get(f"{CALL_KEY}{first}") is None
