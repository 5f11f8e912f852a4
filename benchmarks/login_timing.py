"""Failed-login timing: `python -m benchmarks.login_timing [--requests N]`.

Starts embedded MongoDB and Redis and the real app, then posts the login form
(CSRF token included) as a browser would: a known username with a wrong
password, an unknown username, and the right password, interleaved, N of
each. Prints p50/p90 per kind and how far apart the two failures are: an
attacker timing the answers should not learn which usernames exist. The
throttle's counts are cleared between requests so every request is measured
up to the password check. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

from flask import Flask

from admin.app import create_app
from config import load_settings
from infra.embedded import start_mongodb, start_redis
from storage.connections import connect
from storage.users import create_user

PASSWORD = "benchmark-password-1"
KINDS = ("known user, wrong password", "unknown user", "right password")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mongodb, redis_server = start_mongodb(Path(tmp)), start_redis(Path(tmp))
        try:
            settings = load_settings(
                {"HOMEWARD_DATA_DIR": tmp, "MONGODB_URI": mongodb.url, "REDIS_URL": redis_server.url}
                | {"HOMEWARD_ADMIN_PASSWORD": "benchmark-admin-1", "HOMEWARD_LOG_LEVEL": "WARNING"}
            )
            connections = connect(mongodb.url, settings.mongodb_database, redis_server.url, settings.data_keys())
            create_user(connections.db, "reviewer", PASSWORD, "reviewer")
            app = create_app(settings, connections)
            timings: dict[str, list[float]] = {kind: [] for kind in KINDS}
            forms = dict(
                zip(
                    KINDS,
                    (("reviewer", "wrong-password-1"), ("nobody", "wrong-password-1"), ("reviewer", PASSWORD)),
                    strict=True,
                )
            )
            for number in range(args.requests):
                for kind in KINDS:
                    name, password = forms[kind]
                    timings[kind].append(
                        _login_ms(app, name if kind != "unknown user" else f"nobody-{number}", password)
                    )
                    connections.redis.flushdb()  # the throttle would stop the wrong ones after five
            connections.close()
        finally:
            redis_server.stop()
            mongodb.stop()
    print(f"{args.requests} login posts of each kind, in-process test client, werkzeug's default password hash")
    summary = {}
    for kind, values in timings.items():
        ordered = sorted(values)
        p50, p90 = statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]
        summary[kind] = {"p50_ms": round(p50, 2), "p90_ms": round(p90, 2)}
        print(f"{kind:<28} p50 {p50:7.2f} ms   p90 {p90:7.2f} ms")
    gap = summary["unknown user"]["p50_ms"] - summary["known user, wrong password"]["p50_ms"]
    print(f"unknown minus known-wrong, p50: {gap:+.2f} ms")
    print(json.dumps({"requests": args.requests, "p50_gap_ms": round(gap, 2), **summary}))
    return 0


def _login_ms(app: Flask, username: str, password: str) -> float:
    """One login post by a new visitor, timed from sending to the answer."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    started = time.perf_counter()
    client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    raise SystemExit(main())
