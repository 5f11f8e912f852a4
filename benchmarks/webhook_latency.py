"""Webhook acknowledgement latency: `python -m benchmarks.webhook_latency [--requests N]`.

Starts embedded MongoDB and Redis and the real web process (waitress), then
posts Telegram updates (secret header) and signed Twilio messages over HTTP
from one client, one at a time, and prints p50/p90/p99 of the time until the
200 arrives. Every request is a new message, so each one is stored and
enqueued: the full path a platform waits for.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from twilio.request_validator import RequestValidator

from infra.embedded import free_port, start_mongodb, start_redis

SECRET, TOKEN = "benchmark-secret-0123456789", "twilio-benchmark-token"
PUBLIC = "https://homeward.example.org"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mongodb, redis_server = start_mongodb(Path(tmp)), start_redis(Path(tmp))
        port = free_port()
        env = os.environ | {
            "HOMEWARD_DATA_DIR": tmp,
            "PORT": str(port),
            "MONGODB_URI": mongodb.url,
            "REDIS_URL": redis_server.url,
            "HOMEWARD_LOG_LEVEL": "WARNING",
            "TELEGRAM_BOT_TOKEN": "1:bench",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_WHATSAPP_FROM": "+15550000000",
            "PUBLIC_BASE_URL": PUBLIC,
        }
        web = subprocess.Popen([sys.executable, "-m", "admin"], env=env, cwd=Path(__file__).parent.parent)
        try:
            _wait_listening(port)
            print(f"{args.requests} requests per webhook, one client, sequential; web process: waitress, 8 threads")
            _report("telegram", _run(port, args.requests, _telegram_request))
            _report("twilio", _run(port, args.requests, _twilio_request))
        finally:
            web.terminate()
            web.wait(20)
            redis_server.stop()
            mongodb.stop()
    return 0


def _telegram_request(n: int) -> tuple[str, bytes, dict[str, str]]:
    body = {
        "update_id": 10_000_000 + n,
        "message": {
            "message_id": n,
            "date": 1_700_000_000,
            "chat": {"id": 5000 + n % 50, "type": "private"},
            "text": "hello",
        },
    }
    return (
        "/webhooks/telegram",
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
    )


def _twilio_request(n: int) -> tuple[str, bytes, dict[str, str]]:
    form = {
        "From": f"whatsapp:+4477009{n % 50:05d}",
        "To": "whatsapp:+15550000000",
        "Body": "hello",
        "MessageSid": f"SM{n:032d}",
        "NumMedia": "0",
    }
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/webhooks/twilio", form)
    return (
        "/webhooks/twilio",
        urllib.parse.urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def _run(port: int, count: int, make: object) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    timings = []
    for n in range(count + 20):
        path, body, headers = make(n)  # type: ignore[operator]
        started = time.perf_counter()
        connection.request("POST", path, body, headers)
        answer = connection.getresponse()
        answer.read()
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status != 200:
            raise SystemExit(f"{path} answered {answer.status}")
        if n >= 20:  # the first requests warm up connections and code paths
            timings.append(elapsed)
    return timings


def _report(name: str, timings: list[float]) -> None:
    ordered = sorted(timings)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    print(
        f"{name:<9} p50 {statistics.median(ordered):6.2f} ms   p90 {pick(0.90):6.2f} ms"
        f"   p99 {pick(0.99):6.2f} ms   max {ordered[-1]:6.2f} ms"
    )


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the web process did not start")


if __name__ == "__main__":
    sys.exit(main())
