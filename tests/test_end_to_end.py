"""The whole loop with real parts: a Telegram family, WhatsApp citizens, workers, a reviewer in a browser.

Web and worker run as real processes; Telegram and Twilio are stand-ins on
loopback driven by the real client libraries; the panel is used through
headless Chromium.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database
from twilio.request_validator import RequestValidator

from infra.embedded import EmbeddedServer
from standins.server import BackgroundServer
from standins.telegram_api import TelegramStandIn
from standins.twilio_api import TwilioStandIn
from storage.users import create_user
from tests.conftest import make_environment
from tests.live import live_service

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TOKEN, SECRET = "654321:E2E-token", "e2e-webhook-secret-0123"
SID, AUTH, FROM, PUBLIC = "AC" + "2" * 32, "e2e-twilio-token", "+14155238886", "https://homeward.example.org"
FAMILY_CHAT, CITIZEN_X, CITIZEN_Y = 7001, "+447700900101", "+447700900102"
_ids = itertools.count(900_000)


@pytest.fixture
def world(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, db: Database, faces_dir: Path
) -> Iterator[dict[str, Any]]:
    with live_world(servers, tmp_path, db, faces_dir) as found:
        yield found


@contextmanager
def live_world(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, db: Database, faces_dir: Path, **extra: str
) -> Iterator[dict[str, Any]]:
    """The live service with its stand-ins and reviewer rosa; `extra`: more of its environment (a test's own)."""
    telegram, twilio = TelegramStandIn(TOKEN), TwilioStandIn(SID, AUTH)
    with BackgroundServer(telegram.app) as tg_server, BackgroundServer(twilio.app) as tw_server:
        env = make_environment(
            servers,
            tmp_path,
            MONGODB_DATABASE=db.name,
            HOMEWARD_SIMULATOR="off",
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_API_BASE_URL=tg_server.url,
            TWILIO_ACCOUNT_SID=SID,
            TWILIO_AUTH_TOKEN=AUTH,
            TWILIO_WHATSAPP_FROM=FROM,
            TWILIO_API_BASE_URL=tw_server.url,
            PUBLIC_BASE_URL=PUBLIC,
            **extra,
        )
        with live_service(env, tmp_path) as url:
            create_user(db, "rosa", "rosa-reviews-carefully", "reviewer")
            yield {
                "url": url,
                "db": db,
                "telegram": telegram,
                "twilio": twilio,
                "twilio_url": tw_server.url,
                "faces": faces_dir,
            }


def wait_until(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def settled(db: Database, channel: str, message_id: str) -> Callable[[], bool]:
    """Whether this platform message was stored and handled (the intake stores it a moment after its webhook), and
    the replies to its sender sent (the delivery job sends them a moment after they are decided)."""
    handled = {"channel": channel, "message_id": message_id, "status": {"$ne": "pending"}}

    def check() -> bool:
        message = db.inbound.find_one(handled, {"contact": 1})
        unsent = {"contact": message and message["contact"], "status": {"$in": ["pending", "sending"]}}
        return message is not None and db.outbox.count_documents(unsent) == 0

    return check


def family_says(world: dict[str, Any], *messages: str | dict[str, Any]) -> None:
    for item in messages:
        body = {"message_id": next(_ids), "date": 1_700_000_000, "chat": {"id": FAMILY_CHAT, "type": "private"}}
        body |= {"text": item} if isinstance(item, str) else item
        update_id = next(_ids)
        request = urllib.request.Request(
            f"{world['url']}/webhooks/telegram",
            json.dumps({"update_id": update_id, "message": body}).encode(),
            {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert urllib.request.urlopen(request, timeout=10).status == 200
        wait_until(settled(world["db"], "telegram", str(update_id)), "the family's message to be handled")


def citizen_says(world: dict[str, Any], number: str, *messages: str | dict[str, str]) -> None:
    for item in messages:
        form = {
            "From": f"whatsapp:{number}",
            "To": f"whatsapp:{FROM}",
            "MessageSid": f"SM{next(_ids):032d}",
            "NumMedia": "0",
            "Body": "",
        }
        form |= {"Body": item} if isinstance(item, str) else item
        signature = RequestValidator(AUTH).compute_signature(f"{PUBLIC}/webhooks/twilio", form)
        request = urllib.request.Request(
            f"{world['url']}/webhooks/twilio", urllib.parse.urlencode(form).encode(), {"X-Twilio-Signature": signature}
        )
        assert urllib.request.urlopen(request, timeout=10).status == 200
        wait_until(settled(world["db"], "whatsapp", form["MessageSid"]), "the citizen's message to be handled")


def lfw_photo(world: dict[str, Any], name: str) -> bytes:
    return (world["faces"] / "lfw" / name.rsplit("_", 1)[0] / f"{name}.jpg").read_bytes()


def report_and_sight(world: dict[str, Any]) -> tuple[str, str, str]:
    """The family reports X on Telegram; one citizen sees X, another sees Y, on WhatsApp."""
    world["telegram"].add_file("x-case", lfw_photo(world, "Colin_Powell_0001"))
    family_says(
        world, "/start", "yes", "1", "Colin Powell", "70", "male", "Washington DC", "yesterday 5pm", "grey suit"
    )
    family_says(
        world,
        {"photo": [{"file_id": "x-case", "file_unique_id": "x", "width": 250, "height": 250, "file_size": 20_000}]},
        "done",
        "yes",
    )
    case = world["db"].cases.find_one({"reporter": f"telegram:{FAMILY_CHAT}"})["reference"]
    for number, name in ((CITIZEN_X, "Colin_Powell_0002"), (CITIZEN_Y, "George_W_Bush_0001")):
        world["twilio"].media[name] = (lfw_photo(world, name), "image/jpeg")
        media = {"NumMedia": "1", "MediaUrl0": f"{world['twilio_url']}/media/{name}", "MediaContentType0": "image/jpeg"}
        citizen_says(world, number, "hi", "yes", media, "Union Station, main hall", "now", "skip")
    sighting_x = world["db"].sightings.find_one({"reporter": f"whatsapp:{CITIZEN_X}"})["reference"]
    sighting_y = world["db"].sightings.find_one({"reporter": f"whatsapp:{CITIZEN_Y}"})["reference"]
    wait_until(lambda: world["db"].candidates.find_one({"sighting": sighting_x}), "X's candidate")
    return case, sighting_x, sighting_y


def open_candidate_in_browser(driver: Any, world: dict[str, Any], sighting_x: str, sighting_y: str) -> None:
    driver.get(f"{world['url']}/review")
    assert "/login" in driver.current_url
    driver.find_element(By.ID, "username").send_keys("rosa")
    driver.find_element(By.ID, "password").send_keys("rosa-reviews-carefully")
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    WebDriverWait(driver, 20).until(lambda d: "/login" not in d.current_url and d.find_elements(By.TAG_NAME, "h1"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#queue tr[data-sighting]")
    sightings = [row.get_attribute("data-sighting") for row in rows]
    assert sighting_x in sightings and sighting_y not in sightings
    rows[sightings.index(sighting_x)].find_element(By.CSS_SELECTOR, "a.open").click()
    WebDriverWait(driver, 20).until(
        lambda d: "/candidates/" in d.current_url and len(d.find_elements(By.CSS_SELECTOR, ".pair img")) == 4
    )
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)")
    )
    images = driver.find_elements(By.CSS_SELECTOR, ".pair img")
    assert len(images) == 4 and all(
        driver.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images
    )


def test_an_approved_sighting_reaches_the_family_in_telegram(
    world: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    case, sighting_x, sighting_y = report_and_sight(world)
    open_candidate_in_browser(browser, world, sighting_x, sighting_y)
    assert "Is this Colin Powell?" in browser.find_element(By.TAG_NAME, "h1").text
    browser.save_screenshot(str(tmp_path / "candidate.png"))
    citizen_before = world["twilio"].texts(CITIZEN_X)
    browser.find_element(By.ID, "approve").click()
    assert "Approved" in WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"))[0].text
    told = wait_until(
        lambda: [
            m for m in world["telegram"].sent if m.get("method") == "sendPhoto" and int(m["chat_id"]) == FAMILY_CHAT
        ],
        "the family's message",
    )
    assert (
        f"possible sighting of Colin Powell (report {case})" in told[0]["caption"]
        and sighting_x in told[0]["caption"]
        and told[0]["has_photo"]
    )
    assert world["twilio"].texts(CITIZEN_X) == citizen_before  # the citizen learns nothing of the approval
    assert wait_until(
        lambda: browser.refresh() or browser.find_element(By.ID, "delivery").text == "sent",
        "delivery shown as sent",
        30,
    )


def test_a_rejected_sighting_sends_the_family_nothing(world: dict[str, Any], browser: Any) -> None:
    _, sighting_x, sighting_y = report_and_sight(world)
    open_candidate_in_browser(browser, world, sighting_x, sighting_y)
    browser.find_element(By.CSS_SELECTOR, "#reason option:nth-child(2)").click()
    browser.find_element(By.ID, "reject").click()
    assert "Rejected" in WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"))[0].text
    assert world["db"].candidates.find_one({"sighting": sighting_x})["reason"] == "Different person"
    # A message wrongly queued by the rejection would be in the outbox already (the page has answered): wait
    # until nothing is left to send, rather than for a fixed time.
    wait_until(lambda: not world["db"].outbox.find_one({"status": {"$in": ["pending", "sending"]}}), "the outbox")
    family = [
        m.get("caption") or m.get("text") or "" for m in world["telegram"].sent if int(m["chat_id"]) == FAMILY_CHAT
    ]
    assert any("Your report is registered" in text for text in family)  # the family did hear from us before
    assert not [text for text in family if "has confirmed a possible sighting" in text]
