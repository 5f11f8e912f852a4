"""SMS through Twilio end to end: signed form posts in, the real twilio Client out to the stand-in, text only."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config import Settings
from core.conversation.dialog import step
from core.conversation.messages import Inbound
from core.conversation.state import CaseSummary, Context, State
from core.sms import GSM7, UCS2, encoding, segments
from infra.embedded import EmbeddedServer
from services.queue import enqueue_outbox
from standins.twilio_api import TwilioStandIn
from storage.cases import create_case
from storage.connections import Connections
from storage.outbox import queue_outbound
from storage.users import create_user
from tests.chat_harness import Harness
from tests.conftest import make_environment, twilio_settings
from tests.test_admin_access import PASSWORD, login
from tests.test_whatsapp import chat as whatsapp_chat
from tests.test_whatsapp import media, post

SMS_FROM = "+15005550006"
FAMILY, CITIZEN = "+919800000001", "+447700900002"
PRICE = "0.0079"
_sids = itertools.count(10**13)


@pytest.fixture
def environment(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, twilio_api: TwilioStandIn
) -> dict[str, str]:
    sms = {"TWILIO_SMS_FROM": SMS_FROM, "TWILIO_SMS_PRICE_PER_SEGMENT": PRICE, "TWILIO_SMS_CURRENCY": "USD"}
    return make_environment(servers, tmp_path, **twilio_settings(twilio_api), **sms)


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    return Harness(settings, connections)


def sms_form(sender: str, body: str) -> dict[str, str]:
    """An inbound SMS as Twilio posts it: the same shape as WhatsApp, numbers without `whatsapp:`."""
    return {"From": sender, "To": SMS_FROM, "Body": body, "MessageSid": f"SM{next(_sids):032d}", "NumMedia": "0"}


def texting(harness: Harness, sender: str, *messages: str) -> None:
    for body in messages:
        assert post(harness, sms_form(sender, body)) == 200
        harness.work()


def report_by_sms(harness: Harness, twilio_api: TwilioStandIn) -> str:
    """A family without a smartphone reports Colin Powell by SMS; the case's reference."""
    texting(harness, FAMILY, "hi", "yes", "1", "Colin Powell", "67", "male", "Delhi railway station")
    texting(harness, FAMILY, "yesterday 5pm", "grey suit, glasses")
    summary = twilio_api.sms(FAMILY)[-1]
    assert "Name: Colin Powell" in summary and "Photos: 0" in summary
    assert "Photos cannot be sent by SMS" in twilio_api.sms(FAMILY)[-2]
    texting(harness, FAMILY, "yes")
    return re.search(r"reference is (HW-[0-9A-Z]{4})", twilio_api.sms(FAMILY)[-2]).group(1)  # type: ignore[union-attr]


