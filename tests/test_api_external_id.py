"""One found person per external id and organisation, whether it came by the partner API or by a CSV import first."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from storage.connections import Connections
from tests.test_api import RECORD, app, partner, problem  # noqa: F401 - app: a fixture
from tests.test_found_import import HEADER, PEOPLE, import_, lfw, summary_of, write_zip

ORG = "Sunrise Shelter"


def sheet(tmp_path: Path, faces_dir: Path, held_at: str) -> tuple[str, str]:
    """A one-row import of SH-0041, held at `held_at`, with a face photo."""
    csv = tmp_path / "found.csv"
    csv.write_text(f"{HEADER}\nSH-0041,2026-11-30,Central station,{held_at},70,80,male,alive,,sh-0041.jpg\n")
    photos = write_zip(tmp_path / "photos.zip", {"sh-0041.jpg": lfw(faces_dir, PEOPLE[0])})
    return str(csv), str(photos)


def test_a_record_made_by_api_then_imported_with_its_external_id_stays_one_record(
    app: Flask,  # noqa: F811
    connections: Connections,
    environment: dict[str, str],
    tmp_path: Path,
    faces_dir: Path,
) -> None:
    sunrise = partner(app, connections, ORG)
    made = sunrise.create(external_id="SH-0041", held_at="Ward B")
    assert made.status_code == 201, made.get_data(as_text=True)
    csv, photos = sheet(tmp_path, faces_dir, "Ward C")
    summary = summary_of(import_(environment, csv, "--photos", photos, "--org", ORG))
    assert summary["imported"] + summary["updated"] == 1 and not summary["rejected"], summary
    assert connections.db.found_persons.count_documents({}) == 1
    read = sunrise.call("GET", f"/found-persons/{made.get_json()['reference']}").get_json()
    assert read["held_at"] == "Ward C" and len(read["photos"]) == 1, "the import changed the record the API made"


def test_a_record_imported_then_created_by_api_with_its_external_id_answers_409_naming_it(
    app: Flask,  # noqa: F811
    connections: Connections,
    environment: dict[str, str],
    tmp_path: Path,
    faces_dir: Path,
) -> None:
    sunrise, city = partner(app, connections, ORG), partner(app, connections, "City Hospital")
    csv, photos = sheet(tmp_path, faces_dir, "Ward C")
    assert summary_of(import_(environment, csv, "--photos", photos, "--org", ORG))["imported"] == 1
    (imported,) = connections.db.found_persons.find()
    refused = sunrise.create(external_id="SH-0041")
    assert imported["reference"] in problem(refused, 409)["detail"]
    assert refused.headers["Location"].endswith(f"/found-persons/{imported['reference']}")
    assert connections.db.found_persons.count_documents({}) == 1, "nothing half-made"
    assert city.create(external_id="SH-0041").status_code == 201, "another organisation's same id is its own"


def test_a_create_retried_with_its_idempotency_key_after_its_answer_expired_is_still_the_first(
    app: Flask,  # noqa: F811
    connections: Connections,
) -> None:
    sunrise = partner(app, connections, ORG)
    record = RECORD | {"external_id": "R-50"}
    first = sunrise.call("POST", "/found-persons", record, Idempotency_Key="admission-50")
    connections.db.api_requests.delete_many({})  # the kept answer is gone (kept 24 hours)
    again = sunrise.call("POST", "/found-persons", record, Idempotency_Key="admission-50")
    assert again.status_code == 201 and again.get_json()["reference"] == first.get_json()["reference"]
    problem(sunrise.call("POST", "/found-persons", record, Idempotency_Key="admission-51"), 409)
    assert connections.db.found_persons.count_documents({}) == 1


def test_an_external_id_changed_by_patch_is_the_one_an_import_finds_and_cannot_take_anothers(
    app: Flask,  # noqa: F811
    connections: Connections,
    environment: dict[str, str],
    tmp_path: Path,
    faces_dir: Path,
) -> None:
    sunrise = partner(app, connections, ORG)
    made, other = sunrise.create(external_id="SH-0001").get_json(), sunrise.create(external_id="SH-0002").get_json()
    path = f"/found-persons/{made['reference']}"
    etag = sunrise.call("GET", path).headers["ETag"]
    assert sunrise.call("PATCH", path, {"external_id": "SH-0041"}, If_Match=etag).status_code == 200
    csv, photos = sheet(tmp_path, faces_dir, "Ward C")
    summary_of(import_(environment, csv, "--photos", photos, "--org", ORG))
    assert connections.db.found_persons.count_documents({}) == 2, "the import found the record renamed by PATCH"
    assert sunrise.call("GET", path).get_json()["held_at"] == "Ward C"
    path = f"/found-persons/{other['reference']}"
    etag = sunrise.call("GET", path).headers["ETag"]
    taken = sunrise.call("PATCH", path, {"external_id": "SH-0041"}, If_Match=etag)
    assert made["reference"] in problem(taken, 409)["detail"]
    assert sunrise.call("GET", path).get_json()["external_id"] == "SH-0002", "nothing changed"
