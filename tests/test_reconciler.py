"""Work stored without its job is found by the reconciler and finished; every job queued twice does its work once."""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from bot.telegram import parse_update
from core.faces.analysis import analyse_photo
from core.faces.sender import PhotoSender
from services.approval import tell_family
from services.maintenance import RECONCILER_LAST_KEY
from services.queue import (
    ANALYSIS_ATTEMPTS,
    Job,
    enqueue_conversation,
    enqueue_matching,
    enqueue_outbox,
    enqueue_outbox_at,
    enqueue_photo_analysis,
)
from standins.telegram_api import TelegramStandIn
from storage.candidates import decide
from storage.cases import create_sighting, erase_contact
from storage.inbound import store_inbound
from storage.outbox import queue_outbound, retry_outbound
from storage.photos import Owner, save_photo
from tests.chat_harness import Harness
from tests.test_telegram import photo, post, update
from workers import jobs, reconciler
from workers.jobs import record_analysis
from workers.reconciler import reconcile

pytestmark = pytest.mark.telegram  # the Bot API stand-in answers (tests/conftest.py `environment`)

FAMILY, CITIZEN = 4001, 4002
COLIN = "lfw/Colin_Powell/Colin_Powell_000{}.jpg"


def later() -> datetime:
    """A reconciler run after the grace period, without waiting for it."""
    return datetime.now(UTC) + timedelta(minutes=1)


def chat(harness: Harness, chat_id: int, *messages: str | dict[str, Any]) -> None:
    for item in messages:
        assert post(harness, update(chat_id, item) if isinstance(item, str) else update(chat_id, **item)) == 200
        harness.work()


def case_and_sighting(harness: Harness, bot_api: TelegramStandIn, faces_dir: Path) -> dict[str, Any]:
    """A family reports Colin Powell, a citizen sees him: one candidate, as through the chat."""
    bot_api.add_file("case", (faces_dir / COLIN.format(1)).read_bytes())
    bot_api.add_file("seen", (faces_dir / COLIN.format(2)).read_bytes())
    chat(harness, FAMILY, "hi", "yes", "1", "Colin Powell", "60", "skip", "Leeds", "yesterday", "skip")
    chat(harness, FAMILY, photo("case"), "done", "yes")
    chat(harness, CITIZEN, "hi", "yes", photo("seen"), "Leeds station", "now", "skip")
    candidate = harness.db.candidates.find_one()
    assert candidate is not None
    return candidate


def message(chat_id: int, text: str) -> Any:
    parsed = parse_update(update(chat_id, text))
    assert parsed is not None
    return parsed


def test_a_message_stored_without_its_job_is_answered(harness: Harness, bot_api: TelegramStandIn) -> None:
    store_inbound(harness.db, message(FAMILY, "hi"))  # the web process stopped before queuing it
    harness.work()
    assert bot_api.sent == []
    assert reconcile(harness.context, datetime.now(UTC))["inbound"] == 0  # too recent: its job may be on its way
    assert reconcile(harness.context, later())["inbound"] == 1
    harness.work()
    assert "Do you agree?" in bot_api.texts(FAMILY)[0]
    assert harness.db.inbound.count_documents({"status": "pending"}) == 0


