"""Time from a sighting photo arriving to its candidate in the review queue: `python -m benchmarks.match_latency`.

Starts everything as `make run` does (embedded servers, web, HOMEWARD_WORKERS workers) in a
temporary data dir, reports one case through the simulator, then sends N
sightings of the same person one after another, each as a citizen would:
photo, then place, time and note right away. For each it prints the time
until the candidate exists, measured from the photo's arrival and from the
last answer (when the sighting is complete), then p50/p95.

With `--gallery N`, N synthetic face-like case faces (N/4 open cases of 4
photos, see benchmarks/search.py) are stored first, each case with the chat
that reported it (conversation, last message, replies), so the time is
measured with the worker's index and the database at that size.

With `--found N`, instead of sightings, N found persons are registered one after another, each with one photo
of the same person, as the registrar's form does (record and photo stored, analysis queued): the time from the
registration to the found person's candidate for the open case (issue 25: p50 <= 1 s with 100 000 case faces).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pymongo
import redis
from bson import Binary, ObjectId

from benchmarks.search import SAMPLES, FaceLike
from config import load_settings
from core.conversation.references import CASE_PREFIX, make_reference
from core.faces.engines import ENGINES
from infra.embedded import free_port
from storage.sealing import FACE_ENCODING, Keyring
from workers.reconciler import SWEPT_KEY

PERSON = "George_W_Bush"
REPLIES_PER_REPORT = 4  # of the ~14 the bot says to a family: enough to show a scan, fewer to store


class Simulator:
    """Talks to /simulator like the page does (session cookie, CSRF header, multipart posts)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.opener.open(f"{base}/simulator/").read().decode()
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    def send(self, user: str, text: str = "", photo: Path | None = None) -> None:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in (("user", user), ("text", text))
        ]
        if photo is not None:
            parts.append(
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{photo.name}"\r\n'
                    "Content-Type: image/jpeg\r\n\r\n"
                ).encode()
                + photo.read_bytes()
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(
            f"{self.base}/simulator/send",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRFToken": self.csrf},
        )
        self.opener.open(request).read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sightings", type=int, default=25)
    parser.add_argument("--gallery", type=int, default=0, help="synthetic open case faces stored first")
    parser.add_argument("--found", type=int, default=0, help="found persons registered instead of sightings")
    parser.add_argument("--case-photos", type=int, default=1, help="photos of the reported case (2+: its template)")
    args = parser.parse_args()
    args.sightings = args.found or args.sightings
    faces = load_settings().faces_dir / "lfw" / PERSON
    photos = sorted(faces.glob("*.jpg"))
    if len(photos) < args.sightings + args.case_photos:
        print(f"need {args.sightings + args.case_photos} photos in {faces}; set HOMEWARD_FACES_DIR", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        env = os.environ | {
            "HOMEWARD_DATA_DIR": data_dir,
            "PORT": str(port),
            "HOMEWARD_LOG_LEVEL": "WARNING",
            "HOMEWARD_SIMULATOR": "open",
        }
        for name in ("MONGODB_URI", "REDIS_URL"):
            env.pop(name, None)
        service = subprocess.Popen(
            [sys.executable, "-m", "infra.supervisor"],
            env=env,
            cwd=Path(__file__).parent.parent,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_banner(service)
            servers = json.loads((Path(data_dir) / "run/embedded.json").read_text())
            db = pymongo.MongoClient(servers["mongodb"]["url"], tz_aware=True)["homeward"]
            if args.gallery:
                _preload(db, args.gallery, Keyring(load_settings(env).data_keys()))
                # As in a service that has been running: the reconciler has long looked at these faces for
                # orphans (they have their photos); its first walk over them is not a sighting's cost.
                redis.Redis.from_url(servers["redis"]["url"]).set(SWEPT_KEY, datetime.now(UTC).isoformat())
            sim = Simulator(f"http://127.0.0.1:{port}")
            if args.found:
                _measure_found(sim, db, env, servers, photos, args.found)
            else:
                _measure(sim, db, photos, args.sightings, args.case_photos)
        finally:
            service.send_signal(signal.SIGINT)
            service.wait(60)
    return 0


def _preload(db: pymongo.database.Database, faces: int, keys: Keyring) -> None:
    """Store `faces` synthetic case faces of open cases, 4 per case, as the service would have them (sealed).

    Of the configured engine (its name and vector size): faces of another engine are never searched.
    """
    if not faces:
        return
    engine = ENGINES[load_settings().face_engine]
    started, generator, now = time.perf_counter(), FaceLike(engine.dim), datetime.now(UTC)
    cases = faces // SAMPLES
    for first in range(0, cases, 2_500):
        chunk = range(first, min(cases, first + 2_500))
        references = [make_reference(CASE_PREFIX, _digits(number)) for number in chunk]
        reporters = [f"bench:{number}" for number in chunk]
        db.cases.insert_many(
            {"reference": r, "status": "open", "reporter": who, "source": f"bench:{r}", "name": "Synthetic"}
            | {"created_at": now}
            for r, who in zip(references, reporters, strict=True)
        )
        _preload_chats(db, reporters, now)
        vectors = generator.photos(generator.people(len(references)), SAMPLES)
        # Each face has its photo (analysed, no file): a face without one is an orphan the reconciler deletes.
        photo_ids = [ObjectId() for _ in vectors]
        db.photos.insert_many(
            {"_id": photo_id, "owner": {"kind": "case", "id": references[row // SAMPLES]}, "sha256": str(photo_id)}
            | {"status": "analysed", "face_count": 1, "created_at": now, "analysed_at": now, "matched_at": now}
            for row, photo_id in enumerate(photo_ids)
        )
        db.faces.insert_many(
            {
                "photo_id": photo_ids[row],
                "engine": engine.name,
                "index": 0,
                "owner": {"kind": "case", "id": references[row // SAMPLES]},
                "quality": "ok",
                "encoding": _sealed(keys, vector, f"{photo_ids[row]}:{engine.name}:0"),  # storage.faces.face_record
                "created_at": now,
                "matchable_since": now,
            }
            for row, vector in enumerate(vectors)
        )
    print(f"{cases * SAMPLES} synthetic {engine.name} case faces stored in {time.perf_counter() - started:.0f} s")


def _sealed(keys: Keyring, vector: np.ndarray, record: str) -> Binary:
    """As the workers store it: sealed and bound to its face, or the service refuses it."""
    return Binary(keys.seal(vector.astype("<f4").tobytes(), FACE_ENCODING, record))


def _preload_chats(db: pymongo.database.Database, contacts: list[str], now: datetime) -> None:
    """What each family's report left behind, as kept for days: its conversation, last message and replies.

    The chat-side collections grow with the service too; a query that scans them shows here.
    """
    db.conversations.insert_many(
        {"contact": c, "channel": "bench", "chat_id": c, "state": {}, "created_at": now, "last_inbound_at": now}
        for c in contacts
    )
    db.inbound.insert_many(
        {"channel": "bench", "message_id": c, "contact": c, "status": "done", "received_at": now, "handled_at": now}
        for c in contacts
    )
    db.outbox.insert_many(
        {"contact": c, "channel": "bench", "chat_id": c, "seq": seq, "text": "Thank you.", "status": "sent"}
        | {"source": f"bench:{c}:{seq}", "attempts": 1, "created_at": now, "sent_at": now}
        for c in contacts
        for seq in range(1, REPLIES_PER_REPORT + 1)
    )
    db.counters.insert_many({"_id": f"outbox:{c}", "seq": REPLIES_PER_REPORT} for c in contacts)


def _digits(number: int) -> bytes:
    """Four base-30 digits: distinct references for distinct numbers (810 000 of them)."""
    return bytes((number // 30**place) % 30 for place in range(4))


def _report_case(sim: Simulator, db: pymongo.database.Database, *photos: Path) -> dict[str, Any]:
    """The family's report through the simulator (several photos: scored by their template with arcface), once its
    photos' matching ran (which loads the indexes)."""
    for text in ("hi", "yes", "1", "George Bush", "60", "male", "Texas", "yesterday", "skip"):
        sim.send("family", text)
    for photo in photos:
        sim.send("family", photo=photo)
    sim.send("family", "done")
    sim.send("family", "yes")
    case = _wait(lambda: db.cases.find_one({"reporter": "simulator:family"}), 60)
    if not isinstance(case, dict):
        raise SystemExit("the family's report was not stored within 60 s")
    # The case photo's matching job builds the worker's index first: wait for it, it is not a sighting's cost.
    # (By the owner index's fields only: a filter naming more scans every photo on SecantusDB.)
    photos_of_case = {"owner.kind": "case", "owner.id": case["reference"]}
    _wait(
        lambda: (
            sum("matched_at" in photo for photo in db.photos.find(photos_of_case, {"matched_at": 1})) >= len(photos)
        ),
        300,
    )
    return case


def _measure_found(
    sim: Simulator,
    db: pymongo.database.Database,
    env: dict[str, str],
    servers: dict[str, Any],
    photos: list[Path],
    count: int,
) -> None:
    """Found persons registered as the registrar's form does; the time from each registration to its candidate."""
    from core.found.record import FoundPerson  # noqa: PLC0415 - only this mode stores through storage/
    from services.queue import enqueue_photo_analysis, make_queue  # noqa: PLC0415
    from storage.connections import connect  # noqa: PLC0415
    from storage.found_persons import create_found_person, found_owner  # noqa: PLC0415
    from storage.organisations import create_organisation  # noqa: PLC0415
    from storage.photos import save_photo  # noqa: PLC0415

    case = _report_case(sim, db, photos[0])
    settings = load_settings(env)  # the started service's data dir: its data key seals the photos stored here
    connections = connect(servers["mongodb"]["url"], "homeward", servers["redis"]["url"], settings.data_keys())
    queue = make_queue(connections.redis)
    organisation = create_organisation(connections.db, "Bench Shelter", "shelter", phone="+1 555 0100")
    # One found person first, not timed: the workers' found-person index is loaded by its first search.
    timings, missed = [], 0
    print(f"{count} found persons of {PERSON} registered one at a time; {settings.workers} worker(s)")
    for number, photo in enumerate(photos[1 : count + 2]):
        started = time.perf_counter()
        record = FoundPerson(found_on=datetime.now(UTC).date(), held_at="Ward 1", external_id=f"bench-{number}")
        reference = create_found_person(connections.db, organisation, record, f"bench:{number}", "bench")
        saved = save_photo(connections.db, photo.read_bytes(), found_owner(reference), "image/jpeg")
        enqueue_photo_analysis(queue, str(saved.id))
        wanted = {"found": reference, "images_dropped_at": None}  # the found_images index's fields
        if not _wait(lambda w=wanted: db.candidates.find_one(w, {"case": 1}), 30):
            missed += 1
            print(f"  {photo.name}: no candidate for {case['reference']} within 30 s")
            continue
        if number:
            timings.append((time.perf_counter() - started) * 1000)
    _report("registered to candidate", timings)
    print(f"  no candidate: {missed} of {count + 1}")
    connections.close()


def _measure(
    sim: Simulator, db: pymongo.database.Database, photos: list[Path], count: int, case_photos: int = 1
) -> None:
    _report_case(sim, db, *photos[:case_photos])
    photos = photos[case_photos - 1 :]  # the sightings' photos follow the case's
    from_photo, from_complete, missed = [], [], 0
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    settings = load_settings()
    print(
        f"{count} sightings of {PERSON}, one at a time; one web process, {settings.workers} worker(s),"
        f" {settings.face_engine} engine"
    )
    for number, photo in enumerate(photos[1 : count + 1], 1):
        citizen = f"citizen-{number}"
        for text in ("hi", "yes"):
            sim.send(citizen, text)
        _wait(lambda c=citizen: db.conversations.find_one({"contact": f"simulator:{c}", "state.consent": True}), 30)
        arrived = time.perf_counter()
        sim.send(citizen, photo=photo)
        for text in ("Main square", "now", "skip"):
            sim.send(citizen, text)
        completed, completed_at = time.perf_counter(), datetime.now(UTC)
        found = _wait(lambda c=citizen: _candidate(db, c), 30)
        if not found:
            missed += 1
            print(f"  {photo.name}: no candidate within 30 s (distance above the review band?)")
            continue
        done = time.perf_counter()
        from_photo.append((done - arrived) * 1000)
        from_complete.append((done - completed) * 1000)
        for stage, ms in _stages(db, citizen, completed_at, datetime.now(UTC)).items():
            stages[stage].append(ms)
    _report("from photo arrival", from_photo)
    _report("from sighting complete", from_complete)
    print("  where the time after the last answer went:")
    for stage, values in stages.items():
        _report(f"  {stage}", values)
    print(f"  no candidate: {missed} of {count}")
    # What the workers really ran, read back from what they stored (a setting can fail to reach them).
    engines = sorted(db.faces.distinct("engine", {"owner.kind": "sighting"}))
    print(f"  sighting faces stored by engine(s): {', '.join(engines) or 'none'}")


# After the citizen's last answer: the webhook stores it, the conversation job stores the sighting,
# the match job stores the candidate, this benchmark's poll sees it.
STAGES = ("answer stored (web)", "sighting stored (worker)", "candidate stored (worker)", "seen by this benchmark")


def _stages(db: pymongo.database.Database, citizen: str, completed: datetime, seen: datetime) -> dict[str, float]:
    """Milliseconds between the moments of `STAGES`, from the last answer sent to its candidate seen here."""
    contact = f"simulator:{citizen}"
    last = next(iter(db.inbound.find({"contact": contact}, {"received_at": 1}).sort("received_at", -1).limit(1)), {})
    sighting = db.sightings.find_one({"reporter": contact}, {"reference": 1, "created_at": 1}) or {}
    candidate = db.candidates.find_one({"sighting": sighting.get("reference")}, {"created_at": 1}) or {}
    moments = [completed, last.get("received_at"), sighting.get("created_at"), candidate.get("created_at"), seen]
    if any(moment is None for moment in moments):
        return {}
    steps = [(later - earlier).total_seconds() * 1000 for earlier, later in itertools.pairwise(moments)]
    return dict(zip(STAGES, steps, strict=True))


def _candidate(db: pymongo.database.Database, citizen: str) -> bool:
    sighting = db.sightings.find_one({"reporter": f"simulator:{citizen}"}, {"reference": 1})
    return bool(sighting and db.candidates.find_one({"sighting": sighting["reference"]}, {"_id": 1}))


def _report(label: str, values: list[float]) -> None:
    if not values:
        return
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(
        f"  {label:<24} p50 {statistics.median(ordered):7.0f} ms   p95 {p95:7.0f} ms"
        f"   max {ordered[-1]:7.0f} ms   (n={len(ordered)})"
    )


def _wait(check: object, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():  # type: ignore[operator]
            return result
        time.sleep(0.02)
    return None


def _wait_banner(service: subprocess.Popen[str]) -> None:
    assert service.stdout is not None
    for line in service.stdout:
        if "Stop with Ctrl-C" in line:
            return
    raise SystemExit("Homeward did not start")


if __name__ == "__main__":
    sys.exit(main())
