"""The partner API under load: `python -m benchmarks.api [--rate 50] [--seconds 20] [--creates 40] [--photo JPG]
[--register found-persons|cases]` (found persons unless told: `cases` measures the cases organisations register).

Starts `make run` (the supervisor) in a temporary data dir, makes an organisation and a key with the command line
as an operator would, then measures over real HTTP:

- reads: GET of one record and of a list page, sent at a steady rate (open loop: a slow answer does not slow the
  sending), their latency p50/p99 (target: p99 <= 50 ms at 50 requests/s);
- creates with one photo (multipart), one after another, acknowledged p50/p95 (target p95 <= 200 ms; the
  photo's analysis is the worker's, afterwards).

Every call is audited and throttled as in production (the throttle set high enough not to refuse).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

from benchmarks.supervised import supervised
from infra.embedded import free_port

RECORD = {"found_on": "2026-11-30", "held_at": "Ward B", "gender": "male", "age_min": 30, "age_max": 40}
RECORDS = {"found-persons": RECORD, "cases": {"name": "Ravi Kumar", "age_min": 30, "age_max": 35, "language": "hi"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="reads per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--creates", type=int, default=40)
    parser.add_argument("--photo", type=Path, default=None, help="a JPEG to send (default: a generated one)")
    parser.add_argument("--register", choices=sorted(RECORDS), default="found-persons", help="what to create and read")
    args = parser.parse_args()
    photo = args.photo.read_bytes() if args.photo else _generated_photo()
    with tempfile.TemporaryDirectory() as tmp:
        port, data_dir = free_port(), Path(tmp)
        with supervised(data_dir, port, {"HOMEWARD_API_RATE_PER_MINUTE": "100000"}):
            url, key = f"http://127.0.0.1:{port}", _key(data_dir)
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {key}"
            creates = [_create(http, f"{url}/api/v1/{args.register}", photo, n) for n in range(args.creates)]
            reference = json.loads(creates[-1][1])["reference"]
            reads = _reads(key, f"{url}/api/v1/{args.register}", reference, args.rate, args.seconds)
    _report("create with one photo", [seconds for seconds, _ in creates], 95)
    _report(f"reads at {args.rate:g}/s for {args.seconds:g} s", reads, 99)
    return 0


def _key(data_dir: Path) -> str:
    """An organisation and its key, made with `homeward` as an operator would."""
    env = os.environ | {"HOMEWARD_DATA_DIR": str(data_dir)}
    organisation = [sys.executable, "-m", "cli.main", "org", "create", "Bench Shelter", "--kind", "shelter"]
    subprocess.run(organisation, env=env, check=True, capture_output=True)
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "api-key",
            "create",
            "Bench Shelter",
            "--scopes",
            "found:read,found:write,cases:read,cases:write",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return made.stdout.strip().splitlines()[-1]


def _create(http: requests.Session, url: str, photo: bytes, n: int) -> tuple[float, str]:
    """One create with one photo at `url` (a register's collection), timed until acknowledged."""
    record = RECORDS["cases" if url.endswith("/cases") else "found-persons"]
    files = {
        "record": (None, json.dumps(record | {"external_id": f"B-{n}"}), "application/json"),
        "photos": (f"{n}.jpg", photo, "image/jpeg"),
    }
    started = time.perf_counter()
    answer = http.post(url, files=files, headers={"Idempotency-Key": f"bench-{n}"})
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed, answer.text


def _reads(key: str, url: str, reference: str, rate: float, seconds: float) -> list[float]:
    """Open loop: each read is sent at its planned moment, whatever the answers before it take."""
    paths = [f"/{reference}", "?limit=20"]
    local = threading.local()
    latencies: list[float] = []

    def one(n: int) -> None:
        if not hasattr(local, "http"):
            local.http = requests.Session()
            local.http.headers["Authorization"] = f"Bearer {key}"
        started = time.perf_counter()
        local.http.get(url + paths[n % 2]).raise_for_status()
        latencies.append(time.perf_counter() - started)

    start = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, start + n / rate - time.perf_counter()))
            pool.submit(one, n)
    return latencies


def _report(what: str, seconds: list[float], high: int) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p50, top = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * high / 100))]
    print(f"{what}: n={len(ms)} p50 {p50:.1f} ms, p{high} {top:.1f} ms, max {ms[-1]:.1f} ms")


def _generated_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 800), "tan").save(out, "JPEG", quality=90)
    return out.getvalue()


if __name__ == "__main__":
    sys.exit(main())
