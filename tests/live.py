"""Homeward's real processes for browser tests: `python -m admin` and `python -m workers`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@contextmanager
def live_service(environment: dict[str, str], log_dir: Path) -> Iterator[str]:
    """Start web and one worker with this environment; yield the web address once healthy."""
    port = free_port()
    env = os.environ | environment | {"PORT": str(port), "PYTHONUNBUFFERED": "1"}
    processes = []
    for name, module in (("web", "admin"), ("worker", "workers")):
        log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        processes.append(
            subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, log_dir)
        yield url
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)


def _wait_healthy(url: str, log_dir: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if json.load(answer)["ok"]:
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in log_dir.glob("*.log"))
    raise AssertionError(f"Homeward did not become healthy:\n{logs}")


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's headless Chromium driven by Selenium; skips where it isn't installed."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "headless browser tests need Debian's chromium and chromium-driver"
            " (apt-get install chromium chromium-driver; .ci/run does)"
        )
    from selenium import webdriver  # noqa: PLC0415 - ~60 ms that only the browser tests pay, not every session
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415 - likewise

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
