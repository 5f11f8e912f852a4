"""Found persons in the panel as their people use it: a registrar registers one, sees only its own organisation's;
the operator's people read every organisation's; admins manage organisations and their registrars."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from admin.app import create_app
from config import Settings
from infra.embedded import EmbeddedServer
from services.queue import PHOTOS_QUEUE, make_queue
from storage.connections import Connections
from storage.organisations import create_organisation, find_organisation
from storage.users import create_user, find_user
from tests.conftest import make_environment
from tests.test_panel_security import PASSWORD, client, login

FORM = {
    "found_on": "2026-11-30",
    "found_place": "Platform 4, New Delhi station",
    "held_at": "Ward B, bed 12",
    "age_min": "8",
    "age_max": "10",
    "gender": "male",
    "condition": "alive",
    "description": "Red shirt, a scar over the left eyebrow; says his name is Raju",
    "external_id": "R-17",
}
# The operator's pages, each closed to a partner's registrar.
OPERATOR_PAGES = [
    "/",
    "/review",
    "/candidates/000000000000000000000000",
    "/cases/",
    "/cases/HW-0000",
    "/users/",
    "/organisations/",
    "/jobs/",
    "/exports/",
    "/metrics",
    "/simulator/",
    "/outcomes",
]


@pytest.fixture
def environment(servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path) -> dict[str, str]:
    return make_environment(servers, tmp_path, HOST="0.0.0.0", HOMEWARD_SIMULATOR="on")


@pytest.fixture
def app(settings: Settings, connections: Connections) -> Flask:
    made = create_app(settings, connections)
    db = connections.db
    create_user(db, "sita", PASSWORD, "registrar", create_organisation(db, "Sunrise Shelter", "shelter"))
    create_user(db, "hari", PASSWORD, "registrar", create_organisation(db, "City Hospital", "hospital"))
    create_user(db, "vera", PASSWORD, "viewer")
    return made


def jpeg(colour: str = "red", size: tuple[int, int] = (64, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def signed_in(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    made = client(app)
    assert login(made, username, password).status_code == 302, f"{username} could not log in"
    return made


def token_of(page: str, name: str = "csrf_token") -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def register(browser: FlaskClient, photos: list[tuple[bytes, str]], token: str | None = None, **fields: str) -> Any:
    """Fill in and send the form as a phone's browser would; `token` as the form page gave it, unless given."""
    page = browser.get("/found/new").get_data(as_text=True)
    data: dict[str, Any] = FORM | fields | {"csrf_token": token_of(page), "token": token or token_of(page, "token")}
    data["photos"] = [(io.BytesIO(content), name) for content, name in photos]
    return browser.post("/found/new", data=data, content_type="multipart/form-data")


def reference_of(answer: Any) -> str:
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.location.rsplit("/", 1)[1]


def test_a_registrar_lands_on_found_persons_with_only_its_own_menu(app: Flask) -> None:
    assert login(client(app), "sita", next_path="/?").location == "/found/"  # sent to log in from the site's root
    browser = client(app)
    assert login(browser, "sita").location == "/found/"
    page = browser.get("/found/").get_data(as_text=True)
    nav = page.split("</nav>")[0]
    assert "Found persons" in nav and "Register" in nav
    for operator_link in ("Overview", "Review queue", "Cases", "Users", "Organisations", "Jobs", "Exports"):
        assert operator_link not in nav
    for path in OPERATOR_PAGES:
        assert browser.get(path).status_code == 403, path


def test_a_found_person_is_registered_once_and_its_photos_are_queued_for_analysis(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    db, browser = connections.db, signed_in(app, "sita")
    page = browser.get("/found/new").get_data(as_text=True)
    assert 'accept="image/*"' in page and 'type="file"' in page and "multiple" in page
    token = token_of(page, "token")
    photos = [(jpeg("red"), "front.jpg"), (jpeg("blue"), "side.jpg")]
    reference = reference_of(register(browser, photos, token))
    assert reference_of(register(browser, photos, token)) == reference  # a double click: the same person, once
    assert db.found_persons.count_documents({}) == 1
    stored = db.found_persons.find_one({"reference": reference})
    assert stored["organisation"] == find_organisation(db, "Sunrise Shelter")["_id"]  # type: ignore[index]
    assert stored["age_min"] == 8 and stored["description"] == FORM["description"]
    photo_ids = [str(p["_id"]) for p in db.photos.find({"owner.kind": "found", "owner.id": reference})]
    assert len(photo_ids) == 2
    queued = make_queue(connections.redis, PHOTOS_QUEUE).job_ids
    assert sorted(queued) == sorted(f"analyse-photo-{photo_id}" for photo_id in photo_ids)
    record = browser.get(f"/found/{reference}").get_data(as_text=True)
    assert "Ward B, bed 12" in record and "Raju" in record
    thumbnail = browser.get(f"/found/{reference}/photos/{photo_ids[0]}.jpg")
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.data)).size == (64, 80)
    listed = browser.get("/found/").get_data(as_text=True)
    assert f'data-reference="{reference}"' in listed and "open" in listed
    actions = [(e["action"], e["target"]) for e in db.audit.find({"target": f"found:{reference}"})]
    assert actions.count(("register", f"found:{reference}")) == 1
    assert ("view", f"found:{reference}") in actions and ("view photo", f"found:{reference}") in actions


