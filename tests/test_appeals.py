"""Appeals end to end on Telegram: asked for in the chat, approved in the panel, the poster sent and public,
scanned by a citizen, and taken down everywhere when the case closes."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from config import Settings
from infra.embedded import EmbeddedServer
from standins.telegram_api import TelegramStandIn
from storage.appeals import decide_appeal
from storage.connections import Connections
from storage.users import create_user
from tests.chat_harness import Harness
from tests.conftest import make_environment, telegram_settings
from tests.test_admin_access import login
from tests.test_query_plans import Filters, recorded, whole_scans  # noqa: F401 - recorded is a fixture
from tests.test_telegram import chat, photo
from workers.reconciler import reconcile
from workers.retention import sweep

FAMILY, CITIZEN, OTHER = 3101, 3202, 3303
BOT = "homeward_test_bot"


@pytest.fixture
def environment(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, bot_api: TelegramStandIn
) -> dict[str, str]:
    return make_environment(
        servers, tmp_path, **telegram_settings(bot_api), TELEGRAM_BOT_USERNAME=BOT, HOMEWARD_CHAT_RATE_PER_MINUTE="1000"
    )


@pytest.fixture
def harness(settings: Settings, recorded: tuple[Filters, Connections]) -> Harness:  # noqa: F811
    """The app and a worker on connections whose every query is recorded, to be explained (whole_scans)."""
    return Harness(settings, recorded[1])


def report(harness: Harness, bot_api: TelegramStandIn, faces_dir: Path, chat_id: int = FAMILY) -> str:
    bot_api.add_file(f"face-{chat_id}", (faces_dir / "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg").read_bytes())
    chat(harness, chat_id, "/start", "yes", "1", "Aaron Eckhart", "41", "skip", "Old market", "yesterday 5pm")
    chat(harness, chat_id, "grey jacket", photo(f"face-{chat_id}"), "done", "yes")
    return re.search(r"reference is (HW-[0-9A-Z]{4})", bot_api.texts(chat_id)[-1]).group(1)  # type: ignore[union-attr]


def ask_for_appeal(harness: Harness, bot_api: TelegramStandIn, case: str) -> str:
    chat(harness, FAMILY, f"appeal {case}", "yes", "1", "yes", "yes", "Grey jacket, walks with a stick", "yes")
    said = bot_api.texts(FAMILY)[-1]
    return re.search(r"appeal (AP-[0-9A-Z]{4}) is waiting", said).group(1)  # type: ignore[union-attr]


def decide(harness: Harness, appeal: str, decision: str, reason: str) -> None:
    create_user(harness.db, "rita", "a-long-reviewer-password", "reviewer")
    token = login(harness.client, "rita", "a-long-reviewer-password")
    form = {"decision": decision, "reason": reason, "csrf_token": token}
    assert harness.client.post(f"/appeals/{appeal}/decide", data=form).status_code == 302
    harness.work()


def test_an_appeal_asked_on_telegram_approved_public_scanned_and_taken_down(
    harness: Harness,
    bot_api: TelegramStandIn,
    faces_dir: Path,
    recorded: tuple[Filters, Connections],  # noqa: F811 - the fixture of tests/test_query_plans.py
) -> None:
    case = report(harness, bot_api, faces_dir)
    appeal = ask_for_appeal(harness, bot_api, case)
    chat(harness, FAMILY, f"appeal {case}")
    assert f"There is already an appeal for {case} ({appeal})" in bot_api.texts(FAMILY)[-1]
    record = harness.db.appeals.find_one({"reference": appeal})
    assert harness.client.get(f"/a/{record['token']}").status_code == 404  # nothing public before a reviewer

    decide(harness, appeal, "approve", "Family known to the police station; no risk noted")
    sent = [m for m in bot_api.sent if int(m["chat_id"]) == FAMILY and m["method"] == "sendPhoto"][-1]
    assert f"Your appeal {appeal} for Aaron is public" in sent["caption"]
    assert [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(sent["photo_data"])))] == [
        f"https://t.me/{BOT}?start={appeal}"
    ]
    document = [m for m in bot_api.sent if int(m["chat_id"]) == FAMILY and m["method"] == "sendDocument"][-1]
    assert document["document_data"].startswith(b"%PDF") and document["document_name"] == f"homeward-{appeal}.pdf"
    visitor = harness.app.test_client()  # anyone: no login, no cookie
    page = visitor.get(f"/a/{record['token']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Aaron" in html and "Eckhart" not in html and "Grey jacket" in html
    assert "noindex" in html and page.headers["X-Robots-Tag"].startswith("noindex")
    assert (
        "Set-Cookie" not in page.headers
        and not visitor.get_cookie("session")
        and "default-src 'none'" in page.headers["Content-Security-Policy"]
    )
    pdf = visitor.get(f"/a/{record['token']}/poster-a4.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and "Set-Cookie" not in pdf.headers

    chat(harness, CITIZEN, f"/start {appeal}", "yes", "skip", "Bus stand", "now", "skip")
    sighting = harness.db.sightings.find_one({"reporter": f"telegram:{CITIZEN}"})
    assert sighting["appeal"] == appeal
    bot_api.add_file("seen", (faces_dir / "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg").read_bytes())
    chat(harness, OTHER, f"/start {appeal}", "yes", photo("seen"), "Railway station", "now", "skip")
    harness.work()
    candidate = harness.db.candidates.find_one({"case": case})
    assert candidate is not None  # the scanner's photo matched the case
    listed = harness.client.get("/appeals/").get_data(as_text=True)
    assert '<td class="sightings-count">2</td>' in listed
    html = harness.client.get(f"/appeals/{appeal}").get_data(as_text=True)
    rows = html.split('<table id="sightings">')[1].split("</table>")[0].split("<tr>")[2:]
    assert [("Railway station" in r, ">yes<" in r, f"/candidates/{candidate['_id']}" in r) for r in rows] == [
        (True, True, True),  # newest first: the photo, and the candidate it made
        (False, False, False),
    ]
    assert "Bus stand" in rows[1] and ">no<" in rows[1] and "none" in rows[1]

    chat(harness, FAMILY, f"found {case}")
    assert harness.client.get(f"/a/{record['token']}").status_code == 410
    assert "This appeal has ended. Thank you." in harness.client.get(f"/a/{record['token']}").get_data(as_text=True)
    assert harness.client.get(f"/a/{record['token']}/poster-a4.pdf").status_code == 410
    assert harness.db["poster_files.files"].count_documents({}) == 0
    assert harness.db["poster_files.chunks"].count_documents({}) == 0
    assert any("Please delete the posters and links you forwarded" in said for said in bot_api.texts(FAMILY)[-2:])
    chat(harness, CITIZEN, f"/start {appeal}")
    assert bot_api.texts(CITIZEN)[-1] == "This appeal has ended. Thank you."
    reconcile(harness.context, datetime.now(UTC) + timedelta(hours=1))  # its sweeps too
    scans = whole_scans(harness, recorded[0])
    assert not [scan for scan in scans if scan.startswith(("appeals", "poster_files", 'sightings: {"appeal"'))]


def test_a_refused_appeal_tells_the_family_why_publishes_nothing_and_goes_after_its_period(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path, settings: Settings
) -> None:
    case = report(harness, bot_api, faces_dir)
    appeal = ask_for_appeal(harness, bot_api, case)
    decide(harness, appeal, "refuse", "The person may have left a violent home; we cannot publish this")
    assert "may have left a violent home" in bot_api.texts(FAMILY)[-1]
    assert harness.db["poster_files.files"].count_documents({}) == 0
    chat(harness, CITIZEN, f"/start {appeal}")
    assert "I can't find the appeal" in bot_api.texts(CITIZEN)[-1]
    chat(harness, OTHER, "hi", "yes", f"appeal {case}")  # someone else's case
    assert f"I can't find {case} among your reports" in bot_api.texts(OTHER)[-1]
    keep, now = settings.retention, datetime.now(UTC)
    assert sweep(harness.db, now + timedelta(days=keep.ended_appeals_days - 1), keep)["ended_appeals"] == 0
    assert harness.db.appeals.find_one({"reference": appeal})["reason"].startswith("The person may have left")
    assert sweep(harness.db, now + timedelta(days=keep.ended_appeals_days + 1), keep)["ended_appeals"] == 1
    assert harness.db.appeals.count_documents({}) == 0  # the family's choices and the reviewer's reason with it


def test_withdrawing_an_approved_appeal_takes_it_down_and_its_stub_goes_after_its_period(
    harness: Harness,
    bot_api: TelegramStandIn,
    faces_dir: Path,
    settings: Settings,
    recorded: tuple[Filters, Connections],  # noqa: F811
) -> None:
    case = report(harness, bot_api, faces_dir)
    appeal = ask_for_appeal(harness, bot_api, case)
    decide(harness, appeal, "approve", "Checked with the family")
    token = harness.db.appeals.find_one({"reference": appeal})["token"]
    assert harness.client.get(f"/a/{token}/poster-phone.png").status_code == 200
    chat(harness, FAMILY, "withdraw appeal")
    assert harness.client.get(f"/a/{token}").status_code == 410
    assert harness.db["poster_files.files"].count_documents({}) == 0
    said = " ".join(bot_api.texts(FAMILY)[-2:])
    assert f"the appeal {appeal} is being taken down" in said and "Please delete the posters" in said

    other_case = report(harness, bot_api, faces_dir, OTHER)  # another family's appeal, still waiting: kept
    chat(harness, OTHER, f"appeal {other_case}", "no", "2", "no", "no", "skip", "yes")
    keep, now = settings.retention, datetime.now(UTC)
    assert keep.ended_appeals_days == 90
    assert sweep(harness.db, now + timedelta(days=89), keep)["ended_appeals"] == 0
    assert harness.client.get(f"/a/{token}").status_code == 410  # a poster still in circulation: "has ended"
    assert sweep(harness.db, now + timedelta(days=91), keep)["ended_appeals"] == 1
    assert harness.client.get(f"/a/{token}").status_code == 404  # like a token never issued
    assert harness.client.get(f"/a/{token}/poster-a4.pdf").status_code == 404
    assert [a["case"] for a in harness.db.appeals.find()] == [other_case]
    assert not [scan for scan in whole_scans(harness, recorded[0]) if scan.startswith("appeals")]


def test_an_approval_whose_render_job_was_lost_is_finished_by_the_reconciler(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    case = report(harness, bot_api, faces_dir)
    appeal = ask_for_appeal(harness, bot_api, case)
    assert decide_appeal(harness.db, appeal, "approved", "rita", "checked")  # the panel stopped before queueing
    assert reconcile(harness.context, datetime.now(UTC))["appeals_rendered"] == 0  # its job may still be in line
    assert reconcile(harness.context, datetime.now(UTC) + timedelta(minutes=2))["appeals_rendered"] == 1
    harness.work()
    assert [m for m in bot_api.sent if int(m["chat_id"]) == FAMILY and m["method"] == "sendDocument"]
    assert harness.db.appeals.find_one({"reference": appeal})["sent"] is True
    reconcile(harness.context, datetime.now(UTC) + timedelta(minutes=10))
    harness.work()
    assert len([m for m in bot_api.sent if int(m["chat_id"]) == FAMILY and m.get("photo_data")]) == 1  # once


def test_an_erased_family_leaves_only_an_ended_stub_and_a_closed_case_ends_its_appeal(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    case = report(harness, bot_api, faces_dir)
    appeal = ask_for_appeal(harness, bot_api, case)
    decide(harness, appeal, "approve", "Checked with the family")
    token = harness.db.appeals.find_one({"reference": appeal})["token"]
    chat(harness, FAMILY, "delete my data", "delete")
    assert harness.client.get(f"/a/{token}").status_code == 410
    assert harness.db["poster_files.files"].count_documents({}) == 0
    stub = harness.db.appeals.find_one({"reference": appeal})
    assert stub["status"] == "ended" and not {"contact", "choices", "case"} & stub.keys()
    assert not harness.db.audit_notes.count_documents({"target": f"appeal:{appeal}"})  # the reviewer's reason too

    other_case = report(harness, bot_api, faces_dir, OTHER)  # another family, whose case a reviewer closes
    chat(harness, OTHER, f"appeal {other_case}", "no", "2", "no", "no", "skip", "yes")
    other = harness.db.appeals.find_one({"case": other_case})
    assert other["choices"] == {"photo": False, "full_name": True, "age": False, "place": False, "description": ""} | {
        "name": "Aaron Eckhart"
    }
    token = login(harness.client, "rita", "a-long-reviewer-password")
    form = {"decision": "approve", "reason": "No risk", "csrf_token": token}
    harness.client.post(f"/appeals/{other['reference']}/decide", data=form)
    harness.work()
    assert harness.client.get(f"/a/{other['token']}").status_code == 200
    harness.client.post(f"/cases/{other_case}/close", data={"reason": "found safe", "csrf_token": token})
    harness.work()
    assert harness.client.get(f"/a/{other['token']}").status_code == 410
    assert harness.db["poster_files.files"].count_documents({}) == 0
