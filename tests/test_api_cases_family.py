"""A case an organisation registers with the family's WhatsApp number: the family is asked first, in its language.

The web app and a real RQ worker run together (tests/chat_harness.py) with WhatsApp through the Twilio stand-in
and a real HTTP receiver for the organisation's webhook: the police register a case with a photo by API, the family
says yes, a citizen's sighting matches, a reviewer approves in the panel, and the family (in Hindi), the police's
receiver (signed `candidate.approved`) and the police's panel notifications all hear of it.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from bson import ObjectId

from config import Settings
from core.partner_cases import PartnerCase
from core.partner_hooks import verify
from infra.embedded import EmbeddedServer
from standins.twilio_api import TwilioStandIn
from storage.api_keys import SCOPES, create_api_key
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.partner_cases import create_partner_case
from storage.retention import sweep_inactive_contacts
from storage.users import create_user
from tests.chat_harness import Harness
from tests.conftest import make_environment, twilio_settings
from tests.test_admin_access import PASSWORD, login
from tests.test_api import Partner
from tests.test_api_cases import CASE
from tests.test_partner_hooks import Receiver, add_hook, deliver, receiver  # noqa: F401 - receiver is a fixture
from tests.test_whatsapp import CITIZEN, FAMILY, chat, media
from workers.reconciler import reconcile
from workers.retention import sweep


@pytest.fixture
def environment(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, twilio_api: TwilioStandIn
) -> dict[str, str]:
    return make_environment(
        servers,
        tmp_path,
        **twilio_settings(twilio_api),
        TWILIO_TEMPLATE_SID="HX" + "0" * 32,
        HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE="1",
    )


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    return Harness(settings, connections)


def police_of(harness: Harness) -> tuple[Partner, ObjectId]:
    organisation = create_organisation(harness.db, "Saket Police Station", "police")
    key = create_api_key(harness.db, organisation, list(SCOPES), "test").secret
    return Partner(harness.app.test_client(), key), organisation


def asked(harness: Harness) -> tuple[Partner, str]:
    """The police register a case with the family's number, and the question goes out."""
    police, _ = police_of(harness)
    reference = police.call("POST", "/cases", CASE | {"family_whatsapp": FAMILY}).get_json()["reference"]
    harness.work()
    return police, reference


