"""In a real browser against the real web process and worker: a family asks for an appeal on Telegram, a
reviewer approves it in the panel, choosing Delhi for its typed last-seen place, the poster reaches the family's
chat and the volunteer in Delhi (not the one in Mumbai), the public page shows it; `found` takes it all down."""

from __future__ import annotations

import io
import itertools
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from infra.embedded import EmbeddedServer
from standins.telegram_api import TelegramStandIn
from storage.connections import Connections
from storage.users import create_user
from tests.conftest import SECRET, make_environment, telegram_settings
from tests.live import live_service
from tests.test_end_to_end import settled, wait_until
from tests.test_found_browser import log_in

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

FAMILY, IN_DELHI, IN_MUMBAI = 4101, 4202, 4303
BOT = "homeward_test_bot"
_ids = itertools.count(90_000)


def says(url: str, db: Any, *messages: str | dict[str, Any], chat: int = FAMILY) -> None:
    """The family's messages (or another chat's) as Telegram posts them, each answered before the next."""
    for item in messages:
        body = {"message_id": next(_ids), "date": 1_700_000_000, "chat": {"id": chat, "type": "private"}}
        body |= {"text": item} if isinstance(item, str) else item
        update_id = next(_ids)
        request = urllib.request.Request(
            f"{url}/webhooks/telegram",
            json.dumps({"update_id": update_id, "message": body}).encode(),
            {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert urllib.request.urlopen(request, timeout=10).status == 200
        wait_until(settled(db, "telegram", str(update_id)), "the message to be answered")


def said(bot_api: TelegramStandIn, pattern: str) -> str:
    """What the pattern's group reads in the family's chat, once a message shows it (the outbox sends on its own)."""
    found = wait_until(lambda: re.search(pattern, " ".join(bot_api.texts(FAMILY))), f"a message matching {pattern}")
    return str(found.group(1))


def photos_to(bot_api: TelegramStandIn, chat: int) -> list[dict[str, Any]]:
    return [m for m in bot_api.sent if int(m["chat_id"]) == chat and m.get("photo_data")]


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    """As an anonymous visitor: status, headers, body."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


def test_a_reviewer_approves_an_appeal_in_the_panel_and_the_family_ends_it(
    servers: tuple[EmbeddedServer, EmbeddedServer],
    tmp_path: Path,
    connections: Connections,
    bot_api: TelegramStandIn,
    browser: Any,
    faces_dir: Path,
) -> None:
    db = connections.db
    settings = telegram_settings(bot_api) | {"TELEGRAM_BOT_USERNAME": BOT, "HOMEWARD_CHAT_RATE_PER_MINUTE": "1000"}
    env = make_environment(servers, tmp_path, MONGODB_DATABASE=db.name, HOMEWARD_SIMULATOR="off", **settings)
    bot_api.add_file("face", (faces_dir / "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg").read_bytes())
    with live_service(env, tmp_path) as url:
        create_user(db, "rosa", "rosa-reviews-carefully", "reviewer")
        says(url, db, "/start", "yes", "1", "Aaron Eckhart", "41", "skip", "Old market", "yesterday 5pm", "grey jacket")
        says(url, db, {"photo": [{"file_id": "face", "file_unique_id": "f", "width": 250, "height": 250}]})
        says(url, db, "done", "yes")
        case = said(bot_api, r"reference is (HW-[0-9A-Z]{4})")
        wait_until(lambda: db.faces.count_documents({"owner.id": case, "quality": "ok"}), "the case's face")
        says(url, db, f"appeal {case}", "yes", "2", "yes", "yes", "Grey jacket", "yes")
        appeal = said(bot_api, r"appeal (AP-[0-9A-Z]{4}) is waiting")
        says(url, db, "hi", "yes", "volunteer", "Delhi", "10", "none", "skip", chat=IN_DELHI)
        says(url, db, "hi", "yes", "volunteer", "Mumbai", "50", "none", "skip", chat=IN_MUMBAI)

        log_in(browser, url, "rosa", "rosa-reviews-carefully", "/appeals/")
        browser.find_element(By.CSS_SELECTOR, "#requested a[href$='" + appeal + "']").click()
        assert "Aaron Eckhart (full name)" in browser.find_element(By.ID, "choices").text
        browser.find_element(By.ID, "reason").send_keys("Spoke with the family; nothing suggests a risk")
        city = Select(browser.find_element(By.ID, "city"))  # "Old market" was typed: no place to measure from
        assert city.first_selected_option.text == "none: alert no volunteers"
        city.select_by_visible_text("Delhi")
        browser.find_element(By.ID, "approve").click()
        WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "approved"))
        assert appeal in browser.find_element(By.ID, "approved").text

        poster = wait_until(lambda: photos_to(bot_api, FAMILY), "the poster in the chat")[-1]
        codes = [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(poster["photo_data"])))]
        assert codes == [f"https://t.me/{BOT}?start={appeal}"]
        token = db.appeals.find_one({"reference": appeal})["token"]
        wait_until(lambda: photos_to(bot_api, IN_DELHI), "the alert of the volunteer in Delhi")
        wait_until(lambda: db.appeals.find_one({"reference": appeal}).get("volunteers"), "the volunteers chosen")
        assert db.appeals.find_one({"reference": appeal})["volunteers"]["alerted"] == 1
        assert f"/a/{token}" in photos_to(bot_api, IN_DELHI)[0]["caption"] and photos_to(bot_api, IN_MUMBAI) == []
        status, headers, _ = fetch(f"{url}/a/{token}")
        assert status == 200 and "Set-Cookie" not in headers and headers["X-Robots-Tag"].startswith("noindex")
        browser.get(f"{url}/a/{token}")
        assert browser.find_element(By.ID, "name").text == "Aaron Eckhart"
        image = browser.find_element(By.ID, "poster")
        wait_until(lambda: browser.execute_script("return arguments[0].naturalWidth", image) > 0, "the poster image")

        says(url, db, f"found {case}")
        status, _, body = fetch(f"{url}/a/{token}")
        assert status == 410 and b"This appeal has ended. Thank you." in body
        assert fetch(f"{url}/a/{token}/poster-phone.png")[0] == 410
        assert db["poster_files.files"].count_documents({}) == 0
