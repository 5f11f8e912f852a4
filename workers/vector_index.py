"""Nearest-face search behind one small interface: an exact index for small galleries, an approximate one at scale.

Both hold vectors under integer keys chosen by the caller (add, remove by
key, search the k closest within a distance, save and load). `ExactIndex`
is numpy brute force and gives today's distances to the last digit;
`IvfIndex` is faiss inverted files (vectors bucketed around k-means
centroids; a search visits the `nprobe` closest buckets' compact 4-bit codes
and re-ranks the best with the exact vectors): a million faces build in
about a minute, a search takes ~3 ms of one core at 99 % recall;
`HnswIndex` is a usearch HNSW graph: ~1-3 ms per search, but building a
million takes many minutes. `make_index` picks one by size or by setting.
Another implementation (e.g. MongoDB Atlas `$vectorSearch`) fits the same
interface.

Metrics: "euclidean" (dlib's 128-d encodings) and "cosine" (distance
1 - cos, for L2-normalised 512-d engines). Cosine vectors are normalised on
the way in, where Euclidean order equals cosine order, so both indexes work
in squared Euclidean distance internally.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from workers.index_snapshots import SnapshotError, SnapshotFiles, open_sealed, read_manifest, save_atomically

METRICS = ("euclidean", "cosine")
KINDS = ("auto", "exact", "ivf", "hnsw")
# Below this many vectors `auto` searches exactly: brute force is then ~2 ms and an IVF index needs data to train on.
APPROXIMATE_FROM = 50_000
# Buckets visited per search, as a share of all buckets (at least MIN_PROBES). Face vectors are not
# clustered enough for less: on LFW-like vectors at a million (4 096 buckets), 1/8 finds 97 % of the exact
# top 10, 1/4 over 99 % (`homeward bench search`); a missed neighbour is a missed candidate.
PROBE_SHARE = 1 / 4
MIN_PROBES = 16
# An approximate index learns its buckets once it holds this many vectors (searched exactly until then) ...
TRAIN_FROM = 1_000
# Vectors per bucket the buckets and codes are learnt from (a sample: k-means on all would take minutes).
TRAIN_PER_BUCKET = 64
# Compact-code neighbours re-ranked exactly per neighbour asked for: 16 x 10 keeps 99 % of the exact top 10.
RERANK = 16
# ... and again, from the vectors it holds, once it has grown this many times past what it learnt from.
RETRAIN_GROWTH = 4


class VectorIndex(Protocol):
    dim: int
    metric: str

    def __len__(self) -> int: ...

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, keys: Iterable[int]) -> int: ...

    def search(self, vector: np.ndarray, k: int, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        """The keys of the k closest vectors at most max_distance away, closest first, and their distances."""
        ...

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every key held and its vector (as stored: normalised for cosine): what a rebuild starts from."""
        ...

    def save(self, directory: Path, extras: Mapping[str, bytes] | None = None) -> None:
        """Write the index (and the caller's `extras` files beside it) into `directory`, replacing it whole."""
        ...


