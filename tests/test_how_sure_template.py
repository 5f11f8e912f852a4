"""How sure, for a candidate scored by its case's template (issue 27): the same distance from a template of
several photos is less sure than from one photo, so the candidate records what scored it and the page and the
export read the template's own table (core/faces/calibration.py HOW_SURE_TEMPLATE). A candidate of a case of one
photo, and one stored before candidates recorded it, keep the one-photo table.

Arcface's synthetic vectors of tests/test_case_templates.py: the sighting is 0.50 from the two-photo case's
template and 0.60 from the one-photo case's photo.
"""

from __future__ import annotations

import csv
import dataclasses
import re

import pytest

from config import Settings
from storage.cases import create_sighting
from storage.connections import Connections
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_admin_access import PASSWORD, login
from tests.test_candidate_page import page
from tests.test_case_templates import PERSON, PHOTOS, add_arcface_face, two_photo_case
from tests.test_vector_index import new_case
from workers.matching import match_photo

SAME_DISTANCE = 0.64  # one photo's table: 0.562; the template's: 0.286


@pytest.fixture
def panel(settings: Settings, connections: Connections) -> Harness:
    arcface = dataclasses.replace(settings, face_engine="arcface", match_strong=0.55, match_review=0.70)
    made = Harness(arcface, connections)
    create_user(connections.db, "viewer", PASSWORD, "viewer")
    return made


@pytest.fixture
def candidates(panel: Harness) -> dict[str, dict]:
    """The sighting's two candidates, as the matching job records them: by one photo, then by template.

    The one-photo case is alone when the sighting comes; the two-photo case, reported later, meets it by its
    template (0.10 closer: had both been open, the one-photo case would have been past the margin)."""
    db = panel.db
    one = new_case(db, "family-one-photo")
    add_arcface_face(db, ("case", one), PHOTOS[0])
    sighting = create_sighting(db, "telegram:7", {"place": {"text": "Agra Fort"}}, source="test:7")
    match_photo(str(add_arcface_face(db, ("sighting", sighting), PERSON)))
    several, photos = two_photo_case(db)
    match_photo(str(photos[1]))
    found = {c["case"]: c for c in db.candidates.find({"sighting": sighting})}
    assert found[several]["distance"] == pytest.approx(0.50, abs=1e-3) and found[several]["template"] is True
    assert found[one]["distance"] == pytest.approx(0.60, abs=1e-3) and found[one]["template"] is False
    db.candidates.update_many({"sighting": sighting}, {"$set": {"distance": SAME_DISTANCE}})
    return {"several": found[several], "one": found[one]}


def how_sure_on_page(panel: Harness, candidate: dict) -> str:
    sure = re.search(r'<span id="how-sure">How sure: (.*?)\.</span>', page(panel, candidate["_id"]))
    assert sure is not None
    return sure.group(1)


def test_the_page_reads_a_template_candidates_distance_against_the_templates_table(
    panel: Harness, candidates: dict[str, dict]
) -> None:
    several = how_sure_on_page(panel, candidates["several"])
    assert several.startswith("about 3 in 10 candidates this close to a case's several photos together were")
    assert "2 or 3 photos" in several
    one = how_sure_on_page(panel, candidates["one"])
    assert one.startswith("about 6 in 10 candidates this close were the same person")
    assert "photos" not in one


def test_a_candidate_stored_before_candidates_recorded_their_template_keeps_the_one_photo_table(
    panel: Harness, candidates: dict[str, dict]
) -> None:
    panel.db.candidates.update_one({"_id": candidates["several"]["_id"]}, {"$unset": {"template": ""}})
    assert how_sure_on_page(panel, candidates["several"]).startswith("about 6 in 10 candidates this close were")


def test_the_export_gives_each_candidate_its_own_tables_figure(panel: Harness, candidates: dict[str, dict]) -> None:
    login(panel.client, "admin", "correct-horse-battery")
    answer = panel.client.get("/exports/candidates.csv")
    assert answer.status_code == 200
    rows = list(csv.DictReader(answer.get_data(as_text=True).lstrip("\ufeff").splitlines()))
    sure = {row["case"]: row["how_sure"] for row in rows}
    assert sure == {candidates["several"]["case"]: "0.286", candidates["one"]["case"]: "0.562"}
