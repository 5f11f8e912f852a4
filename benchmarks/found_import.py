"""The bulk import of found persons, end to end: `homeward bench import --found N`.

Builds a CSV and a ZIP of N found persons (one LFW photo each, from
HOMEWARD_FACES_DIR), imports it with `homeward found import`'s own code into
fresh embedded servers, then imports the same files again. Prints one JSON
line: photos/s end to end, seconds, peak memory (this process, and the
largest of its children: the analysing processes, one per core, and the
embedded servers), the second run's seconds and changes. The target (issue 25): >= 12 photos/s on 2 cores with dlib,
peak <= 2 GB, a second run of 10 000 <= 60 s with 0 changes.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from cli.found import run_import
from config import load_settings
from infra.embedded import start_mongodb, start_redis
from storage.connections import connect
from storage.organisations import create_organisation

HEADER = ("external_id", "found_on", "found_place", "held_at", "age_min", "age_max", "gender", "condition", "photos")


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


def cpu_seconds() -> float:
    """CPU used by this process and its ended children (the pool's processes, once the import is over)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--found", type=int, default=300, help="How many found persons (one photo each).")
    args = parser.parse_args()
    faces = load_settings().faces_dir
    photos = lfw_photos(faces, args.found)
    if len(photos) < args.found:
        print(f"only {len(photos)} photos under {faces}/lfw", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sheet, archive = build(folder, photos)
        mongodb, redis_server = start_mongodb(folder), start_redis(folder)
        try:
            os.environ |= {"HOMEWARD_DATA_DIR": tmp, "MONGODB_URI": mongodb.url, "REDIS_URL": redis_server.url}
            os.environ |= {"HOMEWARD_ADMIN_PASSWORD": "benchmark-admin-1", "HOMEWARD_LOG_LEVEL": "WARNING"}
            settings = load_settings()
            connections = connect(mongodb.url, settings.mongodb_database, redis_server.url, settings.data_keys())
            create_organisation(connections.db, "Bench Shelter", "shelter")
            connections.close()
            start, cpu = time.perf_counter(), cpu_seconds()
            first = run_import(sheet, archive, "Bench Shelter").as_dict()
            seconds = time.perf_counter() - start
            pool_cpu = cpu_seconds() - cpu  # this process and its analysing processes (ended with the import)
            start = time.perf_counter()
            second = run_import(sheet, archive, "Bench Shelter").as_dict()
            again = time.perf_counter() - start
        finally:
            redis_server.stop()
            mongodb.stop()
    figures = {
        "found": args.found,
        "engine": settings.face_engine,
        "imported": first["imported"],
        "rejected": len(first["rejected"]),
        "seconds": round(seconds, 1),
        "photos_per_s": round(args.found / seconds, 2),
        "cpu_seconds": round(pool_cpu, 1),  # on a shared machine, what the import itself used (not the servers)
        "photos_per_cpu_s": round(args.found / pool_cpu, 2),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_analysing_process_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "second_run_seconds": round(again, 1),
        "second_run_changes": second["imported"] + second["updated"],
        "cores": os.cpu_count(),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
