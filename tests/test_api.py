"""The partner API as a partner's developer meets it (Flask's test client; tests/test_api_live.py uses real HTTP).

Keys of one organisation see nothing of another's; every refusal is a problem document that says what to do.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from admin.app import create_app
from api.docs import PROBLEMS
from config import Settings
from services.queue import PHOTOS_QUEUE, make_queue
from storage.api_keys import SCOPES, create_api_key, revoke_api_key
from storage.audit import history
from storage.connections import Connections
from storage.idempotency import sweep_api_requests
from storage.organisations import create_organisation

RECORD = {
    "found_on": "2026-11-30",
    "found_place": "Platform 4, New Delhi station",
    "held_at": "Ward B, bed 12",
    "age_min": 8,
    "age_max": 10,
    "gender": "male",
    "condition": "alive",
    "description": "Red shirt, a scar over the left eyebrow",
    "external_id": "R-17",
}


class Partner:
    """One organisation's system: its key, sending JSON the way a client library would."""

    def __init__(self, http: FlaskClient, key: str) -> None:
        self.http, self.key = http, key

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        sent = {"Authorization": f"Bearer {self.key}"} | {k.replace("_", "-"): v for k, v in headers.items()}
        data = json.dumps(body) if body is not None and not isinstance(body, (str, bytes)) else body
        kind = "application/json" if body is not None else None
        return self.http.open(f"/api/v1{path}", method=method, data=data, headers=sent, content_type=kind)

    def create(self, **fields: Any) -> Any:
        return self.call("POST", "/found-persons", RECORD | fields)


@pytest.fixture
def app(settings: Settings, connections: Connections) -> Flask:
    return create_app(settings, connections)


def partner(app: Flask, connections: Connections, name: str, scopes: tuple[str, ...] = SCOPES) -> Partner:
    db = connections.db
    organisation = create_organisation(db, name, "shelter")
    return Partner(app.test_client(), create_api_key(db, organisation, list(scopes), "test").secret)


