"""An admin requeues a failed job from the panel in a real browser, and a real worker process runs it."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry

from infra.embedded import EmbeddedServer
from services.queue import make_queue
from storage.connections import Connections
from tests.conftest import make_environment
from tests.live import live_service
from tests.test_end_to_end import wait_until

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

FLAG = "flag:browser-requeue"


def test_an_admin_requeues_a_failed_job_and_sees_it_run(
    servers: tuple[EmbeddedServer, EmbeddedServer],
    tmp_path: Path,
    connections: Connections,
    browser: Any,
) -> None:
    metrics_dir = tmp_path / "prometheus"  # as `make run` gives its children: the worker's counts reach /metrics
    metrics_dir.mkdir()
    env = make_environment(
        servers,
        tmp_path,
        MONGODB_DATABASE=connections.db.name,
        HOMEWARD_SIMULATOR="off",
        HOMEWARD_METRICS_OPEN="1",  # scraped below without a token or login
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    queue = make_queue(connections.redis)
    with live_service(env, tmp_path) as url:
        job = queue.enqueue("tests.flaky_job.run_when_allowed", FLAG)
        wait_until(lambda: job.id in FailedJobRegistry(queue=queue).get_job_ids(), "the job to fail in the worker", 60)
        connections.redis.set(FLAG, "1")  # the cause is fixed
        browser.get(f"{url}/jobs/")
        browser.find_element(By.ID, "username").send_keys("admin")
        browser.find_element(By.ID, "password").send_keys("correct-horse-battery")
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        row = WebDriverWait(browser, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f'#jobs-failed tr[data-job="{job.id}"]')
        )[0]
        assert "NotYet: flag flag:browser-requeue is not set" in row.text
        # The stylesheet is a file the Content-Security-Policy allows: the panel keeps its look, forms sit inline.
        style = "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]]"
        assert browser.execute_script(style, "nav", "backgroundColor") == "rgb(11, 61, 92)"
        assert browser.execute_script(style, "#jobs-failed form.inline", "display") == "inline"
        row.find_element(By.CSS_SELECTOR, "button.requeue").click()
        flash = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"))[0]
        assert "Requeued run_when_allowed" in flash.text
        wait_until(
            lambda: Job.fetch(job.id, connection=connections.redis).get_status() == "finished",
            "the requeued job to run",
            60,
        )
        assert Job.fetch(job.id, connection=connections.redis).return_value() == "ran"
        browser.get(f"{url}/jobs/")
        assert not browser.find_elements(By.CSS_SELECTOR, f'tr[data-job="{job.id}"]')
        assert connections.db.audit.find_one({"action": "requeue job", "target": f"job:{job.id}"}) is not None
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            scraped = answer.read().decode()
        for outcome in ("failed", "succeeded"):
            assert f'homeward_jobs_total{{job="run_when_allowed",outcome="{outcome}"}} 1.0' in scraped
