"""Hostile users in the chaos run: a few contacts sending long, large clips, and what the workers went through.

Issue 23's targets: while 5 contacts each send three 30 s, 1280x720 clips at 2 fps, every chat is still
answered, chat answers' p95 stays ≤ 5 s, the two workers are never both busy with photo or clip analysis (the
first serves chats only), and no worker process grows past 1.5 GB. `Watch` samples the workers' current jobs
and each worker process's peak memory (VmHWM) while the run lasts.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymongo
import redis
from bson import ObjectId
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob

from benchmarks.supervised import processes
from services.queue import LANE, PHOTOS_QUEUE

HOSTILE_CONTACTS, CLIPS_EACH = 5, 3
CLIP_SECONDS, CLIP_FPS, CLIP_SIZE = 30, 2, (1280, 720)
CLIP_PEOPLE = ("Colin_Powell", "Tony_Blair", "Hugo_Chavez", "Ariel_Sharon", "Gerhard_Schroeder", "George_W_Bush")
PHOTO_LANE_JOBS = {job.value for job, lane in LANE.items() if lane == PHOTOS_QUEUE}
SAMPLE_EVERY_S = 0.25
TARGET_WAIT_P95_S, TARGET_PEAK_MB = 5.0, 1536


def make_clips(directory: Path, faces: Path, count: int) -> list[bytes]:
    """`count` distinct mp4 clips, 30 s of 1280x720 at 2 fps, a face in every frame (none is let go unread)."""
    clips = []
    for number in range(count):
        path = directory / f"clip-{number}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS, CLIP_SIZE)
        for frame in range(CLIP_SECONDS * CLIP_FPS):
            writer.write(_frame(faces, number, frame))
        writer.release()
        clips.append(path.read_bytes())
        path.unlink()
    return clips


def _frame(faces: Path, clip: int, frame: int) -> np.ndarray:
    """A grey 1280x720 frame with one LFW face, 400 px, drifting across it: a new person every 5 s."""
    width, height = CLIP_SIZE
    person = CLIP_PEOPLE[(clip + frame // (5 * CLIP_FPS)) % len(CLIP_PEOPLE)]
    photo = faces / "lfw" / person / f"{person}_{1 + (clip + frame // (5 * CLIP_FPS)) % 5:04d}.jpg"
    face = cv2.resize(cv2.imread(str(photo)), (400, 400), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((height, width, 3), 90 + (clip * 7) % 60, np.uint8)
    x, y = 40 + (frame * 13) % (width - 480), 60 + (frame * 5) % (height - 460)
    canvas[y : y + 400, x : x + 400] = face
    return canvas


class Watch:
    """Samples, every quarter second, which workers run photo-lane jobs (and clips) and their peak memory."""

    def __init__(self, run_dir: Path, database: str, clips: list[bytes]) -> None:
        servers = json.loads((run_dir / "embedded.json").read_text())
        self.run_dir = run_dir
        self.redis = redis.Redis.from_url(servers["redis"]["url"], socket_timeout=2)
        self.mongo: pymongo.MongoClient = pymongo.MongoClient(servers["mongodb"]["url"], serverSelectionTimeoutMS=2000)
        self.db = self.mongo[database]
        self.digests = {hashlib.sha256(clip).hexdigest() for clip in clips}
        self.is_clip: dict[str, bool] = {}
        self.peak_mb: dict[str, float] = {}  # worker name -> the largest VmHWM any of its processes reached
        self.most_photo_jobs = self.most_clip_jobs = self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.mongo.close()

    def _run(self) -> None:
        while not self.stop.wait(SAMPLE_EVERY_S):
            try:
                self._sample()
            except (redis.RedisError, pymongo.errors.PyMongoError, NoSuchJobError, OSError, ValueError, KeyError):
                continue  # a server killed by the chaos run: the next sample tries again

    def _sample(self) -> None:
        for name, process in processes(self.run_dir).items():
            if name.startswith("worker-"):
                self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), _peak_mb(int(process["pid"])))
        photo_jobs = clip_jobs = 0
        for worker in Worker.all(connection=self.redis):
            job_id = worker.get_current_job_id()
            job = RqJob.fetch(job_id, connection=self.redis) if job_id else None
            if job is None or job.func_name not in PHOTO_LANE_JOBS:
                continue
            photo_jobs += 1
            clip_jobs += self._clip(str(job.args[0])) if job.args else 0
        self.most_photo_jobs = max(self.most_photo_jobs, photo_jobs)
        self.most_clip_jobs = max(self.most_clip_jobs, clip_jobs)
        self.samples += 1

    def _clip(self, photo_id: str) -> bool:
        if photo_id not in self.is_clip:
            found = self.db.photos.find_one({"_id": ObjectId(photo_id)}, {"sha256": 1})
            self.is_clip[photo_id] = bool(found and found.get("sha256") in self.digests)
        return self.is_clip[photo_id]

    def clips_analysed(self) -> dict[str, int]:
        """The hostile clips by their status: analysed, rejected, failed or still pending."""
        counts: dict[str, int] = {}
        for photo in self.db.photos.find({"sha256": {"$in": sorted(self.digests)}}, {"status": 1}):
            counts[photo.get("status", "?")] = counts.get(photo.get("status", "?"), 0) + 1
        return counts

    def wait_for_clips(self, timeout: float) -> float:
        """Until no hostile clip is pending (or `timeout`); the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if not self.clips_analysed().get("pending"):
                    break
            except pymongo.errors.PyMongoError:
                pass
            time.sleep(1)
        return round(time.monotonic() - started, 1)

    def figures(self) -> dict[str, Any]:
        return {
            "most_workers_on_photos_at_once": self.most_photo_jobs,
            "most_workers_on_clips_at_once": self.most_clip_jobs,
            "worker_peak_rss_mb": {name: round(mb) for name, mb in sorted(self.peak_mb.items())},
            "watch_samples": self.samples,
            "hostile_clips": self.clips_analysed(),
        }


def _peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB; 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
