"""HOMEWARD_TRACE: each MongoDB command traced with its duration and the names of its filter's fields, no values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
