"""WhatsApp through Twilio end to end: signed form posts in, the real twilio Client out to a stand-in."""

from __future__ import annotations

import itertools
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from twilio.request_validator import RequestValidator

from config import Settings
from config.process import quiet_libraries
from infra.embedded import EmbeddedServer
from services.media_links import LINK_SECONDS, SALT, photo_link, photo_token
from services.queue import enqueue_outbox
from standins.twilio_api import TwilioStandIn
from storage.connections import Connections
from storage.outbox import queue_outbound
from storage.photos import Owner, save_photo
from storage.users import create_user
from tests.chat_harness import Harness
from tests.conftest import PUBLIC, make_environment, twilio_settings
from tests.conftest import TWILIO_FROM as FROM
from tests.conftest import TWILIO_TOKEN as TOKEN
from tests.test_admin_access import PASSWORD, login
from workers.retention import sweep

FAMILY, CITIZEN = "+447700900001", "+447700900002"


@pytest.fixture
def environment(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, twilio_api: TwilioStandIn
) -> dict[str, str]:
    return make_environment(servers, tmp_path, **twilio_settings(twilio_api), TWILIO_TEMPLATE_SID="HX" + "0" * 32)


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    return Harness(settings, connections)


_sids = itertools.count(10**12)  # inbound ids apart from the stand-in's own (SM…1, SM…2 for what it sends)


def form(sender: str, body: str = "", **fields: str) -> dict[str, str]:
    return {
        "From": f"whatsapp:{sender}",
        "To": f"whatsapp:{FROM}",
        "Body": body,
        "MessageSid": f"SM{next(_sids):032d}",
        "NumMedia": "0",
        "ProfileName": "Tester",
        "WaId": sender[-12:],
    } | fields


def post(harness: Harness, fields: dict[str, str], signature: str | None = None) -> int:
    signed = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/webhooks/twilio", fields)
    headers = {"X-Twilio-Signature": signature if signature is not None else signed}
    return harness.client.post("/webhooks/twilio", data=fields, headers=headers).status_code


def chat(harness: Harness, sender: str, *messages: str | dict[str, str]) -> None:
    for item in messages:
        fields = form(sender, item) if isinstance(item, str) else form(sender, **item)
        assert post(harness, fields) == 200
        harness.work()


def media(twilio_api: TwilioStandIn, name: str, data: bytes, content_type: str = "image/jpeg") -> dict[str, str]:
    twilio_api.media[name] = (data, content_type)
    return {"NumMedia": "1", "MediaUrl0": f"{twilio_api.url}/media/{name}", "MediaContentType0": content_type}  # type: ignore[attr-defined]


def test_a_family_reports_a_missing_person(harness: Harness, twilio_api: TwilioStandIn, faces_dir: Path) -> None:
    picture = media(twilio_api, "ME1", (faces_dir / "lfw/Colin_Powell/Colin_Powell_0001.jpg").read_bytes())
    chat(harness, FAMILY, "hola", "yes", "report", "Colin Powell", "unknown", "male")
    chat(
        harness,
        FAMILY,
        {"Latitude": "40.4168", "Longitude": "-3.7038", "Address": "Puerta del Sol, Madrid", "Label": "Sol"},
    )
    chat(harness, FAMILY, "12/11", "skip", picture, "done", "yes")
    said = twilio_api.texts(FAMILY)
    assert "Age: unknown" in said[-2] and "Last seen: Sol, Puerta del Sol, Madrid, 12/11" in said[-2]
    reference = re.search(r"reference is (HW-[0-9A-Z]{4})", said[-1]).group(1)  # type: ignore[union-attr]
    assert harness.db.faces.count_documents({"owner": {"kind": "case", "id": reference}}) == 1
    assert twilio_api.media_requests == [True]  # fetched with the account's basic auth
    assert all(m["From"] == f"whatsapp:{FROM}" for m in twilio_api.sent)


