"""The bulk import of found persons, end to end, while chats go on: `homeward bench import --found N`.

Starts everything as `make run` does (supervisor, embedded MongoDB and Redis,
web, workers, the real Telegram client pointed at the stand-in Bot API),
builds a CSV and a ZIP of N found persons (one LFW photo each, from
HOMEWARD_FACES_DIR), and runs `homeward found import` against that stack as an
operator would, while a person sends "hi" every two seconds. The import is
over when the command ends and the workers have matched every imported face
against the open cases (the photos lane is empty): then every record is
matchable. The same command is run again (nothing changes). Prints one JSON
line: photos/s end to end, seconds, the chats' answer p50/p95 during the
import, the peak memory of the largest process and of all of them together,
the second run's seconds and changes, and the load average before the run.
The targets (issue 25): >= 12 photos/s on 2 cores with dlib, peak <= 2 GB,
`hi` answered p95 <= 3 s meanwhile, a second run of 10 000 <= 60 s with 0 changes.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from benchmarks.chat_load import FIRST_CHAT, Load, Message, _post, _quantile, _update, running_stack
from config import load_settings
from infra.services import backing_services
from services.queue import PHOTOS_QUEUE
from standins.telegram_api import TelegramStandIn
from storage.connections import connect

HEADER = ("external_id", "found_on", "found_place", "held_at", "age_min", "age_max", "gender", "condition", "photos")
ORGANISATION = "Bench Shelter"
PROBE_EVERY_S = 2.0


def lfw_photos(faces: Path, count: int) -> list[Path]:
    """One photo of each of `count` people; the people's further photos when LFW has fewer people than that."""
    people = sorted(p for p in (faces / "lfw").iterdir() if p.is_dir())
    photos: list[Path] = []
    rank = 0
    while len(photos) < count:
        batch = [sorted(person.iterdir())[rank] for person in people if len(list(person.iterdir())) > rank]
        if not batch:
            break
        photos += batch[: count - len(photos)]
        rank += 1
    return photos


def build(folder: Path, photos: list[Path]) -> tuple[Path, Path]:
    """The CSV (`;`-separated, day-first dates, as a spreadsheet in many countries saves it) and the ZIP."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")
    writer.writerow(HEADER)
    archive_path = folder / "photos.zip"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_STORED) as archive:
        for number, photo in enumerate(photos, 1):
            name = f"p{number:05d}.jpg"
            archive.write(photo, name)
            writer.writerow((f"B-{number:05d}", "01/11/2026", "Station", "Ward 1", 20, 60, "unknown", "alive", name))
    sheet = folder / "found.csv"
    sheet.write_text(text.getvalue(), encoding="utf-8")
    return sheet, archive_path


class Memory(threading.Thread):
    """Samples, once a second, the resident memory of the given processes and all their descendants."""

    def __init__(self, roots: set[int]) -> None:
        super().__init__(daemon=True)
        self.roots, self.largest, self.total, self.processes = roots, 0, 0, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            table = _processes()
            sizes = [table[pid][1] for pid in _descendants(table, self.roots)]
            self.largest, self.total = max([self.largest, *sizes]), max(self.total, sum(sizes))
            self.processes = max(self.processes, len(sizes))


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, resident bytes) of every process this user can read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = (int(fields[1]), pages * os.sysconf("SC_PAGE_SIZE"))
    return found


def _descendants(table: dict[int, tuple[int, int]], roots: set[int]) -> set[int]:
    family = {pid for pid in roots if pid in table}
    while more := {pid for pid, (parent, _) in table.items() if parent in family and pid not in family}:
        family |= more
    return family


class Probes(threading.Thread):
    """A new person says "hi" every PROBE_EVERY_S seconds until stopped, as chats go on during an import."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.load = port, Load(1 / PROBE_EVERY_S, 0)
        self.stopped = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stopped.wait(PROBE_EVERY_S):
            message = Message(FIRST_CHAT + len(self.load.messages), time.time(), time.time())
            if _post(connection, _update(message.chat)):
                message.acked = time.time()
            self.load.messages.append(message)

    def waits(self, telegram: TelegramStandIn) -> list[float]:
        replies = dict(list(telegram.by_chat.items()))
        return sorted(replies[m.chat][0]["at"] - m.posted for m in self.load.messages if replies.get(m.chat))


