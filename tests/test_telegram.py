"""Telegram end to end: updates posted as Telegram posts them, the real PTB Bot talking to a stand-in Bot API."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from rq.registry import FailedJobRegistry

from config.process import quiet_libraries
from infra.embedded import EmbeddedServer
from services.queue import INTAKE_LINE, make_queue
from standins.telegram_api import TelegramStandIn
from storage.audit_verify import verify_chain
from storage.users import create_user
from tests.chat_harness import Harness
from tests.conftest import SECRET, TOKEN, make_environment
from tests.test_admin_access import login

pytestmark = pytest.mark.telegram  # the Bot API stand-in answers (tests/conftest.py `environment`)

CHAT, CITIZEN = 1001, 2002
ERASED = 739_216_458  # long enough never to occur by chance in a hash or an id that is searched


_ids = itertools.count(50_000)


def update(chat: int, text: str | None = None, **message: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": next(_ids),
        "date": 1_700_000_000,
        "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Test"},
    }
    if text is not None:
        body["text"] = text
    return {"update_id": next(_ids), "message": body | message}


def photo(file_id: str) -> dict[str, Any]:
    return {
        "photo": [
            {"file_id": f"{file_id}-small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1000},
            {"file_id": file_id, "file_unique_id": "l", "width": 250, "height": 250, "file_size": 12_000},
        ]
    }


def post(harness: Harness, body: dict[str, Any], secret: str | None = SECRET) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    return harness.client.post("/webhooks/telegram", json=body, headers=headers).status_code


def chat(harness: Harness, chat_id: int, *messages: str | dict[str, Any]) -> None:
    for item in messages:
        body = update(chat_id, item) if isinstance(item, str) else update(chat_id, **item)
        assert post(harness, body) == 200
        harness.work()


def test_a_family_reports_a_missing_person(harness: Harness, bot_api: TelegramStandIn, faces_dir: Path) -> None:
    bot_api.add_file("aaron-1", (faces_dir / "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg").read_bytes())
    chat(harness, CHAT, "/start", "yes", "1", "J", "Aaron Eckhart", "forty", "41", "skip")
    chat(harness, CHAT, {"location": {"latitude": 51.5033, "longitude": -0.1196}}, "yesterday 5pm", "grey jacket")
    chat(harness, CHAT, photo("aaron-1"), "done", "yes")
    said = bot_api.texts(CHAT)
    assert "Do you agree?" in said[0]
    assert "Please type the person's name (at least 2 letters)." in said  # 'J' was asked again
    assert "Please reply with an age in years (0 to 120), or 'unknown'." in said  # so was 'forty'
    reference = re.search(r"reference is (HW-[0-9A-Z]{4})", said[-1]).group(1)  # type: ignore[union-attr]
    case = harness.db.cases.find_one({"reference": reference})
    assert case["name"] == "Aaron Eckhart" and case["age"] == 41 and case["place"]["latitude"] == 51.5033
    photo_doc = harness.db.photos.find_one({"owner.id": reference})
    assert photo_doc["status"] == "analysed" and photo_doc["face_count"] == 1
    assert harness.db.faces.count_documents({"owner": {"kind": "case", "id": reference}}) == 1


def test_a_citizen_reports_a_sighting_and_learns_no_identity(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    bot_api.add_file("seen-1", (faces_dir / "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg").read_bytes())
    chat(
        harness, CITIZEN, "hi", "yes", photo("seen-1"), "Market square, north side", "now", "walking towards the river"
    )
    said = bot_api.texts(CITIZEN)
    assert re.search(r"reference is SG-[0-9A-Z]{4}", said[-1])
    assert not any("Aaron" in text for text in said)
    sighting = harness.db.sightings.find_one({"reporter": f"telegram:{CITIZEN}"})
    assert (
        sighting["place"] == {"text": "Market square, north side"} and sighting["note"] == "walking towards the river"
    )
    assert harness.db.faces.count_documents({"owner.kind": "sighting"}) == 1


def test_the_same_update_three_times_has_one_effect(harness: Harness, bot_api: TelegramStandIn) -> None:
    body = update(CHAT, "hi")
    assert [post(harness, body) for _ in range(3)] == [200, 200, 200]
    harness.work()
    assert harness.db.inbound.count_documents({}) == 1
    assert len(bot_api.texts(CHAT)) == 1


@pytest.mark.parametrize("secret", [None, "wrong-secret-value-000"])
def test_a_bad_or_missing_secret_is_refused_and_nothing_is_stored(
    harness: Harness, bot_api: TelegramStandIn, secret: str | None
) -> None:
    assert post(harness, update(CHAT, "hi"), secret=secret) == 403
    harness.work()
    assert harness.db.inbound.count_documents({}) == 0 and bot_api.sent == []


def test_files_that_are_not_photos_get_a_clear_answer(harness: Harness, bot_api: TelegramStandIn) -> None:
    pdf = {
        "document": {
            "file_id": "doc-1",
            "file_unique_id": "d",
            "mime_type": "application/pdf",
            "file_name": "poster.pdf",
            "file_size": 80_000,
        }
    }
    video = {
        "video": {
            "file_id": "vid-1",
            "file_unique_id": "v",
            "width": 640,
            "height": 480,
            "duration": 9,
            "file_size": 2_000_000,
        }
    }
    huge = {
        "document": {
            "file_id": "big-1",
            "file_unique_id": "b",
            "mime_type": "image/jpeg",
            "file_name": "big.jpg",
            "file_size": 40 * 2**20,
        }
    }
    chat(harness, CHAT, "hi", "yes", pdf, "report", video, huge)  # a video is a sighting's, not a report's
    said = bot_api.texts(CHAT)
    assert "I can't use that kind of file. Please send a photo (JPEG or PNG)." in said
    assert any(text.startswith("For a missing-person report please send photos, not a video") for text in said)
    assert "That file is too large (40.0 MB). Please send a photo smaller than 15 MB." in said
    assert harness.db.photos.count_documents({}) == 0


def test_cancel_leaves_the_report_and_forgets_its_photos(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    bot_api.add_file("p1", (faces_dir / "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg").read_bytes())
    chat(harness, CHAT, "hi", "yes", "report", "Someone Else", photo("p1"))
    assert harness.db.photos.count_documents({}) == 1
    chat(harness, CHAT, "cancel", "menu")
    said = bot_api.texts(CHAT)
    assert "Stopped; nothing from it was kept." in said[-2] and "What would you like to do?" in said[-1]
    assert harness.db.photos.count_documents({}) == 0 and harness.db.faces.count_documents({}) == 0


def test_delete_my_data_leaves_nothing_of_the_contact(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A contact who reported a case and sightings, and whom reviewers wrote about, asks to be forgotten.

    Afterwards no collection, GridFS bucket, Redis key or RQ record (arguments, tracebacks) holds their contact
    id, chat id, the name they gave, what they typed, their photos' digests or their faces' encodings, and no
    log line written meanwhile does either; the audit chain still verifies and holds only ids.
    """
    caplog.set_level(logging.DEBUG)  # HOMEWARD_LOG_LEVEL=DEBUG, as a process starts (libraries that log payloads quiet)
    quiet_libraries()
    photos = {
        "colin-1": faces_dir / "lfw/Colin_Powell/Colin_Powell_0001.jpg",
        "colin-2": faces_dir / "lfw/Colin_Powell/Colin_Powell_0002.jpg",
        "colin-3": faces_dir / "lfw/Colin_Powell/Colin_Powell_0003.jpg",
    }
    for file_id, path in photos.items():
        bot_api.add_file(file_id, path.read_bytes())
    harness.context.settings = dataclasses.replace(harness.context.settings, case_photo_jitters=1)  # time, not accuracy
    contact, queue = f"telegram:{ERASED}", make_queue(harness.context.connections.redis)
    chat(harness, ERASED, "hi")
    # A failed job whose traceback quotes the contact, as a driver's duplicate-key error may.
    queue.enqueue("tests.flaky_job.fails_quoting_its_sender", str(harness.db.inbound.find_one()["_id"]))
    harness.work()
    assert FailedJobRegistry(queue=queue).count == 1
    logged_from = len(caplog.records)
    chat(harness, ERASED, "yes", "1", "Colin Powell", "66", "male", "Leeds", "2 days ago", "in a navy overcoat")
    chat(harness, ERASED, photo("colin-1"), "done", "yes")
    chat(harness, CITIZEN, "hi", "yes", "1", "Colin L. Powell", "66", "skip", "York", "yesterday", "skip")
    chat(harness, CITIZEN, photo("colin-2"), "done", "yes")  # the same person: flagged as a possible duplicate
    chat(harness, ERASED, photo("colin-3"), "Platform 4, Leeds station", "now", "by the blue kiosk")
    [own_case] = [c["reference"] for c in harness.db.cases.find({"reporter": contact})]
    other_case = harness.db.cases.find_one({"reporter": f"telegram:{CITIZEN}"})
    assert [d["case"] for d in other_case["possible_duplicates"]] == [own_case]

    # Reviewers write about the case and approve the other family's candidate: their message describes the sighting.
    create_user(harness.db, "rita", "a-long-test-password", "reviewer")
    token = login(harness.client, "rita", "a-long-test-password")
    own = harness.db.candidates.find_one({"case": own_case})
    told = harness.db.candidates.find_one({"case": other_case["reference"]})
    assert own and told and harness.client.get(f"/images/faces/{own['sighting_face_id']}/crop.jpg").status_code == 200
    reason = "Colin Powell himself, reported by his own son"
    harness.client.post(
        f"/candidates/{own['_id']}/decide", data={"action": "reject", "reason": reason, "csrf_token": token}
    )
    harness.client.post(f"/candidates/{told['_id']}/decide", data={"action": "approve", "csrf_token": token})
    harness.client.post(f"/cases/{own_case}/close", data={"reason": "Colin Powell is home", "csrf_token": token})
    harness.work()
    assert "Platform 4, Leeds station" in bot_api.texts(CITIZEN)[-1]

    references = [own_case] + [s["reference"] for s in harness.db.sightings.find({"reporter": contact})]
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for key, path in photos.items() if key != "colin-2"]
    encodings = [bytes(f["encoding"]) for f in harness.db.faces.find({"owner.id": {"$in": references}})]
    earlier_messages = [str(m["_id"]) for m in harness.db.inbound.find({"contact": contact})]
    personal = [contact, str(ERASED), "Colin Powell", "navy overcoat", "blue kiosk", "Leeds station", "his own son"]
    needles: list[str | bytes] = [*personal, "is home", *digests, *encodings, *earlier_messages]
    assert len(references) == 2 and len(encodings) == 2
    assert len(harness.leftovers(needles)) > 20  # the search finds them where they are

    chat(harness, ERASED, "delete my data", "delete")
    assert "everything you sent to Homeward has been erased" in bot_api.texts(ERASED)[-1]
    assert harness.leftovers(needles) == []
    # Ids only: in the audit chain, and for a day in the log that tells workers' indexes to drop the faces.
    assert {place.split()[0] for place in harness.leftovers(references)} <= {"audit", "gallery_changes"}
    assert harness.traces_of(contact, references) == {}
    assert FailedJobRegistry(queue=queue).count == 0
    assert harness.db.photo_files.files.count_documents({}) == 1  # the other family's photo
    assert harness.db.cases.find_one({"_id": other_case["_id"]})["possible_duplicates"] == []
    family_message = harness.db.outbox.find_one({"source": f"approve:{told['_id']}"})
    assert family_message["status"] == "sent" and family_message["text"] == "" and "photo_id" not in family_message
    assert verify_chain(harness.db).ok
    logged = [record.getMessage() + (record.exc_text or "") for record in caplog.records[logged_from:]]
    assert not [line for line in logged for n in personal if n in line]  # job arguments in logs are ids only


