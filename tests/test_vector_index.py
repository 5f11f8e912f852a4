"""The vector indexes behind matching: exact and approximate agree, forget removed faces, survive restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from bson import ObjectId

from config.keys import DataKeys, new_key
from core.faces.matching import Bands, distances
from search import index_snapshots
from search.gallery import IndexedGallery, SightingIndex, warm_up
from search.index_snapshots import SnapshotError
from search.vector_index import (
    ExactIndex,
    HnswIndex,
    IvfIndex,
    build_index,
    load_index,
    needs_rebuild,
    rebuilt,
)
from storage.cases import close_case, create_case, erase_contact
from storage.connections import Connections, Database
from storage.faces import face_record, sealed_vector, vector_to_bytes
from storage.gallery_changes import bump_gallery
from storage.sealing import OVERHEAD, keyring, use_keys

BANDS = Bands(0.42, 0.55)


@pytest.fixture(autouse=True)
def data_key() -> bytes:
    """A key of this test's own for the snapshots (a test that connects installs its database's keys instead)."""
    key = new_key()
    use_keys(DataKeys((key,), None))
    return key


def face_like(people: int, samples: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Identities with noisy samples: the same person ~0.35 apart, different people ~0.8 (dlib's scale)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.8 / np.sqrt(2 * dim), (people, dim))
    vectors = np.repeat(centres, samples, axis=0) + rng.normal(0, 0.35 / np.sqrt(2 * dim), (people * samples, dim))
    return vectors.astype(np.float32), np.repeat(np.arange(people), samples)


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
@pytest.mark.parametrize(("dim", "metric", "radius"), [(128, "euclidean", 0.55), (512, "cosine", 0.4)])
def test_exact_and_approximate_find_the_same_faces_on_a_small_gallery(
    dim: int, metric: str, radius: float, kind: str
) -> None:
    vectors, people = face_like(600, 4, dim)
    if metric == "cosine":
        vectors = unit(vectors)  # the same person ~0.1 apart in cosine distance, different people ~1
    keys = np.arange(len(vectors)) * 7 + 3  # the caller's keys, not positions
    exact = build_index(dim, metric, keys, vectors, "exact")
    approximate = build_index(dim, metric, keys, vectors, kind)
    assert isinstance(exact, ExactIndex) and isinstance(approximate, IvfIndex if kind == "ivf" else HnswIndex)
    rng = np.random.default_rng(1)
    for person in rng.choice(600, 40, replace=False):
        probe = vectors[person * 4] + rng.normal(0, 0.3 / np.sqrt(2 * dim), dim).astype(np.float32)
        exact_keys, exact_distances = exact.search(probe, 10, radius)
        approximate_keys, approximate_distances = approximate.search(probe, 10, radius)
        assert list(approximate_keys) == list(exact_keys)
        assert np.allclose(approximate_distances, exact_distances, atol=1e-3)  # 512-d HNSW keeps float16
        assert set(people[(exact_keys - 3) // 7]) == {person}  # within the radius: only the same person


def test_exact_distances_are_the_matching_policy_s_own() -> None:
    vectors, _ = face_like(50, 4, 128)
    index = build_index(128, "euclidean", np.arange(200), vectors, "exact")
    keys, found = index.search(vectors[0], 200, 10.0)
    assert np.allclose(found, distances(vectors, vectors[0])[keys], atol=1e-6)
    assert list(found) == sorted(found) and keys[0] == 0


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_a_removed_face_is_never_found_again(kind: str) -> None:
    vectors, _ = face_like(600, 4, 128)
    index = build_index(128, "euclidean", np.arange(2400), vectors, kind)
    assert set(index.search(vectors[8], 10, 0.55)[0]) == {8, 9, 10, 11}
    assert index.remove([8, 9, 10, 99_999]) == 3
    assert list(index.search(vectors[8], 10, 0.55)[0]) == [11] and len(index) == 2397
    index.add(np.array([9]), vectors[9:10])  # back again
    assert set(index.search(vectors[8], 10, 0.55)[0]) == {9, 11}


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_a_saved_index_loads_as_it_was_and_a_damaged_one_is_refused(kind: str, tmp_path: Path) -> None:
    vectors, _ = face_like(600, 4, 128)
    index = build_index(128, "euclidean", np.arange(2400), vectors, kind)
    index.remove([0, 1])
    index.save(tmp_path / "index", {"mine.json": b"{}"})
    loaded = load_index(tmp_path / "index")
    assert type(loaded) is type(index) and len(loaded) == 2398
    for probe in vectors[[2, 100, 2000]]:
        assert list(loaded.search(probe, 10, 0.55)[0]) == list(index.search(probe, 10, 0.55)[0])
    biggest = max((p for p in (tmp_path / "index").iterdir()), key=lambda p: p.stat().st_size)
    data = bytearray(biggest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    biggest.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="damaged"):
        load_index(tmp_path / "index")
    with pytest.raises(SnapshotError):
        load_index(tmp_path / "nothing here")


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_a_snapshot_on_disk_holds_no_vector_and_no_index_format(kind: str, tmp_path: Path) -> None:
    vectors, _ = face_like(600, 4, 128)
    index = build_index(128, "euclidean", np.arange(2400), vectors, kind)
    known = vectors[[0, 1234, 2399]]
    plain = index.vectors()[1]
    assert any(row.tobytes() in plain.tobytes() for row in known)  # the bytes searched for are what an index holds
    index.save(tmp_path / "index", {"owners.npy": known.tobytes()})
    for path in (tmp_path / "index").iterdir():
        raw = path.read_bytes()
        assert raw.startswith(b"HWD\x01"), path.name
        for row in known:
            assert row[:8].tobytes() not in raw, path.name  # not even a quarter of one vector
        for magic in (b"\x93NUMPY", b"IwFl", b"IwSq", b"usearch", b'"kind"', b"euclidean"):
            assert magic not in raw, (path.name, magic)
    loaded = load_index(tmp_path / "index")
    for probe in vectors[[0, 777, 2399]]:
        (keys, found), (held_keys, held_found) = loaded.search(probe, 10, 0.6), index.search(probe, 10, 0.6)
        assert np.array_equal(keys, held_keys) and np.array_equal(found, held_found)


def test_chunks_reordered_cut_off_or_taken_from_another_snapshot_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_snapshots, "CHUNK_BYTES", 1 << 16)  # the index file in ~20 chunks
    vectors, _ = face_like(600, 4, 128)
    index = build_index(128, "euclidean", np.arange(2400), vectors, "ivf")
    index.save(tmp_path / "a")
    index.save(tmp_path / "b")
    sealed, chunk = (tmp_path / "a" / "index.faiss").read_bytes(), (1 << 16) + OVERHEAD
    assert len(sealed) > 10 * chunk
    swapped = sealed[:chunk] + sealed[2 * chunk : 3 * chunk] + sealed[chunk : 2 * chunk] + sealed[3 * chunk :]
    for damaged in (swapped, sealed[: len(sealed) // chunk * chunk], sealed[:-1]):
        (tmp_path / "a" / "index.faiss").write_bytes(damaged)
        with pytest.raises(SnapshotError, match="damaged"):
            load_index(tmp_path / "a")
    (tmp_path / "a" / "index.faiss").write_bytes((tmp_path / "b" / "index.faiss").read_bytes())
    with pytest.raises(SnapshotError, match="damaged"):  # the same index, sealed for another snapshot
        load_index(tmp_path / "a")
    assert len(load_index(tmp_path / "b")) == 2400


def test_a_snapshot_opens_while_its_key_is_listed_and_is_refused_once_it_is_gone(
    data_key: bytes, tmp_path: Path
) -> None:
    vectors, _ = face_like(300, 4, 128)
    build_index(128, "euclidean", np.arange(1200), vectors, "exact").save(tmp_path / "index")
    use_keys(DataKeys((new_key(), data_key), None))  # during a rotation: the old key still reads
    assert len(load_index(tmp_path / "index")) == 1200
    use_keys(DataKeys((new_key(),), None))  # after it: the old key is gone
    with pytest.raises(SnapshotError, match="key"):
        load_index(tmp_path / "index")


def test_a_snapshot_written_unsealed_by_an_older_version_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    folder.mkdir()
    np.save(folder / "vectors.npy", np.zeros((2, 128), dtype=np.float32))
    (folder / "manifest.json").write_text('{"format": 1, "dim": 128, "metric": "euclidean", "kind": "exact"}')
    with pytest.raises(SnapshotError, match="another version"):
        load_index(folder)


def test_an_index_that_outgrows_exact_search_is_rebuilt_from_its_own_vectors() -> None:
    vectors, _ = face_like(300, 4, 128)
    exact = build_index(128, "euclidean", np.arange(1200), vectors, "exact")
    assert needs_rebuild(exact, "ivf") and not needs_rebuild(exact, "auto")
    approximate = rebuilt(exact, "ivf")
    assert isinstance(approximate, IvfIndex) and len(approximate) == 1200
    assert list(approximate.search(vectors[5], 4, 0.55)[0]) == list(exact.search(vectors[5], 4, 0.55)[0])
    back = rebuilt(approximate, "exact")  # vectors read back out of the buckets
    assert isinstance(back, ExactIndex) and np.allclose(
        back.search(vectors[5], 4, 0.55)[1], exact.search(vectors[5], 4, 0.55)[1]
    )


# The gallery: MongoDB is the source of truth, each worker's index follows it.


def add_face(
    db: Database, owner: tuple[str, str], vector: np.ndarray, found: datetime | None = None, plain: bool = False
) -> ObjectId:
    now = datetime.now(UTC)
    photo_id = ObjectId()
    record = {"photo_id": photo_id, "index": 0}  # sealed for this face, as the workers store it
    doc = {
        "photo_id": photo_id,
        "index": 0,
        "owner": {"kind": owner[0], "id": owner[1]},
        "quality": "ok",
        "encoding": vector_to_bytes(vector) if plain else sealed_vector(vector, face_record(record)),
        "created_at": found or now,
        "matchable_since": now,
    }
    return db.faces.insert_one(doc).inserted_id


def new_case(db: Database, contact: str) -> str:
    return create_case(db, contact, {"name": "Ann Example"}, source=f"test:{contact}")


def three_cases_of_four_faces(db: Database) -> tuple[np.ndarray, list[str]]:
    """Three open cases, each with four photos' faces of its own person: (the twelve vectors, the references)."""
    vectors, _ = face_like(3, 4, 128)
    cases = [new_case(db, f"family-{n}") for n in range(3)]
    for row, vector in enumerate(vectors):
        add_face(db, ("case", cases[row // 4]), vector)
    return vectors, cases


def test_closing_a_case_takes_its_faces_out_of_matching_without_a_reload(
    connections: Connections, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = connections.db
    vectors, cases = three_cases_of_four_faces(db)
    gallery = IndexedGallery(db, tmp_path / "index")
    assert [hit.case for hit, _ in gallery.search(vectors[0], BANDS, 5)] == [cases[0]]
    held = gallery.faces.engines["dlib"]
    caplog.clear()
    assert close_case(db, cases[0], by="reviewer")
    assert gallery.search(vectors[0], BANDS, 5) == []
    assert gallery.faces.engines["dlib"] is held and len(gallery) == 8  # the other cases' faces stayed put
    assert "rebuilding" not in caplog.text
    erase_contact(db, "family-1")
    assert gallery.search(vectors[4], BANDS, 5) == [] and len(gallery) == 4
    later = add_face(db, ("case", cases[2]), vectors[8] + 0.001)
    assert [(hit.case, face) for hit, face in gallery.search(vectors[8] + 0.001, BANDS, 5)] == [(cases[2], later)]


def test_a_restart_loads_the_snapshot_and_catches_up(
    connections: Connections, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = connections.db
    vectors, _ = face_like(3, 4, 128)
    cases = [new_case(db, f"family-{n}") for n in range(3)]
    for row, vector in enumerate(vectors[:8]):
        add_face(db, ("case", cases[row // 4]), vector)
    first = IndexedGallery(db, tmp_path / "index")
    first.refresh()  # rebuilt from MongoDB and saved
    close_case(db, cases[0], by="reviewer")  # while no worker runs
    for vector in vectors[8:]:
        add_face(db, ("case", cases[2]), vector)
    caplog.clear()
    caplog.set_level("INFO")
    second = IndexedGallery(db, tmp_path / "index")
    second.refresh()
    assert "loaded from the snapshot" in caplog.text and "rebuilding" not in caplog.text
    assert len(second) == 8
    assert [hit.case for hit, _ in second.search(vectors[9], BANDS, 5)] == [cases[2]]
    assert second.search(vectors[0], BANDS, 5) == []


def test_a_snapshot_cut_short_altered_or_under_a_lost_key_is_rebuilt_from_mongodb(
    connections: Connections, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = connections.db
    vectors, _ = face_like(2, 4, 128)
    case = new_case(db, "family")
    keyring().all_sealed = False  # a database from before the sealing migration, whose plain faces any key reads
    for vector in vectors[:4]:
        add_face(db, ("case", case), vector, plain=True)
    caplog.set_level("INFO")
    for damage in ("cut short", "flip a byte", "lose the key"):
        IndexedGallery(db, tmp_path / "index").refresh()
        path = tmp_path / "index" / "case" / "dlib" / "vectors.npy"
        if damage == "cut short":
            path.write_bytes(b"cut short")
        elif damage == "flip a byte":
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))
        else:
            use_keys(DataKeys((new_key(),), None))
        caplog.clear()
        gallery = IndexedGallery(db, tmp_path / "index")
        assert [hit.case for hit, _ in gallery.search(vectors[1], BANDS, 5)] == [case]
        assert "snapshot not usable" in caplog.text and "rebuilt, 4 faces" in caplog.text, damage


def test_the_sighting_index_holds_only_the_lookback_window(connections: Connections) -> None:
    db = connections.db
    vectors, _ = face_like(2, 4, 128)
    old = add_face(db, ("sighting", "S-OLD"), vectors[0], found=datetime.now(UTC) - timedelta(days=91))
    recent = add_face(db, ("sighting", "S-NEW"), vectors[1])
    sightings = SightingIndex(db, timedelta(days=90))
    assert [face for face, _, _ in sightings.within(vectors[0], 0.55, 10)] == [recent]
    assert old not in {face for face, _, _ in sightings.within(vectors[0], 10.0, 10)}
    erase_contact(db, "nobody")  # removes nothing
    assert len(sightings.within(vectors[4], 0.55, 10)) == 0


def test_a_removal_that_names_no_case_rebuilds_the_index(
    connections: Connections, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An older caller of bump_gallery that does not say which cases went still gets a correct gallery."""
    db = connections.db
    vectors, _ = face_like(2, 4, 128)
    case = new_case(db, "family")
    for vector in vectors[:4]:
        add_face(db, ("case", case), vector)
    gallery = IndexedGallery(db)
    assert len(gallery.search(vectors[0], BANDS, 5)) == 1
    db.cases.update_one({"reference": case}, {"$set": {"status": "closed"}})  # closed behind the log's back
    caplog.set_level("INFO")
    bump_gallery(db)
    assert gallery.search(vectors[0], BANDS, 5) == [] and "rebuilt, 0 faces" in caplog.text


def test_a_worker_loads_its_indexes_at_start_so_the_first_sighting_does_not_wait(
    connections: Connections, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """And an index that cannot load at start-up (MongoDB away) is only logged: the others still load."""
    db = connections.db
    vectors, cases = three_cases_of_four_faces(db)
    add_face(db, ("sighting", "S-NEW"), vectors[0])

    class Unreachable:
        def refresh(self) -> None:
            raise ConnectionError("MongoDB is away")

    gallery, sightings = IndexedGallery(db, tmp_path / "index"), SightingIndex(db, timedelta(days=90))
    caplog.set_level("INFO")
    warm_up([Unreachable(), gallery, sightings]).join(60)
    assert "could not load a face index at start-up (ConnectionError)" in caplog.text
    assert len(gallery) == 12 and len(sightings) == 1  # loaded before any search asked
    caplog.clear()
    assert [hit.case for hit, _ in gallery.search(vectors[5], BANDS, 5)] == [cases[1]]
    assert "rebuilding" not in caplog.text


def test_faces_of_hundreds_of_cases_added_at_once_join_only_for_the_open_cases(connections: Connections) -> None:
    """A re-embed or a bulk import adds faces of many cases in one refresh; a closed case's faces stay out."""
    db = connections.db
    vectors, _ = face_like(300, 1, 128)
    gallery = IndexedGallery(db)
    assert len(gallery) == 0
    references = [f"C-BULK{n:04d}" for n in range(300)]
    db.cases.insert_many(
        [
            {"reference": ref, "source": f"test:{ref}", "status": "closed" if n % 3 == 0 else "open"}
            for n, ref in enumerate(references)
        ]
    )
    for ref, vector in zip(references, vectors, strict=True):
        add_face(db, ("case", ref), vector)
    gallery.refresh()
    assert len(gallery) == 200
    assert [hit.case for hit, _ in gallery.search(vectors[1], BANDS, 5)] == [references[1]]
    assert gallery.search(vectors[3], BANDS, 5) == []  # C-BULK0003 is closed