def test_a_message_still_in_line_behind_a_backlog_is_not_queued_twice(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    """During a viral appeal's backlog, work stored after the oldest job in line waits for the line, not the grace."""
    waiting = store_inbound(harness.db, message(CITIZEN, "hi"))
    enqueue_conversation(harness.context.queue, str(waiting), first_contact=True)  # in line ahead, as in a backlog
    store_inbound(harness.db, message(FAMILY, "hi"))  # its job lost (or still to come)
    assert reconcile(harness.context, later())["inbound"] == 0  # the line has not reached it: no duplicate job
    harness.work()  # the line moves on: the citizen's job is done, the family's message is still pending
    assert bot_api.texts(FAMILY) == [] and bot_api.texts(CITIZEN)
    assert reconcile(harness.context, later())["inbound"] == 1
    harness.work()
    assert "Do you agree?" in bot_api.texts(FAMILY)[0]


def test_a_photo_never_analysed_is_analysed_and_matched(harness: Harness, faces_dir: Path) -> None:
    data = (faces_dir / COLIN.format(3)).read_bytes()
    saved = save_photo(harness.db, data, Owner("sighting", "SG-TEST"), "image/jpeg")  # stored, job lost
    assert reconcile(harness.context, later())["photos"] == 1
    harness.work()
    found = harness.db.photos.find_one({"_id": saved.id})
    assert found["status"] == "analysed" and found["face_count"] == 1 and found.get("matched_at")
    assert harness.db.faces.count_documents({"photo_id": saved.id}) == 1


def test_a_reply_never_sent_is_sent_and_a_failed_one_waits_for_its_retry(
    harness: Harness, bot_api: TelegramStandIn
) -> None:
    queue_outbound(harness.db, f"telegram:{FAMILY}", "telegram", str(FAMILY), "hello again")
    failing = queue_outbound(harness.db, f"telegram:{CITIZEN}", "telegram", str(CITIZEN), "retry me later")
    # A temporary failure: due again in ten minutes, with its wake-up job booked.
    retry_outbound(harness.db, failing, datetime.now(UTC) + timedelta(minutes=10), "Telegram answered 502")
    assert reconcile(harness.context, later())["outbox"] == 1
    harness.work()
    assert bot_api.texts(FAMILY) == ["hello again"] and bot_api.texts(CITIZEN) == []


def test_a_delayed_send_a_stopped_scheduler_left_is_queued_and_sent(harness: Harness, bot_api: TelegramStandIn) -> None:
    """After a Redis restart RQ's scheduler stays down for up to a minute and a half (its dead lock outlives it):
    a send booked for 20 s ago, still within the reconciler's grace for the outbox, goes at its next run."""
    now = datetime.now(UTC)
    booked = queue_outbound(harness.db, f"telegram:{FAMILY}", "telegram", str(FAMILY), "after the pause")
    later_one = queue_outbound(harness.db, f"telegram:{CITIZEN}", "telegram", str(CITIZEN), "not yet")
    retry_outbound(harness.db, booked, now - timedelta(seconds=20), "Telegram answered 502")
    retry_outbound(harness.db, later_one, now + timedelta(minutes=1), "Telegram answered 502")
    enqueue_outbox_at(harness.context.queue, str(booked), now - timedelta(seconds=20), 1)
    enqueue_outbox_at(harness.context.queue, str(later_one), now + timedelta(minutes=1), 1)
    counts = reconcile(harness.context, now)
    assert (counts["overdue_jobs"], counts["outbox"]) == (1, 0)
    harness.work()
    assert bot_api.texts(FAMILY) == ["after the pause"] and bot_api.texts(CITIZEN) == []


def test_a_lost_match_and_an_untold_approval_are_recovered(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    candidate = case_and_sighting(harness, bot_api, faces_dir)
    # The matching job was lost: no candidate yet, and the photo was never stamped as matched.
    harness.db.candidates.delete_many({})
    harness.db.photos.update_one({"_id": candidate["sighting_photo_id"]}, {"$unset": {"matched_at": ""}})
    assert reconcile(harness.context, later())["matching"] == 1
    harness.work()
    again = harness.db.candidates.find_one({"case": candidate["case"], "sighting": candidate["sighting"]})
    assert again is not None

    family_before, citizen_before = len(bot_api.texts(FAMILY)), len(bot_api.texts(CITIZEN))
    decide(harness.db, again["_id"], "approved", "reviewer")  # the panel claimed it, then stopped
    assert reconcile(harness.context, later())["approvals"] == 1
    harness.work()
    told = bot_api.texts(FAMILY)[family_before:]
    assert len(told) == 1 and candidate["case"] in told[0] and candidate["sighting"] in told[0]
    assert bot_api.texts(CITIZEN)[citizen_before:] == []  # the citizen learns nothing of the approval
    assert harness.db.candidates.find_one({"_id": again["_id"]})["told_at"]

    assert reconcile(harness.context, later())["approvals"] == 0
    harness.work()
    assert len(bot_api.texts(FAMILY)) == family_before + 1 and len(bot_api.texts(CITIZEN)) == citizen_before


def test_every_job_queued_twice_does_its_work_once(harness: Harness, bot_api: TelegramStandIn, faces_dir: Path) -> None:
    candidate = case_and_sighting(harness, bot_api, faces_dir)
    db, queue = harness.db, harness.context.queue
    assert queue is not None
    stored = {name: db[name].count_documents({}) for name in ("inbound", "outbox", "photos", "faces", "candidates")}
    sent = len(bot_api.sent)

    inbound_id = store_inbound(db, message(FAMILY, "menu"))
    enqueue_conversation(queue, str(inbound_id))
    enqueue_conversation(queue, str(inbound_id))
    photo_id = str(candidate["sighting_photo_id"])
    enqueue_photo_analysis(queue, photo_id)
    queue.enqueue(Job.ANALYSE_PHOTO.value, photo_id)  # a redelivery under another job id
    enqueue_matching(queue, photo_id)
    enqueue_matching(queue, photo_id)
    decide(db, candidate["_id"], "approved", "reviewer")
    tell_family(db, queue, candidate["_id"])
    tell_family(db, queue, candidate["_id"])
    family_message = db.candidates.find_one({"_id": candidate["_id"]})["family_message_id"]
    enqueue_outbox(queue, str(family_message))
    harness.work()

    after = {name: db[name].count_documents({}) for name in stored}
    # One more inbound message and two more outbox messages (the menu, the family's answer).
    assert after == stored | {"inbound": stored["inbound"] + 1, "outbox": stored["outbox"] + 2}
    new = [m.get("text") or m.get("caption") or "" for m in bot_api.sent[sent:]]
    assert len(new) == 2 and len(set(new)) == 2
    assert sum(candidate["case"] in text for text in new) == 1


def test_faces_whose_photo_is_gone_are_swept(harness: Harness) -> None:
    kept = save_photo(harness.db, b"some bytes", Owner("sighting", "SG-KEPT"), "image/jpeg").id
    orphan = ObjectId()
    for photo_id in (kept, orphan):
        harness.db.faces.insert_one(
            {
                "photo_id": photo_id,
                "index": 0,
                "owner": {"kind": "sighting", "id": "SG-X"},
                "created_at": datetime.now(UTC),
            }
        )
    assert reconcile(harness.context, later())["orphan_faces"] == 1
    assert [f["photo_id"] for f in harness.db.faces.find()] == [kept]
    assert reconcile(harness.context, later())["orphan_faces"] == 0


def test_a_contact_erased_while_their_photo_is_analysed_leaves_no_faces(harness: Harness, faces_dir: Path) -> None:
    contact = f"telegram:{CITIZEN}"
    reference = create_sighting(harness.db, contact, {"place": {"text": "Leeds"}}, source="telegram:1")
    data = (faces_dir / "groups/two_people.jpg").read_bytes()
    saved = save_photo(harness.db, data, Owner("sighting", reference), "image/jpeg")
    found = harness.db.photos.find_one({"_id": saved.id})
    settings = harness.context.settings
    analysis = analyse_photo(data, settings.max_photo_bytes, settings.max_photo_pixels, 1)  # the job is working...
    assert len(analysis.faces) == 2
    erase_contact(harness.db, contact)  # ...when the citizen says "delete my data"
    assert record_analysis(harness.context, found, analysis) == "gone"
    assert harness.db.faces.count_documents({}) == 0 and harness.db.photos.count_documents({}) == 0


def test_a_photo_whose_job_keeps_dying_is_given_up_its_sender_told_once_and_never_queued_again(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = PhotoSender(f"telegram:{CITIZEN}", "telegram", str(CITIZEN), 2, "sighting")
    data = (faces_dir / COLIN.format(3)).read_bytes()
    saved = save_photo(harness.db, data, Owner("sighting", "SG-DIES"), "image/jpeg", sender)

    def dies(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the work horse was killed")  # as a timeout or a crash in the decoder would

    monkeypatch.setattr(jobs, "analyse", dies)
    for _ in range(ANALYSIS_ATTEMPTS):
        with pytest.raises(RuntimeError):
            jobs.analyse_photo(str(saved.id))
    assert harness.db.photos.find_one({"_id": saved.id})["status"] == "pending"
    assert reconcile(harness.context, later())["photos"] == 1  # started three times, queued once more...
    harness.work()
    found = harness.db.photos.find_one({"_id": saved.id})
    assert (found["status"], found["detail"]) == ("failed", "gave up after 3 attempts")  # ...and given up
    assert bot_api.texts(CITIZEN) == ["I couldn't read photo 2, even after several tries. Please send another one."]
    harness.context.connections.redis.delete(f"{reconciler.REQUEUED_KEY}analyse:{saved.id}")
    assert reconcile(harness.context, later())["photos"] == 0  # never queued again
    assert jobs.analyse_photo(str(saved.id)) == "failed"  # a stray run changes nothing, tells nobody
    harness.work()
    assert len(bot_api.texts(CITIZEN)) == 1


def test_the_last_run_is_recorded_for_healthz_and_one_worker_runs_it_per_period(harness: Harness) -> None:
    assert reconciler.run_once(harness.context) is not None
    assert reconciler.run_once(harness.context) is None  # another worker's turn already taken this period
    health = harness.client.get("/healthz").json
    assert health["reconciler"]["last_run_s_ago"] < 5
    assert set(health["reconciler"]["recovered"]) >= {"inbound", "photos", "outbox", "approvals", "orphan_faces"}
    assert re.fullmatch(r"\d+(\.\d+)?", str(health["reconciler"]["last_run_s_ago"]))


def test_each_worker_runs_it_in_a_thread_every_period(harness: Harness) -> None:
    context = dataclasses.replace(
        harness.context, settings=dataclasses.replace(harness.context.settings, reconcile_seconds=1)
    )
    stop = reconciler.start(context)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not harness.context.connections.redis.get(RECONCILER_LAST_KEY):
            time.sleep(0.1)
    finally:
        stop.set()
    assert harness.client.get("/healthz").json["reconciler"]["last_run_s_ago"] < 10