def test_an_sms_family_reports_a_case_that_awaits_a_photo_and_asks_its_status(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    reference = report_by_sms(harness, twilio_api)
    said = twilio_api.sms(FAMILY)
    assert "kept awaiting a photo" in said[-2]
    assert f"write 'add photo {reference}'" in said[-1] and "partner organisation" in said[-1]
    case = harness.db.cases.find_one({"reference": reference})
    assert case["status"] == "open" and case["reporter"] == f"sms:{FAMILY}"
    texting(harness, FAMILY, f"status {reference}")
    assert twilio_api.sms(FAMILY)[-2].startswith(f"{reference}: Colin Powell, open, awaiting a photo.")
    texting(harness, FAMILY, "2")  # a sighting needs a photo: pointed elsewhere, nothing started
    assert "SMS cannot carry one" in twilio_api.sms(FAMILY)[-1]
    to_family = [m for m in twilio_api.sent if m["To"] == FAMILY]
    assert to_family and all(m["From"] == SMS_FROM and "MediaUrl" not in m for m in to_family)
    sent = list(harness.db.outbox.find({"channel": "sms", "status": "sent"}))
    assert len(to_family) == len(sent) + 1  # the welcome went as two: its Hindi line apart, which is cheaper
    assert encoding(to_family[0]["Body"]) == GSM7 and encoding(to_family[1]["Body"]) == UCS2
    assert sum(r["segments"] for r in sent) == sum(segments(m["Body"]) for m in to_family)
    for record in sent:
        assert record["segments"] >= 1 and record["cost"] == pytest.approx(record["segments"] * float(PRICE))
    texting(harness, FAMILY, f"found {reference}")
    assert harness.db.cases.find_one({"reference": reference})["status"] == "closed"


def test_a_repeated_sms_webhook_is_one_message(harness: Harness, twilio_api: TwilioStandIn) -> None:
    fields = sms_form(FAMILY, "hi")
    assert [post(harness, fields) for _ in range(3)] == [200, 200, 200]
    harness.work()
    assert harness.db.inbound.count_documents({}) == 1 and harness.db.outbox.count_documents({}) == 1
    assert len(twilio_api.sms(FAMILY)) == 2  # one welcome: its English and its Hindi line, sent apart (cheaper)


def test_hindi_over_ten_segments_is_shortened_with_a_pointer_and_billed_as_ten(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    texting(harness, FAMILY, "नमस्ते")  # the welcome, in Hindi: UCS-2, several parts
    welcome = twilio_api.sms(FAMILY)[-1]
    assert encoding(welcome) == UCS2 and "क्या आप सहमत हैं?" in welcome
    record = harness.db.outbox.find_one({"channel": "sms", "status": "sent"})
    assert record["segments"] == segments(welcome) > 1
    long = "आपकी रिपोर्ट के बारे में एक लंबा संदेश। " * 30  # ~1 200 characters: 18 parts of 67
    queued = queue_outbound(harness.db, f"sms:{FAMILY}", "sms", FAMILY, long)
    enqueue_outbox(harness.context.queue, str(queued))
    harness.work()
    body = twilio_api.sms(FAMILY)[-1]
    assert segments(long) > 10 and segments(body) == 10
    assert body.endswith("(SMS के लिए छोटा किया गया। ज़रूरी जानकारी के लिए 'status' और अपना संदर्भ लिखें।)")
    assert long.startswith(body.split("…")[0])
    billed = harness.db.outbox.find_one({"_id": queued})
    assert billed["segments"] == 10 and billed["cost"] == pytest.approx(10 * float(PRICE))


def test_the_photo_comes_by_whatsapp_and_the_approval_arrives_by_sms_as_text(
    harness: Harness, twilio_api: TwilioStandIn, faces_dir: Path
) -> None:
    reference = report_by_sms(harness, twilio_api)
    portrait = media(twilio_api, "ME20", (faces_dir / "lfw/Colin_Powell/Colin_Powell_0001.jpg").read_bytes())
    whatsapp_chat(harness, FAMILY, "hi", "yes", f"add photo {reference}", portrait, "done")
    assert "Added 1 photo(s)" in twilio_api.texts(FAMILY)[-1]
    assert harness.db.faces.count_documents({"owner": {"kind": "case", "id": reference}}) == 1
    texting(harness, FAMILY, f"status {reference}")
    assert "open, being searched" in twilio_api.sms(FAMILY)[-1]
    seen = media(twilio_api, "ME21", (faces_dir / "lfw/Colin_Powell/Colin_Powell_0002.jpg").read_bytes())
    whatsapp_chat(harness, CITIZEN, "hi", "yes", {"Body": "", **seen}, "Agra Fort", "now", "skip")
    candidate = harness.db.candidates.find_one({"case": reference})
    assert candidate is not None, "the sighting should have matched the case"
    create_user(harness.db, "reviewer", PASSWORD, "reviewer")
    token = login(harness.client, "reviewer")
    harness.client.post(f"/candidates/{candidate['_id']}/decide", data={"action": "approve", "csrf_token": token})
    harness.work()
    told = next(m for m in twilio_api.sent if m["To"] == FAMILY and "confirmed a possible sighting" in m["Body"])
    assert f"Colin Powell (report {reference})" in told["Body"] and "Agra Fort" in told["Body"]
    assert "MediaUrl" not in told and told["From"] == SMS_FROM


def test_an_sms_cannot_see_the_same_numbers_whatsapp_reports(harness: Harness, twilio_api: TwilioStandIn) -> None:
    """WhatsApp proves a number, an SMS sender can be forged: SMS reaches only its own reports."""
    reference = create_case(harness.db, f"whatsapp:{FAMILY}", {"name": "Asha Devi"}, source="test")
    texting(harness, FAMILY, "hi", "yes", "3", f"status {reference}", f"found {reference}")
    said = twilio_api.sms(FAMILY)
    assert "You have not reported anyone yet" in said[-3] and f"{reference}" in said[-1]
    assert "Asha" not in " ".join(said)
    assert harness.db.cases.find_one({"reference": reference})["status"] == "open"


def test_the_overview_shows_sms_segments_and_cost(harness: Harness, twilio_api: TwilioStandIn) -> None:
    texting(harness, FAMILY, "hi", "yes")
    records = list(harness.db.outbox.find({"channel": "sms", "status": "sent"}))
    total = sum(r["segments"] for r in records)
    create_user(harness.db, "ada", PASSWORD, "viewer")
    login(harness.client, "ada")
    page = harness.client.get("/").get_data(as_text=True)
    usage = page[page.index('id="sms-usage"') :]
    cost = f"{total * float(PRICE):.2f} USD"
    assert f"{cost}</div>SMS cost, last day" in usage and f"{total} segments in {len(records)} messages" in usage


@pytest.mark.parametrize(("channel", "expected"), [("sms", "how_to_add_photo"), ("whatsapp", "add_photo_ask")])
def test_add_photo_by_sms_says_where_a_photo_can_come_from(channel: str, expected: str) -> None:
    """Pure: the dialog never waits for a photo SMS cannot carry."""
    case = CaseSummary("HW-7K3P", "Colin Powell", "open", "06 Dec 2026", 0)
    state = State(consent=True, asked_consent=True, language="en")
    outcome = step(state, Inbound(channel, FAMILY, "m1", "add photo HW-7K3P"), Context(datetime.now(UTC), (case,)))
    assert [reply.key for reply in outcome.replies] == [expected]
    assert (outcome.state.flow == "add_photo") is (channel != "sms")


def test_the_simulator_offers_a_phone_without_apps(harness: Harness) -> None:
    page = harness.client.get("/simulator/").get_data(as_text=True)
    assert 'id="new-sms"' in page
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    for text in ("नमस्ते", "हाँ", "1", "आशा देवी", "12", "लड़की", "पुणे स्टेशन", "कल शाम", "लाल दुपट्टा", "हाँ"):
        sent = harness.client.post("/simulator/send", data={"user": "Ana (SMS)", "text": text, "sms": "1"},
                                   headers={"X-CSRFToken": csrf})  # fmt: skip
        assert sent.status_code == 200
        harness.work()
    replies = harness.client.get("/simulator/messages?user=Ana (SMS)&sms=1").get_json()["messages"]
    assert all(reply["segments"] == segments(reply["text"]) <= 10 for reply in replies)
    assert "फ़ोटो की प्रतीक्षा में रखी गई है" in replies[-2]["text"]
    case = harness.db.cases.find_one()
    assert case["reporter"] == "simulator-sms:Ana (SMS)" and case["name"] == "आशा देवी"
    assert harness.client.get("/simulator/messages?user=Ana (SMS)").get_json()["messages"] == []  # another phone


def test_an_unsigned_sms_is_refused_and_nothing_is_kept(harness: Harness, twilio_api: TwilioStandIn) -> None:
    assert post(harness, sms_form(FAMILY, "hi"), signature="bm90IGEgc2lnbmF0dXJl") == 403
    harness.work()
    assert harness.db.inbound.count_documents({}) == 0 and twilio_api.sent == []
