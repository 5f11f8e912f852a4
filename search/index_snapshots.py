"""An index on local disk: a folder of sealed files, written beside the old one and swapped in.

Face vectors are biometric data, so every file of a snapshot is sealed with
the data key like the encodings in MongoDB (`storage.sealing`, AES-256-GCM).
A file is a run of envelopes, one per 4 MiB of plain bytes, each with its
own nonce; the snapshot's random id, the file's name, the chunk's number and
whether it is the last are authenticated with it, so a chunk altered,
reordered, dropped, cut off or taken from another file or snapshot is
refused. Files are sealed and opened as a stream (`create` / `open_sealed`
are file-like), so a ~1 GB index is never held twice in memory and never
touches the disk unsealed. The manifest (kind, size, the snapshot's id) is
sealed too.

A crash while saving keeps the previous snapshot; a missing or damaged file,
or one sealed under a key this process no longer has (after `homeward
rotate-key` dropped it), is refused (SnapshotError), and the caller rebuilds
from MongoDB.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from storage.sealing import OVERHEAD, SealError, is_sealed, keyring

SNAPSHOT_FORMAT = 2  # 2: sealed files (1 held them plain, with checksums)
MANIFEST = "manifest.json"
CHUNK_BYTES = 4 << 20  # plain bytes per envelope: small next to the index, big enough to cost nothing per chunk
_FILE_USE = b"index-snapshot-file"
_MANIFEST_USE = b"index-snapshot-manifest"


class SnapshotError(Exception):
    """A saved index that cannot be used (missing, cut short, altered, key lost, of another version): rebuild it."""


class SealedWriter:
    """A file-like sink (`write`) that seals what it is given chunk by chunk into one snapshot file."""

    def __init__(self, path: Path, snapshot: str, name: str, closed: Callable[[int], None]) -> None:
        self._file: BinaryIO = path.open("wb")
        self._use = _chunk_use(snapshot, name)
        self._closed = closed
        self._pending = bytearray()
        self._chunks = 0
        self.size = 0

    def write(self, data: Any) -> int:
        """Take bytes (or any buffer), sealing each chunk once it is full and more follows; how many were taken."""
        view = memoryview(data).cast("B")
        at = 0
        while at < len(view):
            if len(self._pending) == CHUNK_BYTES:  # more follows: not the last chunk
                self._seal(self._pending, last=False)
                self._pending.clear()
            take = min(CHUNK_BYTES - len(self._pending), len(view) - at)
            self._pending += view[at : at + take]
            at += take
        self.size += len(view)
        return len(view)

    def close(self) -> None:
        if self._file.closed:
            return
        self._seal(self._pending, last=True)
        self._pending = bytearray()
        self._file.close()
        self._closed(self.size)

    def __enter__(self) -> SealedWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self._file.close()  # half a file: the staging folder is thrown away

    def _seal(self, plain: Any, last: bool) -> None:
        self._file.write(keyring().seal(plain, self._use(self._chunks, last)))
        self._chunks += 1


class SealedReader:
    """A file-like source (`read`) of one snapshot file's plain bytes, opened chunk by chunk as they are read."""

    def __init__(self, path: Path, snapshot: str, name: str) -> None:
        self._where = f"{path.parent}: {name}"
        try:
            self._file: BinaryIO = path.open("rb")
            sealed = os.fstat(self._file.fileno()).st_size
        except OSError as exc:
            raise SnapshotError(f"{self._where}: {exc.strerror}") from None
        self._sealed_chunk = CHUNK_BYTES + OVERHEAD
        self._chunks = -(-sealed // self._sealed_chunk)  # the last one may be shorter
        if sealed == 0 or sealed - (self._chunks - 1) * self._sealed_chunk < OVERHEAD:
            self._file.close()
            raise SnapshotError(f"{self._where} is cut short or damaged")
        self.size = sealed - self._chunks * OVERHEAD  # plain bytes in all
        self._use = _chunk_use(snapshot, name)
        self._next = 0
        self._plain = b""
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        """Up to `size` plain bytes (all the rest when negative); fewer only at the end."""
        wanted = self.size if size < 0 else size
        parts: list[bytes] = []
        while wanted > 0:
            if self._at == len(self._plain):
                if self._next == self._chunks:
                    break
                self._plain, self._at = self._open_next(), 0
                continue
            part = self._plain[self._at : self._at + wanted]
            self._at += len(part)
            wanted -= len(part)
            parts.append(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_whole(self) -> bytearray:
        """Every plain byte in one buffer (for libraries that load only from memory): the one full copy."""
        whole = bytearray(self.size)
        at = 0
        while self._next < self._chunks:
            chunk = self._open_next()
            whole[at : at + len(chunk)] = chunk
            at += len(chunk)
        return whole

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SealedReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _open_next(self) -> bytes:
        last = self._next == self._chunks - 1
        sealed = self._file.read(self._sealed_chunk)
        if not is_sealed(sealed) or (not last and len(sealed) != self._sealed_chunk):
            raise SnapshotError(f"{self._where} is damaged (chunk {self._next} is not sealed)")
        try:
            plain = keyring().open(sealed, self._use(self._next, last))
        except SealError:  # its message would show the binary place: say it in words
            raise SnapshotError(
                f"{self._where} is damaged (chunk {self._next} of {self._chunks} does not open: altered, moved, "
                "or sealed under a data key this process no longer has)"
            ) from None
        self._next += 1
        return plain


class SnapshotFiles:
    """The staging folder of a snapshot being written: `create(name)` gives a sealed file to write into."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.id = secrets.token_hex(16)
        self.sizes: dict[str, int] = {}

    def create(self, name: str) -> SealedWriter:
        if name == MANIFEST or "/" in name or name in self.sizes:
            raise ValueError(f"snapshot file name {name!r} is taken or not a plain name")
        self.sizes[name] = -1  # known once closed
        return SealedWriter(self.folder / name, self.id, name, lambda size: self.sizes.__setitem__(name, size))


def save_atomically(
    directory: Path,
    dim: int,
    metric: str,
    write: Callable[[SnapshotFiles], dict[str, object]],
    extras: Mapping[str, bytes],
) -> None:
    """Write a fresh sealed folder beside `directory`, then swap it in: a crash keeps the old one.

    `write` puts the index's own files in through `files.create(name)` and returns its manifest fields.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(f"{directory.name}.tmp-{os.getpid()}")
    _remove_tree(staging)
    staging.mkdir(mode=0o700)
    files = SnapshotFiles(staging)
    manifest: dict[str, object] = {"format": SNAPSHOT_FORMAT, "dim": dim, "metric": metric, "id": files.id}
    manifest.update(write(files))
    for name, data in extras.items():
        with files.create(name) as out:
            out.write(data)
    if any(size < 0 for size in files.sizes.values()):
        raise ValueError("a snapshot file was left open")
    manifest["files"] = files.sizes
    (staging / MANIFEST).write_bytes(keyring().seal(json.dumps(manifest).encode(), _MANIFEST_USE))
    old = directory.with_name(f"{directory.name}.old-{os.getpid()}")
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    _remove_tree(old)


def read_manifest(directory: Path, metrics: tuple[str, ...]) -> dict[str, object]:
    """The manifest of a saved index, once it opened and names files that exist; SnapshotError if not usable."""
    manifest = _open_manifest(directory)
    if manifest.get("metric") not in metrics:
        raise SnapshotError(f"{directory}: written by another version")
    for name in manifest.get("files", {}):
        if not (directory / name).is_file():
            raise SnapshotError(f"{directory}: {name} is missing or damaged")
    return manifest


def open_sealed(directory: Path, manifest: Mapping[str, object], name: str) -> SealedReader:
    """One file of a saved index, opened as it is read; its damage shows as SnapshotError while reading."""
    sizes = manifest.get("files", {})
    if not isinstance(sizes, dict) or name not in sizes:
        raise SnapshotError(f"{directory}: {name} is missing or damaged (not in the manifest)")
    reader = SealedReader(directory / name, str(manifest["id"]), name)
    if reader.size != sizes[name]:
        reader.close()
        raise SnapshotError(f"{directory}: {name} is missing or damaged (cut short or grown)")
    return reader


def read_extra(directory: Path, name: str) -> bytes:
    """One of the caller's files saved with an index, whole and opened."""
    with open_sealed(directory, _open_manifest(directory), name) as reader:
        return reader.read()


def _open_manifest(directory: Path) -> dict[str, Any]:
    try:
        sealed = (directory / MANIFEST).read_bytes()
    except OSError as exc:
        raise SnapshotError(f"{directory}: no readable manifest ({exc.strerror})") from None
    if not is_sealed(sealed):
        raise SnapshotError(f"{directory}: written by another version (unsealed)")
    try:
        manifest = json.loads(keyring().open(sealed, _MANIFEST_USE))
    except SealError as exc:
        raise SnapshotError(f"{directory}: the manifest is damaged or under a key this process lacks ({exc})") from None
    except ValueError as exc:
        raise SnapshotError(f"{directory}: the manifest is damaged ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(f"{directory}: written by another version")
    return manifest


def _chunk_use(snapshot: str, name: str) -> Callable[[int, bool], bytes]:
    """What a chunk is for, authenticated with it: this snapshot, this file, this place, last or not."""
    prefix = _FILE_USE + b"\x00" + snapshot.encode() + b"\x00" + name.encode() + b"\x00"
    return lambda number, last: prefix + struct.pack(">Q?", number, last)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for child in path.iterdir():
        child.unlink()
    path.rmdir()
