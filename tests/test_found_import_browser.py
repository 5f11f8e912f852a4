"""In a real browser: a registrar uploads a CSV and a ZIP of photos, a real worker process imports them on the bulk
lane, and the import's page, reloading itself (no script: the CSP allows none inline), ends on the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.embedded import EmbeddedServer
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.users import create_user
from tests.conftest import make_environment
from tests.live import live_service
from tests.test_found_browser import PASSWORD, log_in
from tests.test_found_import_panel import files  # noqa: F401 - the fixture: 3 good rows, 2 bad

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def test_a_registrar_uploads_an_import_and_reads_its_report_as_the_page_reloads(
    servers: tuple[EmbeddedServer, EmbeddedServer],
    tmp_path: Path,
    connections: Connections,
    browser: Any,
    files: tuple[bytes, bytes],  # noqa: F811
) -> None:
    db = connections.db
    csv, archive = tmp_path / "people.csv", tmp_path / "photos.zip"
    csv.write_bytes(files[0])
    archive.write_bytes(files[1])
    env = make_environment(servers, tmp_path, MONGODB_DATABASE=db.name, HOMEWARD_SIMULATOR="off")
    with live_service(env, tmp_path) as url:
        create_user(db, "sita", PASSWORD, "registrar", create_organisation(db, "Sunrise Shelter", "shelter"))
        log_in(browser, url, "sita", PASSWORD)
        browser.find_element(By.ID, "import-link").click()
        browser.find_element(By.ID, "csv").send_keys(str(csv))
        browser.find_element(By.ID, "photos").send_keys(str(archive))
        browser.find_element(By.ID, "import-button").click()
        WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "status"))
        page = browser.current_url
        WebDriverWait(browser, 120).until(  # the page reloads itself every few seconds until the import ends
            lambda d: d.find_elements(By.CSS_SELECTOR, "#summary #imported")
        )
        assert browser.current_url == page and browser.find_element(By.ID, "status").text == "done"
        assert browser.find_element(By.ID, "imported").text == "3"
        rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#rejected tr[data-line]")]
        assert rows[0].startswith("5 SH-4") and "nobody.jpg is not among the photos given" in rows[0]
        assert rows[1].startswith("6 SH-5") and "gender 'woman?'" in rows[1]
        assert browser.find_element(By.ID, "progress").text == "5 of 5"
        assert db["import_files.files"].count_documents({}) == 0
