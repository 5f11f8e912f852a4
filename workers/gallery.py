"""The faces of open cases, held in memory as one float32 matrix per worker.

Behind a two-method interface (`search`, `refresh`) so that an ANN index or
MongoDB Atlas Vector Search can replace it. Kept fresh without full reloads:
new case faces are fetched by their `matchable_since` stamp; a removal
(a case closed or erased) bumps a counter that triggers one full reload.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
from bson import ObjectId

from core.faces.engines import DEFAULT_ENGINE, ENGINES, EngineInfo
from core.faces.matching import Bands, Hit, best_per_case, distances
from storage.cases import gallery_version, open_references
from storage.connections import Database
from storage.faces import bytes_to_vector, usable_case_faces

# Stamps come from several processes' clocks; look back a little and skip faces already held.
CLOCK_SLACK = timedelta(seconds=30)


class CaseGallery(Protocol):
    def search(
        self, vector: np.ndarray, bands: Bands, top_k: int, exclude_case: str | None = None
    ) -> list[tuple[Hit, ObjectId]]: ...


class MatrixGallery:
    """One engine's case faces (the configured one): vectors of another engine are never loaded."""

    def __init__(self, db: Database, engine: EngineInfo = ENGINES[DEFAULT_ENGINE]) -> None:
        self._db = db
        self._engine = engine
        self._matrix = np.zeros((0, engine.dim), dtype=np.float32)
        self._cases: list[str] = []
        self._face_ids: list[ObjectId] = []
        self._held: set[ObjectId] = set()
        self._removals: int | None = None
        self._since = datetime.min.replace(tzinfo=UTC)

    def __len__(self) -> int:
        return len(self._face_ids)

    def search(
        self, vector: np.ndarray, bands: Bands, top_k: int, exclude_case: str | None = None
    ) -> list[tuple[Hit, ObjectId]]:
        """The top_k closest open cases to one face (the core's policy), each with the id of its closest face."""
        self.refresh()
        row_distances = distances(self._matrix, vector, self._engine.metric)
        if exclude_case is not None:
            row_distances = np.where(np.array(self._cases, dtype=object) == exclude_case, np.inf, row_distances)
        return [
            (hit, self._face_ids[hit.face_index]) for hit in best_per_case(row_distances, self._cases, bands, top_k)
        ]

    def refresh(self) -> None:
        removals = gallery_version(self._db)
        if removals != self._removals:
            self._reload(removals)
        else:
            self._add_new()

    def _reload(self, removals: int) -> None:
        open_cases = open_references(self._db)
        faces = [f for f in usable_case_faces(self._db, engine=self._engine.name) if f["owner"]["id"] in open_cases]
        self._matrix = np.zeros((0, self._engine.dim), dtype=np.float32)
        self._cases, self._face_ids, self._held = [], [], set()
        self._since = datetime.now(UTC)
        self._append(faces)
        self._removals = removals

    def _add_new(self) -> None:
        started = datetime.now(UTC)
        stamped = usable_case_faces(self._db, matchable_since=self._since - CLOCK_SLACK, engine=self._engine.name)
        fresh = [f for f in stamped if f["_id"] not in self._held]
        if fresh:
            open_cases = open_references(self._db, among=[f["owner"]["id"] for f in fresh])
            self._append([f for f in fresh if f["owner"]["id"] in open_cases])
        self._since = started

    def _append(self, faces: list[dict[str, Any]]) -> None:
        if not faces:
            return
        vectors = np.stack([bytes_to_vector(f["encoding"]) for f in faces]).astype(np.float32)
        self._matrix = np.vstack([self._matrix, vectors])
        self._cases += [f["owner"]["id"] for f in faces]
        self._face_ids += [f["_id"] for f in faces]
        self._held.update(f["_id"] for f in faces)
