"""WhatsApp through Twilio end to end: signed form posts in, the real twilio Client out to a stand-in."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from config import Settings
from infra.embedded import EmbeddedServer
from storage.connections import Connections
from tests.chat_harness import Harness
from tests.conftest import make_environment
from tests.standins.server import BackgroundServer
from tests.standins.twilio_api import TwilioStandIn

SID, TOKEN, FROM = "AC" + "1" * 32, "twilio-auth-token-for-tests", "+14155238886"
PUBLIC = "https://homeward.example.org"
FAMILY, CITIZEN = "+447700900001", "+447700900002"


@pytest.fixture
def twilio_api() -> Iterator[TwilioStandIn]:
    standin = TwilioStandIn(SID, TOKEN)
    with BackgroundServer(standin.app) as server:
        standin.url = server.url  # type: ignore[attr-defined]
        yield standin


@pytest.fixture
def environment(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, twilio_api: TwilioStandIn
) -> dict[str, str]:
    return make_environment(
        servers, tmp_path,
        TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_WHATSAPP_FROM=FROM,
        TWILIO_API_BASE_URL=twilio_api.url, TWILIO_TEMPLATE_SID="HX" + "0" * 32, PUBLIC_BASE_URL=PUBLIC,  # type: ignore[attr-defined]
    )  # fmt: skip


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    return Harness(settings, connections)


_sids = itertools.count(1)


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
    from storage.outbox import queue_outbound  # noqa: PLC0415
    from workers.queue import enqueue_outbox  # noqa: PLC0415

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
