"""The approximate face indexes: faiss inverted files (the default at scale) and a usearch HNSW graph.

Both keep `search.vector_index.VectorIndex`'s interface and the conventions
of `search.index_exact` (prepared vectors, squared Euclidean distance).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core import heavy
from search.index_exact import ExactIndex, check_metric, prepare, to_distance
from search.index_snapshots import SnapshotError, SnapshotFiles, open_sealed, save_atomically

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
        check_metric(metric)
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
        faiss = heavy.faiss()

        rows = self._pending.vectors()[1] if vectors is None else prepare(vectors, self.dim, self.metric)
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
        rows = prepare(vectors, self.dim, self.metric)
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
        faiss = heavy.faiss()

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
        query = prepare(vector, self.dim, self.metric)
        _, shortlist = self._fast.search(query, RERANK * k)
        shortlist = shortlist[0][shortlist[0] >= 0]
        squared = ((self._index.reconstruct_batch(shortlist) - query[0]) ** 2).sum(axis=1)
        order = np.argsort(squared, kind="stable")[:k]
        distances = to_distance(squared[order].astype(np.float64), self.metric)
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
        faiss = heavy.faiss()

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
        faiss = heavy.faiss()

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
        faiss = heavy.faiss()

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
        Index = heavy.usearch_index().Index

        check_metric(metric)
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
        self._graph.add(keys, prepare(vectors, self.dim, self.metric), threads=threads)

    def remove(self, keys: Iterable[int]) -> int:
        wanted = np.fromiter((int(k) for k in keys), dtype=np.uint64)
        if len(wanted) == 0:
            return 0
        wanted = wanted[self._graph.contains(wanted)]
        return int(self._graph.remove(wanted)) if len(wanted) else 0

    def search(self, vector: np.ndarray, k: int, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        if len(self) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        found = self._graph.search(prepare(vector, self.dim, self.metric)[0], k, threads=1)
        distances = to_distance(np.asarray(found.distances, dtype=np.float64), self.metric)
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
        Index = heavy.usearch_index().Index

        with open_sealed(directory, manifest, "index.usearch") as sealed:
            graph = Index.restore(sealed.read_whole())  # usearch loads from a path or from memory: one plain copy
        if graph is None:
            raise SnapshotError(f"{directory}: index.usearch is not a usearch index")
        graph.expansion_search = cls.EXPANSION_SEARCH
        return cls(int(manifest["dim"]), str(manifest["metric"]), graph)  # type: ignore[call-overload]
