"""Records on the real server: compact vectors, nothing stored twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gridfs
import numpy as np
import pytest
from bson import ObjectId
from pymongo import MongoClient, monitoring
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from core.faces.analysis import analyse_photo
from storage import photos
from storage.cases import create_case, draft_owner
from storage.faces import faces_of_photo, store_faces, stored_vector, vector_to_bytes
from storage.photos import Owner, delete_photos, find_photo, photo_bytes, save_photo
from storage.schema import ensure_indexes
from storage.updates import next_number
from storage.users import UserExists, bootstrap_admin, create_user


def test_vectors_are_512_bytes_of_float32_and_round_trip() -> None:
    vector = np.random.default_rng(1).normal(size=128).astype(np.float32)
    blob = vector_to_bytes(vector)
    assert len(blob) == 512
    assert np.array_equal(np.frombuffer(bytes(blob), dtype="<f4"), vector)


def test_the_same_photo_for_the_same_owner_is_kept_once(db: Database) -> None:
    owner = Owner("case", "HW-7K3P")
    first = save_photo(db, b"\xff\xd8 not really a jpeg", owner, "image/jpeg")
    again = save_photo(db, b"\xff\xd8 not really a jpeg", owner, "image/jpeg")
    elsewhere = save_photo(db, b"\xff\xd8 not really a jpeg", Owner("sighting", "S-1"), "image/jpeg")
    assert first.created and not again.created and again.id == first.id
    assert elsewhere.created and elsewhere.id != first.id
    assert db.photos.count_documents({}) == 2
    assert db.photo_files.files.count_documents({}) == 2
    assert photo_bytes(db, find_photo(db, first.id)) == b"\xff\xd8 not really a jpeg"


def test_a_photo_whose_upload_was_cut_off_by_a_server_crash_is_stored_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MongoDB killed mid-upload: a driver's retry of a chunk already journaled makes GridFS raise FileExists."""
    real_store = photos.store_file
    cut_off: list[object] = []

    def store_then_crash(*args: Any, **kwargs: Any) -> ObjectId:
        file_id = real_store(*args, **kwargs)
        if not cut_off:
            cut_off.append(file_id)
            raise gridfs.errors.FileExists(f"file {file_id} already exists")
        return file_id

    monkeypatch.setattr(photos, "store_file", store_then_crash)
    saved = save_photo(db, b"\xff\xd8 sent during a crash", Owner("draft", "telegram:1"), "image/jpeg")
    assert saved.created and cut_off
    assert photo_bytes(db, find_photo(db, saved.id)) == b"\xff\xd8 sent during a crash"
    assert db.photo_files.files.count_documents({}) == 1  # the half-stored file went
    assert db.photo_files.chunks.count_documents({"files_id": cut_off[0]}) == 0


def test_storing_a_photo_never_reads_the_whole_bucket(db: Database) -> None:
    """GridFS's own index probe (a find_one without a filter) made SecantusDB scan every stored photo's chunks."""
    for number in range(3):
        save_photo(db, b"\xff\xd8 kept %d" % number, Owner("sighting", "S-9"), "image/jpeg")
    commands = CommandLog()
    client = MongoClient(*db.client.address, event_listeners=[commands])
    try:
        saved = save_photo(client[db.name], b"\xff\xd8 one more", Owner("sighting", "S-9"), "image/jpeg")
    finally:
        client.close()
    assert photo_bytes(db, find_photo(db, saved.id)) == b"\xff\xd8 one more"
    unfiltered = [c for c in commands.finds if c["collection"].startswith("photo_files") and not c["filter"]]
    assert commands.finds and unfiltered == []
    names = {index["name"] for index in db.photo_files.chunks.list_indexes()}
    assert "files_id_1_n_1" in names  # made at start, as GridFS would have


