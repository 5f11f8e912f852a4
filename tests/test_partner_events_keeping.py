"""How long partner deliveries are kept (the retention sweep), and what an erased family's case leaves in them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bson import ObjectId

from services.approval import tell_family
from services.outcomes import settle
from services.queue import enqueue_partner_delivery
from storage.erasure import erase_everything
from storage.partner_events import ERASED, delivered, give_up_delivery
from tests import test_partner_hooks as hooks
from tests.chat_harness import Harness
from tests.test_partner_hooks import Receiver, add_hook, deliver, match
from workers.reconciler import reconcile
from workers.retention import sweep

# The fixtures of tests/test_partner_hooks.py: a receiver, and an environment allowing loopback endpoints.
environment, harness, receiver, shelter = hooks.environment, hooks.harness, hooks.receiver, hooks.shelter


def test_delivered_and_given_up_deliveries_go_after_the_period_and_one_still_tried_stays(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    db, keep = harness.db, harness.context.settings.retention
    add_hook(harness, shelter, receiver.url)
    for n in (1, 2, 3):
        tell_family(db, None, match(harness, shelter, n))  # stored, not sent
        for kind, prefix in (("found_persons", "FP"), ("cases", "HW")):  # match() leaves one `source` unset a time
            db[kind].update_one({"reference": f"{prefix}-000{n}"}, {"$set": {"source": f"test:{n}"}})
    first, second, third = [d["_id"] for d in db.partner_deliveries.find().sort("created_at", 1)]
    delivered(db, first, 200)
    give_up_delivery(db, second, "HTTP 500")
    now = datetime.now(UTC)
    assert sweep(db, now + timedelta(days=keep.partner_events_days - 1), keep)["partner_events"] == 0
    assert sweep(db, now + timedelta(days=keep.partner_events_days + 1), keep)["partner_events"] == 2
    assert [d["_id"] for d in db.partner_deliveries.find()] == [third], "one still to be tried is never removed"
    (event,) = db.partner_events.find()
    assert event["_id"] == db.partner_deliveries.find_one()["event"], "an event goes with its last delivery"


def test_a_delivery_failing_past_its_day_of_retries_is_given_up_then_kept_for_the_log(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    db, keep = harness.db, harness.context.settings.retention
    add_hook(harness, shelter, receiver.url)
    receiver.plan = [500]
    tell_family(db, None, match(harness, shelter))
    day_ago = datetime.now(UTC) - timedelta(hours=24, minutes=5)
    db.partner_deliveries.update_one({}, {"$set": {"first_try_at": day_ago, "attempts": 30}})
    enqueue_partner_delivery(harness.context.queue, str(db.partner_deliveries.find_one()["_id"]))
    harness.worker.work(burst=True)
    given_up = db.partner_deliveries.find_one()
    assert given_up["status"] == "failed" and given_up["last_error"] == "HTTP 500" and len(receiver.received) == 1
    now = datetime.now(UTC)
    assert sweep(db, now + timedelta(days=keep.partner_events_days - 1), keep)["partner_events"] == 0
    assert sweep(db, now + timedelta(days=keep.partner_events_days + 1), keep)["partner_events"] == 1
    assert db.partner_events.count_documents({}) == 0


def test_an_erased_familys_case_is_never_sent_after_the_erasure_and_blanked_in_what_is_kept(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    db = harness.db
    add_hook(harness, shelter, receiver.url)
    candidate = match(harness, shelter)  # the family: telegram:901, its case HW-0001
    tell_family(db, harness.context.queue, candidate)
    deliver(harness, lambda: bool(receiver.events()))
    assert receiver.events()[0]["data"]["case"] == "HW-0001", "the approval told the partner the case, legitimately"
    settle(db, None, candidate, "contacted", "registrar")  # stored; its job not queued yet
    assert db.partner_deliveries.count_documents({"status": "pending"}) == 1
    erased, _ = erase_everything(db, "telegram:901")
    assert erased["partner_events"] == 2
    reconcile(harness.context, datetime.now(UTC) + timedelta(minutes=1))
    harness.worker.work(burst=True, with_scheduler=True)
    assert len(receiver.received) == 1, "nothing of the erased case was sent after the erasure"
    outcome = db.partner_deliveries.find_one({"type": "outcome.recorded"})
    assert outcome["status"] == "failed" and outcome["last_error"] == ERASED
    kept = " ".join(event["body"] for event in db.partner_events.find())
    assert "HW-0001" not in kept and kept.count('"case": null') == 2