def test_a_citizen_reports_a_sighting(harness: Harness, twilio_api: TwilioStandIn, faces_dir: Path) -> None:
    picture = media(twilio_api, "ME2", (faces_dir / "groups/kit_with_rose.jpg").read_bytes())
    chat(harness, CITIZEN, "hi", "yes", {"Body": "", **picture}, "Bus stop on Main Street", "2 hours ago", "skip")
    said = twilio_api.texts(CITIZEN)
    assert re.search(r"reference is SG-[0-9A-Z]{4}", said[-1])
    assert harness.db.faces.count_documents({"owner.kind": "sighting"}) == 2  # a sighting keeps every face
    assert not any(re.search(r"shows \d+ faces", text) for text in said)  # and doesn't nag the citizen about it


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(
    harness: Harness, twilio_api: TwilioStandIn, signature: str
) -> None:
    assert post(harness, form(FAMILY, "hi"), signature=signature) == 403
    harness.work()
    assert harness.db.inbound.count_documents({}) == 0 and twilio_api.sent == []


def test_a_repeated_delivery_has_one_effect(harness: Harness, twilio_api: TwilioStandIn) -> None:
    fields = form(FAMILY, "hi")
    assert [post(harness, fields) for _ in range(3)] == [200, 200, 200]
    harness.work()
    assert len(twilio_api.texts(FAMILY)) == 1


def test_a_replay_after_its_stub_was_swept_is_still_refused(harness: Harness, twilio_api: TwilioStandIn) -> None:
    keep = harness.context.settings.retention
    fields = form(FAMILY, "hi")
    assert post(harness, fields) == 200
    harness.work()
    later = datetime.now(UTC) + timedelta(days=keep.inbound_days + 1)
    assert sweep(harness.db, later, keep)["inbound"] == 1  # the one-day stub is gone...
    assert post(harness, fields) == 200  # ...and Twilio replays the request a few days on
    harness.work()
    assert len(twilio_api.texts(FAMILY)) == 1 and harness.db.inbound.count_documents({}) == 0
    assert harness.leftovers([fields["MessageSid"]]) == []  # recognised by a hash, the id itself not kept
    month = datetime.now(UTC) + timedelta(days=keep.replay_markers_days + 1)
    assert sweep(harness.db, month, keep)["replay_markers"] == 1  # platforms stopped redelivering long before


def test_a_video_and_a_corrupt_photo_get_clear_answers(harness: Harness, twilio_api: TwilioStandIn) -> None:
    video = media(twilio_api, "ME3", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, "video/mp4")
    broken = media(twilio_api, "ME4", b"\xff\xd8\xff\xe0 definitely not a jpeg", "image/jpeg")
    chat(harness, CITIZEN, "hi", "yes", video, broken)  # a video starts a sighting, like a photo
    said = twilio_api.texts(CITIZEN)
    assert any(text.startswith("I couldn't open that video.") for text in said)
    assert said[-1].startswith("I couldn't open photo 2: the file is damaged or incomplete.")
    assert [p["status"] for p in harness.db.photos.find()] == ["rejected", "rejected"]


