"""The connections of this worker process, opened once and shared by its jobs.

RQ jobs take ids only, so they need somewhere to find the database, the
queue and the chat channels; this is that place, set up by the worker's main
before the first job runs (or from the environment on first use).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from rq import Queue

from bot.channels import Channel
from bot.registry import build_channels
from config import Settings, load_settings
from core.faces import engines
from search.gallery import CaseGallery, FoundIndex, IndexedGallery, SightingIndex
from services.queue import make_queue
from storage.connections import Connections, connect


@dataclass
class WorkerContext:
    settings: Settings
    connections: Connections
    channels: dict[str, Channel] = field(default_factory=dict)
    queue: Queue | None = None
    gallery: CaseGallery | None = None  # the open cases' faces, held in memory by this process
    sightings: SightingIndex | None = None  # the sighting faces of the lookback window, likewise
    found: FoundIndex | None = None  # the open found persons' faces, likewise

    def __post_init__(self) -> None:
        if not self.channels:
            self.channels = build_channels(self.settings, self.connections.redis)
        if self.queue is None:
            self.queue = make_queue(self.connections.redis)
        snapshots, kind = self.settings.data_dir / "index", self.settings.vector_index
        if self.gallery is None:
            self.gallery = IndexedGallery(self.connections.db, snapshots, kind)
        if self.sightings is None:
            lookback = timedelta(days=self.settings.match_lookback_days)
            self.sightings = SightingIndex(self.connections.db, lookback, snapshots, kind)
        if self.found is None:
            self.found = FoundIndex(self.connections.db, snapshots, kind)

    @property
    def engine(self) -> engines.FaceEngine:
        """The configured face engine (HOMEWARD_FACE_ENGINE), loaded on first use."""
        return engines.get(self.settings.face_engine, self.settings.arcface_model, self.settings.dlib_detector)


_current: WorkerContext | None = None


def install(context: WorkerContext) -> None:
    global _current
    _current = context


def current() -> WorkerContext:
    """The process's context; built from the environment on first use (e.g. `rq worker`)."""
    global _current
    if _current is None:
        settings = load_settings()
        if not (settings.mongodb_uri and settings.redis_url):
            raise RuntimeError("a worker started on its own needs MONGODB_URI and REDIS_URL; `make run` sets them")
        _current = WorkerContext(
            settings, connect(settings.mongodb_uri, settings.mongodb_database, settings.redis_url, settings.data_keys())
        )
    return _current
