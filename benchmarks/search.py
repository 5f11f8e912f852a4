"""Face search at national scale: `homeward bench search` or `python -m benchmarks.search`.

Builds the worker's own face index (`search.gallery.Faces` over the index
`HOMEWARD_VECTOR_INDEX` would pick, approximate by default) from synthetic
face-like vectors and prints, per configuration: build time on all cores,
snapshot save and load time (sealed under a throwaway data key, as a
worker's are under the data key), memory, top-10 query p50/p99 on one core,
recall@10 against exact search (all ten neighbours, and the same person's
other photos among them), and the time to remove one case (its 4 faces).

Face-like: identities with 4 noisy samples each, drawn from the between- and
within-person covariances of real dlib encodings of 568 LFW photos of 150
people (`lfw_face_statistics.npz`; refit with `--fit`): the same person is
0.44 apart (median), different people 0.81, as with the real encodings.
512-d cosine vectors spread that 128-d structure over 512 dimensions (a
random orthonormal map plus a little isotropic noise), normalised.

The last lines are one JSON object per configuration.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bson import ObjectId

from config import load_settings
from config.keys import DataKeys, new_key
from core import heavy
from search.index_faces import Faces
from search.vector_index import IvfIndex, make_index
from storage.sealing import use_keys
from workers.matching import PAST_SIGHTINGS_LIMIT

STATISTICS = Path(__file__).with_name("lfw_face_statistics.npz")
SAMPLES = 4  # photos per person
CHUNK = 100_000
REVIEW = 0.55  # MATCH_REVIEW_DISTANCE's default: the neighbours that can become candidates (128-d)


class FaceLike:
    """Vectors of synthetic people, `SAMPLES` per person, with the statistics of real face encodings."""

    def __init__(self, dim: int, seed: int = 0) -> None:
        stats = np.load(STATISTICS)
        self.dim, self.rng = dim, np.random.default_rng(seed)
        self.mean = stats["mean"].astype(np.float64)
        self.between = _factor(stats["between"])
        self.within = _factor(stats["within"])
        self.spread = None
        if dim != len(self.mean):  # a wider engine: the same structure in more dimensions
            basis, _ = np.linalg.qr(np.random.default_rng(seed + 1).normal(size=(dim, len(self.mean))))
            self.spread = basis

    def people(self, count: int) -> np.ndarray:
        return self.mean + self.rng.normal(size=(count, len(self.mean))) @ self.between.T

    def photos(self, centres: np.ndarray, each: int = 1) -> np.ndarray:
        """`each` noisy photos of every person given (rows: person by person)."""
        rows = np.repeat(centres, each, axis=0)
        rows = rows + self.rng.normal(size=rows.shape) @ self.within.T
        if self.spread is None:
            return rows.astype(np.float32)
        wide = rows @ self.spread.T + self.rng.normal(0, 0.01, (len(rows), self.dim))
        return (wide / np.linalg.norm(wide, axis=1, keepdims=True)).astype(np.float32)


def _factor(covariance: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(covariance.astype(np.float64))
    return vectors * np.sqrt(np.clip(values, 0, None))


def measure(
    faces_count: int, dim: int, queries: int, kind: str, probes_list: list[int | None]
) -> list[dict[str, object]]:
    """Build, save and load one index; then search it once per `nprobe` asked (None: the index's own)."""
    metric = "euclidean" if dim == 128 else "cosine"
    generator = FaceLike(dim)
    people = faces_count // SAMPLES
    centres = generator.people(people)
    vectors = np.concatenate(
        [generator.photos(centres[i : i + CHUNK // SAMPLES], SAMPLES) for i in range(0, people, CHUNK // SAMPLES)]
    )
    face_ids = [ObjectId() for _ in range(len(vectors))]
    print(f"{len(vectors):,} faces, {dim}-d {metric}: building ({kind})", flush=True)
    held, timings = _build_save_load(face_ids, vectors, metric, kind)

    asked = generator.rng.choice(people, queries, replace=False)
    probes = generator.photos(centres[asked])  # a new photo of someone in the gallery
    truth = _exact_top10(vectors, probes)
    ids = np.array([face_id.binary for face_id in face_ids])
    common = {"faces": len(vectors), "dim": dim, "metric": metric, "index": type(held.index).__name__} | timings
    results = [common | _search_quality(held, probes, asked, truth, ids, metric, nprobe) for nprobe in probes_list]
    tail = _retroactive_and_removal(held, probes, metric, generator.rng.choice(people, 20, replace=False))
    tail |= {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "queries": queries}
    return [result | tail for result in results]


def _build_save_load(
    face_ids: list[ObjectId], vectors: np.ndarray, metric: str, kind: str
) -> tuple[Faces, dict[str, object]]:
    """The index built from the vectors (two threads), saved as a snapshot and loaded back; the times it took."""
    faiss = heavy.faiss()

    faiss.omp_set_num_threads(2)
    people = len(vectors) // SAMPLES
    cases = [f"C-{person:07d}" for person in range(people) for _ in range(SAMPLES)]
    before = _rss_mb()
    started = time.perf_counter()
    held = Faces(make_index(vectors.shape[1], metric, kind, len(vectors)))
    held.add(face_ids, cases, [_now()] * len(vectors), vectors)
    build_s = time.perf_counter() - started
    memory_mb = _rss_mb() - before
    print(f"  built from vectors in memory in {build_s:.1f} s; memory {memory_mb:.0f} MB more", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        held.save(Path(folder) / "dlib", {"since": "now"})
        save_s = time.perf_counter() - started
        del held
        started = time.perf_counter()
        held, _ = Faces.load(Path(folder) / "dlib")
        load_s = time.perf_counter() - started
    print(f"  snapshot saved in {save_s:.1f} s, loaded in {load_s:.1f} s", flush=True)
    timings = {"build_s": round(build_s, 1), "save_s": round(save_s, 2), "load_s": round(load_s, 2)}
    return held, timings | {"memory_mb": round(memory_mb)}


def _search_quality(
    held: Faces,
    probes: np.ndarray,
    asked: np.ndarray,
    truth: tuple[np.ndarray, np.ndarray],
    ids: np.ndarray,
    metric: str,
    nprobe: int | None,
) -> dict[str, object]:
    """Top-10 of every probe on one core at this `nprobe`: its time and how much of the exact answer it found."""
    faiss = heavy.faiss()

    if nprobe and isinstance(held.index, IvfIndex):
        held.index.nprobe = nprobe
    faiss.omp_set_num_threads(1)  # one core per query, as a worker has
    laps, cpu, answers = [], [], []
    for probe in probes:
        started, started_cpu = time.perf_counter(), time.thread_time()
        answers.append(held.search(probe, 10, np.inf))
        laps.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    faiss.omp_set_num_threads(2)
    recall, same_person, in_band = [], [], []
    for person, rows, squared, answer in zip(asked, *truth, answers, strict=True):
        got = {face_id.binary for face_id, _, _ in answer}
        expected = set(ids[rows].tolist())
        recall.append(len(got & expected) / 10)
        if metric == "euclidean" and (near := set(ids[rows[squared <= REVIEW**2]].tolist())):
            in_band.append(len(near & got) / len(near))
        theirs = set(ids[person * SAMPLES : (person + 1) * SAMPLES].tolist()) & expected
        same_person.append(len(theirs & got) / max(1, len(theirs)))
    result = {
        "nprobe": held.index.nprobe if isinstance(held.index, IvfIndex) else None,
        "p50_ms": round(float(np.percentile(laps, 50)), 2),
        "p99_ms": round(float(np.percentile(laps, 99)), 2),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
        "cpu_p99_ms": round(float(np.percentile(cpu, 99)), 2),
        "recall_at_10": round(float(np.mean(recall)), 4),
        "same_person_recall": round(float(np.mean(same_person)), 4),
        "review_band_recall": round(float(np.mean(in_band)), 4) if in_band else None,
    }
    print(
        f"  nprobe {result['nprobe']}: top-10 on one core p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms "
        f"(CPU time {result['cpu_p50_ms']} / {result['cpu_p99_ms']} ms); recall@10 {result['recall_at_10']}, "
        f"same person {result['same_person_recall']}, within the review band {result['review_band_recall']}",
        flush=True,
    )
    return result


def _retroactive_and_removal(
    held: Faces, probes: np.ndarray, metric: str, removed_people: np.ndarray
) -> dict[str, object]:
    """A new case photo's search of every face within the review band, on one core; then closing cases."""
    faiss = heavy.faiss()

    faiss.omp_set_num_threads(1)
    retro = []  # a new case photo against this many sighting faces: every face within the review band
    for probe in probes[:100]:
        started = time.perf_counter()
        held.search(probe, PAST_SIGHTINGS_LIMIT, REVIEW if metric == "euclidean" else 0.4)
        retro.append((time.perf_counter() - started) * 1000)
    faiss.omp_set_num_threads(2)
    retro_ms = round(float(np.percentile(retro, 50)), 2)
    print(f"  retroactive search of one case face (up to {PAST_SIGHTINGS_LIMIT} within the band): {retro_ms} ms")
    removal = []
    for person in removed_people:
        started = time.perf_counter()
        held.remove_owners([f"C-{person:07d}"])
        removal.append((time.perf_counter() - started) * 1000)
    remove_ms = round(float(np.median(removal)), 2)
    print(f"  remove a case (4 faces): {remove_ms} ms", flush=True)
    return {"remove_ms": remove_ms, "retroactive_ms": retro_ms}


def _exact_top10(vectors: np.ndarray, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The true ten nearest rows of each probe and their squared distances, by brute force in chunks.

    Both metrics rank as Euclidean here (cosine vectors are normalised).
    """
    best = np.zeros((len(probes), 0), dtype=np.int64)
    best_d = np.zeros((len(probes), 0))
    probe_norms = (probes.astype(np.float64) ** 2).sum(1)[:, None]
    step = 20_000
    for start in range(0, len(vectors), step):
        chunk = vectors[start : start + step]
        d = probe_norms + (chunk.astype(np.float64) ** 2).sum(1)[None, :] - 2.0 * (probes @ chunk.T)
        rows = np.concatenate([best, np.broadcast_to(np.arange(start, start + len(chunk)), d.shape)], axis=1)
        all_d = np.concatenate([best_d, d], axis=1)
        keep = np.argpartition(all_d, 9, axis=1)[:, :10]
        best, best_d = np.take_along_axis(rows, keep, 1), np.take_along_axis(all_d, keep, 1)
    order = np.argsort(best_d, axis=1)
    return np.take_along_axis(best, order, 1), np.take_along_axis(best_d, order, 1)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _now() -> object:
    return datetime.now(UTC)


def fit(faces_dir: Path, people: int) -> int:
    """Refit the statistics from real photos: 4 photos each of `people` LFW people with a single face (~5 min)."""
    face_recognition = heavy.face_recognition()

    folders = [p for p in sorted((faces_dir / "lfw").iterdir()) if len(list(p.glob("*.jpg"))) >= SAMPLES]
    np.random.default_rng(0).shuffle(folders)  # type: ignore[arg-type]
    encodings, labels = [], []
    for label, folder in enumerate(folders[:people]):
        for photo in sorted(folder.glob("*.jpg"))[:SAMPLES]:
            image = face_recognition.load_image_file(photo)
            boxes = face_recognition.face_locations(image)
            if len(boxes) == 1:
                encodings.append(face_recognition.face_encodings(image, boxes)[0])
                labels.append(label)
    e, people_of = np.array(encodings, dtype=np.float64), np.array(labels)
    groups = [e[people_of == label] for label in np.unique(people_of)]
    within = np.concatenate([(g - g.mean(0)) * np.sqrt(len(g) / (len(g) - 1)) for g in groups if len(g) > 1])
    within_cov = within.T @ within / len(within)
    means = np.stack([g.mean(0) for g in groups])
    between_cov = np.cov(means.T) - within_cov * np.mean([1 / len(g) for g in groups])
    values, vectors = np.linalg.eigh(between_cov)
    between_cov = (vectors * np.clip(values, 0, None)) @ vectors.T
    np.savez_compressed(
        STATISTICS,
        mean=e.mean(0).astype(np.float32),
        between=between_cov.astype(np.float32),
        within=within_cov.astype(np.float32),
    )
    print(f"fitted from {len(e)} photos of {len(groups)} people into {STATISTICS}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", default="100000,1000000", help="gallery sizes, comma-separated")
    parser.add_argument("--dim", default="128", help="128 (dlib, Euclidean) and/or 512 (cosine), comma-separated")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--index", default="ivf", choices=("auto", "exact", "ivf", "hnsw"))
    parser.add_argument(
        "--nprobe", default="", help="buckets visited per search, comma-separated (default: the index's own)"
    )
    parser.add_argument("--fit", action="store_true", help="refit the face statistics from HOMEWARD_FACES_DIR")
    args = parser.parse_args(argv)
    if args.fit:
        return fit(load_settings().faces_dir, 150)
    probes: list[int | None] = [int(n) for n in args.nprobe.split(",") if n] or [None]
    use_keys(DataKeys((new_key(),), None))  # the snapshots are sealed: under a key of this run, not the data dir's
    results = [
        result
        for dim in args.dim.split(",")
        for faces in args.faces.split(",")
        for result in measure(int(faces), int(dim), args.queries, args.index, probes)
    ]
    for result in results:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
