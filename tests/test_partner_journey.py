"""Issue 26's "done when", live: a partner's system and a family meet through the real web process and worker.

The shelter's system (a real HTTP client with its API key) registers a webhook endpoint pointing at its own
receiver and a found person with a photo; the family reports the same man on Telegram; a reviewer approves the
match in headless Chromium; the receiver gets `candidate.approved` signed with the endpoint's secret; the shelter
posts `reunited`; the receiver gets `outcome.recorded`, and the case is closed. Another organisation's key sees
none of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pymongo.database import Database

from core.partner_hooks import verify
from infra.embedded import EmbeddedServer
from storage.api_keys import SCOPES, create_api_key
from storage.organisations import create_organisation
from tests import test_partner_hooks as hooks
from tests.test_end_to_end import live_world, wait_until
from tests.test_found_browser import log_in
from tests.test_found_journey import REVIEWER, REVIEWER_PASSWORD, family_reports_on_telegram
from tests.test_matching import SAME_PERSON, lfw
from tests.test_partner_hooks import Receiver

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

receiver = hooks.receiver  # the partner's endpoint: a real HTTP server on loopback
RECORD = {"found_on": "2026-12-01", "held_at": "Ward 2, bed 7", "age_min": 65, "age_max": 75, "gender": "male"}


@pytest.fixture
def partners(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, db: Database, faces_dir: Path
) -> Iterator[dict[str, Any]]:
    """The live service (loopback endpoints allowed, for the receiver), and a key of each of two organisations."""
    with live_world(servers, tmp_path, db, faces_dir, HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE="1") as world:
        keys = {}
        for name in ("Sunrise Shelter", "City Hospital"):
            organisation = create_organisation(db, name, "shelter", phone="+91 11 5550 1234", hours="always open")
            keys[name] = create_api_key(db, organisation, list(SCOPES), "operator").secret
        yield world | {"keys": keys}


def api(world: dict[str, Any], organisation: str, method: str, path: str, **sent: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {world['keys'][organisation]}"}
    return requests.request(method, f"{world['url']}/api/v1{path}", headers=headers, timeout=30, **sent)


def test_a_partner_hears_by_webhook_of_the_approval_and_of_the_reunion_it_records_by_api(
    partners: dict[str, Any], browser: Any, receiver: Receiver
) -> None:
    world, db = partners, partners["db"]
    endpoint = api(world, "Sunrise Shelter", "POST", "/webhooks", json={"url": receiver.url})
    assert endpoint.status_code == 201, endpoint.text
    secret = endpoint.json()["secret"]
    photo = lfw(world["faces"], SAME_PERSON[0]).read_bytes()
    made = api(
        world,
        "Sunrise Shelter",
        "POST",
        "/found-persons",
        files={"record": (None, json.dumps(RECORD), "application/json"), "photos": ("man.jpg", photo, "image/jpeg")},
    )
    assert made.status_code == 201, made.text
    found = made.json()["reference"]

    case = family_reports_on_telegram(world)
    wait_until(lambda: db.candidates.find_one({"case": case, "found": found}), "the match of the API's record")
    approve_in_the_panel(browser, world, found)

    approved = wait_until(lambda: events_of(receiver, "candidate.approved"), "candidate.approved at the receiver")
    sent = approved[0]
    assert verify(secret, sent["headers"]["Homeward-Signature"], sent["body"], int(time.time()))
    assert json.loads(sent["body"])["data"] | {"decided_at": None} == json.loads(sent["body"])["data"] | {
        "found_person": found,
        "case": case,
        "status": "approved",
        "decided_at": None,
    }

    (candidate,) = api(world, "Sunrise Shelter", "GET", f"/found-persons/{found}/candidates").json()["data"]
    outcome = f"/found-persons/{found}/candidates/{candidate['id']}/outcome"
    assert api(world, "Sunrise Shelter", "POST", outcome, json={"outcome": "reunited"}).status_code == 200
    recorded = wait_until(lambda: events_of(receiver, "outcome.recorded"), "outcome.recorded at the receiver")
    assert verify(secret, recorded[0]["headers"]["Homeward-Signature"], recorded[0]["body"], int(time.time()))
    assert json.loads(recorded[0]["body"])["data"]["outcome"] == "reunited"
    assert db.cases.find_one({"reference": case})["status"] == "closed"
    assert api(world, "Sunrise Shelter", "GET", f"/found-persons/{found}").json()["status"] == "closed"

    assert api(world, "City Hospital", "GET", f"/found-persons/{found}").status_code == 404
    assert api(world, "City Hospital", "GET", f"/webhooks/{endpoint.json()['id']}").status_code == 404
    assert api(world, "City Hospital", "GET", "/webhooks").json()["data"] == []


def approve_in_the_panel(browser: Any, world: dict[str, Any], found: str) -> None:
    """The reviewer finds the found person's candidate in the queue and approves it."""
    log_in(browser, world["url"], REVIEWER, REVIEWER_PASSWORD, "/review")
    row = browser.find_element(By.CSS_SELECTOR, f'#queue tr[data-found="{found}"]')
    row.find_element(By.CSS_SELECTOR, "a.open").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "approve"))
    browser.find_element(By.ID, "approve").click()
    flash = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"))
    assert "Approved" in flash[0].text


def events_of(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    return [r for r in receiver.received if r["answer"] == 200 and json.loads(r["body"])["type"] == kind]
