"""One engine's faces in a vector index, and what each key stands for: face id, owner reference, when found.

The columns beside the index let a worker remove every face of a closed case
(by owner) or every sighting face past the lookback (by date) without asking
MongoDB, and be saved and loaded with the index as one snapshot.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from bson import ObjectId

from search.index_snapshots import SnapshotError, read_extra
from search.vector_index import VectorIndex, load_index


class Faces:
    """One engine's faces in a vector index, and what each key stands for (face id, owner, when found).

    Keys are positions in these columns; a removed face leaves a hole that the next rebuild closes.
    """

    def __init__(self, index: VectorIndex) -> None:
        self.index = index
        self.face_ids: list[bytes | None] = []
        self.owner_codes = np.zeros(0, dtype=np.int32)
        self.found = np.zeros(0, dtype=np.float64)  # seconds since the epoch
        self.owners: list[str] = []  # code -> reference
        self._code_of: dict[str, int] = {}
        self.key_of: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.index)

    def holds(self, face_id: ObjectId) -> bool:
        return face_id.binary in self.key_of

    def add(self, face_ids: list[ObjectId], owners: list[str], found: list[datetime], vectors: np.ndarray) -> None:
        start = len(self.face_ids)
        keys = np.arange(start, start + len(face_ids), dtype=np.int64)
        codes = np.array([self._code(owner) for owner in owners], dtype=np.int32)
        self.face_ids += [face_id.binary for face_id in face_ids]
        self.owner_codes = _grow(self.owner_codes, codes)
        self.found = _grow(self.found, np.array([seconds(moment) for moment in found], dtype=np.float64))
        self.key_of.update(zip((face_id.binary for face_id in face_ids), keys.tolist(), strict=True))
        self.index.add(keys, vectors)

    def remove_owners(self, owners: Iterable[str]) -> int:
        """Take every face of these cases or sightings out of the index; how many went."""
        codes = [code for owner in owners if (code := self._code_of.get(owner)) is not None]
        if not codes:
            return 0
        return self._forget(np.flatnonzero(np.isin(self.owner_codes[: len(self.face_ids)], codes)).tolist())

    def remove_found_before(self, moment: datetime) -> int:
        """Take out the faces found before then (sightings older than the lookback window)."""
        held = len(self.face_ids)
        old = (self.found[:held] < seconds(moment)) & (self.owner_codes[:held] >= 0)
        return self._forget(np.flatnonzero(old).tolist()) if old.any() else 0

    def search(self, vector: np.ndarray, k: int, max_distance: float) -> list[tuple[ObjectId, str, float]]:
        """The k closest faces within max_distance: (face id, owner reference, distance), closest first."""
        keys, found = self.index.search(vector, k, max_distance)
        return [
            (ObjectId(self.face_ids[key]), self.owners[self.owner_codes[key]], float(distance))
            for key, distance in zip(keys.tolist(), found.tolist(), strict=True)
            if self.face_ids[key] is not None
        ]

    def save(self, directory: Path, state: dict[str, Any]) -> None:
        ids = b"".join(face_id or bytes(12) for face_id in self.face_ids)
        extras = {
            "face_ids.bin": ids,
            "owners.npy": _npy(self.owner_codes[: len(self.face_ids)]),
            "found.npy": _npy(self.found[: len(self.face_ids)]),
            "owner_names.json": json.dumps(self.owners).encode(),
            "state.json": json.dumps(state).encode(),
        }
        self.index.save(directory, extras)

    @classmethod
    def load(cls, directory: Path) -> tuple[Faces, dict[str, Any]]:
        """A saved replica and the state it was saved with; SnapshotError when missing or damaged."""
        faces = cls(load_index(directory))
        try:
            ids = read_extra(directory, "face_ids.bin")
            faces.owner_codes = np.load(io.BytesIO(read_extra(directory, "owners.npy")))
            faces.found = np.load(io.BytesIO(read_extra(directory, "found.npy")))
            faces.owners = json.loads(read_extra(directory, "owner_names.json"))
            state = json.loads(read_extra(directory, "state.json"))
        except ValueError as exc:
            raise SnapshotError(f"{directory}: {exc}") from None
        faces._code_of = {owner: code for code, owner in enumerate(faces.owners)}
        face_ids: list[bytes | None] = [ids[i : i + 12] for i in range(0, len(ids), 12)]
        for key in np.flatnonzero(faces.owner_codes < 0).tolist():  # removed ones
            face_ids[key] = None
        faces.face_ids = face_ids
        faces.key_of = dict(zip(face_ids, range(len(face_ids)), strict=True))  # type: ignore[arg-type]
        faces.key_of.pop(None, None)  # type: ignore[call-overload]
        return faces, state

    def _code(self, owner: str) -> int:
        code = self._code_of.get(owner)
        if code is None:
            code = self._code_of[owner] = len(self.owners)
            self.owners.append(owner)
        return code

    def _forget(self, keys: list[int]) -> int:
        for key in keys:
            face_id = self.face_ids[key]
            if face_id is not None:
                self.key_of.pop(face_id, None)
                self.face_ids[key] = None
            self.owner_codes[key] = -1
        return self.index.remove(keys)


def _grow(column: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.concatenate([column, values]) if len(column) else values


def seconds(moment: datetime) -> float:
    """A stored moment as seconds since the epoch (MongoDB hands back naive UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
