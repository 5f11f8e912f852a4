"""Sightings with photos in the middle of a surge of first messages: `homeward bench chat --photos F`.

A family reports George W. Bush through the simulator before the surge; then, among the people writing, a
share F are citizens who send a complete sighting of him (hi, yes, a photo, the place, the time, no note)
through the simulator, one message right after another, as a person typing does. Each sighting is timed
from its photo's post to its candidate in the review queue (the candidate's `created_at`, read back once
the surge has drained, so the benchmark adds no database load while it runs).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pymongo

from benchmarks.match_latency import PERSON, Simulator, _report_case

SIGHTING = ("Main square", "now", "skip")


class Sightings:
    """The family's case, then `count` citizens sending sightings at `rate` a second, from `start` (time.time())."""

    def __init__(self, port: int, data_dir: Path, faces_dir: Path, count: int) -> None:
        url = json.loads((data_dir / "run" / "embedded.json").read_text())["mongodb"]["url"]
        self.db = pymongo.MongoClient(url, tz_aware=True)["homeward"]
        self.base, self.count = f"http://127.0.0.1:{port}", count
        self.photos = sorted((faces_dir / "lfw" / PERSON).glob("*.jpg"))
        if len(self.photos) < count + 1:
            raise SystemExit(f"--photos needs {count + 1} photos of {PERSON} in {faces_dir}/lfw")
        _report_case(Simulator(self.base), self.db, self.photos[0])
        self.posted: dict[str, float] = {}  # citizen -> when its photo was posted
        self.threads: list[threading.Thread] = []

    def start(self, start: float, rate: float) -> None:
        """Each citizen's sighting at its due time, spread evenly over the surge."""
        for number in range(self.count):
            due = start + number / rate
            thread = threading.Thread(target=self._sight, args=(f"citizen-{number}", self.photos[number + 1], due))
            thread.start()
            self.threads.append(thread)

    def _sight(self, citizen: str, photo: Path, due: float) -> None:
        time.sleep(max(0.0, due - time.time()))
        sim = Simulator(self.base)
        for text in ("hi", "yes"):
            sim.send(citizen, text)
        self.posted[citizen] = time.time()
        sim.send(citizen, photo=photo)
        for text in SIGHTING:
            sim.send(citizen, text)

    def waits(self, timeout: float) -> list[float]:
        """Seconds from each photo to its candidate, sorted, once every sighting has one (or `timeout` passed)."""
        for thread in self.threads:
            thread.join()
        deadline, waits = time.monotonic() + timeout, {}
        while time.monotonic() < deadline and len(waits) < len(self.posted):
            waits = {citizen: found for citizen in self.posted if (found := self._waited(citizen)) is not None}
            time.sleep(1.0)
        return sorted(waits.values())

    def _waited(self, citizen: str) -> float | None:
        sighting = self.db.sightings.find_one({"reporter": f"simulator:{citizen}"}, {"reference": 1})
        candidate = sighting and self.db.candidates.find_one({"sighting": sighting["reference"]}, {"created_at": 1})
        if not candidate:
            return None
        created: datetime = candidate["created_at"].astimezone(UTC)
        return created.timestamp() - self.posted[citizen]
