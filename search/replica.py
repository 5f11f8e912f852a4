"""Each worker's replica of the faces it matches against: open cases', recent sightings' and open found persons' faces.

MongoDB is the source of truth; a worker holds a vector index of each kind
(`search/vector_index.py`: exact when small, approximate when large) and
follows changes before every search, without full reloads:

- new faces by their `matchable_since` stamp (a little slack for clock skew;
  faces already held are skipped);
- removals from the `gallery_changes` log: closing or erasing a case or a
  found person (or erasing a sighting) names the references, and exactly
  their faces leave;
- sighting faces older than `MATCH_LOOKBACK_DAYS` age out.

Faces of different engines are never compared: each engine has its own
index. The replica is saved under the data dir (`index/<kind>/<engine>`)
with the last change it holds, so a restart loads it in seconds and catches
up; a missing or damaged snapshot is rebuilt from MongoDB with a progress line.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from bson import ObjectId

from core.faces.engines import DEFAULT_ENGINE
from core.faces.engines import ENGINES as FACE_ENGINES
from search.index_faces import Faces, seconds
from search.index_snapshots import SnapshotError
from search.vector_index import make_index, needs_rebuild, rebuilt
from storage.cases import open_references
from storage.connections import Database
from storage.faces import count_matchable_faces, matchable_faces, stored_vector
from storage.found_persons import open_found_references
from storage.gallery_changes import GALLERY_CHANGES_KEPT, gallery_instance, gallery_removals

log = logging.getLogger(__name__)

# Stamps come from several processes' clocks; look back a little and skip faces (and removals) already held.
CLOCK_SLACK = timedelta(seconds=30)
# Each engine's vectors: size and how distance is measured (core/faces/engines.py).
ENGINES: dict[str, tuple[int, str]] = {name: (info.dim, info.metric) for name, info in FACE_ENGINES.items()}
SAVE_EVERY = timedelta(minutes=10)  # a changed replica is saved at most this often (a million faces: ~2 s)
PROGRESS_EVERY = 5.0  # seconds between progress lines of a rebuild
REBUILD_BATCH = 10_000
AGE_EVERY = 60.0  # seconds between looks for sighting faces past the lookback
STATE_FORMAT = 1
# Which field of a removal names each kind's owners (entries older than found persons have no `found`).
REMOVED = {"case": "cases", "sighting": "sightings", "found": "found"}
# The kinds held only while their owner is open, and how to know which owners are.
OPEN_ONLY = {"case": open_references, "found": open_found_references}


def engine_of(face: dict[str, Any]) -> str:
    """Which engine made a face's vector: faces stored before engines had names are dlib's."""
    return str(face.get("engine") or DEFAULT_ENGINE)


def face_vector(face: dict[str, Any]) -> np.ndarray:
    """A stored face's vector (storage decodes it: the one place that knows how encodings are stored)."""
    return stored_vector(face)