def make_index(dim: int, metric: str, kind: str = "auto", expected: int = 0) -> VectorIndex:
    """An empty index of that kind; `auto`: exact for few vectors, IVF (quick to build) for `expected` many."""
    if kind not in KINDS:
        raise ValueError(f"index kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "hnsw":
        return HnswIndex(dim, metric)
    if kind == "ivf" or (kind == "auto" and expected >= APPROXIMATE_FROM):
        return IvfIndex(dim, metric)
    return ExactIndex(dim, metric)


def build_index(dim: int, metric: str, keys: np.ndarray, vectors: np.ndarray, kind: str = "auto") -> VectorIndex:
    """An index holding these vectors (an approximate one learns its buckets from them first)."""
    index = make_index(dim, metric, kind, len(keys))
    if isinstance(index, IvfIndex):
        index.train(vectors)
    index.add(keys, vectors)
    return index


def needs_rebuild(index: VectorIndex, kind: str = "auto") -> bool:
    """Whether the index no longer suits its size: `auto` grown past exact search, or buckets learnt from far fewer."""
    if kind == "hnsw" or isinstance(index, HnswIndex):
        return not (kind == "hnsw" and isinstance(index, HnswIndex))  # a graph grows without relearning
    if isinstance(index, ExactIndex):
        return kind == "ivf" or (kind == "auto" and len(index) >= APPROXIMATE_FROM)
    if isinstance(index, IvfIndex):
        return kind == "exact" or (index.trained and len(index) > RETRAIN_GROWTH * max(index.trained_on, TRAIN_FROM))
    return False


def rebuilt(index: VectorIndex, kind: str = "auto") -> VectorIndex:
    """The same vectors in a fresh index fit for their number (no database read)."""
    keys, vectors = index.vectors()
    return build_index(index.dim, index.metric, keys, vectors, kind)


def load_index(directory: Path) -> VectorIndex:
    """The index saved in `directory`; SnapshotError when it is missing or damaged."""
    manifest = read_manifest(directory, METRICS)
    kind = manifest.get("kind")
    if kind == "exact":
        return ExactIndex.load(directory, manifest)
    if kind == "ivf":
        return IvfIndex.load(directory, manifest)
    if kind == "hnsw":
        return HnswIndex.load(directory, manifest)
    raise SnapshotError(f"{directory}: unknown index kind {kind!r}")


def _prepare(vectors: np.ndarray, dim: int, metric: str) -> np.ndarray:
    rows = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dim))
    if metric == "cosine":
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        rows = rows / np.where(norms == 0, 1, norms)
    return rows


def _to_distance(squared: np.ndarray, metric: str) -> np.ndarray:
    """Squared Euclidean distance (of normalised vectors, for cosine) in the metric's own scale."""
    squared = np.maximum(squared, 0.0)
    return squared / 2.0 if metric == "cosine" else np.sqrt(squared)


def _squared_radius(max_distance: float, metric: str) -> float:
    return 2.0 * max_distance if metric == "cosine" else max_distance * max_distance


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")


class ExactIndex:
    """Every vector compared on every search: exact, and fast enough below ~50 000 vectors.

    Rows live in a matrix that grows by doubling; a removed row is filled by
    the last one, so removal costs nothing per remaining vector.
    """

    def __init__(self, dim: int, metric: str) -> None:
        _check_metric(metric)
        self.dim, self.metric = dim, metric
        self._rows = np.zeros((0, dim), dtype=np.float32)
        self._keys = np.zeros(0, dtype=np.int64)
        self._norms = np.zeros(0, dtype=np.float32)  # squared length of each row, kept to save a pass per search
        self._size = 0
        self._row_of: dict[int, int] = {}

    def __len__(self) -> int:
        return self._size

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        rows = _prepare(vectors, self.dim, self.metric)
        self.remove(int(k) for k in keys if int(k) in self._row_of)  # adding a key again replaces its vector
        needed = self._size + len(keys)
        if needed > len(self._rows):
            capacity = max(needed, 2 * len(self._rows), 64)
            self._rows = np.resize(self._rows, (capacity, self.dim))
            self._keys = np.resize(self._keys, capacity)
            self._norms = np.resize(self._norms, capacity)
        self._rows[self._size : needed] = rows
        self._keys[self._size : needed] = keys
        self._norms[self._size : needed] = (rows * rows).sum(1)
        self._row_of.update((int(k), self._size + i) for i, k in enumerate(keys))
        self._size = needed

    def remove(self, keys: Iterable[int]) -> int:
        removed = 0
        for key in keys:
            row = self._row_of.pop(int(key), None)
            if row is None:
                continue
            last = self._size - 1
            if row != last:
                self._rows[row] = self._rows[last]
                self._keys[row] = self._keys[last]
                self._norms[row] = self._norms[last]
                self._row_of[int(self._keys[row])] = row
            self._size = last
            removed += 1
        return removed

    def search(self, vector: np.ndarray, k: int, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        if self._size == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        query = _prepare(vector, self.dim, self.metric)[0]
        rows = self._rows[: self._size]
        # Screen in float32, then score the few kept rows in float64 as core.faces.matching does.
        screen = self._norms[: self._size] - 2.0 * (rows @ query) + float(query @ query)
        slack = 1e-3 + 1e-3 * _squared_radius(max_distance, self.metric)
        near = np.flatnonzero(screen <= _squared_radius(max_distance, self.metric) + slack)
        if len(near) > 4 * k:  # a margin of rows, so float32 rounding cannot drop one of the true k closest
            near = near[np.argpartition(screen[near], 4 * k - 1)[: 4 * k]]
        exact = rows[near].astype(np.float64) - query.astype(np.float64)
        found = _to_distance((exact * exact).sum(1), self.metric)
        keep = found <= max_distance
        near, found = near[keep], found[keep]
        order = np.argsort(found, kind="stable")[:k]
        return self._keys[near[order]].copy(), found[order]

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        return self._keys[: self._size].copy(), self._rows[: self._size].copy()

    def save(self, directory: Path, extras: Mapping[str, bytes] | None = None) -> None:
        def write(files: SnapshotFiles) -> dict[str, object]:
            for name, column in (("vectors.npy", self._rows), ("keys.npy", self._keys)):
                with files.create(name) as out:
                    np.save(out, column[: self._size])
            return {"kind": "exact"}

        save_atomically(directory, self.dim, self.metric, write, extras or {})

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, object]) -> ExactIndex:
        index = cls(int(manifest["dim"]), str(manifest["metric"]))  # type: ignore[call-overload]
        try:
            with open_sealed(directory, manifest, "vectors.npy") as sealed:
                rows = np.lib.format.read_array(sealed, allow_pickle=False)
            with open_sealed(directory, manifest, "keys.npy") as sealed:
                keys = np.lib.format.read_array(sealed, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"{directory}: {exc}") from None
        index._rows, index._keys, index._size = rows, keys, len(keys)
        index._norms = (rows * rows).sum(1)
        index._row_of = {int(k): i for i, k in enumerate(keys)}
        return index


