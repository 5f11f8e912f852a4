"""The bulk import from the panel: a registrar uploads a CSV and a ZIP, a worker on the bulk lane runs it, the
import's page shows what went in and every rejected row; another organisation sees nothing of it."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pymongo.database import Database

from admin import found_import
from config import Settings
from services.queue import BULK_QUEUE, lanes, make_queue
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_found_import import HEADER, PEOPLE, lfw, write_zip
from tests.test_panel_security import PASSWORD, client, login
from workers import bulk
from workers.measured_worker import MeasuredWorker
from workers.reconciler import reconcile


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    made = Harness(settings, connections)
    db = connections.db
    create_user(db, "sita", PASSWORD, "registrar", create_organisation(db, "Sunrise Shelter", "shelter"))
    create_user(db, "hari", PASSWORD, "registrar", create_organisation(db, "City Hospital", "hospital"))
    return made


@pytest.fixture
def files(faces_dir: Path, tmp_path: Path) -> tuple[bytes, bytes]:
    """Three good rows, then two bad ones: a photo missing from the ZIP (line 5), a gender nobody uses (line 6)."""
    rows = [
        HEADER,
        "SH-1,2026-11-30,Central station,Ward 3,30,40,male,alive,grey coat,colin.jpg",
        "SH-2,2026-11-29,Market,Ward 1,,,male,alive,,tony.jpg",
        "SH-3,2026-11-28,,Room 2,50,60,male,alive,found near the river,people/aaron.jpg",
        "SH-4,2026-11-01,,,,,female,alive,,nobody.jpg",
        "SH-5,2026-11-01,,,,,woman?,alive,,colin.jpg",
    ]
    photos = {"colin.jpg": lfw(faces_dir, PEOPLE[0]), "tony.jpg": lfw(faces_dir, PEOPLE[1])}
    photos["people/aaron.jpg"] = lfw(faces_dir, PEOPLE[2])
    archive = write_zip(tmp_path / "photos.zip", photos).read_bytes()
    return ("\n".join(rows) + "\n").encode(), archive


def signed_in(harness: Harness, username: str, password: str = PASSWORD) -> FlaskClient:
    made = client(harness.app)
    assert login(made, username, password).status_code == 302, f"{username} could not log in"
    return made


def upload(browser: FlaskClient, csv: bytes, archive: bytes, **form: str) -> Any:
    page = browser.get("/found/imports/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    data = {"csrf_token": token, "csv": (io.BytesIO(csv), "found.csv"), "photos": (io.BytesIO(archive), "photos.zip")}
    return browser.post("/found/imports/", data=data | form, content_type="multipart/form-data")


def uploaded_files(db: Database) -> int:
    return db["import_files.files"].count_documents({}) + db["import_files.chunks"].count_documents({})


def text(page: Any) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.get_data(as_text=True))))


def test_a_registrar_imports_from_the_panel_and_sees_every_rejected_row(
    harness: Harness, files: tuple[bytes, bytes]
) -> None:
    sita, db = signed_in(harness, "sita"), harness.db
    assert 'href="/found/imports/" id="import-link"' in sita.get("/found/").get_data(as_text=True)
    sent = upload(sita, *files)
    assert sent.status_code == 302, text(sent)
    import_page = sent.location
    assert uploaded_files(db) > 0 and db.found_persons.count_documents({}) == 0  # kept until a worker runs it
    assert db["import_files.chunks"].find_one()["data"][:3] == b"HWD"  # sealed: no photo readable in a dump
    waiting = sita.get(import_page)
    assert "queued" in text(waiting) and 'http-equiv="refresh"' in waiting.get_data(as_text=True)

    harness.work()

    done = sita.get(import_page)
    assert done.status_code == 200 and 'http-equiv="refresh"' not in done.get_data(as_text=True)
    shown = text(done)
    assert "done" in shown and "5 of 5" in shown
    assert re.search(r'id="imported">3<', done.get_data(as_text=True)), shown
    assert "5 SH-4 photo nobody.jpg is not among the photos given" in shown
    assert "6 SH-5 gender 'woman?'" in shown
    assert db.found_persons.count_documents({}) == 3 and db.faces.count_documents({"quality": "ok"}) == 3
    assert uploaded_files(db) == 0  # the uploaded photos are gone with the import's end
    listed = text(sita.get("/found/imports/"))
    assert "found.csv + photos.zip" in listed and "done" in listed
    assert db.audit.count_documents({"action": "upload import", "user": "sita"}) == 1
    assert db.audit.count_documents({"action": "import found persons", "user": "sita"}) == 1

    hari = signed_in(harness, "hari")
    assert hari.get(import_page).status_code == 404  # another organisation's import, as if unknown
    assert "found.csv" not in text(hari.get("/found/imports/"))


def test_a_chat_only_worker_leaves_an_import_to_the_others(
    harness: Harness, files: tuple[bytes, bytes], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, db = signed_in(harness, "admin", settings.admin_password), harness.db  # type: ignore[arg-type]
    hospital = db.organisations.find_one({"name": "City Hospital"})["_id"]
    sent = upload(admin, *files, organisation=str(hospital), dry_run="on")
    assert sent.status_code == 302, text(sent)

    chat = MeasuredWorker(lanes(harness.worker.connection, chat_only=True), connection=harness.worker.connection)
    chat.work(burst=True)
    assert make_queue(harness.worker.connection, BULK_QUEUE).count == 1
    assert db.imports.find_one()["status"] == "queued"

    written: list[tuple[int, int]] = []
    record = bulk.record_progress

    def recorded(db: Database, import_id: Any, done: int, total: int) -> None:
        written.append((done, total))
        record(db, import_id, done, total)

    monkeypatch.setattr(bulk, "PROGRESS_ROWS", 1)
    monkeypatch.setattr(bulk, "record_progress", recorded)
    harness.work()
    assert written[0] == (1, 5) and (3, 5) in written and written[-1] == (5, 5)  # the page follows it row by row
    checked = admin.get(sent.location)
    assert re.search(r'id="imported">3<', checked.get_data(as_text=True)) and "check only" in text(checked)
    assert db.found_persons.count_documents({}) == 0 and uploaded_files(db) == 0  # a check stores nothing
    assert db.imports.find_one()["organisation"] == hospital
    assert sent.location in signed_in(harness, "hari").get("/found/imports/").get_data(as_text=True)


def test_files_that_cannot_be_imported_are_refused_at_once_and_one_over_the_import_limit_says_what_to_do(
    harness: Harness, files: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    sita, db = signed_in(harness, "sita"), harness.db
    refused = upload(sita, b"name,age\nRaju,9\n", files[1])
    assert refused.status_code == 400 and "column(s) external_id" in text(refused)
    refused = upload(sita, files[0], b"not a zip at all")
    assert refused.status_code == 400 and "not a readable ZIP" in text(refused)
    harness.app.config["MAX_CONTENT_LENGTH"] = 10_000  # the panel's limit for other forms, below these files
    monkeypatch.setattr(found_import, "IMPORT_UPLOAD_BYTES", 10_000)
    too_large = upload(sita, *files)
    assert too_large.status_code == 413 and "over 256 MB" in text(too_large) and "Split the people" in text(too_large)
    assert db.imports.count_documents({}) == 0 and uploaded_files(db) == 0
    monkeypatch.setattr(found_import, "IMPORT_UPLOAD_BYTES", 1_000_000)
    assert upload(sita, *files).status_code == 302  # the import's own limit, above the other forms'
    anonymous = {"csv": (io.BytesIO(files[0]), "found.csv"), "photos": (io.BytesIO(files[1]), "photos.zip")}
    assert client(harness.app).post("/found/imports/", data=anonymous).status_code == 413  # not parsed for them


def test_an_import_that_fails_runs_once_more_then_is_marked_failed_and_its_files_deleted(
    harness: Harness, files: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    sita, db = signed_in(harness, "sita"), harness.db
    sent = upload(sita, *files)
    import_id = str(db.imports.find_one()["_id"])
    (job,) = make_queue(harness.worker.connection, BULK_QUEUE).get_jobs()
    assert job.retries_left == 1  # RQ runs it once more, and no more

    def outage(*args: object, **kwargs: object) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(bulk, "import_sheet", outage)
    with pytest.raises(ConnectionError):
        bulk.import_found(import_id)
    assert "queued" in text(sita.get(sent.location)) and uploaded_files(db) > 0  # kept for the second run
    with pytest.raises(ConnectionError):
        bulk.import_found(import_id)
    failed = text(sita.get(sent.location))
    assert "failed" in failed and "upload the files again" in failed and uploaded_files(db) == 0
    assert bulk.import_found(import_id) == "gone"  # a third run, however it comes, changes nothing


def test_an_import_whose_worker_died_is_ended_by_the_reconciler_and_its_files_deleted(
    harness: Harness, files: tuple[bytes, bytes]
) -> None:
    sita, db = signed_in(harness, "sita"), harness.db
    sent = upload(sita, *files)
    db.imports.update_one({}, {"$set": {"status": "running"}})  # its worker killed mid-way: nobody ends it
    assert reconcile(harness.context, datetime.now(UTC) + timedelta(hours=1))["abandoned_imports"] == 0
    assert reconcile(harness.context, datetime.now(UTC) + timedelta(days=2))["abandoned_imports"] == 1
    ended = text(sita.get(sent.location))
    assert "failed" in ended and "upload it again" in ended and uploaded_files(db) == 0
