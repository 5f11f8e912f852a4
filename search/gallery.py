"""What matching searches: the open cases' faces (IndexedGallery), recent sightings' faces (SightingIndex) and
open found persons' faces (FoundIndex).

Each is a replica of MongoDB held by the worker (`search/replica.py`), loaded at start (`warm_up`) and brought
up to date before every search.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
from bson import ObjectId

from core.faces.engines import DEFAULT_ENGINE
from core.faces.matching import Bands, Hit, keep_best
from search.replica import FollowedFaces
from storage.connections import Database

log = logging.getLogger(__name__)


class CaseGallery(Protocol):
    def refresh(self) -> None: ...

    def search(
        self,
        vector: np.ndarray,
        bands: Bands,
        top_k: int,
        exclude_case: str | None = None,
        engine: str = DEFAULT_ENGINE,
    ) -> list[tuple[Hit, ObjectId]]: ...

    def nearest_cases(
        self, vector: np.ndarray, n: int, exclude_case: str | None = None, engine: str = DEFAULT_ENGINE
    ) -> list[float]: ...


class IndexedGallery:
    """The open cases' faces, searched per sighting face (and per new case face, for duplicates)."""

    def __init__(self, db: Database, snapshot_dir: Path | None = None, index_kind: str = "auto") -> None:
        self.faces = FollowedFaces(db, "case", snapshot_dir, index_kind)

    def __len__(self) -> int:
        return len(self.faces)

    def refresh(self) -> None:
        self.faces.refresh()

    def search(
        self,
        vector: np.ndarray,
        bands: Bands,
        top_k: int,
        exclude_case: str | None = None,
        engine: str = DEFAULT_ENGINE,
    ) -> list[tuple[Hit, ObjectId]]:
        """The top_k closest open cases to one face (the core's policy), each with the id of its closest face."""
        best = self._closest_cases(vector, top_k, bands.review, exclude_case, engine)
        hits = [Hit(case, row, distance) for case, (distance, row, _) in best.items()]
        return [(hit, best[hit.case][2]) for hit in keep_best(hits, top_k)]

    def nearest_cases(
        self, vector: np.ndarray, n: int, exclude_case: str | None = None, engine: str = DEFAULT_ENGINE
    ) -> list[float]:
        """The distances to the n nearest open cases of this engine (each by its closest face), closest first,
        however far: how crowded a face's neighbourhood is. Fewer when the gallery holds fewer cases.

        As of the gallery's last catch-up with MongoDB (matching asks right after a search that caught up): a
        catch-up costs more than the search itself.
        """
        best = self._closest_cases(vector, n, np.inf, exclude_case, engine, refresh=False)
        return sorted(distance for distance, _, _ in best.values())[:n]

    def _closest_cases(
        self,
        vector: np.ndarray,
        n: int,
        max_distance: float,
        exclude_case: str | None,
        engine: str,
        refresh: bool = True,
    ) -> dict[str, tuple[float, int, ObjectId]]:
        """Each case within max_distance by its closest face: case -> (distance, row, face id), n cases at least.

        Asks the index for a few faces per case wanted, and for more while the cases found are fewer than n.
        """
        wanted = 4 * n + 4
        while True:
            found = self.faces.search(vector, wanted, max_distance, engine, refresh)
            best: dict[str, tuple[float, int, ObjectId]] = {}
            for row, (face_id, case, distance) in enumerate(found):
                if case != exclude_case and case not in best:
                    best[case] = (distance, row, face_id)
            if len(best) >= n or len(found) < wanted or wanted >= len(self.faces):
                return best
            wanted *= 4


class SeenIndex:
    """Faces of people seen somewhere, followed from MongoDB: what a new case's photo is searched against."""

    def __init__(
        self,
        db: Database,
        kind: str,
        lookback: timedelta | None = None,
        snapshot_dir: Path | None = None,
        index_kind: str = "auto",
    ) -> None:
        self.faces = FollowedFaces(db, kind, snapshot_dir, index_kind, lookback)

    def __len__(self) -> int:
        return len(self.faces)

    def within(
        self, vector: np.ndarray, max_distance: float, limit: int, engine: str = DEFAULT_ENGINE
    ) -> list[tuple[ObjectId, str, float]]:
        """Faces within max_distance of this face (at most `limit`, closest first): (face id, owner, distance)."""
        return self.faces.search(vector, limit, max_distance, engine)

    def refresh(self) -> None:
        self.faces.refresh()


class SightingIndex(SeenIndex):
    """The sighting faces of the last MATCH_LOOKBACK_DAYS."""

    def __init__(
        self, db: Database, lookback: timedelta, snapshot_dir: Path | None = None, index_kind: str = "auto"
    ) -> None:
        super().__init__(db, "sighting", lookback, snapshot_dir, index_kind)


class FoundIndex(SeenIndex):
    """The open found persons' faces, with no lookback: an institution may hold someone for years."""

    def __init__(self, db: Database, snapshot_dir: Path | None = None, index_kind: str = "auto") -> None:
        super().__init__(db, "found", None, snapshot_dir, index_kind)


class Followed(Protocol):
    def refresh(self) -> None: ...


def warm_up(replicas: list[Followed]) -> threading.Thread:
    """Load each replica (its snapshot, or a rebuild from MongoDB) in a thread of its own, started now.

    So the first sighting after a worker starts is not the one that waits for the load (a second at 20 000
    faces, minutes at a million), while the worker answers chats meanwhile; a search waits for it to finish.
    One that fails (MongoDB unreachable) is only logged: the first search loads it instead.
    """

    def load() -> None:
        for replica in replicas:
            try:
                replica.refresh()
            except Exception as exc:  # noqa: BLE001 - at start-up any failure is retried by the first search
                log.warning("could not load a face index at start-up (%s); the first search will", type(exc).__name__)

    thread = threading.Thread(target=load, name="index-warm-up", daemon=True)
    thread.start()
    return thread