def test_a_group_chat_is_sent_to_a_private_chat_and_nothing_is_kept(harness: Harness, bot_api: TelegramStandIn) -> None:
    """Everyone in a group shares its chat id: one contact for many people would mix their reports."""
    group = -100_123
    hindi = {"from": {"id": CITIZEN, "is_bot": False, "first_name": "सीता", "language_code": "hi"}}
    messages = ({"text": "hi"}, photo("group-photo") | {"caption": "seen him"}, {"text": "नमस्ते"} | hindi)
    for kind, message in zip(("group", "supergroup", "supergroup"), messages, strict=True):
        body = update(group, **message)
        body["message"]["chat"] = {"id": group, "type": kind, "title": "Neighbours"}
        assert post(harness, body) == 200
        harness.work()
    said = bot_api.texts(group)
    assert len(said) == 3 and all("private chat" in text for text in said[:2]) and "निजी चैट" in said[2]
    assert harness.db.conversations.count_documents({}) == 0  # no shared contact was started
    assert harness.db.photos.count_documents({}) == 0 and harness.db.cases.count_documents({}) == 0
    kept = list(harness.db.inbound.find({}, {"text": 1, "attachments": 1, "status": 1}))
    assert [m["status"] for m in kept] == ["refused"] * 3
    assert not any(m.get("text") or m.get("attachments") for m in kept)
    chat(harness, CITIZEN, "hi")  # the same person in a private chat is answered as usual
    assert "Do you agree?" in bot_api.texts(CITIZEN)[0]


