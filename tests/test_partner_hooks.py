"""Partner webhooks: signed, retried with the same event id, in order per record, once per change, never blocking chats.

A real HTTP receiver (http.server in a thread) plays the partner's system; real RQ workers deliver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from click.testing import CliRunner

from cli.main import group
from config import Settings
from core.partner_hooks import HookRefused, verify
from infra.embedded import EmbeddedServer
from services.approval import tell_family
from services.outcomes import settle
from services.partner_events import check_url, register_endpoint
from services.queue import PARTNERS_QUEUE, lanes, make_queue
from standins.telegram_api import TelegramStandIn
from storage.connections import Connections
from storage.found_persons import close_found_person
from storage.organisations import create_organisation
from storage.partner_hooks import rotate_secret
from storage.sealing import use_keys
from tests.chat_harness import Harness
from tests.conftest import make_environment, telegram_settings
from tests.test_admin_access import login
from tests.test_api import partner
from tests.test_encryption import env_of
from tests.test_telegram import CHAT, post, update
from workers.measured_worker import MeasuredWorker
from workers.reconciler import reconcile

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Receiver:
    """A partner's endpoint: answers each request as `plan` says (200 once it is empty), and keeps what came."""

    plan: list[int | str] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def events(self, answered: int | None = 200) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received if answered is None or r["answer"] == answered]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    kept = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            answer = kept.plan.pop(0) if kept.plan else 200
            kept.received.append({"headers": dict(self.headers), "body": body, "answer": answer, "at": time.time()})
            if answer == "hang":
                time.sleep(8)  # past the 5 s timeout
                answer = 200
            self.send_response(int(answer))
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kept.url = f"http://127.0.0.1:{server.server_port}/events"
    yield kept
    server.shutdown()
    server.server_close()


@pytest.fixture
def environment(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, bot_api: TelegramStandIn
) -> dict[str, str]:
    return make_environment(servers, tmp_path, HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE="1", **telegram_settings(bot_api))


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    return Harness(settings, connections)


@pytest.fixture
def shelter(harness: Harness) -> ObjectId:
    return create_organisation(harness.db, "Northside Shelter", "shelter")


def match(harness: Harness, organisation: ObjectId, n: int = 1) -> ObjectId:
    """An approved match between a family's case and a found person the shelter holds (as a reviewer leaves it)."""
    db, now = harness.db, datetime.now(UTC)
    db.found_persons.insert_one({"reference": f"FP-000{n}", "organisation": organisation, "status": "open"})
    db.cases.insert_one({"reference": f"HW-000{n}", "status": "open", "reporter": f"telegram:{900 + n}"})
    candidate = {"kind": "found", "found": f"FP-000{n}", "case": f"HW-000{n}", "sighting_face_id": ObjectId()}
    return db.candidates.insert_one(candidate | {"status": "approved", "decided_at": now}).inserted_id


def add_hook(harness: Harness, organisation: ObjectId, url: str, events: list[str] | None = None) -> str:
    events = events or ["candidate.approved", "outcome.recorded", "found_person.closed", "case.closed"]
    return register_endpoint(harness.db, organisation, url, events, "test", allow_private=True)[1]


