"""In a real browser: an admin adds a shelter and its registrar; the registrar, on a phone-sized screen, registers
a found person with an LFW photo, which a real worker analyses; a registrar of another organisation cannot open it."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from infra.embedded import EmbeddedServer
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.users import create_user
from tests.conftest import make_environment
from tests.live import live_service
from tests.test_end_to_end import wait_until
from tests.test_matching import SAME_PERSON, lfw

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ADMIN_PASSWORD = "correct-horse-battery"  # make_environment's
PASSWORD = "a-long-registrar-password"


def log_in(browser: Any, url: str, username: str, password: str, path: str = "/") -> None:
    browser.get(f"{url}{path}")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "nav"))


def log_out(browser: Any) -> None:
    browser.find_element(By.CSS_SELECTOR, "nav form button").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "username"))


def status_of(browser: Any, url: str) -> int:
    """The HTTP status this browser's session gets for `url` (Selenium does not show one)."""
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in browser.get_cookies())
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookie}), timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_a_registrar_registers_a_found_person_that_another_organisation_cannot_open(
    servers: tuple[EmbeddedServer, EmbeddedServer],
    tmp_path: Path,
    connections: Connections,
    browser: Any,
    faces_dir: Path,
) -> None:
    db = connections.db
    env = make_environment(servers, tmp_path, MONGODB_DATABASE=db.name, HOMEWARD_SIMULATOR="off")
    with live_service(env, tmp_path) as url:
        create_user(db, "hari", PASSWORD, "registrar", create_organisation(db, "City Hospital", "hospital"))
        log_in(browser, url, "admin", ADMIN_PASSWORD, "/organisations/")
        browser.find_element(By.ID, "org-name").send_keys("Sunrise Shelter")
        Select(browser.find_element(By.ID, "org-kind")).select_by_visible_text("shelter")
        browser.find_element(By.ID, "org-phone").send_keys("+91 11 5550 1234")
        browser.find_element(By.CSS_SELECTOR, "#new-organisation button").click()
        WebDriverWait(browser, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-organisation="Sunrise Shelter"]')
        )
        browser.get(f"{url}/users/")
        form = browser.find_element(By.CSS_SELECTOR, "form.actions")
        form.find_element(By.NAME, "username").send_keys("sita")
        form.find_element(By.NAME, "password").send_keys(PASSWORD)
        Select(form.find_element(By.NAME, "role")).select_by_visible_text("registrar")
        Select(form.find_element(By.NAME, "organisation")).select_by_visible_text("Sunrise Shelter (shelter)")
        form.find_element(By.CSS_SELECTOR, "button").click()
        row = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-user="sita"]'))[0]
        assert "Sunrise Shelter" in row.text
        log_out(browser)

        browser.set_window_size(390, 844)  # a phone
        log_in(browser, url, "sita", PASSWORD)
        assert browser.current_url.endswith("/found/")
        browser.find_element(By.ID, "register-link").click()
        photo = lfw(faces_dir, SAME_PERSON[0])
        browser.find_element(By.ID, "photos").send_keys(str(photo))
        browser.execute_script("arguments[0].value = '2026-11-30'", browser.find_element(By.ID, "found_on"))
        browser.find_element(By.ID, "held_at").send_keys("Ward B, bed 12")
        browser.find_element(By.ID, "age_min").send_keys("60")
        browser.find_element(By.ID, "age_max").send_keys("70")
        Select(browser.find_element(By.ID, "gender")).select_by_visible_text("male")
        width = "return arguments[0].getBoundingClientRect().width"
        form_width = browser.execute_script(width, browser.find_element(By.ID, "register"))
        assert browser.execute_script(width, browser.find_element(By.ID, "held_at")) > 0.85 * form_width
        assert form_width > 300  # the whole phone's width, less a margin
        browser.find_element(By.ID, "register-button").click()
        WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "record"))
        reference = browser.find_element(By.TAG_NAME, "h1").text.split()[0]
        assert reference.startswith("FP-")
        thumbnail = browser.find_element(By.CSS_SELECTOR, "#photos img")
        wait_until(lambda: browser.execute_script("return arguments[0].naturalWidth", thumbnail) > 0, "the thumbnail")
        browser.find_element(By.LINK_TEXT, "Found persons").click()
        row = WebDriverWait(browser, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-reference="{reference}"]')
        )[0]
        assert "Ward B, bed 12" in row.text and "open" in row.text
        stored = db.photos.find_one({"owner.kind": "found", "owner.id": reference})
        assert stored is not None
        analysed = wait_until(
            lambda: (p := db.photos.find_one({"_id": ObjectId(stored["_id"])})) and p["status"] != "pending" and p,
            "the worker to analyse the found person's photo",
        )
        assert analysed["status"] == "analysed" and analysed["face_count"] == 1
        log_out(browser)

        log_in(browser, url, "hari", PASSWORD)
        assert reference not in browser.page_source
        assert status_of(browser, f"{url}/found/{reference}") in (403, 404)
        assert status_of(browser, f"{url}/found/{reference}/photos/{stored['_id']}.jpg") in (403, 404)