def test_a_form_error_keeps_what_was_typed_and_a_bad_file_is_named(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    db, browser = connections.db, signed_in(app, "sita")
    answer = register(browser, [(jpeg(), "front.jpg")], age_min="12", age_max="9")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "Youngest age 12 is above Oldest age 9" in page
    assert "scar over the left eyebrow" in page and 'value="Ward B, bed 12"' in page
    answer = register(browser, [(jpeg(), "front.jpg"), (b"%PDF-1.4 not a photo", "notes.pdf")])
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "notes.pdf is not a photo we can read (not an image)" in page
    assert 'value="Platform 4, New Delhi station"' in page
    cut = jpeg()[:300]
    assert "cut.jpg is not a photo we can read" in register(browser, [(cut, "cut.jpg")]).get_data(as_text=True)
    answer = register(browser, [], found_on="30/11/2026")
    assert answer.status_code == 400 and "Found on: give the date" in answer.get_data(as_text=True)
    assert db.found_persons.count_documents({}) == 0 and db.photos.count_documents({}) == 0


def test_a_registrar_of_another_organisation_reaches_nothing_of_it(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    db = connections.db
    reference = reference_of(register(signed_in(app, "sita"), [(jpeg(), "front.jpg")]))
    photo_id = db.photos.find_one({"owner.id": reference})["_id"]  # type: ignore[index]
    other = signed_in(app, "hari")
    token = token_of(other.get("/users/password").get_data(as_text=True))
    tried = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("found.") or "reference" not in rule.arguments:
            continue
        with app.test_request_context():
            path = app.url_for(rule.endpoint, reference=reference, photo_id=str(photo_id), candidate_id="0" * 24)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):  # type: ignore[operator]
            data = {"csrf_token": token, "reason": "transferred", "outcome": "reunited"} if method == "POST" else None
            assert other.open(path, method=method, data=data).status_code in (403, 404), f"{method} {path}"
            tried += 1
    assert tried >= 4  # the record, its photo, closing it, an outcome of its match
    assert reference not in other.get("/found/").get_data(as_text=True)
    assert db.found_persons.find_one({"reference": reference})["status"] == "open"  # type: ignore[index]


def test_the_operators_people_see_every_organisation_and_registrars_close_their_own(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    db = connections.db
    shelters = reference_of(register(signed_in(app, "sita"), [(jpeg(), "a.jpg")]))
    hospitals = reference_of(register(signed_in(app, "hari"), [(jpeg("green"), "b.jpg")], condition="deceased"))
    viewer = signed_in(app, "vera")
    everyone = viewer.get("/found/").get_data(as_text=True)
    assert shelters in everyone and hospitals in everyone and "City Hospital" in everyone
    hospital_id = find_organisation(db, "City Hospital")["_id"]  # type: ignore[index]
    only = viewer.get(f"/found/?organisation={hospital_id}").get_data(as_text=True)
    assert hospitals in only and shelters not in only
    assert viewer.get(f"/found/{hospitals}").status_code == 200
    deceased_photo = db.photos.find_one({"owner.id": hospitals})["_id"]  # type: ignore[index]
    assert viewer.get(f"/found/{hospitals}/photos/{deceased_photo}.jpg").status_code == 404  # reviewers only
    assert viewer.get("/found/new").status_code == 403  # the operator's people read; partners register
    sita = signed_in(app, "sita")
    token = token_of(sita.get(f"/found/{shelters}").get_data(as_text=True))
    sita.post(f"/found/{shelters}/close", data={"csrf_token": token, "reason": "reunited"})
    closed = db.found_persons.find_one({"reference": shelters})
    assert closed["status"] == "closed" and closed["closed_reason"] == "reunited"  # type: ignore[index]
    assert db.audit.find_one({"action": "close", "target": f"found:{shelters}"}) is not None


def test_an_admin_adds_an_organisation_and_its_registrar(app: Flask, settings: Settings, connections) -> None:  # type: ignore[no-untyped-def]
    db, admin = connections.db, signed_in(app, "admin", settings.admin_password)  # type: ignore[arg-type]
    token = token_of(admin.get("/organisations/").get_data(as_text=True))
    form = {"csrf_token": token, "name": "Lotus Home", "kind": "ngo", "phone": "+91 11 5550 0000", "hours": "9-17"}
    admin.post("/organisations/", data=form)
    lotus = find_organisation(db, "Lotus Home")
    assert lotus is not None and lotus["contact"]["phone"] == "+91 11 5550 0000"
    again = admin.post("/organisations/", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Nothing created: an organisation named &#39;Lotus Home&#39; already exists" in again
    change = {"csrf_token": token, "name": "Lotus Home", "kind": "ngo", "address": "3 Lake Road", "phone": "+91 1"}
    admin.post(f"/organisations/{lotus['_id']}", data=change)
    assert find_organisation(db, "Lotus Home")["contact"]["address"] == "3 Lake Road"  # type: ignore[index]
    nameless = admin.post(f"/organisations/{lotus['_id']}", data=change | {"name": " "}, follow_redirects=True)
    assert "Nothing changed: Lotus Home needs a name" in nameless.get_data(as_text=True)
    new = {"csrf_token": token, "username": "lila", "password": PASSWORD, "role": "registrar"}
    refused = admin.post("/users/", data=new, follow_redirects=True).get_data(as_text=True)
    assert "a registrar belongs to a partner organisation; pick it under Organisation" in refused
    admin.post("/users/", data=new | {"organisation": str(lotus["_id"])})
    assert find_user(db, "lila")["organisation"] == lotus["_id"]  # type: ignore[index]
    actions = {e["action"] for e in db.audit.find()}
    assert {"create organisation", "update organisation", "create user"} <= actions
