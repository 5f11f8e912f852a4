"""The simulator, driven in headless Chromium, carries a report and a sighting through real processes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.embedded import EmbeddedServer
from tests.conftest import make_environment
from tests.live import live_service

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture
def service(servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path) -> Iterator[str]:
    with live_service(make_environment(servers, tmp_path), tmp_path) as url:
        yield url


class Phone:
    """One pretend person in the simulator page."""

    def __init__(self, driver: Any, name: str) -> None:
        self.driver = driver
        driver.find_element(By.ID, "new-name").send_keys(name)
        driver.find_element(By.CSS_SELECTOR, "#new-person button").click()

    def bot_says(self) -> list[str]:
        # One read of the whole log: the page redraws it as replies arrive.
        return list(
            self.driver.execute_script(
                "return Array.from(document.querySelectorAll('#log .bubble.bot'), b => b.textContent)"
            )
        )

    def send(
        self, text: str = "", photo: Path | None = None, place: str | None = None, expect: str | None = None
    ) -> str:
        before = len(self.bot_says())
        if photo:
            self.driver.find_element(By.ID, "file").send_keys(str(photo))
        if place:
            self.driver.find_element(By.ID, "share-location").click()
            address = self.driver.find_element(By.ID, "address")
            address.clear()
            address.send_keys(place)
        self.driver.find_element(By.ID, "text").send_keys(text)
        self.driver.find_element(By.ID, "send").click()
        WebDriverWait(self.driver, 60).until(
            lambda _: (
                len(self.bot_says()) > before and (expect is None or any(expect in t for t in self.bot_says()[before:]))
            )
        )
        return "\n".join(self.bot_says()[before:])


def test_a_newcomer_reports_a_case_and_a_sighting_in_the_simulator(
    service: str, browser: Any, faces_dir: Path, tmp_path: Path
) -> None:
    browser.get(f"{service}/simulator/")
    family = Phone(browser, "Maria")
    assert "Do you agree?" in family.send("hi")
    family.send("yes", expect="What would you like to do?")
    assert "full name" in family.send("1")
    family.send("Colin Powell")
    assert "Please reply with an age" in family.send("about seventy")
    family.send("70")
    family.send("skip")
    assert "When was Colin Powell last seen?" in family.send(place="Trafalgar Square")
    family.send("2 days ago")
    family.send("tall, grey coat")
    assert "Photo 1 received" in family.send(photo=faces_dir / "lfw/Colin_Powell/Colin_Powell_0001.jpg")
    summary = family.send("done")
    assert "Last seen: Trafalgar Square, 2 days ago" in summary and "Photos: 1" in summary
    created = family.send("yes")
    assert re.search(r"reference is HW-[0-9A-Z]{4}", created)

    citizen = Phone(browser, "Tom")
    citizen.send("hi")
    citizen.send("yes", expect="What would you like to do?")
    assert "Where did you see" in citizen.send(photo=faces_dir / "lfw/Colin_Powell/Colin_Powell_0002.jpg")
    citizen.send("Charing Cross")
    citizen.send("now")
    thanks = citizen.send("skip")
    assert re.search(r"reference is SG-[0-9A-Z]{4}", thanks) and "Colin" not in thanks
    browser.save_screenshot(str(tmp_path / "simulator.png"))


def test_a_pdf_gets_a_clear_answer_in_the_simulator(service: str, browser: Any, tmp_path: Path) -> None:
    browser.get(f"{service}/simulator/")
    person = Phone(browser, "Lena")
    person.send("hi")
    person.send("yes", expect="What would you like to do?")
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% a missing person poster\n")
    assert "Please send a photo (JPEG or PNG)" in person.send(photo=pdf)


def test_a_phone_without_apps_talks_as_sms_in_the_simulator(service: str, browser: Any) -> None:
    browser.get(f"{service}/simulator/")
    browser.find_element(By.ID, "new-sms").click()
    family = Phone(browser, "Ravi")
    assert "Ravi (SMS)" in browser.find_element(By.ID, "title").text
    assert re.search(r"Do you agree\?[\s\S]*\[SMS, \d+ segments\]", family.send("hi"))
    family.send("yes", expect="What would you like to do?")
    assert "SMS cannot carry one" in family.send("2")
