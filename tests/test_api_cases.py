"""Cases registered by organisations through the API (/api/v1/cases), as a police station's system meets them.

The organisation is the reporter; a key sees only its own organisation's cases (another's answer 404); every
refusal is a problem document naming each wrong field; a retried create is the first case.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId
from flask import Flask

from admin.app import create_app
from config import Settings
from services.approval import tell_family
from storage.api_keys import create_api_key
from storage.connections import Connections
from storage.partner_cases import case_approvals
from storage.users import create_user
from tests.test_admin_access import PASSWORD, login
from tests.test_api import Partner, jpeg, partner, problem

CASE = {
    "name": "Asha Verma",
    "age": 9,
    "gender": "girl",
    "last_seen_place": "Gate 3, Sarojini Nagar market",
    "last_seen_on": "2026-11-28",
    "description": "Yellow frock, a red hair band",
    "language": "hi",
    "external_id": "FIR-2026-0412",
}


@pytest.fixture
def app(settings: Settings, connections: Connections) -> Flask:
    return create_app(settings, connections)


def register(who: Partner, **fields: Any) -> Any:
    return who.call("POST", "/cases", CASE | fields)


def test_a_police_station_registers_reads_and_lists_only_its_own_cases(app: Flask, connections: Connections) -> None:
    police, ngo = partner(app, connections, "Saket Police Station"), partner(app, connections, "Child Aid")
    made = register(police)
    assert made.status_code == 201, made.get_data(as_text=True)
    case = made.get_json()
    reference = case["reference"]
    assert reference.startswith("HW-") and made.headers["Location"] == f"/api/v1/cases/{reference}"
    assert case["status"] == "open" and case["age"] == 9 and case["last_seen_on"] == "2026-11-28"
    assert case["family_chat"] == "none" and case["photos"] == [] and case["created_at"].endswith("Z")
    stored = connections.db.cases.find_one({"reference": reference})
    assert stored["reporter"] == f"organisation:{stored['organisation']}" and stored["place"]["text"].startswith("Gate")
    # The panel's case page reads it as any case.
    assert police.call("GET", f"/cases/{reference}").get_json()["external_id"] == "FIR-2026-0412"
    for method, path, body in [
        ("GET", f"/cases/{reference}", None),
        ("GET", f"/cases/{reference}/candidates", None),
        ("POST", f"/cases/{reference}/close", {"reason": "found"}),
        ("PATCH", f"/cases/{reference}", {"description": "x"}),
    ]:
        assert "no case" in problem(ngo.call(method, path, body, If_Match="*"), 404)["detail"]
    assert ngo.call("GET", "/cases").get_json()["data"] == []
    assert [c["reference"] for c in police.call("GET", "/cases").get_json()["data"]] == [reference]
    assert police.call("GET", "/found-persons").get_json()["data"] == []  # a case is not a found person


def test_bad_bodies_name_every_wrong_field_store_nothing_and_need_the_scope(
    app: Flask, connections: Connections
) -> None:
    police = partner(app, connections, "Saket Police Station")
    body = problem(register(police, age="nine", colour="red", last_seen_on="yesterday"), 400)
    assert {e["field"] for e in body["errors"]} == {"age", "colour", "last_seen_on"}
    assert problem(register(police, age=9, age_min=8), 400)["errors"][0]["field"] == "age"
    assert problem(register(police, language="fr"), 400)["errors"][0]["field"] == "language"
    assert problem(register(police, last_seen_on="2999-01-01"), 400)["errors"][0]["field"] == "last_seen_on"
    assert problem(register(police, family_whatsapp="98123"), 400)["errors"][0]["field"] == "family_whatsapp"
    no_name = {k: v for k, v in CASE.items() if k != "name"}
    assert problem(police.call("POST", "/cases", no_name), 400)["errors"][0]["field"] == "name"
    problem(police.call("POST", "/cases", "{not json"), 400)
    # No WhatsApp channel here: a family number cannot be asked, so it is refused rather than silently dropped.
    refused = problem(register(police, family_whatsapp="+919812345678"), 400)
    assert "WhatsApp" in refused["errors"][0]["detail"]
    assert connections.db.cases.count_documents({}) == 0
    reader = Partner(police.http, _key(connections, "Saket Police Station", ["cases:read"]))
    assert "cases:write" in problem(register(reader), 403)["detail"]
    assert reader.call("GET", "/cases").status_code == 200


def test_a_retried_create_is_the_first_case_and_an_update_needs_the_etag(app: Flask, connections: Connections) -> None:
    police = partner(app, connections, "Saket Police Station")
    first = police.call("POST", "/cases", CASE, Idempotency_Key="fir-0412")
    again = police.call("POST", "/cases", CASE, Idempotency_Key="fir-0412")
    assert again.get_json()["reference"] == first.get_json()["reference"] and again.headers["Idempotent-Replayed"]
    assert connections.db.cases.count_documents({}) == 1
    path, tag = f"/cases/{first.get_json()['reference']}", first.headers["ETag"]
    problem(police.call("PATCH", path, {"description": "Blue frock"}), 428)
    changed = police.call("PATCH", path, {"description": "Blue frock", "age": None, "age_min": 8}, If_Match=tag)
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["description"] == "Blue frock" and changed.get_json()["age_min"] == 8
    assert changed.get_json()["name"] == "Asha Verma" and changed.headers["ETag"] != tag
    problem(police.call("PATCH", path, {"description": "Green"}, If_Match=tag), 412)
    problem(police.call("PATCH", path, {"family_whatsapp": "+919812345678"}, If_Match=changed.headers["ETag"]), 400)
    closed = police.call("POST", f"{path}/close", {"reason": "found"}, Idempotency_Key="close-0412")
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert closed.get_json()["closed_reason"] == "found"
    problem(police.call("POST", f"{path}/close", {"reason": "found"}), 409)
    problem(police.call("PATCH", path, {"description": "x"}, If_Match=closed.headers["ETag"]), 409)
    assert problem(police.call("POST", f"{path}/close", {"reason": "lost"}), 400)["errors"][0]["field"] == "reason"


def test_cases_list_by_change_filter_and_page(app: Flask, connections: Connections) -> None:
    police = partner(app, connections, "Saket Police Station")
    references = [register(police, external_id=f"FIR-{n}").get_json()["reference"] for n in range(5)]
    police.call("POST", f"/cases/{references[1]}/close", {"reason": "withdrawn"})
    seen, cursor = [], None
    while True:
        page = police.call("GET", "/cases?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [row["reference"] for row in page["data"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == references[:1] + references[2:] + references[1:2]  # closing is a change: it comes last
    assert [r["reference"] for r in police.call("GET", "/cases?status=closed").get_json()["data"]] == [references[1]]
    assert [r["reference"] for r in police.call("GET", "/cases?external_id=FIR-3").get_json()["data"]] == [
        references[3]
    ]
    assert problem(police.call("GET", "/cases?limit=10000"), 400)["errors"][0]["field"] == "limit"


def test_photos_go_to_the_usual_photo_jobs_and_are_checked(app: Flask, connections: Connections) -> None:
    police = partner(app, connections, "Saket Police Station")
    auth = {"Authorization": f"Bearer {police.key}"}
    form = {"record": json.dumps(CASE), "photos": [(io.BytesIO(jpeg()), "asha.jpg")]}
    made = police.http.post("/api/v1/cases", data=form, headers=auth, content_type="multipart/form-data")
    assert made.status_code == 201, made.get_data(as_text=True)
    case = made.get_json()
    assert [photo["status"] for photo in case["photos"]] == ["pending"]
    assert connections.db.photos.count_documents({"owner": {"kind": "case", "id": case["reference"]}}) == 1
    path = f"/api/v1/cases/{case['reference']}/photos"
    text = {"photos": [(io.BytesIO(b"not a photo"), "note.txt")]}
    problem(police.http.post(path, data=text, headers=auth, content_type="multipart/form-data"), 415)
    many = {"photos": [(io.BytesIO(jpeg(c)), f"{c}.jpg") for c in ("blue", "green", "white", "black", "gray")]}
    assert (
        "at most 5"
        in problem(police.http.post(path, data=many, headers=auth, content_type="multipart/form-data"), 400)["detail"]
    )
    more = {"photos": [(io.BytesIO(jpeg("blue")), "side.jpg")]}
    added = police.http.post(path, data=more, headers=auth, content_type="multipart/form-data")
    assert added.status_code == 201 and len(added.get_json()["photos"]) == 2


def test_candidates_show_what_approval_shared_and_take_outcomes_and_approvals_reach_the_panel(
    app: Flask, connections: Connections
) -> None:
    db = connections.db
    police = partner(app, connections, "Saket Police Station")
    shelter = db.organisations.insert_one(
        {
            "name": "Sunrise Shelter",
            "kind": "shelter",
            "contact": {"address": "12 Ring Rd", "phone": "+911100", "hours": ""},
        }
    ).inserted_id
    reference = register(police).get_json()["reference"]
    now = datetime.now(UTC)
    db.found_persons.insert_one(
        {"reference": "FP-2222", "organisation": shelter, "status": "open", "external_id": "SH-41", "held_at": "Ward B"}
    )
    ids = {}
    for status, found in (("pending", "FP-1111"), ("approved", "FP-2222"), ("rejected", "FP-3333")):
        doc = {"kind": "found", "found": found, "case": reference, "status": status, "created_at": now}
        doc["sighting_face_id"] = ObjectId()
        ids[status] = str(db.candidates.insert_one(doc | {"decided_at": now, "distance": 0.3}).inserted_id)
    rows = {r["id"]: r for r in police.call("GET", f"/cases/{reference}/candidates").get_json()["data"]}
    assert set(rows) == {ids["pending"], ids["approved"]}  # a reviewer's "no" is not shown
    assert rows[ids["pending"]]["match"] is None  # nothing shared before an approval
    shared = rows[ids["approved"]]["match"]
    assert shared["found_person"] == "FP-2222" and shared["held_by"] == "Sunrise Shelter"
    assert shared["contact"]["phone"] == "+911100" and shared["their_reference"] == "SH-41"
    assert "held_at" not in json.dumps(shared)  # the family's message does not share it either
    path = f"/cases/{reference}/candidates/{{}}/outcome"
    problem(police.call("POST", path.format(ids["rejected"]), {"outcome": "contacted"}), 404)
    problem(police.call("POST", path.format(ids["pending"]), {"outcome": "contacted"}), 409)
    problem(police.call("POST", path.format(ids["approved"]), {"outcome": "found"}), 400)
    other = partner(app, connections, "Child Aid")
    problem(other.call("POST", path.format(ids["approved"]), {"outcome": "contacted"}), 404)
    done = police.call("POST", path.format(ids["approved"]), {"outcome": "reunited"}, Idempotency_Key="o-1")
    assert done.status_code == 200 and done.get_json()["outcome"] == "reunited", done.get_data(as_text=True)
    assert police.call("GET", f"/cases/{reference}").get_json()["status"] == "closed"  # reunited closes both sides
    assert db.found_persons.find_one({"reference": "FP-2222"})["status"] == "closed"

    # The approval (as the panel runs it after a reviewer's yes) is listed on the organisation's notifications.
    tell_family(db, None, ObjectId(ids["approved"]))  # type: ignore[arg-type] - no family: nothing to queue
    organisation = db.api_keys.find_one()["organisation"]
    assert [(row["case"], row["match"]) for row in case_approvals(db, organisation)] == [(reference, "FP-2222")]
    create_user(db, "asi", PASSWORD, "registrar", organisation=organisation)
    client = app.test_client()
    login(client, "asi")
    page = client.get("/found/notifications").get_data(as_text=True)
    assert reference in page and "FP-2222" in page


def _key(connections: Connections, organisation: str, scopes: list[str]) -> str:
    db = connections.db
    return create_api_key(db, db.organisations.find_one({"name": organisation})["_id"], scopes, "t").secret