class IvfIndex:
    """Two faiss IVF indexes over the same k-means buckets: a compact one to search, a full one to re-rank.

    A search scans the `nprobe` closest buckets of 4-bit product-quantised
    codes (`IndexIVFPQFastScan`: dim/2 bytes a face, SIMD-scanned), takes the
    `RERANK` x k closest by those approximate distances, and orders them by
    the exact vectors kept in an IVF-Flat index (float16 above 128-d) with a
    hash table from key to slot. The full index also answers `vectors()` and
    removal in O(1); the compact one is scanned for removals (~10 ms at a
    million).
    """

    def __init__(self, dim: int, metric: str) -> None:
        _check_metric(metric)
        self.dim, self.metric = dim, metric
        self._index: Any = None  # the full faiss.IndexIVF once trained: exact vectors by key
        self._fast: Any = None  # the compact faiss.IndexIVFPQFastScan searched first
        self._pending = ExactIndex(dim, metric)  # what was added before training: searched exactly
        self.trained_on = 0

    def __len__(self) -> int:
        return len(self._pending) if self._index is None else int(self._index.ntotal)

    @property
    def trained(self) -> bool:
        return self._index is not None

    def train(self, vectors: np.ndarray | None = None) -> None:
        """Learn the buckets (4·√n) and the codes from a sample of these vectors, or of those held so far."""
        import faiss  # noqa: PLC0415 - only workers with a large gallery pay for loading it

        rows = self._pending.vectors()[1] if vectors is None else _prepare(vectors, self.dim, self.metric)
        lists = int(min(65_536, max(16, 4 * np.sqrt(max(len(rows), 1)))))
        lists = min(lists, max(1, len(rows) // 39))  # faiss wants ~39 training vectors per bucket
        sample = rows
        if len(rows) > TRAIN_PER_BUCKET * lists:
            sample = rows[np.random.default_rng(0).choice(len(rows), TRAIN_PER_BUCKET * lists, replace=False)]
        quantizer = faiss.IndexFlatL2(self.dim)
        if self.dim <= 128:
            index = faiss.IndexIVFFlat(quantizer, self.dim, lists)
        else:
            index = faiss.IndexIVFScalarQuantizer(quantizer, self.dim, lists, faiss.ScalarQuantizer.QT_fp16)
        index.own_fields = True
        quantizer.this.disown()  # the index owns and frees its quantizer
        index.cp.niter = 10  # k-means rounds: the buckets only steer the search, the re-ranking is exact
        index.train(sample)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        buckets = faiss.clone_index(index.quantizer)
        fast = faiss.IndexIVFPQFastScan(buckets, self.dim, lists, self.dim // 2, 4)
        fast.own_fields = True
        buckets.this.disown()
        fast.train(sample)  # the buckets are learnt already: this learns the codes
        self._index, self._fast, self.trained_on = index, fast, len(rows)
        self.nprobe = max(MIN_PROBES, int(lists * PROBE_SHARE))
        pending, self._pending = self._pending, ExactIndex(self.dim, self.metric)
        if len(pending):
            self.add(*pending.vectors())

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        rows = _prepare(vectors, self.dim, self.metric)
        if self._index is None:
            if len(self._pending) + len(keys) < TRAIN_FROM:
                self._pending.add(keys, rows)
                return
            held_keys, held_rows = self._pending.vectors()
            keys, rows = np.concatenate([held_keys, keys]), np.concatenate([held_rows, rows])
            self._pending = ExactIndex(self.dim, self.metric)
            self.train(rows)
        if self._index.ntotal:
            self.remove(keys.tolist())  # adding a key again replaces its vector
        self._index.add_with_ids(rows, keys)
        self._fast.add_with_ids(rows, keys)

    def remove(self, keys: Iterable[int]) -> int:
        import faiss  # noqa: PLC0415

        wanted = np.fromiter((int(k) for k in keys), dtype=np.int64)
        if len(wanted) == 0:
            return 0
        if self._index is None:
            return self._pending.remove(wanted.tolist())
        removed = int(self._index.remove_ids(faiss.IDSelectorArray(len(wanted), faiss.swig_ptr(wanted))))
        if removed:  # held: the compact index has them too (and is scanned for them, so only then)
            self._fast.remove_ids(faiss.IDSelectorBatch(len(wanted), faiss.swig_ptr(wanted)))
        return removed

    def search(self, vector: np.ndarray, k: int, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        if len(self) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        if self._index is None:
            return self._pending.search(vector, k, max_distance)
        query = _prepare(vector, self.dim, self.metric)
        _, shortlist = self._fast.search(query, RERANK * k)
        shortlist = shortlist[0][shortlist[0] >= 0]
        squared = ((self._index.reconstruct_batch(shortlist) - query[0]) ** 2).sum(axis=1)
        order = np.argsort(squared, kind="stable")[:k]
        distances = _to_distance(squared[order].astype(np.float64), self.metric)
        keep = distances <= max_distance
        return shortlist[order][keep], distances[keep]

    @property
    def nprobe(self) -> int:
        return int(self._index.nprobe) if self._index is not None else 0

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self._index is not None:
            self._index.nprobe = self._fast.nprobe = value

    def save(self, directory: Path, extras: Mapping[str, bytes] | None = None) -> None:
        import faiss  # noqa: PLC0415

        if self._index is None:
            self._pending.save(directory, extras)  # too few to learn buckets from: saved as they are
            return

        def write(files: SnapshotFiles) -> dict[str, object]:
            for name, index in (("index.faiss", self._index), ("fast.faiss", self._fast)):
                with files.create(name) as out:  # streamed through the seal: no plain copy in memory or on disk
                    faiss.write_index(index, faiss.PyCallbackIOWriter(out.write))
            return {"kind": "ivf", "trained_on": self.trained_on}

        save_atomically(directory, self.dim, self.metric, write, extras or {})

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, object]) -> IvfIndex:
        import faiss  # noqa: PLC0415

        index = cls(int(manifest["dim"]), str(manifest["metric"]))  # type: ignore[call-overload]
        try:
            with open_sealed(directory, manifest, "index.faiss") as sealed:
                index._index = faiss.read_index(faiss.PyCallbackIOReader(sealed.read))
            with open_sealed(directory, manifest, "fast.faiss") as sealed:
                index._fast = faiss.read_index(faiss.PyCallbackIOReader(sealed.read))
        except RuntimeError as exc:
            raise SnapshotError(f"{directory}: {exc}") from None
        index.trained_on = int(manifest.get("trained_on", 0))  # type: ignore[call-overload]
        return index

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Read back from the buckets (no copy kept elsewhere): float32 rows, or float16 ones widened."""
        import faiss  # noqa: PLC0415

        if self._index is None:
            return self._pending.vectors()
        lists = self._index.invlists
        stored = np.float32 if isinstance(self._index, faiss.IndexIVFFlat) else np.float16
        keys, rows = [], []
        for bucket in range(self._index.nlist):
            size = lists.list_size(bucket)
            if size:
                keys.append(faiss.rev_swig_ptr(lists.get_ids(bucket), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(bucket), size * lists.code_size).copy()
                rows.append(codes.view(stored).reshape(size, self.dim).astype(np.float32))
        if not keys:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(keys), np.concatenate(rows)


class HnswIndex:
    """A usearch HNSW graph: each search walks a few hundred neighbours of neighbours, ~1-3 ms at a million.

    Removal marks the vector deleted in place. Building is the cost: every
    vector is linked into the graph (~12 min per million 128-d on 2 cores).
    """

    CONNECTIVITY = 16
    EXPANSION_ADD = 64
    EXPANSION_SEARCH = 256  # candidates kept while searching: 99 % recall@10 on LFW-like vectors

    def __init__(self, dim: int, metric: str, graph: Any = None) -> None:
        from usearch.index import Index  # noqa: PLC0415 - only workers that ask for it load it

        _check_metric(metric)
        self.dim, self.metric = dim, metric
        self._graph = graph or Index(
            ndim=dim,
            metric="l2sq",
            dtype="f32" if dim <= 128 else "f16",
            connectivity=self.CONNECTIVITY,
            expansion_add=self.EXPANSION_ADD,
            expansion_search=self.EXPANSION_SEARCH,
        )

    def __len__(self) -> int:
        return len(self._graph)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if len(self._graph):
            self.remove(keys[self._graph.contains(keys)].tolist())  # adding a key again replaces its vector
        # Linking in parallel is only for big builds: on small graphs it left a few faces badly linked (unfound).
        threads = (os.cpu_count() or 1) if len(keys) >= APPROXIMATE_FROM else 1
        self._graph.add(keys, _prepare(vectors, self.dim, self.metric), threads=threads)

    def remove(self, keys: Iterable[int]) -> int:
        wanted = np.fromiter((int(k) for k in keys), dtype=np.uint64)
        if len(wanted) == 0:
            return 0
        wanted = wanted[self._graph.contains(wanted)]
        return int(self._graph.remove(wanted)) if len(wanted) else 0

    def search(self, vector: np.ndarray, k: int, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        if len(self) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        found = self._graph.search(_prepare(vector, self.dim, self.metric)[0], k, threads=1)
        distances = _to_distance(np.asarray(found.distances, dtype=np.float64), self.metric)
        keep = distances <= max_distance
        return np.asarray(found.keys, dtype=np.int64)[keep], distances[keep]

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        keys = np.fromiter(self._graph.keys, dtype=np.uint64, count=len(self._graph))
        if len(keys) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float32)
        return keys.astype(np.int64), np.vstack(self._graph.get(keys, dtype=np.float32)).astype(np.float32)

    def save(self, directory: Path, extras: Mapping[str, bytes] | None = None) -> None:
        def write(files: SnapshotFiles) -> dict[str, object]:
            with files.create("index.usearch") as out:  # usearch saves to a path or to memory: one plain copy
                out.write(self._graph.save())
            return {"kind": "hnsw"}

        save_atomically(directory, self.dim, self.metric, write, extras or {})

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, object]) -> HnswIndex:
        from usearch.index import Index  # noqa: PLC0415

        with open_sealed(directory, manifest, "index.usearch") as sealed:
            graph = Index.restore(sealed.read_whole())  # usearch loads from a path or from memory: one plain copy
        if graph is None:
            raise SnapshotError(f"{directory}: index.usearch is not a usearch index")
        graph.expansion_search = cls.EXPANSION_SEARCH
        return cls(int(manifest["dim"]), str(manifest["metric"]), graph)  # type: ignore[call-overload]