def test_outside_the_24_hour_window_the_template_is_sent_and_recorded(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    chat(harness, FAMILY, "hi")
    harness.db.conversations.update_one(
        {"contact": f"whatsapp:{FAMILY}"},
        {"$set": {"last_inbound_at": datetime.now(UTC) - timedelta(hours=30)}},
    )
    queued = queue_outbound(
        harness.db, f"whatsapp:{FAMILY}", "whatsapp", FAMILY, "A reviewer confirmed a possible sighting."
    )
    enqueue_outbox(harness.context.queue, str(queued))  # type: ignore[arg-type]
    harness.work()
    last: dict[str, Any] = twilio_api.sent[-1]
    assert (
        last["ContentSid"].startswith("HX")
        and "A reviewer confirmed" in last["ContentVariables"]
        and "Body" not in last
    )
    assert harness.db.outbox.find_one({"text": "A reviewer confirmed a possible sighting."})["sent_as"] == "template"


def approve_a_sighting(
    harness: Harness, twilio_api: TwilioStandIn, faces_dir: Path, opening: tuple[str, str] = ("hi", "yes")
) -> tuple[str, bytes]:
    """The family reports Colin Powell, a citizen sends a photo of him, a reviewer approves: (case, sighting photo)."""
    case_photo = media(twilio_api, "ME10", (faces_dir / "lfw/Colin_Powell/Colin_Powell_0001.jpg").read_bytes())
    chat(harness, FAMILY, *opening, "report", "Colin Powell", "unknown", "male", "Delhi", "unknown", "skip")
    chat(harness, FAMILY, case_photo, "done", "yes")
    seen = (faces_dir / "lfw/Colin_Powell/Colin_Powell_0002.jpg").read_bytes()
    chat(harness, CITIZEN, "hi", "yes", {"Body": "", **media(twilio_api, "ME11", seen)}, "Agra Fort", "now", "skip")
    candidate = harness.db.candidates.find_one()
    assert candidate is not None, "the sighting should have matched the case"
    create_user(harness.db, "reviewer", PASSWORD, "reviewer")
    token = login(harness.client, "reviewer")
    decided = harness.client.post(
        f"/candidates/{candidate['_id']}/decide", data={"action": "approve", "csrf_token": token}
    )
    assert decided.status_code == 302
    return candidate["case"], seen


def test_a_whatsapp_approval_carries_a_media_url_twilio_could_fetch(
    harness: Harness, twilio_api: TwilioStandIn, faces_dir: Path
) -> None:
    # Twilio fetches our public URL; here the public host is routed to the web app itself.
    twilio_api.fetch_with = httpx.Client(transport=httpx.WSGITransport(app=harness.app))
    case, seen = approve_a_sighting(harness, twilio_api, faces_dir)
    harness.work()
    told = next(m for m in twilio_api.sent if "has confirmed a possible sighting" in m.get("Body", ""))
    assert told["To"] == f"whatsapp:{FAMILY}" and f"Colin Powell (report {case})" in told["Body"]
    [url] = told["MediaUrl"]
    assert url.startswith(f"{PUBLIC}/media/")
    fetched = next(f for f in twilio_api.fetched if f.url == url)
    assert fetched.status == 200 and fetched.body == seen  # the sighting photo itself, a real JPEG
    assert fetched.content_type == "image/jpeg" and fetched.body.startswith(b"\xff\xd8\xff")
    assert fetched.cache_control == "private, no-store"
    assert harness.db.outbox.find_one({"text": told["Body"]})["sent_as"] == "photo"
    to_citizen = [m for m in twilio_api.sent if m["To"] == f"whatsapp:{CITIZEN}"]
    assert to_citizen and not any("MediaUrl" in m for m in to_citizen)  # no photo of the case reaches the citizen
    assert "your sighting is recorded" in to_citizen[-1]["Body"]  # and the approval sent them nothing more


def test_outside_the_window_the_approval_goes_as_a_text_only_template(
    harness: Harness, twilio_api: TwilioStandIn, faces_dir: Path
) -> None:
    """Approved WhatsApp templates carry one text variable, so the photo can't ride along; the text still arrives."""
    harness.db.conversations.update_one(
        {"contact": f"whatsapp:{FAMILY}"}, {"$set": {"last_inbound_at": datetime.now(UTC) - timedelta(hours=30)}}
    )
    approve_a_sighting(harness, twilio_api, faces_dir)
    harness.db.conversations.update_one(
        {"contact": f"whatsapp:{FAMILY}"}, {"$set": {"last_inbound_at": datetime.now(UTC) - timedelta(hours=30)}}
    )
    harness.work()
    last = next(m for m in twilio_api.sent if m["To"] == f"whatsapp:{FAMILY}" and "ContentSid" in m)
    assert "confirmed a possible sighting" in last["ContentVariables"] and "MediaUrl" not in last


def test_a_tampered_expired_or_foreign_media_link_is_refused(harness: Harness, settings: Settings) -> None:
    saved = save_photo(harness.db, b"\xff\xd8\xff\xe0 a photo", Owner("sighting", "SG-TEST"), "image/jpeg")
    link = photo_link(PUBLIC, settings.secret_key, str(saved.id))
    path = link.removeprefix(PUBLIC)
    answer = harness.client.get(path)
    assert answer.status_code == 200 and answer.data == b"\xff\xd8\xff\xe0 a photo"
    token = path.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_key = photo_token("another-secret-key-entirely", str(saved.id))

    class AnHourAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - LINK_SECONDS - 5

    old = URLSafeTimedSerializer(settings.secret_key, salt=SALT, signer=AnHourAgo).dumps({"photo": str(saved.id)})
    for refused in (tampered, other_key, "nonsense", URLSafeTimedSerializer(settings.secret_key).dumps(str(saved.id))):
        answer = harness.client.get(f"/media/{refused}")
        assert answer.status_code == 404 and str(saved.id) not in answer.get_data(as_text=True)
    assert harness.client.get(f"/media/{old}").status_code == 410
    harness.db.photos.delete_one({"_id": saved.id})  # erased since: the link opens nothing
    assert harness.client.get(path).status_code == 404


def test_a_family_writing_hindi_is_told_of_the_approval_in_hindi_with_the_photo(
    harness: Harness, twilio_api: TwilioStandIn, faces_dir: Path
) -> None:
    twilio_api.fetch_with = httpx.Client(transport=httpx.WSGITransport(app=harness.app))
    case, seen = approve_a_sighting(harness, twilio_api, faces_dir, opening=("नमस्ते", "हाँ"))
    harness.work()
    told = next(m for m in twilio_api.sent if "संभावित रूप से देखे जाने की पुष्टि" in m.get("Body", ""))
    assert told["To"] == f"whatsapp:{FAMILY}" and f"Colin Powell (रिपोर्ट {case})" in told["Body"]
    assert next(f for f in twilio_api.fetched if f.url == told["MediaUrl"][0]).body == seen
    assert "your sighting is recorded" in twilio_api.texts(CITIZEN)[-1]  # in English, and nothing since


def test_delete_my_data_leaves_no_phone_number_anywhere(
    harness: Harness, twilio_api: TwilioStandIn, faces_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After `delete my data` the number is in no collection, GridFS file, Redis key, RQ record or log line."""
    caplog.set_level(logging.DEBUG)  # HOMEWARD_LOG_LEVEL=DEBUG, as a process starts (libraries that log payloads quiet)
    quiet_libraries()
    number, name = "+447700900377", "Priya Raman-Okafor"
    picture = media(twilio_api, "ME77", (faces_dir / "lfw/Colin_Powell/Colin_Powell_0004.jpg").read_bytes())
    fields = {"ProfileName": name, "WaId": number[1:]}
    chat(harness, number, {"Body": "hi", **fields}, {"Body": "yes", **fields}, {"Body": "", **picture, **fields})
    chat(harness, number, "Outside Priya's bakery", "now", "wearing a red scarf")
    needles = [number, number[1:], f"whatsapp:{number}", name, "Priya's bakery", "red scarf"]
    assert harness.leftovers(needles)  # the search finds them where they are
    chat(harness, number, "delete my data", "delete")
    goodbye = twilio_api.sent[-1]  # as a template: the record of the 24-hour window went with the contact
    assert goodbye["To"] == f"whatsapp:{number}" and "has been erased" in str(goodbye)
    assert harness.leftovers(needles) == []
    assert not [r.getMessage() for r in caplog.records for n in needles if n in r.getMessage() + (r.exc_text or "")]


def test_an_sms_where_only_whatsapp_is_on_is_acknowledged_and_dropped(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    """No TWILIO_SMS_FROM: a number's SMS posted to the same webhook has nobody to answer it (docs/operators/sms.md)."""
    fields = form(FAMILY, "hi") | {"From": FAMILY, "To": "+15005550006"}
    assert post(harness, fields) == 200
    harness.work()
    assert harness.db.inbound.count_documents({}) == 0 and twilio_api.sent == []
