"""HOMEWARD_TRACE: each MongoDB command traced with its duration and the names of its filter's fields, and each Redis
round trip with its commands' names; no values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.trace_breakdown import breakdown
from config import Settings

SCRIPT = """
import sys
from pathlib import Path
import pymongo
from services import trace
trace.start(Path(sys.argv[1]), "web")
client = pymongo.MongoClient(sys.argv[2])
client[sys.argv[3]].contacts.find_one({"phone": "+447700900123"})
"""

REDIS_SCRIPT = """
import sys
from pathlib import Path
from services import trace
trace.start(Path(sys.argv[1]), "worker")
from storage.connections import redis_client
connection = redis_client(sys.argv[2])
connection.set("homeward:trace-test:+447700900123", "+447700900123")
connection.pipeline().get("homeward:trace-test:+447700900123").delete("homeward:trace-test:+447700900123").execute()
"""


def test_a_traced_process_writes_each_command_with_its_duration_and_no_values(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "trace.jsonl"
    command = [sys.executable, "-c", SCRIPT, str(path), str(settings.mongodb_uri), settings.mongodb_database]
    subprocess.run(command, check=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    finds = [line for line in lines if line.get("command") == "find" and line.get("collection") == "contacts"]
    assert len(finds) == 1
    assert finds[0]["fields"] == ["phone"] and finds[0]["ms"] >= 0 and finds[0]["process"] == "web"
    assert "+447700900123" not in path.read_text()  # the trace may be shared: no phone number, name or text


def test_a_traced_process_writes_each_redis_round_trip_with_its_commands_and_no_values(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "trace.jsonl"
    command = [sys.executable, "-c", REDIS_SCRIPT, str(path), str(settings.redis_url)]
    subprocess.run(command, check=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    trips = [json.loads(line)["commands"] for line in path.read_text().splitlines() if '"redis"' in line]
    assert ["SET"] in trips and any({"GET", "DEL"} <= set(trip) for trip in trips)  # a pipeline is one round trip
    assert "+447700900123" not in path.read_text()


def test_the_breakdown_counts_each_line_per_message_in_the_job_that_ran_it() -> None:
    lines = [
        {"process": "web", "pid": 1, "kind": "mongo", "command": "insert", "collection": "inbound", "ms": 2},
        {"process": "web", "pid": 1, "kind": "mongo", "command": "insert", "collection": "inbound", "ms": 2},
        {"process": "worker", "pid": 2, "kind": "job", "name": "process_conversation", "phase": "start"},
        {"process": "worker", "pid": 2, "kind": "mongo", "command": "find", "collection": "inbound", "ms": 1},
        {"process": "worker", "pid": 3, "kind": "redis", "commands": ["BLMPOP"]},
        {"process": "worker", "pid": 2, "kind": "redis", "commands": ["MULTI", "HSET", "EXEC"]},
        {"process": "worker", "pid": 2, "kind": "job", "name": "process_conversation", "phase": "end", "ms": 9},
    ]
    found = breakdown(lines)
    assert found["inserts"] == 2  # two messages came in
    assert found["mongo"][("worker:process_conversation", "find", "inbound")] == 1
    assert found["redis_commands"][("worker:between jobs", "BLMPOP")] == 1  # another worker, idle
    assert found["redis_commands"][("worker:process_conversation", "HSET")] == 1
    assert found["jobs"]["process_conversation"] == 1