def jpeg(colour: str = "red", size: tuple[int, int] = (64, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json(force=True)
    assert body["status"] == status and body["detail"] and body["request_id"] == answer.headers["X-Request-Id"]
    assert body["type"] == "about:blank" or body["type"].removeprefix("/api/docs#problem-") in PROBLEMS, body["type"]
    return body  # type: ignore[no-any-return]


def test_a_key_registers_reads_and_lists_only_its_own_organisations_records(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    sunrise, city = partner(app, connections, "Sunrise Shelter"), partner(app, connections, "City Hospital")
    made = sunrise.create()
    assert made.status_code == 201, made.get_data(as_text=True)
    record = made.get_json()
    reference = record["reference"]
    assert made.headers["Location"] == f"/api/v1/found-persons/{reference}" and made.headers["ETag"]
    assert record["status"] == "open" and record["age_min"] == 8 and record["photos"] == []
    assert record["created_at"].endswith("Z") and "T" in record["created_at"]
    assert sunrise.call("GET", f"/found-persons/{reference}").get_json()["held_at"] == "Ward B, bed 12"
    # Another organisation's key: 404, as for a reference that does not exist, on every route of the record.
    for method, path, body in [
        ("GET", f"/found-persons/{reference}", None),
        ("GET", f"/found-persons/{reference}/candidates", None),
        ("POST", f"/found-persons/{reference}/close", {"reason": "other"}),
        ("PATCH", f"/found-persons/{reference}", {"held_at": "x"}),
    ]:
        problem(city.call(method, path, body, If_Match="*"), 404)
    assert city.call("GET", "/found-persons").get_json()["data"] == []
    assert [r["reference"] for r in sunrise.call("GET", "/found-persons").get_json()["data"]] == [reference]
    entries = history(connections.db, [f"found:{reference}"])  # writes chained, reads recorded apart: both shown
    assert {e["user"] for e in entries} >= {f"api-key:{k['_id']}" for k in connections.db.api_keys.find()}


def test_wrong_missing_or_revoked_keys_401_and_a_missing_scope_403(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    reader = partner(app, connections, "Sunrise Shelter", ("found:read",))
    answer = reader.http.get("/api/v1/found-persons")
    assert problem(answer, 401)["type"].endswith("#problem-unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    problem(Partner(reader.http, "hw_not-a-key").call("GET", "/found-persons"), 401)
    body = problem(reader.create(), 403)
    assert "found:write" in body["detail"]
    assert reader.call("GET", "/found-persons").status_code == 200
    key = connections.db.api_keys.find_one()
    assert key["last_used_at"] is not None and "hash" in key and reader.key not in json.dumps(key, default=str)
    revoke_api_key(connections.db, key["_id"], "test")
    problem(reader.call("GET", "/found-persons"), 401)  # at once


def test_bad_bodies_name_every_wrong_field_and_store_nothing(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    sunrise = partner(app, connections, "Sunrise Shelter")
    body = problem(sunrise.call("POST", "/found-persons", "{not json"), 400)
    assert "not valid JSON" in body["detail"]
    body = problem(sunrise.create(age_min="eight", colour="red", gender="robot"), 400)
    fields = {error["field"]: error["detail"] for error in body["errors"]}
    assert set(fields) == {"age_min", "colour"} and "whole number" in fields["age_min"]
    body = problem(sunrise.create(gender="robot"), 400)
    assert body["errors"][0]["field"] == "gender" and "female, male, unknown" in body["errors"][0]["detail"]
    problem(sunrise.create(found_on="2999-01-01"), 400)
    problem(sunrise.call("POST", "/found-persons", [1, 2]), 400)
    no_date = dict(RECORD)
    del no_date["found_on"]
    assert problem(sunrise.call("POST", "/found-persons", no_date), 400)["errors"][0]["field"] == "found_on"
    assert connections.db.found_persons.count_documents({}) == 0


def test_a_retried_create_with_its_idempotency_key_is_one_record(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    sunrise = partner(app, connections, "Sunrise Shelter")
    first = sunrise.call("POST", "/found-persons", RECORD, Idempotency_Key="order-17")
    again = sunrise.call("POST", "/found-persons", RECORD, Idempotency_Key="order-17")
    assert first.status_code == again.status_code == 201
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert again.headers["Idempotent-Replayed"] == "true" and again.headers["ETag"] == first.headers["ETag"]
    assert connections.db.found_persons.count_documents({}) == 1
    other = RECORD | {"external_id": "R-18"}
    problem(sunrise.call("POST", "/found-persons", other, Idempotency_Key="order-17"), 422)
    assert sunrise.call("POST", "/found-persons", other, Idempotency_Key="order-18").status_code == 201
    assert connections.db.found_persons.count_documents({}) == 2


def test_an_update_needs_the_etag_read_and_a_stale_one_is_refused(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    sunrise = partner(app, connections, "Sunrise Shelter")
    made = sunrise.create()
    path, tag = f"/found-persons/{made.get_json()['reference']}", made.headers["ETag"]
    problem(sunrise.call("PATCH", path, {"held_at": "Ward C"}), 428)
    changed = sunrise.call("PATCH", path, {"held_at": "Ward C"}, If_Match=tag)
    assert changed.status_code == 200 and changed.get_json()["held_at"] == "Ward C"
    assert changed.get_json()["age_min"] == 8 and changed.headers["ETag"] != tag
    problem(sunrise.call("PATCH", path, {"held_at": "Ward D"}, If_Match=tag), 412)  # someone else's change won
    problem(sunrise.call("PATCH", path, {"age_min": 50}, If_Match=changed.headers["ETag"]), 400)  # above age_max
    closed = sunrise.call("POST", f"{path}/close", {"reason": "transferred"})
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert closed.get_json()["closed_reason"] == "transferred"
    problem(sunrise.call("POST", f"{path}/close", {"reason": "transferred"}), 409)
    problem(sunrise.call("PATCH", path, {"held_at": "Ward E"}, If_Match=closed.headers["ETag"]), 409)
    assert problem(sunrise.call("POST", f"{path}/close", {"reason": "lost"}), 400)["errors"][0]["field"] == "reason"


def test_lists_filter_and_page_with_a_cursor_and_refuse_huge_pages(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    sunrise = partner(app, connections, "Sunrise Shelter")
    references = [sunrise.create(external_id=f"R-{n}").get_json()["reference"] for n in range(5)]
    sunrise.call("POST", f"/found-persons/{references[1]}/close", {"reason": "other"})
    seen, cursor = [], None
    while True:
        page = sunrise.call("GET", "/found-persons?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [row["reference"] for row in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert (
        seen == references[:1] + references[2:] + references[1:2]
    )  # least recently changed first: closing is a change
    open_ones = sunrise.call("GET", "/found-persons?status=open").get_json()["data"]
    assert [row["reference"] for row in open_ones] == [r for r in references if r != references[1]]
    by_id = sunrise.call("GET", "/found-persons?external_id=R-3").get_json()["data"]
    assert [row["reference"] for row in by_id] == [references[3]]
    later = sunrise.call("GET", "/found-persons?updated_since=2999-01-01T00:00:00Z").get_json()["data"]
    assert later == []
    body = problem(sunrise.call("GET", "/found-persons?limit=10000"), 400)
    assert body["errors"][0]["field"] == "limit" and "100" in body["errors"][0]["detail"]
    body = problem(sunrise.call("GET", "/found-persons?status=lost&updated_since=yesterday&colour=red"), 400)
    assert {e["field"] for e in body["errors"]} == {"status", "updated_since", "colour"}


def test_photos_are_checked_as_the_panel_checks_them_then_queued_for_analysis(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    sunrise = partner(app, connections, "Sunrise Shelter")
    auth = {"Authorization": f"Bearer {sunrise.key}"}
    form = {"record": json.dumps(RECORD), "photos": [(io.BytesIO(jpeg()), "front.jpg")]}
    made = sunrise.http.post("/api/v1/found-persons", data=form, headers=auth, content_type="multipart/form-data")
    assert made.status_code == 201, made.get_data(as_text=True)
    record = made.get_json()
    assert [photo["status"] for photo in record["photos"]] == ["pending"]
    queued = make_queue(connections.redis, PHOTOS_QUEUE).job_ids
    assert queued == [f"analyse-photo-{record['photos'][0]['id']}"]
    alone = {"photos": [(io.BytesIO(jpeg("green")), "a.jpg")]}
    lone = sunrise.http.post("/api/v1/found-persons", data=alone, headers=auth, content_type="multipart/form-data")
    assert problem(lone, 400)["errors"][0]["field"] == "record"
    path = f"/api/v1/found-persons/{record['reference']}/photos"
    text = {"photos": [(io.BytesIO(b"hello, not a photo"), "note.txt")]}
    problem(sunrise.http.post(path, data=text, headers=auth, content_type="multipart/form-data"), 415)
    huge = {"photos": [(io.BytesIO(jpeg() + b"\0" * (50 * 2**20)), "huge.jpg")]}
    assert problem(sunrise.http.post(path, data=huge, headers=auth, content_type="multipart/form-data"), 413)
    more = {"photos": [(io.BytesIO(jpeg("blue")), "side.jpg")]}
    added = sunrise.http.post(path, data=more, headers=auth, content_type="multipart/form-data")
    assert added.status_code == 201 and len(added.get_json()["photos"]) == 2
    assert connections.db.photos.count_documents({"owner.kind": "found"}) == 2


def test_requests_carry_an_id_and_unknown_urls_answer_problems(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    sunrise = partner(app, connections, "Sunrise Shelter")
    assert sunrise.call("GET", "/found-persons", X_Request_Id="abc-123").headers["X-Request-Id"] == "abc-123"
    assert len(sunrise.call("GET", "/found-persons").headers["X-Request-Id"]) == 32
    problem(sunrise.call("GET", "/nothing-here"), 404)
    problem(sunrise.call("DELETE", "/found-persons"), 405)
    page = sunrise.http.get("/api/docs")
    assert page.status_code == 200 and "POST /api/v1/found-persons" in page.get_data(as_text=True)


def test_a_key_past_its_rate_waits_with_retry_after(settings: Settings, connections: Connections) -> None:
    app = create_app(dataclasses.replace(settings, api_rate_per_minute=5), connections)
    sunrise, city = partner(app, connections, "Sunrise Shelter"), partner(app, connections, "City Hospital")
    answers = [sunrise.call("GET", "/found-persons").status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    refused = sunrise.call("GET", "/found-persons")
    assert problem(refused, 429)["type"].endswith("#problem-rate-limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert city.call("GET", "/found-persons").status_code == 200  # per key


def test_candidates_show_what_the_organisation_may_see_and_take_its_outcomes(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    db = connections.db
    sunrise = partner(app, connections, "Sunrise Shelter")
    reader = Partner(
        sunrise.http,
        create_api_key(db, db.organisations.find_one({"kind": "shelter"})["_id"], ["found:read"], "t").secret,
    )
    reference = sunrise.create().get_json()["reference"]
    now = datetime.now(UTC)
    ids = {}
    for status, case in (("pending", "HW-AAAA"), ("approved", "HW-BBBB"), ("rejected", "HW-CCCC")):
        doc = {"found": reference, "case": case, "status": status, "created_at": now, "decided_at": now}
        ids[status] = str(db.candidates.insert_one(doc).inserted_id)
    rows = {row["id"]: row for row in sunrise.call("GET", f"/found-persons/{reference}/candidates").get_json()["data"]}
    assert set(rows) == {ids["pending"], ids["approved"]}  # a reviewer's "no" is not shown
    assert rows[ids["pending"]]["case"] is None and rows[ids["approved"]]["case"] == "HW-BBBB"
    path = f"/found-persons/{reference}/candidates/{{}}/outcome"
    problem(reader.call("POST", path.format(ids["approved"]), {"outcome": "contacted"}), 403)
    problem(sunrise.call("POST", path.format(ids["rejected"]), {"outcome": "contacted"}), 404)
    problem(sunrise.call("POST", path.format(ids["pending"]), {"outcome": "contacted"}), 409)
    problem(sunrise.call("POST", path.format(ids["approved"]), {"outcome": "found"}), 400)
    done = sunrise.call("POST", path.format(ids["approved"]), {"outcome": "contacted"})
    assert done.status_code == 200 and done.get_json()["outcome"] == "contacted", done.get_data(as_text=True)
    assert db.candidates.find_one({"case": "HW-BBBB"})["outcome"] == "contacted"


def test_records_changed_at_the_same_moment_are_each_listed_once(app: Flask, connections) -> None:  # type: ignore[no-untyped-def]
    sunrise = partner(app, connections, "Sunrise Shelter")
    references = {sunrise.create(external_id=f"R-{n}").get_json()["reference"] for n in range(4)}
    connections.db.found_persons.update_many({}, {"$set": {"updated_at": datetime(2026, 12, 1, tzinfo=UTC)}})
    seen, cursor = [], ""
    for _ in range(10):
        page = sunrise.call("GET", "/found-persons?limit=1" + cursor).get_json()
        seen += [row["reference"] for row in page["data"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted(references)
    problem(sunrise.call("GET", "/found-persons?cursor=not-a-cursor"), 400)


def test_answers_kept_for_idempotency_keys_go_after_a_day_and_a_late_retry_still_makes_one_record(
    app: Flask, connections: Connections
) -> None:
    sunrise = partner(app, connections, "Sunrise Shelter")
    first = sunrise.call("POST", "/found-persons", RECORD, Idempotency_Key="order-17").get_json()
    assert sweep_api_requests(connections.db, datetime.now(UTC)) == 1  # a day later, as the retention sweep sees it
    late = sunrise.call("POST", "/found-persons", RECORD, Idempotency_Key="order-17")
    assert late.get_json()["reference"] == first["reference"] and "Idempotent-Replayed" not in late.headers
    assert connections.db.found_persons.count_documents({}) == 1
