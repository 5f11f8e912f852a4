"""A found person is forgotten as completely as a contact: at the organisation's request, and after closing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from pymongo.database import Database

from cli.main import group
from config import Settings
from core.found.record import FoundPerson
from services.approval import tell_family
from storage.candidates import decide
from storage.erasure import erase_found_person
from storage.found_persons import close_found_person, create_found_person, import_source
from storage.organisations import create_organisation
from tests.chat_harness import Harness
from tests.test_cli import env_of
from tests.test_found_matching import harness, register_found, report  # noqa: F401 - the fixture
from tests.test_matching import SAME_PERSON, lfw
from tests.test_retention import digest
from workers.retention import sweep

DESCRIPTION = "scar above the left eyebrow"


def _approved_and_told(service: Harness, reference: str) -> None:
    candidate = service.db.candidates.find_one({"found": reference})
    assert candidate is not None, "the family's report matched the found person"
    decide(service.db, candidate["_id"], "approved", "reviewer")
    assert service.context.queue is not None
    tell_family(service.db, service.context.queue, candidate["_id"])
    service.work()


def test_erasing_a_found_person_leaves_nothing_of_it_and_it_is_matched_no_more(
    harness: Harness,  # noqa: F811 - the fixture
    faces_dir: Path,
) -> None:
    photo = lfw(faces_dir, SAME_PERSON[0])
    reference = register_found(harness, photo, description=DESCRIPTION, external_id="R-991")
    report(harness, "family", lfw(faces_dir, SAME_PERSON[1]))
    _approved_and_told(harness, reference)
    family = [m["text"] for m in harness.db.outbox.find({"contact": "simulator:family"})]
    assert any(reference in text for text in family)  # the family was told where to find them

    erased = erase_found_person(harness.db, reference)
    assert erased["record"] == 1 and erased["photos"] == 1 and erased["candidates"] == 1
    leftovers = harness.leftovers([reference, "R-991", DESCRIPTION, digest(photo)])
    # The indexes' removal log names the reference (an id) for a day, so every worker drops its faces.
    assert [place for place in leftovers if "gallery_changes" not in place] == [], leftovers
    report(harness, "another-family", lfw(faces_dir, SAME_PERSON[2]))
    assert harness.db.candidates.count_documents({"kind": "found"}) == 0  # its faces left every index


def test_a_closed_found_persons_photos_go_after_30_days_and_its_personal_fields_after_a_year(
    harness: Harness,  # noqa: F811 - the fixture
    faces_dir: Path,
) -> None:
    db, keep = harness.db, harness.context.settings.retention
    photo = lfw(faces_dir, SAME_PERSON[0])
    reference = register_found(harness, photo, description=DESCRIPTION, external_id="R-992", age_min=30, age_max=40)
    assert close_found_person(db, reference, "transferred", by="registrar")

    def swept(days: int) -> dict[str, int]:
        return sweep(db, datetime.now(UTC) + timedelta(days=days), keep)

    assert swept(keep.closed_found_days - 1)["closed_found_photos"] == 0
    assert swept(keep.closed_found_days + 1)["closed_found_photos"] == 1
    assert db.photos.count_documents({"owner.id": reference}) == 0 and db.faces.count_documents({}) == 0
    assert db.found_persons.find_one({"reference": reference})["description"] == DESCRIPTION  # kept for now
    assert swept(keep.closed_found_records_days + 1)["closed_found_records"] == 1
    record = db.found_persons.find_one({"reference": reference})
    assert record["status"] == "closed" and record["closed_reason"] == "transferred" and record["found_on"]
    assert [place for place in harness.leftovers(["R-992", DESCRIPTION, digest(photo)])] == []
    assert "age_min" not in record and "held_at" not in record


def test_an_organisation_erases_one_of_its_records_at_the_command_line_and_no_other(
    settings: Settings, db: Database
) -> None:
    shelter = create_organisation(db, "Sunrise Shelter", "shelter")
    create_organisation(db, "City Hospital", "hospital")
    record = FoundPerson(found_on=date(2026, 11, 30), description=DESCRIPTION, external_id="R-993")
    reference = create_found_person(db, shelter, record, import_source(shelter, "R-993"), by="registrar")
    runner = CliRunner(env=env_of(settings))
    refused = runner.invoke(group, ["found", "erase", reference, "--org", "City Hospital", "--yes"])
    assert refused.exit_code != 0 and "holds no found person" in refused.output
    assert db.found_persons.count_documents({}) == 1
    erased = runner.invoke(group, ["found", "erase", reference.lower(), "--org", "Sunrise Shelter", "--yes"])
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.output.splitlines()[-1])["record"] == 1
    assert db.found_persons.count_documents({}) == 0
    assert db.audit.count_documents({"action": "erase found person", "target": f"found:{reference}"}) == 1
