"""A photo job run by a real RQ worker against the real servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymongo.database import Database
from rq import SimpleWorker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from config import Settings
from services.queue import PHOTOS_QUEUE, Job, enqueue_photo_analysis, lanes, make_queue
from storage.connections import Connections
from storage.photos import Owner, find_photo, save_photo
from tests import photo_files
from workers import context


@pytest.fixture
def worker(settings: Settings, connections: Connections) -> SimpleWorker:
    context.install(context.WorkerContext(settings, connections))
    return SimpleWorker(lanes(connections.redis), connection=connections.redis)


def run_photo(db: Database, connections: Connections, worker: SimpleWorker, data: bytes, owner: Owner) -> dict:
    saved = save_photo(db, data, owner, "image/jpeg")
    enqueue_photo_analysis(make_queue(connections.redis), str(saved.id))
    worker.work(burst=True)
    photo = find_photo(db, saved.id)
    assert photo is not None
    return photo


def test_a_group_photo_is_analysed_and_its_faces_stored(
    db: Database, connections: Connections, worker: SimpleWorker, faces_dir: Path
) -> None:
    photo = run_photo(db, connections, worker, (faces_dir / "groups/bbt4.jpg").read_bytes(), Owner("sighting", "S-10"))
    assert photo["status"] == "analysed" and photo["reason"] == "several_faces" and photo["face_count"] == 6
    assert db.faces.count_documents({"photo_id": photo["_id"]}) == 6
    assert set(photo["timings_ms"]) == {"decode", "detect", "encode"}


def test_running_the_job_twice_changes_nothing_more(
    db: Database, connections: Connections, worker: SimpleWorker, faces_dir: Path
) -> None:
    photo = run_photo(
        db, connections, worker, (faces_dir / "groups/two_people.jpg").read_bytes(), Owner("sighting", "S-11")
    )
    queue = make_queue(connections.redis)
    queue.enqueue(Job.ANALYSE_PHOTO.value, str(photo["_id"]))  # a redelivery, under another job id
    worker.work(burst=True)
    assert db.faces.count_documents({}) == 2
    assert find_photo(db, photo["_id"])["analysed_at"] == photo["analysed_at"]


def test_a_corrupt_photo_is_rejected_with_a_reason_and_the_worker_goes_on(
    db: Database, connections: Connections, worker: SimpleWorker, faces_dir: Path
) -> None:
    broken = run_photo(db, connections, worker, b"GIF89a this is not really a gif", Owner("sighting", "S-12"))
    bomb = run_photo(db, connections, worker, photo_files.bomb_png(), Owner("sighting", "S-12"))
    good = run_photo(
        db, connections, worker, (faces_dir / "groups/two_people.jpg").read_bytes(), Owner("sighting", "S-12")
    )
    assert (broken["status"], broken["reason"]) == ("rejected", "not_an_image")
    assert (bomb["status"], bomb["reason"]) == ("rejected", "too_many_pixels")
    assert good["status"] == "analysed"
    assert FailedJobRegistry(queue=make_queue(connections.redis, PHOTOS_QUEUE)).count == 0


def test_a_failing_job_is_retried_later_not_lost(db: Database, connections: Connections, worker: SimpleWorker) -> None:
    saved = save_photo(db, b"any bytes", Owner("sighting", "S-13"))
    db.photo_files.files.delete_many({})  # the stored bytes vanish: the job cannot read them
    db.photo_files.chunks.delete_many({})
    job_id = enqueue_photo_analysis(make_queue(connections.redis), str(saved.id))
    worker.work(burst=True)
    assert job_id in ScheduledJobRegistry(queue=make_queue(connections.redis, PHOTOS_QUEUE)).get_job_ids()
    assert find_photo(db, saved.id)["status"] == "pending"