class FollowedFaces:
    """The faces of one kind followed from MongoDB.

    "case": open cases'; "sighting": those found within the lookback; "found": open found persons' (no lookback).
    """

    def __init__(
        self,
        db: Database,
        kind: str,
        snapshot_dir: Path | None = None,
        index_kind: str = "auto",
        lookback: timedelta | None = None,
    ) -> None:
        self._db, self.kind, self._index_kind, self._lookback = db, kind, index_kind, lookback
        self._snapshot_dir = snapshot_dir / kind if snapshot_dir is not None else None
        self.engines: dict[str, Faces] = {}
        self._ready = False
        self._since = datetime.min.replace(tzinfo=UTC)  # new faces stamped since then are not held yet
        self._removals_since = datetime.min.replace(tzinfo=UTC)
        self._seen_removals: dict[int, float] = {}  # removals applied within the slack window: seq -> at
        self._instance = ""
        self._changed_at: float | None = None
        self._saved_at = time.monotonic()
        self._aged_at = -AGE_EVERY
        self._unknown: set[str] = set()
        self._lock = threading.RLock()  # a job's search waits while the start-up thread loads (warm_up)

    def __len__(self) -> int:
        return sum(len(faces) for faces in self.engines.values())

    def refresh(self) -> None:
        """Catch up with MongoDB: on first use from the snapshot (or a rebuild), then removals, new faces, age."""
        with self._lock:
            if not self._ready:
                self._start()
            if self._apply_removals():
                self._rebuild()
            self._add_new()
            if self._lookback is not None and time.monotonic() - self._aged_at >= AGE_EVERY:
                self._age_out()
            self._save_if_due()

    def search(
        self, vector: np.ndarray, k: int, max_distance: float, engine: str = DEFAULT_ENGINE, refresh: bool = True
    ) -> list[tuple[ObjectId, str, float]]:
        """The k closest faces of this engine within max_distance: (face id, owner, distance), closest first.

        `refresh=False`: as of the last catch-up (loaded if never), for a search right after one that caught up.
        """
        with self._lock:
            if refresh or not self._ready:
                self.refresh()
            faces = self.engines.get(engine)
            return faces.search(vector, k, max_distance) if faces is not None else []

    def save(self) -> None:
        """Write the replica to the data dir now (best effort: another worker may be writing it too)."""
        if self._snapshot_dir is None:
            return
        state = {
            "format": STATE_FORMAT,
            "database": self._instance,
            "since": self._since.isoformat(),
            "removals_since": self._removals_since.isoformat(),
            "seen_removals": self._seen_removals,
        }
        started = time.monotonic()
        try:
            for engine, faces in self.engines.items():
                faces.save(self._snapshot_dir / engine, state)
        except OSError as exc:
            log.warning("%s index: snapshot not saved (%s); the next save tries again", self.kind, exc)
            return
        self._saved_at, self._changed_at = time.monotonic(), None
        log.info("%s index: %d faces saved in %.1f s", self.kind, len(self), time.monotonic() - started)

    def _start(self) -> None:
        self._instance = gallery_instance(self._db)
        if not self._load():
            self._rebuild()
        self._ready = True

    def _load(self) -> bool:
        if self._snapshot_dir is None or not self._snapshot_dir.exists():
            return False
        started, engines, states = time.monotonic(), {}, []
        try:
            for folder in sorted(p for p in self._snapshot_dir.iterdir() if p.is_dir() and "." not in p.name):
                engines[folder.name], state = Faces.load(folder)
                states.append(state)
        except SnapshotError as exc:
            log.warning("%s index: snapshot not usable (%s); rebuilding it from MongoDB", self.kind, exc)
            return False
        if not states or any(s.get("format") != STATE_FORMAT or s.get("database") != self._instance for s in states):
            log.warning("%s index: snapshot is of another database or version; rebuilding it from MongoDB", self.kind)
            return False
        removals_since = min(datetime.fromisoformat(s["removals_since"]) for s in states)
        if removals_since < datetime.now(UTC) - GALLERY_CHANGES_KEPT + CLOCK_SLACK:
            log.warning("%s index: snapshot older than the removal log; rebuilding it from MongoDB", self.kind)
            return False
        # Engines saved at different moments: catch up from the oldest (adding and removing again changes nothing).
        self.engines = engines
        self._since = min(datetime.fromisoformat(s["since"]) for s in states)
        self._removals_since = removals_since
        self._seen_removals = {int(seq): at for s in states for seq, at in s["seen_removals"].items()}
        log.info(
            "%s index: %d faces loaded from the snapshot in %.1f s", self.kind, len(self), time.monotonic() - started
        )
        return True

    def _rebuild(self) -> None:
        """Read every face of this kind from MongoDB into fresh indexes, saying how far it got."""
        started = datetime.now(UTC)
        self._removals_since = started
        self._apply_removals()  # only to mark the removals up to now as seen
        found_since = self._cutoff()
        total = count_matchable_faces(self._db, self.kind, found_since=found_since)
        log.info("%s index: rebuilding from MongoDB (%d faces)", self.kind, total)
        open_owners = self._open_owners()
        # Columns per engine, filled a batch at a time: a million face documents at once would not fit.
        columns: dict[str, tuple[list[ObjectId], list[str], list[datetime], list[np.ndarray]]] = {}
        batch: list[dict[str, Any]] = []
        last_line = time.monotonic()
        for read, face in enumerate(matchable_faces(self._db, self.kind, found_since=found_since), 1):
            if (open_owners is None or face["owner"]["id"] in open_owners) and self._known(face):
                batch.append(face)
            if len(batch) >= REBUILD_BATCH:
                _gather(columns, batch)
                batch = []
            if time.monotonic() - last_line >= PROGRESS_EVERY:
                log.info("%s index: rebuilding, %d of %d faces read", self.kind, read, total)
                last_line = time.monotonic()
        _gather(columns, batch)
        self.engines = {}
        for engine, (ids, owners, found, vectors) in columns.items():
            self._held(engine, len(ids)).add(ids, owners, found, np.concatenate(vectors))
        self._since = started
        self._changed_at = time.monotonic()
        log.info(
            "%s index: rebuilt, %d faces in %.1f s",
            self.kind,
            len(self),
            (datetime.now(UTC) - started).total_seconds(),
        )
        self._save_now()

    def _apply_removals(self) -> bool:
        """Remove the faces of cases and sightings named in new removals; True when one asks for a full rebuild."""
        checked = datetime.now(UTC)
        rebuild = False
        for change in gallery_removals(self._db, self._removals_since - CLOCK_SLACK):
            if change["seq"] in self._seen_removals:
                continue
            self._seen_removals[change["seq"]] = seconds(change["at"])
            owners = change.get(REMOVED[self.kind], [])
            if owners is None:
                rebuild = True
            elif owners:
                removed = sum(faces.remove_owners(owners) for faces in self.engines.values())
                if removed:
                    self._changed_at = time.monotonic()
                    log.info("%s index: %d faces removed", self.kind, removed)
        horizon = (checked - 2 * CLOCK_SLACK).timestamp()
        self._seen_removals = {seq: at for seq, at in self._seen_removals.items() if at >= horizon}
        self._removals_since = checked
        return rebuild and self._ready

    def _add_new(self) -> None:
        started = datetime.now(UTC)
        fresh = [
            face
            for face in matchable_faces(self._db, self.kind, stamped_since=self._since - CLOCK_SLACK)
            if not self._holds(face) and self._known(face)
        ]
        cutoff = self._cutoff()
        if cutoff is not None:
            fresh = [face for face in fresh if face["created_at"].replace(tzinfo=UTC) >= cutoff]
        if fresh and self.kind in OPEN_ONLY:
            open_owners = self._open_owners([face["owner"]["id"] for face in fresh])
            fresh = [face for face in fresh if face["owner"]["id"] in open_owners]
        by_engine: dict[str, list[dict[str, Any]]] = {}
        for face in fresh:
            by_engine.setdefault(engine_of(face), []).append(face)
        for engine, faces in by_engine.items():
            held = self._held(engine, len(faces))
            held.add(*_columns(faces))
            self._changed_at = time.monotonic()
            if needs_rebuild(held.index, self._index_kind):
                started_at = time.monotonic()
                held.index = rebuilt(held.index, self._index_kind)
                log.info(
                    "%s index: %s rebuilt for %d faces in %.1f s",
                    self.kind,
                    engine,
                    len(held),
                    time.monotonic() - started_at,
                )
        self._since = started

    def _age_out(self) -> None:
        self._aged_at = time.monotonic()
        cutoff = self._cutoff()
        assert cutoff is not None
        if sum(faces.remove_found_before(cutoff) for faces in self.engines.values()):
            self._changed_at = time.monotonic()

    def _open_owners(self, among: list[str] | None = None) -> set[str] | None:
        """The open owners (among these), for the kinds whose closed owners leave matching; None for the others."""
        return OPEN_ONLY[self.kind](self._db, among) if self.kind in OPEN_ONLY else None

    def _cutoff(self) -> datetime | None:
        return datetime.now(UTC) - self._lookback if self._lookback is not None else None

    def _holds(self, face: dict[str, Any]) -> bool:
        faces = self.engines.get(engine_of(face))
        return faces is not None and faces.holds(face["_id"])

    def _known(self, face: dict[str, Any]) -> bool:
        """Whether this worker can hold the face: its engine is in ENGINES (said once per unknown engine)."""
        engine = engine_of(face)
        if engine in ENGINES:
            return True
        if engine not in self._unknown:
            self._unknown.add(engine)
            log.warning(
                "%s index: faces of engine %r are not matched: add it to ENGINES in search/replica.py",
                self.kind,
                engine,
            )
        return False

    def _held(self, engine: str, expected: int) -> Faces:
        if engine not in self.engines:
            dim, metric = ENGINES[engine]
            self.engines[engine] = Faces(make_index(dim, metric, self._index_kind, expected))
        return self.engines[engine]

    def _save_if_due(self) -> None:
        if self._changed_at is not None and time.monotonic() - self._saved_at >= SAVE_EVERY.total_seconds():
            self.save()

    def _save_now(self) -> None:
        if self._snapshot_dir is not None:
            self.save()


def _columns(faces: list[dict[str, Any]]) -> tuple[list[ObjectId], list[str], list[datetime], np.ndarray]:
    return (
        [face["_id"] for face in faces],
        [face["owner"]["id"] for face in faces],
        [face["created_at"] for face in faces],
        np.stack([face_vector(face) for face in faces]),
    )


def _gather(
    columns: dict[str, tuple[list[ObjectId], list[str], list[datetime], list[np.ndarray]]],
    faces: list[dict[str, Any]],
) -> None:
    by_engine: dict[str, list[dict[str, Any]]] = {}
    for face in faces:
        by_engine.setdefault(engine_of(face), []).append(face)
    for engine, group in by_engine.items():
        ids, owners, found, vectors = _columns(group)
        held = columns.setdefault(engine, ([], [], [], []))
        held[0].extend(ids)
        held[1].extend(owners)
        held[2].extend(found)
        held[3].append(vectors)