class CommandLog(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.finds.append({"collection": event.command["find"], "filter": event.command.get("filter") or {}})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_storing_faces_twice_stores_them_once(db: Database, faces_dir: Path) -> None:
    data = (faces_dir / "groups/two_people.jpg").read_bytes()
    saved = save_photo(db, data, Owner("sighting", "S-2"))
    photo = find_photo(db, saved.id)
    analysis = analyse_photo(data)
    assert store_faces(db, photo, analysis) == 2
    assert store_faces(db, photo, analysis) == 0
    faces = faces_of_photo(db, saved.id)
    assert [f["index"] for f in faces] == [0, 1]
    assert faces[0]["owner"] == {"kind": "sighting", "id": "S-2"} and faces[0]["quality"] == "ok"
    assert np.array_equal(stored_vector(faces[0]), analysis.faces[0].encoding)


def test_erasing_an_owner_removes_bytes_records_and_faces(db: Database, faces_dir: Path) -> None:
    data = (faces_dir / "groups/two_people.jpg").read_bytes()
    owner = Owner("case", "HW-ERAS")
    saved = save_photo(db, data, owner)
    store_faces(db, find_photo(db, saved.id), analyse_photo(data))
    assert delete_photos(db, owner) == 1
    assert db.photos.count_documents({}) == 0 and db.faces.count_documents({}) == 0
    assert db.photo_files.files.count_documents({}) == 0 and db.photo_files.chunks.count_documents({}) == 0


def test_indexes_are_created_idempotently(db: Database) -> None:
    ensure_indexes(db)
    ensure_indexes(db)
    assert "owner_sha256_unique" in db.photos.index_information()


def test_an_older_partial_index_is_replaced_by_a_sparse_one_that_keeps_its_rule(db: Database) -> None:
    # An older version made the outbox's source index partial, which the embedded server can only scan.
    db.outbox.drop_index("source_unique")
    db.outbox.create_index(
        "source", unique=True, name="source_unique", partialFilterExpression={"source": {"$exists": True}}
    )
    ensure_indexes(db)
    index = db.outbox.index_information()["source_unique"]
    assert index.get("sparse") and "partialFilterExpression" not in index
    db.outbox.insert_many(
        [{"contact": "c", "seq": seq} for seq in (1, 2)] + [{"contact": "c", "seq": 3, "source": "m1:0"}]
    )
    with pytest.raises(DuplicateKeyError):
        db.outbox.insert_one(
            {"contact": "c", "seq": 4, "source": "m1:0"}
        )  # the same reply queued twice is still refused


def test_admin_is_created_once_with_a_generated_password(db: Database) -> None:
    generated = bootstrap_admin(db, None)
    assert generated and len(generated) >= 12
    assert bootstrap_admin(db, None) is None
    assert db.users.count_documents({"username": "admin", "role": "admin"}) == 1
    assert generated not in str(db.users.find_one())  # only a hash is kept


def test_usernames_are_unique(db: Database) -> None:
    create_user(db, "rosa", "a-long-password", "reviewer")
    with pytest.raises(UserExists):
        create_user(db, "rosa", "another-long-one", "viewer")


def test_adopting_a_draft_moves_only_that_drafts_faces(db: Database, faces_dir: Path) -> None:
    data = (faces_dir / "groups/two_people.jpg").read_bytes()
    analysis = analyse_photo(data)
    for owner in (draft_owner("telegram:1"), Owner("sighting", "SG-2345")):
        saved = save_photo(db, data, owner)
        store_faces(db, find_photo(db, saved.id), analysis)
    reference = create_case(db, "telegram:1", {"name": "X"}, source="telegram:99")
    assert db.faces.count_documents({"owner": {"kind": "case", "id": reference}}) == 2
    assert db.faces.count_documents({"owner": {"kind": "sighting", "id": "SG-2345"}}) == 2


def test_messages_queued_by_many_writers_at_once_are_numbered_once_each(db: Database) -> None:
    # Each outbox message's number fixes its place in the chat; two with one number would go out in either order.
    numbers: list[int] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers += pool.map(lambda _: next_number(db.counters, "outbox:telegram:7"), range(80))
    assert sorted(numbers) == list(range(1, 81))