def deliver(harness: Harness, done: Callable[[], bool], within: float = 20) -> None:
    """Run real workers (with RQ's scheduler, for the retries they schedule) until `done()`."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, "the deliveries did not arrive in time"
        harness.worker.work(burst=True, with_scheduler=True)
        time.sleep(0.2)


def test_an_approval_reaches_the_partner_signed_with_an_rfc3339_time_and_no_family_contact(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    secret = add_hook(harness, shelter, receiver.url)
    candidate = match(harness, shelter)
    tell_family(harness.db, harness.context.queue, candidate)
    deliver(harness, lambda: bool(receiver.events()))
    sent = receiver.received[0]
    assert verify(secret, sent["headers"]["Homeward-Signature"], sent["body"], int(time.time()))
    assert not verify(secret, sent["headers"]["Homeward-Signature"], sent["body"] + " ", int(time.time()))
    event = json.loads(sent["body"])
    assert event["type"] == "candidate.approved" and event["id"].startswith("evt_")
    assert event["id"] == sent["headers"]["Homeward-Event-Id"]
    assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None and event["occurred_at"].endswith("Z")
    assert event["data"]["found_person"] == "FP-0001" and event["data"]["case"] == "HW-0001"
    assert "telegram:" not in sent["body"], "a family's contact never leaves in an event"


def test_a_failing_partner_gets_the_same_event_id_again_and_later_events_wait_in_order(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    add_hook(harness, shelter, receiver.url)
    receiver.plan = [500, 503, 500]  # the approval's first three tries fail (retried after 1, 2 and 4 s)
    candidate = match(harness, shelter)
    tell_family(harness.db, harness.context.queue, candidate)
    settle(harness.db, harness.context.queue, candidate, "contacted", "registrar")
    deliver(harness, lambda: len(receiver.events()) == 2)
    tried = [(json.loads(r["body"])["type"], json.loads(r["body"])["id"], r["answer"]) for r in receiver.received]
    assert [(kind, answer) for kind, _, answer in tried] == [
        ("candidate.approved", 500),
        ("candidate.approved", 503),
        ("candidate.approved", 500),
        ("candidate.approved", 200),
        ("outcome.recorded", 200),
    ], "the outcome waited behind the approval"
    assert len({event_id for kind, event_id, _ in tried if kind == "candidate.approved"}) == 1, "one id on every try"
    assert tried[3][2] == 200 and tried[3][1] == tried[0][1]
    assert receiver.events()[1]["data"]["outcome"] == "contacted"
    first = harness.db.partner_deliveries.find_one({"type": "candidate.approved"})
    assert first["status"] == "delivered" and first["attempts"] == 4 and first["last_error"] == "HTTP 500"


def test_the_same_approval_told_twice_is_one_event_delivered_once(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    add_hook(harness, shelter, receiver.url)
    candidate = match(harness, shelter)
    for _ in range(3):  # the panel, then the reconciler after a crash, and once more
        tell_family(harness.db, harness.context.queue, candidate)
    deliver(harness, lambda: bool(receiver.events()))
    harness.worker.work(burst=True, with_scheduler=True)
    assert len(receiver.received) == 1
    assert harness.db.partner_events.count_documents({}) == 1


def test_reunited_tells_the_partner_of_the_outcome_and_both_closes(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    add_hook(harness, shelter, receiver.url)
    candidate = match(harness, shelter)
    settle(harness.db, harness.context.queue, candidate, "reunited", "registrar")
    deliver(harness, lambda: len(receiver.events()) == 3)
    kinds = {event["type"]: event["data"] for event in receiver.events()}
    assert set(kinds) == {"case.closed", "found_person.closed", "outcome.recorded"}
    assert kinds["found_person.closed"]["closed_reason"] == "reunited"
    assert kinds["outcome.recorded"]["outcome"] == "reunited"


def test_a_rotation_sends_both_signatures_until_the_partner_switches(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    old = add_hook(harness, shelter, receiver.url)
    endpoint = harness.db.partner_hooks.find_one()["_id"]
    new = rotate_secret(harness.db, endpoint)
    tell_family(harness.db, harness.context.queue, match(harness, shelter))
    deliver(harness, lambda: bool(receiver.events()))
    sent, now = receiver.received[0], int(time.time())
    assert sent["headers"]["Homeward-Signature"].count("v1=") == 2
    assert verify(old, sent["headers"]["Homeward-Signature"], sent["body"], now)
    assert verify(new, sent["headers"]["Homeward-Signature"], sent["body"], now)
    assert old != new


def test_rotate_key_reseals_the_secrets_so_deliveries_stay_signed_after_the_old_key_is_gone(
    harness: Harness, shelter: ObjectId, receiver: Receiver, settings: Settings
) -> None:
    secret = add_hook(harness, shelter, receiver.url)
    before = bytes(harness.db.partner_hooks.find_one()["secret"])
    old = settings.data_keys().keys
    rotated = CliRunner(env=env_of(settings)).invoke(group, ["rotate-key"])
    assert rotated.exit_code == 0 and "1 webhook secrets" in rotated.output, rotated.output
    assert not set(settings.data_keys().keys) & set(old)
    use_keys(settings.data_keys())  # this process follows the key file, as the workers do
    assert bytes(harness.db.partner_hooks.find_one()["secret"]) != before
    tell_family(harness.db, harness.context.queue, match(harness, shelter))
    deliver(harness, lambda: bool(receiver.events()))
    sent = receiver.received[0]
    assert verify(secret, sent["headers"]["Homeward-Signature"], sent["body"], int(time.time()))


def test_a_record_closed_by_the_partner_api_is_heard_by_its_webhook(
    harness: Harness, receiver: Receiver, connections: Connections
) -> None:
    sunrise = partner(harness.app, connections, "Sunrise Shelter")
    organisation = harness.db.organisations.find_one({"name": "Sunrise Shelter"})["_id"]
    secret = add_hook(harness, organisation, receiver.url, ["found_person.closed"])
    reference = sunrise.create().get_json()["reference"]
    assert sunrise.call("POST", f"/found-persons/{reference}/close", {"reason": "transferred"}).status_code == 200
    deliver(harness, lambda: bool(receiver.events()))
    sent = receiver.received[0]
    assert verify(secret, sent["headers"]["Homeward-Signature"], sent["body"], int(time.time()))
    assert receiver.events()[0]["data"] | {"closed_at": None} == {
        "found_person": reference,
        "external_id": "R-17",
        "status": "closed",
        "closed_reason": "transferred",
        "closed_at": None,
    }


def test_a_private_or_loopback_url_is_refused_unless_the_operator_allows_it(
    harness: Harness, shelter: ObjectId
) -> None:
    for url in ("https://127.0.0.1/x", "https://localhost/x", "https://10.1.2.3/x", "https://169.254.169.254/x"):
        with pytest.raises(HookRefused, match="not a public address"):
            check_url(url, allow_private=False)
    with pytest.raises(HookRefused, match="https://"):
        check_url("http://partner.example/x", allow_private=False)
    with pytest.raises(HookRefused, match="events must be among"):
        register_endpoint(harness.db, shelter, "http://127.0.0.1/x", ["case.opened"], "t", allow_private=True)
    assert check_url("http://127.0.0.1:8080/x", allow_private=True) == "http://127.0.0.1:8080/x"
    assert harness.db.partner_hooks.count_documents({}) == 0


def test_a_delivery_stored_without_its_job_is_sent_by_the_reconciler(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    add_hook(harness, shelter, receiver.url)
    tell_family(harness.db, None, match(harness, shelter))  # Redis was away: nothing queued
    harness.worker.work(burst=True)
    assert not receiver.received
    reconcile(harness.context, datetime.now(UTC) + timedelta(minutes=1))
    deliver(harness, lambda: bool(receiver.events()))


def test_a_close_whose_step_stopped_before_its_event_is_told_by_the_reconciler(
    harness: Harness, shelter: ObjectId, receiver: Receiver
) -> None:
    add_hook(harness, shelter, receiver.url)
    match(harness, shelter)
    assert close_found_person(harness.db, "FP-0001", "transferred", by="registrar")  # ...and the process died
    reconcile(harness.context, datetime.now(UTC) + timedelta(minutes=1))
    reconcile(harness.context, datetime.now(UTC) + timedelta(minutes=2))  # a second look records nothing twice

    def closes() -> list[dict[str, Any]]:
        return [event["data"] for event in receiver.events() if event["type"] == "found_person.closed"]

    deliver(harness, lambda: bool(closes()))
    harness.worker.work(burst=True, with_scheduler=True)
    assert [data["closed_reason"] for data in closes()] == ["transferred"]


def test_the_panel_adds_an_endpoint_shows_its_secret_once_and_redelivers_a_failed_delivery(
    harness: Harness, shelter: ObjectId, receiver: Receiver, settings: Settings
) -> None:
    client = harness.client
    token = login(client, "admin", settings.admin_password or "")
    page = f"/organisations/{shelter}/hooks/"
    form = {"url": receiver.url, "events": ["candidate.approved"], "csrf_token": token}
    added = client.post(page, data=form).get_data(as_text=True)
    endpoint = harness.db.partner_hooks.find_one()
    secret = added.split('<code id="secret">')[1].split("<")[0]
    assert secret.startswith("whsec_") and secret not in client.get(page).get_data(as_text=True)
    assert secret.encode() not in bytes(endpoint["secret"]), "kept sealed"
    receiver.plan = [404]
    tell_family(harness.db, harness.context.queue, match(harness, shelter))
    harness.worker.work(burst=True)
    delivery = harness.db.partner_deliveries.find_one()
    harness.db.partner_deliveries.update_one({"_id": delivery["_id"]}, {"$set": {"status": "failed"}})
    log = client.get(page).get_data(as_text=True)
    assert "HTTP 404" in log and "Redeliver" in log
    client.post(f"{page}deliveries/{delivery['_id']}/redeliver", data={"csrf_token": token})
    deliver(harness, lambda: bool(receiver.events()))
    assert receiver.events()[0]["id"] == delivery["event_id"]
    actions = {entry["action"] for entry in harness.db.audit.find()}
    assert {"add webhook", "redeliver webhook"} <= actions


def test_the_command_line_adds_lists_rotates_and_removes(
    harness: Harness, shelter: ObjectId, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    added = runner.invoke(
        group, ["hooks", "add", "Northside Shelter", "http://127.0.0.1:9/x", "--event", "case.closed"]
    )
    assert added.exit_code == 0, added.output
    endpoint = str(harness.db.partner_hooks.find_one()["_id"])
    assert added.output.strip().splitlines()[-1].startswith("whsec_")
    listed = runner.invoke(group, ["hooks", "list", "Northside Shelter"])
    assert endpoint in listed.output and "whsec_" not in listed.output
    rotated = runner.invoke(group, ["hooks", "rotate", endpoint])
    assert rotated.exit_code == 0 and rotated.output.strip().splitlines()[-1].startswith("whsec_")
    assert runner.invoke(group, ["hooks", "remove", endpoint]).exit_code == 0
    assert harness.db.partner_hooks.count_documents({}) == 0
    monkeypatch.setenv("HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE", "0")
    refused = runner.invoke(group, ["hooks", "add", "Northside Shelter", "https://127.0.0.1/x"])
    assert refused.exit_code == 1 and "not a public address" in refused.output


@pytest.mark.slow
def test_a_hanging_partner_never_delays_a_chat_answer(
    harness: Harness,
    shelter: ObjectId,
    receiver: Receiver,
    bot_api: TelegramStandIn,
    environment: dict[str, str],
    tmp_path: Path,
) -> None:
    """A worker stuck on a partner that never answers; the chat worker answers a family meanwhile."""
    add_hook(harness, shelter, receiver.url)
    receiver.plan = ["hang"]
    tell_family(harness.db, harness.context.queue, match(harness, shelter))
    assert make_queue(harness.worker.connection, PARTNERS_QUEUE).count == 1
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "workers"], cwd=ROOT, env=os.environ | environment, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while not receiver.received:
            assert time.monotonic() < deadline and worker.poll() is None, "the worker never called the partner"
            time.sleep(0.1)
        started = time.monotonic()
        assert post(harness, update(CHAT, "hi")) == 200
        chat_worker = MeasuredWorker(
            lanes(harness.worker.connection, chat_only=True), connection=harness.worker.connection
        )
        chat_worker.work(burst=True)
        assert bot_api.texts(CHAT), "the family was answered"
        assert time.monotonic() - started < 4, "while the partner still hangs"
        deadline = time.monotonic() + 20
        while (harness.db.partner_deliveries.find_one() or {}).get("last_error") is None:
            assert time.monotonic() < deadline, "the hanging call was never given up"
            time.sleep(0.2)
        delivery = harness.db.partner_deliveries.find_one()
        assert delivery["last_error"] == "no answer within 5 s" and delivery["status"] in ("pending", "delivered")
    finally:
        worker.terminate()
        worker.wait(20)
        log.close()