def test_a_blocked_bot_is_recorded_and_a_server_error_is_retried(harness: Harness, bot_api: TelegramStandIn) -> None:
    bot_api.fail_next = [403]
    chat(harness, CHAT, "hi")
    failed = harness.db.outbox.find_one({"contact": f"telegram:{CHAT}"})
    assert failed["status"] == "failed" and "blocked" in failed["error"]
    bot_api.fail_next = [500]
    chat(harness, CHAT, "yes")
    waiting = list(harness.db.outbox.find({"contact": f"telegram:{CHAT}", "status": "pending"}).sort("seq", 1))
    assert len(waiting) == 2 and waiting[0]["attempts"] == 1  # order kept: both wait for the retry


def test_polling_mode_feeds_the_same_path(
    servers: tuple[EmbeddedServer, EmbeddedServer],
    tmp_path: Path,
    bot_api: TelegramStandIn,
    db: Any,
    redis: redis_lib.Redis,
) -> None:
    """TELEGRAM_MODE=polling: the real polling process takes updates from getUpdates into the intake line."""
    env = make_environment(
        servers, tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_MODE="polling", TELEGRAM_API_BASE_URL=bot_api.url
    )  # type: ignore[attr-defined]
    env["MONGODB_DATABASE"] = db.name
    bot_api.updates = [update(CHAT, "hi"), update(CHAT, "yes")]
    process = subprocess.Popen(
        [sys.executable, "-m", "workers.polling"], cwd=Path(__file__).parent.parent, env=os.environ | env
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and redis.llen(INTAKE_LINE) < 2:
            time.sleep(0.2)
    finally:
        process.terminate()
        assert process.wait(20) == 0
    lined_up = [json.loads(entry) for entry in redis.lrange(INTAKE_LINE, 0, -1)]
    assert [(entry["chat_id"], entry["text"]) for entry in lined_up] == [(str(CHAT), "hi"), (str(CHAT), "yes")]


def test_a_family_reports_in_hindi_from_consent_to_a_case_reference(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    """Telegram says the app is in Hindi: every reply is Hindi, and the report is registered."""
    bot_api.add_file("sita-1", (faces_dir / "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg").read_bytes())
    hindi = {"from": {"id": CHAT, "is_bot": False, "first_name": "सीता", "language_code": "hi"}}
    steps: list[dict[str, Any]] = [
        {"text": text} | hindi
        for text in ("/start", "हाँ", "1", "सीता देवी", "35", "महिला", "चाँदनी चौक, दिल्ली", "पता नहीं", "लाल साड़ी")
    ]
    chat(harness, CHAT, *steps, photo("sita-1") | hindi, {"text": "हो गया"} | hindi, {"text": "हाँ"} | hindi)
    said = bot_api.texts(CHAT)
    assert "क्या आप सहमत हैं?" in said[0]
    assert all(re.search("[\u0900-\u097f]", text) for text in said), "every reply is in Hindi"
    assert "आख़िरी बार देखा: चाँदनी चौक, दिल्ली, पता नहीं" in said[-2]
    reference = re.search(r"संदर्भ नंबर (HW-[0-9A-Z]{4})", said[-1]).group(1)  # type: ignore[union-attr]
    case = harness.db.cases.find_one({"reference": reference})
    assert case["name"] == "सीता देवी" and case["age"] == 35 and case["description"] == "लाल साड़ी"
    assert harness.db.conversations.find_one({"contact": f"telegram:{CHAT}"})["state"]["language"] == "hi"
