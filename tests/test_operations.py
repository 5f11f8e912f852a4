"""Operations: /metrics, the jobs page, exports and the overview's health figures, through the real app and worker."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from prometheus_client.parser import text_string_to_metric_families
from rq.job import Job
from rq.registry import FailedJobRegistry

from admin.app import create_app
from config import Settings
from core.faces.sender import PhotoSender
from infra.embedded import EmbeddedServer
from services.queue import ANALYSIS_ATTEMPTS, enqueue_photo_analysis, make_queue
from standins.telegram_api import TelegramStandIn
from storage.connections import Connections
from storage.photos import Owner, save_photo
from storage.users import create_user
from tests.chat_harness import Harness
from tests.conftest import make_environment, telegram_settings
from tests.test_admin_access import PASSWORD, login
from tests.test_matching import SAME_PERSON, lfw, report_case, report_sighting
from tests.test_telegram import CHAT, CITIZEN, chat, photo

OFF_LOOPBACK = {"REMOTE_ADDR": "203.0.113.7"}
TOKEN = "metrics-token-0123456789"
GIVEN_UP_SENDER = "447700900123"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def environment(
    servers: tuple[EmbeddedServer, EmbeddedServer],
    tmp_path: Path,
    bot_api: TelegramStandIn,
) -> dict[str, str]:
    """Telegram through its stand-in, and the simulator on too (the panel tests chat through it)."""
    return make_environment(
        servers, tmp_path, **telegram_settings(bot_api), HOMEWARD_SIMULATOR="open", HOMEWARD_METRICS_TOKEN=TOKEN
    )


def scrape(client, **kwargs) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[no-untyped-def]
    """Every sample of /metrics by (name, labels)."""
    answer = client.get("/metrics", headers=BEARER, **kwargs)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def moved(before: dict, after: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_count_a_report_and_a_sighting(harness: Harness, bot_api: TelegramStandIn, faces_dir: Path) -> None:
    before = scrape(harness.client)
    bot_api.add_file("case-1", (faces_dir / "lfw/Colin_Powell/Colin_Powell_0001.jpg").read_bytes())
    bot_api.add_file("seen-1", (faces_dir / "lfw/Colin_Powell/Colin_Powell_0002.jpg").read_bytes())
    chat(harness, CHAT, "/start", "yes", "1", "Colin Powell", "70", "male", "Leeds", "yesterday 5pm", "skip")
    chat(harness, CHAT, photo("case-1"), "done", "yes")
    chat(harness, CITIZEN, "hi", "yes", photo("seen-1"), "Leeds station", "now", "skip")
    after = scrape(harness.client)
    assert moved(before, after, "homeward_messages_in_total", channel="telegram") == 18
    assert moved(before, after, "homeward_replies_sent_total", channel="telegram") == len(bot_api.sent)
    assert moved(before, after, "homeward_jobs_total", job="analyse_photo", outcome="succeeded") == 2
    assert moved(before, after, "homeward_jobs_total", job="process_conversation", outcome="succeeded") >= 1
    assert moved(before, after, "homeward_photo_analysis_seconds_count") == 2
    assert moved(before, after, "homeward_sighting_to_candidate_seconds_count") == 1
    band = harness.db.candidates.find_one()["band"]
    assert after[("homeward_candidates_pending", (("band", band),))] == 1
    assert after[("homeward_queue_jobs", (("state", "queued"),))] == 0
    assert after[("homeward_reconciler_last_run_age_seconds", ())] == -1  # never ran
    text = harness.client.get("/metrics", headers=BEARER).get_data(as_text=True)
    label_values = [value for _, labels in after for _, value in labels]  # figures may hold any digits by chance
    assert "Colin" not in text and not any(str(CHAT) in value for value in label_values)  # never people, ever


def test_metrics_need_a_token_a_login_or_an_open_setting(settings: Settings, connections: Connections) -> None:
    plain = create_app(dataclasses.replace(settings, metrics_token=None), connections)
    # A reverse proxy on this host makes every visitor a loopback caller: that alone opens nothing.
    refused = plain.test_client().get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    create_user(connections.db, "viewer", PASSWORD, "viewer")
    viewer = plain.test_client()
    assert login(viewer, "viewer")
    assert viewer.get("/metrics", environ_base=OFF_LOOPBACK).status_code == 200
    opened = create_app(dataclasses.replace(settings, metrics_token=None, metrics_open=True), connections)
    assert opened.test_client().get("/metrics", environ_base=OFF_LOOPBACK).status_code == 200
    guarded = create_app(dataclasses.replace(settings, metrics_token=TOKEN), connections).test_client()
    assert guarded.get("/metrics").status_code == 401  # with a token set, loopback needs it too
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    assert guarded.get("/metrics", headers=wrong, environ_base=OFF_LOOPBACK).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert "homeward_queue_jobs" in guarded.get("/metrics", headers=right, environ_base=OFF_LOOPBACK).get_data(
        as_text=True
    )


@pytest.fixture
def panel(settings: Settings, connections: Connections) -> Harness:
    made = Harness(settings, connections)
    for role in ("viewer", "reviewer"):
        create_user(connections.db, role, PASSWORD, role)
    return made


def failed_job(panel: Harness, flag: str = "flag:ops-test") -> str:
    job = make_queue(panel.worker.connection).enqueue("tests.flaky_job.run_when_allowed", flag)
    panel.work()
    assert job.id in FailedJobRegistry(queue=make_queue(panel.worker.connection)).get_job_ids()
    return job.id


def test_an_admin_requeues_a_failed_job_and_it_runs(panel: Harness) -> None:
    job_id = failed_job(panel)
    token = login(panel.client, "admin", "correct-horse-battery")
    page = panel.client.get("/jobs/").get_data(as_text=True)
    assert "run_when_allowed" in page and job_id in page
    assert "NotYet: flag flag:ops-test is not set" in page and "Traceback" not in page  # the last line only
    panel.worker.connection.set("flag:ops-test", "1")  # the cause is fixed
    assert panel.client.post(f"/jobs/{job_id}/requeue").status_code == 400  # no CSRF token: refused
    answer = panel.client.post(f"/jobs/{job_id}/requeue", data={"csrf_token": token}, follow_redirects=True)
    assert "Requeued run_when_allowed" in answer.get_data(as_text=True)
    panel.work()
    assert Job.fetch(job_id, connection=panel.worker.connection).get_status() == "finished"
    assert panel.db.audit.find_one({"action": "requeue job", "target": f"job:{job_id}", "user": "admin"})


def test_an_admin_deletes_a_failed_job_and_others_may_not_touch_jobs(panel: Harness) -> None:
    job_id = failed_job(panel)
    for role in ("viewer", "reviewer"):
        token = login(panel.client, role)
        assert panel.client.get("/jobs/").status_code == 403
        assert panel.client.post(f"/jobs/{job_id}/delete", data={"csrf_token": token}).status_code == 403
    token = login(panel.client, "admin", "correct-horse-battery")
    panel.client.post(f"/jobs/{job_id}/delete", data={"csrf_token": token})
    assert job_id not in FailedJobRegistry(queue=make_queue(panel.worker.connection)).get_job_ids()
    assert panel.db.audit.find_one({"action": "delete job", "target": f"job:{job_id}"})
    assert panel.client.post(f"/jobs/{job_id}/requeue", data={"csrf_token": token}).status_code == 404


def test_the_jobs_page_shows_a_photo_given_up_without_its_sender(panel: Harness) -> None:
    sender = PhotoSender(f"simulator:{GIVEN_UP_SENDER}", "simulator", GIVEN_UP_SENDER, 1, "sighting")
    saved = save_photo(panel.db, b"bytes whose analysis dies", Owner("draft", sender.contact), "image/jpeg", sender)
    panel.db.photos.update_one({"_id": saved.id}, {"$set": {"attempts": ANALYSIS_ATTEMPTS}})  # died three times
    enqueue_photo_analysis(make_queue(panel.worker.connection), str(saved.id))
    panel.work()
    login(panel.client, "admin", "correct-horse-battery")
    page = panel.client.get("/jobs/").get_data(as_text=True)
    assert "Photos given up (1)" in page and str(saved.id) in page and "gave up after 3 attempts" in page
    assert GIVEN_UP_SENDER not in page  # a draft's owner is its contact: never shown


@pytest.fixture
def decided(panel: Harness, faces_dir: Path) -> dict[str, str]:
    case = report_case(panel, "family", "Colin Powell", lfw(faces_dir, SAME_PERSON[0]))
    sighting = report_sighting(panel, "citizen", lfw(faces_dir, SAME_PERSON[1]))
    candidate = panel.db.candidates.find_one({"case": case})
    token = login(panel.client, "reviewer")
    panel.client.post(
        f"/candidates/{candidate['_id']}/decide",
        data={"action": "reject", "reason": "Different person", "csrf_token": token},
    )
    return {"case": case, "sighting": sighting, "candidate": str(candidate["_id"])}


def test_the_xlsx_export_has_the_rows_and_no_contact(panel: Harness, decided: dict[str, str]) -> None:
    login(panel.client, "viewer")
    assert panel.client.get("/exports/candidates.xlsx").status_code == 403
    login(panel.client, "admin", "correct-horse-battery")
    answer = panel.client.get("/exports/candidates.xlsx?status=rejected")
    assert answer.status_code == 200 and answer.headers["Content-Disposition"].startswith("attachment")
    rows = list(load_workbook(io.BytesIO(answer.data)).active.iter_rows(values_only=True))
    assert rows[0][:7] == ("candidate", "case", "sighting", "band", "distance", "how_sure", "status")
    assert 0 < rows[1][5] <= 1  # the share of candidates that close that were the person, in the evaluation
    assert [(r[0], r[1], r[2], r[6], r[10]) for r in rows[1:]] == [
        (decided["candidate"], decided["case"], decided["sighting"], "rejected", "Different person")
    ]
    assert (
        len(load_workbook(io.BytesIO(panel.client.get("/exports/candidates.xlsx?status=pending").data)).active["A"])
        == 1
    )
    cases = list(
        load_workbook(io.BytesIO(panel.client.get("/exports/cases.xlsx").data)).active.iter_rows(values_only=True)
    )
    assert cases[0] == ("reference", "name", "status", "created_at", "closed_at")
    assert [(c[0], c[1], c[2]) for c in cases[1:]] == [(decided["case"], "Colin Powell", "open")]
    everything = " ".join(str(v) for row in cases for v in row)
    assert "simulator:" not in everything  # no contact ids
    timings = panel.client.get("/exports/review-timings.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert timings[0].startswith("candidate,band,status") and len(timings) == 2 and ",reviewer" in timings[1]
    assert panel.db.audit.count_documents({"action": "export", "user": "admin"}) == 4


def test_exports_filter_by_date_and_explain_bad_input(panel: Harness, decided: dict[str, str]) -> None:
    login(panel.client, "admin", "correct-horse-battery")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    today = datetime.now(UTC).date().isoformat()
    later = panel.client.get(f"/exports/cases.csv?from={tomorrow}").get_data(as_text=True).strip().splitlines()
    assert len(later) == 1  # the header only
    until_today = panel.client.get(f"/exports/cases.csv?to={today}").get_data(as_text=True).strip().splitlines()
    assert len(until_today) == 2  # "to" takes the whole day
    bad = panel.client.get("/exports/cases.csv?from=31/12/2026", follow_redirects=True).get_data(as_text=True)
    assert "Dates must look like 2026-03-31" in bad
    wrong = panel.client.get("/exports/cases.csv?status=approved", follow_redirects=True).get_data(as_text=True)
    assert "can filter on open, closed" in wrong


def test_the_overview_shows_a_stalled_service_at_a_glance(panel: Harness, decided: dict[str, str]) -> None:
    login(panel.client, "viewer")
    page = panel.client.get("/").get_data(as_text=True)
    assert re.search(r'id="reconciler"><div class="n">never<', page)
    assert re.search(r'id="workers"><div class="n">0<', page)  # no worker process is running in this test
    assert re.search(r'id="oldest-pending"><div class="n">none<', page)
    assert re.search(r'id="approval-strong"><div class="n">0%<|id="approval-review"><div class="n">0%<', page)
    assert re.search(r"<td>1</td>", page)  # one decision today
    panel.db.inbound.update_many(
        {}, {"$set": {"status": "pending", "received_at": datetime.now(UTC) - timedelta(minutes=7)}}
    )
    note = {"at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat(), "inbound": 2}
    panel.worker.connection.set("homeward:reconciler:last", json.dumps(note))
    page = panel.client.get("/").get_data(as_text=True)
    assert re.search(r'class="card overdue" id="oldest-pending"><div class="n">7 min<', page)
    assert re.search(r'id="reconciler"><div class="n">3 min ago<', page) and "inbound 2" in page
