"""Organisations and found-person records as storage keeps them: who belongs where, and registering once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pymongo.database import Database

from core.found.record import FoundPerson, InvalidRecord
from storage.found_persons import close_found_person, create_found_person, find_found_person, import_source
from storage.organisations import (
    OrganisationExists,
    create_organisation,
    find_organisation,
    operator_organisation,
    update_organisation,
)
from storage.users import bootstrap_admin, create_user, find_user


def test_accounts_from_before_organisations_move_into_the_operators_own_at_start(db: Database) -> None:
    db.users.insert_one({"username": "old-reviewer", "role": "reviewer", "password_hash": "x", "session_epoch": 0})
    bootstrap_admin(db, "an-admin-password")
    operator = operator_organisation(db)
    assert find_user(db, "old-reviewer")["organisation"] == operator  # type: ignore[index]
    assert find_user(db, "admin")["organisation"] == operator  # type: ignore[index]
    assert db.organisations.count_documents({"kind": "operator"}) == 1


def test_registrars_belong_to_partners_and_reviewers_to_the_operator(db: Database) -> None:
    shelter = create_organisation(db, "Sunrise Shelter", "shelter", phone="+91 11 5550 1234", hours="9-17")
    create_user(db, "sita", "a-long-password", "registrar", shelter)
    assert find_user(db, "sita")["organisation"] == shelter  # type: ignore[index]
    with pytest.raises(ValueError, match="partner organisation"):
        create_user(db, "ravi", "a-long-password", "registrar")  # the operator's own: no
    with pytest.raises(ValueError, match="operator"):
        create_user(db, "rosa", "a-long-password", "reviewer", shelter)
    with pytest.raises(OrganisationExists):
        create_organisation(db, "Sunrise Shelter", "hospital")


def test_an_organisations_contact_details_change_and_its_name_stays_unique(db: Database) -> None:
    shelter = create_organisation(db, "Sunrise Shelter", "shelter")
    create_organisation(db, "City Hospital", "hospital")
    update_organisation(db, shelter, phone="+91 11 5550 9999", address="12 Ring Road")
    assert find_organisation(db, "Sunrise Shelter")["contact"]["phone"] == "+91 11 5550 9999"  # type: ignore[index]
    with pytest.raises(OrganisationExists):
        update_organisation(db, shelter, name="City Hospital")


def test_a_found_person_is_registered_once_per_source_and_seen_only_by_its_organisation(db: Database) -> None:
    shelter = create_organisation(db, "Sunrise Shelter", "shelter")
    other = create_organisation(db, "City Hospital", "hospital")
    record = FoundPerson(found_on=date(2026, 11, 30), age_min=8, age_max=10, gender="male", external_id="R-17")
    first = create_found_person(db, shelter, record, import_source(shelter, "R-17"), by="sita")
    again = create_found_person(db, shelter, record, import_source(shelter, "R-17"), by="sita")
    assert first == again and first.startswith("FP-")
    assert db.found_persons.count_documents({}) == 1
    assert find_found_person(db, first, organisation=shelter) is not None
    assert find_found_person(db, first, organisation=other) is None
    assert close_found_person(db, first, "reunited", by="sita")
    assert not close_found_person(db, first, "reunited", by="sita")


@pytest.mark.parametrize(
    "fields, complaint",
    [
        ({"gender": "boy"}, "gender"),
        ({"condition": "missing"}, "condition"),
        ({"age_min": 12, "age_max": 9}, "age_min 12 is above"),
        ({"age_max": 300}, "age_max"),
        ({"found_on": date.today() + timedelta(days=2)}, "future"),
    ],
)
def test_a_record_that_cannot_be_read_is_refused_naming_the_field(fields: dict, complaint: str) -> None:
    with pytest.raises(InvalidRecord, match=complaint):
        FoundPerson(**({"found_on": date(2026, 11, 30)} | fields))