def homeward(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    """A `homeward` command against the running stack (it finds the servers by the data dir), in its own session."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_URL")}
    env |= {"HOMEWARD_DATA_DIR": str(data_dir), "HOMEWARD_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "cli.main", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)  # fmt: skip


def run(data_dir: Path, sheet: Path, archive: Path, memory: Memory | None = None) -> dict[str, Any]:
    """`homeward found import`, to its end: its JSON summary."""
    command = homeward(data_dir, "found", "import", str(sheet), "--photos", str(archive), "--org", ORGANISATION)
    if memory is not None:
        memory.roots.add(command.pid)
    output, _ = command.communicate()
    if command.returncode != 0:
        raise SystemExit(f"the import failed ({command.returncode}): {output[-2000:]}")
    return dict(json.loads(output.strip().splitlines()[-1]))


def wait_for_matching(data_dir: Path, timeout: float = 3600) -> None:
    """Until the workers have matched every imported face (no job left on the photos lane)."""
    os.environ["HOMEWARD_DATA_DIR"] = str(data_dir)
    settings = load_settings()
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
        try:
            deadline = time.monotonic() + timeout
            lane, started = f"rq:queue:{PHOTOS_QUEUE}", f"rq:wip:{PHOTOS_QUEUE}"
            while time.monotonic() < deadline:
                if connections.redis.llen(lane) == 0 and connections.redis.zcard(started) == 0:
                    return
                time.sleep(0.5)
        finally:
            connections.close()


def measure(args: argparse.Namespace, photos: list[Path]) -> dict[str, Any]:
    with running_stack(args.workers, None) as (port, telegram, data_dir, supervisor):
        sheet, archive = build(data_dir, photos)
        homeward(data_dir, "org", "create", ORGANISATION, "--kind", "shelter").communicate()
        memory, probes = Memory({supervisor}), Probes(port)
        memory.start(), probes.start()
        start = time.perf_counter()
        first = run(data_dir, sheet, archive, memory)
        imported_s = time.perf_counter() - start
        wait_for_matching(data_dir)
        seconds = time.perf_counter() - start
        probes.stopped.set(), memory.stopped.set()
        time.sleep(PROBE_EVERY_S + 3)  # the last probe's answer
        waits = probes.waits(telegram)
        start = time.perf_counter()
        second = run(data_dir, sheet, archive)
        again = time.perf_counter() - start
    return {
        "found": len(photos),
        "imported": first["imported"],
        "rejected": len(first["rejected"]),
        "import_command_s": round(imported_s, 1),
        "matchable_s": round(seconds, 1),
        "photos_per_s": round(len(photos) / seconds, 2),
        "hi_sent": len(probes.load.messages),
        "hi_answered": len(waits),
        "hi_p50_s": _quantile(waits, 0.50),
        "hi_p95_s": _quantile(waits, 0.95),
        "peak_process_mb": round(memory.largest / 2**20),
        "peak_all_mb": round(memory.total / 2**20),
        "processes": memory.processes,  # the most sampled at once: supervisor, servers, web, workers, import, pool
        "second_run_s": round(again, 1),
        "second_run_changes": second["imported"] + second["updated"],
        "workers": args.workers,
        "cores": os.cpu_count(),
        "load_before": args.load_before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--found", type=int, default=300, help="How many found persons (one photo each).")
    parser.add_argument("--workers", type=int, default=2, help="HOMEWARD_WORKERS for the stack (default 2)")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    photos = lfw_photos(load_settings().faces_dir, args.found)
    if len(photos) < args.found:
        print(f"only {len(photos)} photos under {load_settings().faces_dir}/lfw", file=sys.stderr)
        return 1
    args.load_before = round(os.getloadavg()[0], 2)
    print(json.dumps(measure(args, photos)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