def register_with_photo(police: Partner, photo: bytes, **fields: str) -> dict:  # type: ignore[type-arg]
    form = {"record": json.dumps(CASE | fields), "photos": [(io.BytesIO(photo), "asha.jpg")]}
    made = police.http.post(
        "/api/v1/cases",
        data=form,
        headers={"Authorization": f"Bearer {police.key}", "Idempotency-Key": "fir-0412"},
        content_type="multipart/form-data",
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    return made.get_json()  # type: ignore[no-any-return]


def row_sighting(harness: Harness, reference: str) -> str:
    """The reference of the sighting approved as the case's match."""
    return str(harness.db.candidates.find_one({"case": reference, "status": "approved"})["sighting"])


def to_family(twilio_api: TwilioStandIn) -> list[str]:
    """What reached the family's WhatsApp: texts, or a template's text variable (outside the 24-hour window)."""
    sent = [m for m in twilio_api.sent if m["To"] == f"whatsapp:{FAMILY}"]
    return [m.get("Body") or json.loads(m.get("ContentVariables", "{}")).get("1", "") for m in sent]


def test_the_family_is_asked_in_its_language_and_an_approval_reaches_it_the_police_receiver_and_panel(
    harness: Harness,
    twilio_api: TwilioStandIn,
    faces_dir: Path,
    receiver: Receiver,  # noqa: F811 - the fixture of tests/test_partner_hooks.py
) -> None:
    twilio_api.fetch_with = httpx.Client(transport=httpx.WSGITransport(app=harness.app))  # type: ignore[attr-defined]
    police, organisation = police_of(harness)
    secret = add_hook(harness, organisation, receiver.url, ["candidate.approved"])
    photo = (faces_dir / "lfw/Colin_Powell/Colin_Powell_0001.jpg").read_bytes()
    case = register_with_photo(police, photo, name="Colin Powell", family_whatsapp=FAMILY, language="hi")
    reference = case["reference"]
    assert case["family_chat"] == "asked" and FAMILY not in json.dumps(case)  # the number is never read back
    harness.work()
    [question] = to_family(twilio_api)  # one message, and nothing else until the family answers
    assert "Saket Police Station" in question and reference in question and "हाँ या नहीं" in question
    assert twilio_api.sent[0]["ContentSid"].startswith("HX")  # the family has not written: the approved template
    assert police.call("GET", f"/cases/{reference}").get_json()["photos"][0]["status"] == "analysed"

    chat(harness, FAMILY, "हाँ")
    assert police.call("GET", f"/cases/{reference}").get_json()["family_chat"] == "agreed"
    assert any(reference in text and "जाँचकर्ता" in text for text in to_family(twilio_api)[1:])

    seen = media(twilio_api, "ME21", (faces_dir / "lfw/Colin_Powell/Colin_Powell_0002.jpg").read_bytes())
    chat(harness, CITIZEN, "hi", "yes", {"Body": "", **seen}, "Agra Fort", "now", "skip")
    candidate = harness.db.candidates.find_one({"case": reference})
    assert candidate is not None, "the sighting should have matched the case registered by API"
    assert police.call("GET", f"/cases/{reference}/candidates").get_json()["data"][0]["match"] is None
    create_user(harness.db, "reviewer", PASSWORD, "reviewer")
    panel = harness.app.test_client()
    token = login(panel, "reviewer")
    decided = panel.post(f"/candidates/{candidate['_id']}/decide", data={"action": "approve", "csrf_token": token})
    assert decided.status_code == 302
    harness.work()

    told = to_family(twilio_api)[-1]
    assert reference in told and "Agra Fort" in told  # the usual approval message, in Hindi
    assert "पुष्टि" in told or "संभावित" in told, told
    deliver(harness, lambda: bool(receiver.events()))
    sent = receiver.received[0]
    assert verify(secret, sent["headers"]["Homeward-Signature"], sent["body"], int(time.time()))
    event = receiver.events()[0]
    assert event["type"] == "candidate.approved" and event["data"]["case"] == reference
    assert event["data"]["sighting"] == row_sighting(harness, reference)  # which sighting, to quote back
    assert FAMILY not in sent["body"] and CITIZEN not in sent["body"]
    [row] = police.call("GET", f"/cases/{reference}/candidates").get_json()["data"]
    assert row["status"] == "approved" and row["match"]["place"].startswith("Agra Fort")
    assert CITIZEN not in json.dumps(row)
    create_user(harness.db, "asi", PASSWORD, "registrar", organisation=organisation)
    registrar = harness.app.test_client()
    login(registrar, "asi")
    assert "1" in registrar.get("/found/").get_data(as_text=True)  # the menu's count
    page = registrar.get("/found/notifications").get_data(as_text=True)
    assert reference in page and row["match"]["sighting"] in page


def test_a_family_that_declines_is_written_to_no_more_and_its_number_is_dropped(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    police, reference = asked(harness)
    assert len(to_family(twilio_api)) == 1
    chat(harness, FAMILY, "no")
    assert police.call("GET", f"/cases/{reference}").get_json()["family_chat"] == "declined"
    stored = harness.db.cases.find_one({"reference": reference})
    assert FAMILY not in json.dumps(stored, default=str)  # nothing of the number stays with the case
    assert len(to_family(twilio_api)) == 2 and "कुछ भी नहीं रखा गया" in to_family(twilio_api)[-1]  # in its language
    assert police.call("GET", f"/cases/{reference}").get_json()["status"] == "open"  # the case stays the police's


def test_delete_my_data_unlinks_the_family_but_keeps_the_organisations_case(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    police, reference = asked(harness)
    chat(harness, FAMILY, "yes", "delete my data", "yes")
    case = police.call("GET", f"/cases/{reference}").get_json()
    assert case["family_chat"] == "withdrawn" and case["status"] == "open"
    assert harness.leftovers([FAMILY]) == []


def test_a_question_a_crash_kept_from_the_outbox_is_asked_by_the_reconciler_once(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    organisation = create_organisation(harness.db, "Saket Police Station", "police")
    case = PartnerCase(name="Asha Verma", language="hi", family_whatsapp=FAMILY)
    reference = create_partner_case(harness.db, organisation, case, "api-case:crashed", by="test")  # then it died
    harness.work()
    assert to_family(twilio_api) == []
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert reconcile(harness.context, later)["family_questions"] == 1
    harness.work()
    [question] = to_family(twilio_api)
    assert reference in question and "हाँ या नहीं" in question
    assert reconcile(harness.context, later)["family_questions"] == 0  # asked once


def test_a_family_following_an_open_case_is_kept_through_silence_and_forgotten_after_it_closes(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    police, reference = asked(harness)
    chat(harness, FAMILY, "yes")
    a_year_on = datetime.now(UTC) + timedelta(days=harness.context.settings.retention.inactive_contacts_days + 1)
    assert sweep_inactive_contacts(harness.db, a_year_on) == 0  # it still waits for news of the open case
    assert police.call("POST", f"/cases/{reference}/close", {"reason": "withdrawn"}).status_code == 200
    assert sweep_inactive_contacts(harness.db, a_year_on) == 1
    leftovers = [place for place in harness.leftovers([FAMILY]) if "'rate:" not in place]  # expires in 2 minutes
    assert leftovers == []  # the closed case stays the police's, naming nobody


def test_a_family_that_never_answers_is_forgotten_after_its_period_and_a_late_yes_links_nothing(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    police, reference = asked(harness)
    assert len(to_family(twilio_api)) == 1
    days = harness.context.settings.retention.unanswered_consent_days
    keep = harness.context.settings.retention
    within = datetime.now(UTC) + timedelta(days=days - 1)
    assert sweep(harness.db, within, keep)["unanswered_consent"] == 0  # still within its period: kept to hear it
    assert police.call("GET", f"/cases/{reference}").get_json()["family_chat"] == "asked"
    after = datetime.now(UTC) + timedelta(days=days + 1)
    assert sweep(harness.db, after, keep)["unanswered_consent"] == 1
    case = police.call("GET", f"/cases/{reference}").get_json()
    assert case["family_chat"] == "unanswered" and case["status"] == "open"  # the case stays the police's
    assert harness.leftovers([FAMILY]) == []  # nor the number, nor the question sent to it
    chat(harness, FAMILY, "yes")  # a late answer starts a fresh conversation, following nothing
    assert police.call("GET", f"/cases/{reference}").get_json()["family_chat"] == "unanswered"
    assert not any(reference in text for text in to_family(twilio_api)[1:])


def test_a_following_family_sees_the_case_in_its_chat_but_closing_it_is_the_organisations(
    harness: Harness, twilio_api: TwilioStandIn
) -> None:
    police, reference = asked(harness)
    chat(harness, FAMILY, "yes", "my reports")
    assert reference in to_family(twilio_api)[-1] and "Asha Verma" in to_family(twilio_api)[-1]
    chat(harness, FAMILY, f"status {reference}")
    assert reference in to_family(twilio_api)[-1]
    for command in (f"found {reference}", f"appeal {reference}"):
        chat(harness, FAMILY, command)
        assert "Saket Police Station" in to_family(twilio_api)[-1], command  # who to tell instead
    assert police.call("GET", f"/cases/{reference}").get_json()["status"] == "open"  # nothing closed it
    assert harness.db.appeals.count_documents({}) == 0
