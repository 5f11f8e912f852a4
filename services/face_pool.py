"""Face analysis for bulk work (the import of found persons): here, or in a pool of processes at low priority.

The face pipeline takes ~0.1 s of one core a photo with dlib; a bulk import of
thousands of photos keeps every core busy with it while this process stores
what comes back, in order. The pool's processes run niced, so the workers
answering chats on the same machine go first.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import Settings
from core.faces import engines
from core.faces.analysis import PhotoAnalysis, analyse_photo

NICENESS = 10


@dataclass(frozen=True)
class EngineSpec:
    """What a pool process needs to load the same engine (a loaded engine does not cross processes)."""

    name: str
    arcface_model: Path | None
    dlib_detector: str
    max_bytes: int
    max_pixels: int

    @classmethod
    def of(cls, settings: Settings, name: str | None = None) -> EngineSpec:
        engine = name or settings.face_engine
        return cls(engine, settings.arcface_model, settings.dlib_detector, settings.max_photo_bytes,
                   settings.max_photo_pixels)  # fmt: skip

    def load(self) -> Any:
        engine = engines.get(self.name, self.arcface_model, self.dlib_detector)
        engine.load()
        return engine


class FaceAnalyser:
    """`submit(bytes)` a photo, get a Future of its PhotoAnalysis (PhotoRejected raised from `result()`).

    The engine is loaded, or the pool started, at the first photo: a re-run with nothing new analyses none.
    """

    def __init__(self, spec: EngineSpec, workers: int = 1, load: Callable[[], Any] | None = None) -> None:
        self.spec, self.workers = spec, workers
        self._load = load or spec.load
        self._engine: Any = None
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, data: bytes) -> Future[PhotoAnalysis]:
        if self.workers > 1:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")  # no fork of this process's MongoDB, Redis clients
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=context, initializer=_start, initargs=(self.spec,)
                )
            return self._pool.submit(_analyse, data)
        if self._engine is None:
            self._engine = self._load()
        done: Future[PhotoAnalysis] = Future()
        try:
            done.set_result(analyse_photo(data, self.spec.max_bytes, self.spec.max_pixels, 1, self._engine))
        except Exception as exc:  # noqa: BLE001 - handed to whoever asks for the result, as a pool would
            done.set_exception(exc)
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> FaceAnalyser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_process: dict[str, Any] = {}


def _start(spec: EngineSpec) -> None:
    os.nice(NICENESS)
    _process["spec"], _process["engine"] = spec, spec.load()


def _analyse(data: bytes) -> PhotoAnalysis:
    spec: EngineSpec = _process["spec"]
    return analyse_photo(data, spec.max_bytes, spec.max_pixels, 1, _process["engine"])
