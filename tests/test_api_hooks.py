"""/api/v1/webhooks: a partner's system registers, rotates and removes its endpoints, reads its delivery log and
redelivers, on the same storage as the panel and `homeward hooks`; a real receiver and real workers."""

from __future__ import annotations

import time
from dataclasses import replace

from admin.app import create_app
from config import Settings
from core.partner_hooks import verify
from services.approval import tell_family
from storage.api_keys import SCOPES
from storage.connections import Connections
from tests import test_partner_hooks as hooks
from tests.chat_harness import Harness
from tests.test_api import partner, problem
from tests.test_partner_hooks import Receiver, deliver, match

# The fixtures of tests/test_partner_hooks.py: a receiver, and an environment allowing loopback endpoints.
environment, harness, receiver = hooks.environment, hooks.harness, hooks.receiver

HOOKS = "/webhooks"


def test_a_partner_registers_reads_rotates_and_removes_its_endpoints_and_sees_no_others(
    harness: Harness,
    receiver: Receiver,
    connections: Connections,
) -> None:
    sunrise, city = partner(harness.app, connections, "Sunrise Shelter"), partner(harness.app, connections, "City")
    made = sunrise.call("POST", HOOKS, {"url": receiver.url, "events": ["candidate.approved"]}, Idempotency_Key="k1")
    assert made.status_code == 201, made.get_data(as_text=True)
    endpoint = made.get_json()
    assert endpoint["secret"].startswith("whsec_") and endpoint["events"] == ["candidate.approved"]
    assert made.headers["Location"].endswith(f"/api/v1/webhooks/{endpoint['id']}")
    again = sunrise.call("POST", HOOKS, {"url": receiver.url, "events": ["candidate.approved"]}, Idempotency_Key="k1")
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json()["id"] == endpoint["id"]
    assert "whsec_" not in again.get_data(as_text=True), "a secret is shown once, never kept for a replay"
    listed = sunrise.call("GET", HOOKS).get_json()["data"]
    assert [row["id"] for row in listed] == [endpoint["id"]] and "secret" not in listed[0]
    assert sunrise.call("GET", f"{HOOKS}/{endpoint['id']}").get_json()["url"] == receiver.url
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/rotate"), ("GET", "/deliveries")):
        problem(city.call(method, f"{HOOKS}/{endpoint['id']}{path}"), 404)  # another organisation's: unknown
    assert city.call("GET", HOOKS).get_json()["data"] == []
    rotated = sunrise.call("POST", f"{HOOKS}/{endpoint['id']}/rotate").get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    assert rotated["previous_secret_valid_until"] and rotated["rotated_at"]
    tell_family(harness.db, harness.context.queue, match_of(harness, "Sunrise Shelter"))
    deliver(harness, lambda: bool(receiver.events()))
    sent, now = receiver.received[0], int(time.time())
    for secret in (endpoint["secret"], rotated["secret"]):  # both sign while the rotation lasts
        assert verify(secret, sent["headers"]["Homeward-Signature"], sent["body"], now)
    assert sunrise.call("DELETE", f"{HOOKS}/{endpoint['id']}").status_code == 204
    problem(sunrise.call("GET", f"{HOOKS}/{endpoint['id']}"), 404)
    assert harness.db.partner_hooks.count_documents({}) == 0
    actions = [entry["action"] for entry in harness.db.audit.find({"user": {"$regex": "^api-key:"}})]
    assert {"add webhook", "rotate webhook secret", "remove webhook"} <= set(actions)


def match_of(harness: Harness, name: str):  # type: ignore[no-untyped-def]
    return match(harness, harness.db.organisations.find_one({"name": name})["_id"])


def test_a_wrong_endpoint_is_refused_field_by_field_and_a_key_without_the_scope_gets_403(
    harness: Harness,
    settings: Settings,
    connections: Connections,
) -> None:
    strict = create_app(replace(settings, partner_hooks_allow_private=False), connections)
    sunrise = partner(strict, connections, "Sunrise Shelter")
    wrong = problem(sunrise.call("POST", HOOKS, {"url": 5, "events": ["case.opened"], "secret": "x"}), 400)
    assert {error["field"] for error in wrong["errors"]} == {"url", "events", "secret"}
    for url in ("https://127.0.0.1/x", "http://partner.example/x", "https://10.0.0.7/x"):
        refused = problem(sunrise.call("POST", HOOKS, {"url": url}), 400)
        assert refused["errors"][0]["field"] == "url", refused
    assert harness.db.partner_hooks.count_documents({}) == 0, "nothing half-made"
    reader = partner(strict, connections, "City", scopes=tuple(s for s in SCOPES if s != "webhooks:write"))
    assert "webhooks:write" in problem(reader.call("GET", HOOKS), 403)["detail"]


def test_the_delivery_log_shows_each_failure_and_a_redelivery_sends_the_same_event_id(
    harness: Harness,
    receiver: Receiver,
    connections: Connections,
) -> None:
    sunrise = partner(harness.app, connections, "Sunrise Shelter")
    endpoint = sunrise.call("POST", HOOKS, {"url": receiver.url}).get_json()
    log = f"{HOOKS}/{endpoint['id']}/deliveries"
    receiver.plan = [500]
    tell_family(harness.db, harness.context.queue, match_of(harness, "Sunrise Shelter"))
    harness.worker.work(burst=True)
    (waiting,) = sunrise.call("GET", log).get_json()["data"]
    assert waiting["status"] == "pending" and waiting["attempts"] == 1 and waiting["last_error"] == "HTTP 500"
    assert waiting["next_attempt_at"].endswith("Z") and waiting["type"] == "candidate.approved"
    redeliver = f"{log}/{waiting['id']}/redeliver"
    assert problem(sunrise.call("POST", redeliver), 409)["type"].endswith("delivery-under-way")
    deliver(harness, lambda: bool(receiver.events()))
    (done,) = sunrise.call("GET", log).get_json()["data"]
    assert done["status"] == "delivered" and done["attempts"] == 2 and done["delivered_at"]
    again = sunrise.call("POST", redeliver)
    assert again.status_code == 202 and again.get_json()["status"] == "pending"
    deliver(harness, lambda: len(receiver.events()) == 2)
    assert {event["id"] for event in receiver.events()} == {waiting["event_id"]}, "the same event, sent again"
    other = partner(harness.app, connections, "City")
    problem(other.call("POST", redeliver), 404)
