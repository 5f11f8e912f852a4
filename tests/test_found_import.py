"""`homeward found import`: an organisation's CSV and photos in, every bad row reported, a re-run changing nothing."""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from click.testing import CliRunner, Result
from PIL import Image
from pymongo.database import Database

from cli.main import group
from core.found.archive import Limits, PhotoArchive, UnsafeArchive
from core.found.sheet import UnreadableSheet, read_sheet
from services.queue import PHOTOS_QUEUE, make_queue
from storage.found_persons import create_found_person, find_by_source, found_owner, import_source
from storage.organisations import create_organisation
from tests.photo_files import jpeg

HEADER = "external_id,found_on,found_place,held_at,age_min,age_max,gender,condition,description,photos"
PEOPLE = ("Colin_Powell", "Tony_Blair", "Aaron_Eckhart")


def lfw(faces_dir: Path, person: str, number: int = 1) -> bytes:
    return (faces_dir / f"lfw/{person}/{person}_{number:04d}.jpg").read_bytes()


def converted(photo: bytes, kind: str) -> bytes:
    """The photo as an iPhone (HEIF) or a web page (WebP) would give it."""
    out = io.BytesIO()
    Image.open(io.BytesIO(photo)).save(out, kind, quality=90)
    return out.getvalue()


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def import_(environment: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(group, ["found", "import", *args], env=environment)


def summary_of(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def counts(db: Database) -> tuple[int, int, int]:
    return db.found_persons.count_documents({}), db.photos.count_documents({}), db.faces.count_documents({})


@pytest.fixture
def shelter(db: Database) -> str:
    create_organisation(db, "Sunrise Shelter", "shelter")
    return "Sunrise Shelter"


@pytest.fixture
def batch(faces_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Three good rows (JPEG, HEIC, WebP), then four bad ones: a missing photo, no face, a bad date, a bad gender."""
    rows = [
        HEADER,
        'SH-1,2026-11-30,Central station,Ward 3,30,40,male,alive,"grey coat, speaks little",Colin.JPG',
        "SH-2,01/11/2026,Market,Ward 1,,,M,alive,,tony.HEIC",
        'SH-3,1 Nov 2026,,Room 2,50,60,male,alive,"found near the river",aaron.webp',
        "SH-4,2026-11-01,,,,,female,alive,,nobody.jpg",
        "SH-5,2026-11-01,,,,,female,alive,,gray.jpg",
        "SH-6,31/02/2026,,,,,female,alive,,colin.jpg",
        "SH-7,2026-11-01,,,,,woman?,alive,,colin.jpg",
    ]
    csv = tmp_path / "found.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    gray = jpeg(Image.new("RGB", (300, 300), (128, 128, 128)))
    photos = {
        "people/colin.jpg": lfw(faces_dir, PEOPLE[0]),
        "tony.heic": converted(lfw(faces_dir, PEOPLE[1]), "HEIF"),
        "aaron.webp": converted(lfw(faces_dir, PEOPLE[2]), "WEBP"),
        "gray.jpg": gray,
    }
    return csv, write_zip(tmp_path / "photos.zip", photos)


def test_good_rows_go_in_with_their_faces_and_every_bad_row_is_reported(
    environment: dict[str, str],
    db: Database,
    redis: redis_lib.Redis,
    shelter: str,
    batch: tuple[Path, Path],
    faces_dir: Path,
) -> None:
    csv, photos = batch
    summary = summary_of(import_(environment, str(csv), "--photos", str(photos), "--org", shelter))
    assert (summary["imported"], summary["updated"], summary["unchanged"]) == (3, 0, 0)
    assert summary["encoding"] == "utf-8"
    reasons = {r["line"]: (r["external_id"], r["reason"]) for r in summary["rejected"]}
    assert sorted(reasons) == [5, 6, 7, 8]
    assert reasons[5][0] == "SH-4" and "nobody.jpg is not among the photos" in reasons[5][1]
    assert reasons[6][0] == "SH-5" and "shows no face" in reasons[6][1]
    assert "found_on '31/02/2026' is not a date" in reasons[7][1]
    assert "gender 'woman?'" in reasons[8][1]

    organisation = db.organisations.find_one({"name": shelter})["_id"]
    first = find_by_source(db, import_source(organisation, "SH-1"))
    assert first["description"] == "grey coat, speaks little" and first["age_max"] == 40
    assert find_by_source(db, import_source(organisation, "SH-2"))["found_on"] == "2026-11-01"
    assert find_by_source(db, import_source(organisation, "SH-4")) is None
    for reference in (first["reference"], find_by_source(db, import_source(organisation, "SH-3"))["reference"]):
        (photo,) = db.photos.find(found_owner(reference).query())
        assert photo["status"] == "analysed" and photo["face_count"] == 1
        assert db.faces.count_documents({"photo_id": photo["_id"], "quality": "ok"}) == 1
    assert make_queue(redis, PHOTOS_QUEUE).count == 3  # matching queued, no analysis: the faces are stored
    assert db.audit.find_one({"action": "import found persons"}) is not None

    before = counts(db)
    again = summary_of(import_(environment, str(csv), "--photos", str(photos), "--org", shelter))
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert again["rejected"] == summary["rejected"]
    assert db.unusable_photos.count_documents({}) == 1  # the gray photo, refused again without analysing it
    assert counts(db) == before

    changed = csv.read_text().replace("found near the river", "found near the old bridge")
    changed = changed.replace("Market,Ward 1,,,M,alive,,tony.HEIC", "Market,Ward 1,,,M,alive,,tony.HEIC;tony2.jpg")
    csv.write_text(changed)
    with zipfile.ZipFile(photos, "a") as archive:
        archive.writestr("tony2.jpg", lfw(faces_dir, PEOPLE[1], 2))
    updated = summary_of(import_(environment, str(csv), "--photos", str(photos), "--org", shelter))
    assert (updated["imported"], updated["updated"], updated["unchanged"]) == (0, 2, 1)
    assert find_by_source(db, import_source(organisation, "SH-3"))["description"] == "found near the old bridge"
    assert counts(db)[:2] == (before[0], before[1] + 1)


def test_a_dry_run_stores_nothing_and_a_run_cut_off_mid_way_is_completed_by_the_next(
    environment: dict[str, str], db: Database, shelter: str, batch: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, photos = batch
    folder = tmp_path / "folder"
    with zipfile.ZipFile(photos) as archive:
        archive.extractall(folder)
    args = (str(csv), "--photos", str(folder), "--org", shelter, "--dry-run", "--workers", "2")  # the pool
    summary = summary_of(import_(environment, *args))
    assert summary["imported"] == 3 and len(summary["rejected"]) == 4
    assert counts(db) == (0, 0, 0)

    # A run that died after storing SH-1's record, before its photo: the next run stores the photo, once.
    organisation = db.organisations.find_one({"name": shelter})["_id"]
    (row,) = [row for row in read_sheet(csv.read_bytes()).rows if row.record.external_id == "SH-1"]
    create_found_person(db, organisation, row.record, import_source(organisation, "SH-1"), "cli")
    completed = summary_of(import_(environment, str(csv), "--photos", str(photos), "--org", shelter))
    assert (completed["imported"], completed["updated"], completed["unchanged"]) == (3, 0, 0)
    assert counts(db) == (3, 3, 3)


def test_an_unknown_organisation_or_an_unsafe_zip_stops_the_import_with_a_message(
    environment: dict[str, str], db: Database, shelter: str, tmp_path: Path
) -> None:
    csv = tmp_path / "found.csv"
    csv.write_text(HEADER + "\nSH-1,2026-11-30,,,,,male,alive,,a.jpg\n")
    unknown = import_(environment, str(csv), "--photos", str(tmp_path), "--org", "Nowhere Home")
    assert unknown.exit_code == 1 and "no organisation named 'Nowhere Home'" in unknown.output
    evil = write_zip(tmp_path / "evil.zip", {"../evil.jpg": b"x"})
    refused = import_(environment, str(csv), "--photos", str(evil), "--org", shelter)
    assert refused.exit_code == 1 and "points outside the archive" in refused.output
    unreadable = tmp_path / "empty.csv"
    unreadable.write_text("name,age\nx,1\n")
    bad = import_(environment, str(unreadable), "--photos", str(tmp_path), "--org", shelter)
    assert bad.exit_code == 1 and "external_id, found_on, condition, photos missing" in bad.output
    assert counts(db) == (0, 0, 0)


def test_spreadsheets_in_utf16_and_latin1_with_semicolons_and_day_first_dates_read_right() -> None:
    rows = "External ID; Found On ;Found_Place;condition;Photos\nA-1;01/12/2025;Gare du Nord, quai 3;alive;a.jpg\n"
    utf16 = read_sheet(rows.encode("utf-16"))
    assert (utf16.encoding, utf16.separator) == ("utf-16", ";")
    (row,) = utf16.rows
    assert row.record.found_on == date(2025, 12, 1) and row.record.found_place == "Gare du Nord, quai 3"
    latin = read_sheet(rows.replace("Gare du Nord", "Orléans").encode("latin-1"))
    assert latin.encoding == "latin-1" and latin.rows[0].record.found_place.startswith("Orléans")
    bom = read_sheet(b"\xef\xbb\xbf" + rows.replace(";", ",").replace("Nord, quai", "Nord quai").encode())
    assert bom.encoding == "utf-8-bom" and bom.rows[0].record.external_id == "A-1"


def test_rows_without_an_id_or_repeating_one_are_rejected_by_their_spreadsheet_line() -> None:
    text = "external_id,found_on,condition,photos\nA,2025-01-02,alive,a.jpg\n,,,\n,2025-01-02,alive,b.jpg\n"
    text += 'A,2 Jan 2025,alive,c.jpg\nB,2025-01-02,asleep,"d.jpg;e.jpg"\nC,2025-01-02,alive,\n'
    sheet = read_sheet(text.encode())
    assert [row.record.external_id for row in sheet.rows] == ["A"]
    rejected = {r.line: r.reason for r in sheet.rejected}
    assert sorted(rejected) == [4, 5, 6, 7]
    assert "external_id is empty" in rejected[4]
    assert "external_id A is on an earlier row too" in rejected[5]
    assert "condition 'asleep'" in rejected[6]
    assert "photos is empty" in rejected[7]
    with pytest.raises(UnreadableSheet, match="photos missing"):
        read_sheet(b"external_id,found_on,condition\n")


def test_a_zip_that_escapes_or_explodes_is_refused_naming_the_limit(tmp_path: Path) -> None:
    for name, message in (("../evil.jpg", "outside the archive"), ("/etc/evil.jpg", "absolute path")):
        with pytest.raises(UnsafeArchive, match=message):
            PhotoArchive(write_zip(tmp_path / "bad.zip", {name: b"x"}).read_bytes())
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("photo.jpg", "w") as member:
        for _ in range(200):
            member.write(bytes(1024 * 1024))
    with pytest.raises(UnsafeArchive, match=r"expands \d+ times \(the limit is 100\): a zip bomb"):
        PhotoArchive(bomb.getvalue())
    with pytest.raises(UnsafeArchive, match="more than 2 files"):
        PhotoArchive(write_zip(tmp_path / "many.zip", {f"{n}.jpg": b"x" for n in range(3)}), Limits(files=2))
    link = zipfile.ZipInfo("link.jpg")
    link.external_attr = (0o120777 << 16) if os.name == "posix" else 0
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        PhotoArchive(many.getvalue())
