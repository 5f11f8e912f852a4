"""The bulk import of found persons: a CSV of an organisation's people and their photos, all-or-report.

Each row is checked whole before anything of it is stored (its fields, then
every photo found, readable and showing a usable face), so a bad row leaves
nothing behind and a good one goes in completely: its record, its photos
(kept once by content) with their faces already found and encoded here, and
matching queued for them. The photos are not analysed again by a worker.

Idempotent by organisation and `external_id`: a row whose fields and photos
(by sha256) are already stored is `unchanged` without any face analysis, so
a second run is fast; a changed row updates its record; a new photo is added.
A run cut off mid-way leaves only whole rows, or a record whose photos are
not all stored yet: the next run completes it. The CLI (`homeward found
import`) calls this, and the panel can call the same code.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from bson import ObjectId
from pymongo.database import Database
from rq import Queue

from core.errors import PhotoRejected
from core.faces.analysis import PhotoAnalysis, as_case_photo
from core.found.archive import Limits, PhotoArchive, UnsafeArchive, photo_key
from core.found.sheet import Rejection, Sheet, SheetRow
from services.consistency import reflag_found
from services.face_pool import FaceAnalyser
from services.queue import match_when_owned
from storage.faces import store_faces
from storage.found_persons import (
    KIND,
    create_found_person,
    find_by_sources,
    found_owner,
    import_source,
    update_found_person,
)
from storage.photos import find_photo, finish_analysis, photo_digests, save_photo
from storage.unusable_photos import remember_unusable, unusable_photos


class PhotoSource(Protocol):
    def names(self) -> list[str]: ...

    def read(self, name: str) -> bytes: ...


class RowRejected(Exception):
    """This row cannot go in; the message is its reason in the summary."""

    def __init__(self, reason: str, unusable: tuple[str, str] | None = None) -> None:
        super().__init__(reason)
        self.unusable = unusable  # (sha256, why) of a photo with no usable face: remembered for re-runs


class FolderPhotos:
    """The photos of a folder (and its subfolders); symbolic links are not followed."""

    def __init__(self, root: Path, limits: Limits | None = None) -> None:
        self.root, self.limits = root, limits or Limits()
        files = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
        if len(files) > self.limits.files:
            raise UnsafeArchive(f"more than {self.limits.files} files in {root}: split the photos into several imports")
        self._files = {p.relative_to(root).as_posix(): p for p in files}

    def names(self) -> list[str]:
        return list(self._files)

    def read(self, name: str) -> bytes:
        path = self._files[name]
        if path.stat().st_size > self.limits.file_bytes:
            raise RowRejected(f"photo {name} is over {self.limits.file_bytes // (1024 * 1024)} MB")
        return path.read_bytes()


def open_photos(path: Path) -> PhotoSource:
    """A folder or a ZIP of photos; UnsafeArchive when the ZIP is refused."""
    return FolderPhotos(path) if path.is_dir() else PhotoArchive(path)


class PhotoIndex:
    """Rows name photos by file name, any case, with or without their folder in the ZIP."""

    def __init__(self, source: PhotoSource) -> None:
        self.source = source
        self._by_path: dict[str, str] = {}
        self._by_name: dict[str, list[str]] = {}
        for name in source.names():
            self._by_path[photo_key(name)] = name
            self._by_name.setdefault(PurePosixPath(photo_key(name)).name, []).append(name)

    def find(self, name: str) -> str:
        key = photo_key(name)
        if key in self._by_path:
            return self._by_path[key]
        matches = self._by_name.get(PurePosixPath(key).name, [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise RowRejected(f"photo {name} matches several files ({', '.join(sorted(matches))}): name its folder")
        raise RowRejected(f"photo {name} is not among the photos given")


@dataclass
class Summary:
    encoding: str
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        rejected = sorted(self.rejected, key=lambda r: r.line)
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [r.as_dict() for r in rejected],
            "encoding": self.encoding,
        }


@dataclass(frozen=True)
class CheckedPhoto:
    name: str
    data: bytes
    digest: str
    analysis: Future[PhotoAnalysis] | None  # None: already stored and analysed


@dataclass(frozen=True)
class Plan:
    """One row on its way in: its photos read and their analyses under way, then what storing it does."""

    row: SheetRow
    existing: dict[str, Any] | None
    stored: dict[str, str]  # the record's photos already kept: sha256 -> status
    photos: list[CheckedPhoto]

    @property
    def fields_changed(self) -> bool:
        fields = self.row.record.as_fields()
        return self.existing is not None and any(self.existing.get(k) != v for k, v in fields.items())

    @property
    def action(self) -> str:
        """`imported` (new, or a record an interrupted run left without photos), `updated` or `unchanged`."""
        if self.existing is None or "analysed" not in self.stored.values():
            return "imported"
        new_photos = any(photo.analysis is not None for photo in self.photos)
        return "updated" if self.fields_changed or new_photos else "unchanged"


LOOKUP_BATCH = 500  # rows whose stored records and photos are looked up at once
# Rows read ahead of the one being stored, per analysing process: keeps every process busy, memory bounded.
AHEAD_PER_WORKER = 4


def import_sheet(
    db: Database,
    queue: Queue | None,
    organisation: ObjectId,
    sheet: Sheet,
    photos: PhotoSource,
    analyser: FaceAnalyser,
    by: str,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Check every row, store the good ones (not on a dry run), and report every bad one with its reason.

    Rows are read and their photos sent for analysis a few rows ahead of the one being checked and stored,
    so a pool of processes analyses while this one stores; rows are stored in the file's order.
    """
    index = PhotoIndex(photos)
    summary = Summary(sheet.encoding, rejected=list(sheet.rejected))
    ahead: deque[Plan | Rejection] = deque()
    step = _Step(db, queue, organisation, analyser.spec.name, summary, by, dry_run, progress)
    unusable = unusable_photos(db, organisation, analyser.spec.name)
    for start in range(0, len(sheet.rows), LOOKUP_BATCH):
        rows = sheet.rows[start : start + LOOKUP_BATCH]
        known = _known(db, organisation, rows)
        for row in rows:
            ahead.append(_read_row(row, *known[row.record.external_id], index, analyser, unusable))
            while len(ahead) > AHEAD_PER_WORKER * analyser.workers:
                step.finish(ahead.popleft())
    while ahead:
        step.finish(ahead.popleft())
    return summary


def _known(
    db: Database, organisation: ObjectId, rows: list[SheetRow]
) -> dict[str, tuple[dict[str, Any] | None, dict[str, str]]]:
    """By external_id, each row's record if stored already, and its photos' digests: two queries a batch."""
    sources = {import_source(organisation, row.record.external_id): row.record.external_id for row in rows}
    records = find_by_sources(db, list(sources))
    digests = photo_digests(db, KIND, [found["reference"] for found in records.values()])
    known: dict[str, tuple[dict[str, Any] | None, dict[str, str]]] = dict.fromkeys(sources.values(), (None, {}))
    for source, found in records.items():
        known[sources[source]] = (found, digests[found["reference"]])
    return known


def _read_row(
    row: SheetRow,
    existing: dict[str, Any] | None,
    stored: dict[str, str],
    index: PhotoIndex,
    analyser: FaceAnalyser,
    unusable: dict[str, str],
) -> Plan | Rejection:
    """The row's photos found and read, those not stored yet sent for analysis; a Rejection when one is missing."""
    checked: list[CheckedPhoto] = []
    seen: set[str] = set()
    try:
        for name in row.photos:
            data = index.source.read(index.find(name))
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            if digest in unusable:
                raise RowRejected(f"photo {name} {unusable[digest]}")
            analysis = None if stored.get(digest) == "analysed" else analyser.submit(data)
            checked.append(CheckedPhoto(name, data if analysis else b"", digest, analysis))
    except RowRejected as rejected:
        for photo in checked:
            if photo.analysis is not None:
                photo.analysis.cancel()
        return Rejection(row.line, row.record.external_id, str(rejected))
    return Plan(row, existing, stored, checked)


@dataclass
class _Step:
    """Finishing one row at a time, in the file's order."""

    db: Database
    queue: Queue | None
    organisation: ObjectId
    engine: str
    summary: Summary
    by: str
    dry_run: bool
    progress: Callable[[int], None] | None

    def finish(self, item: Plan | Rejection) -> None:
        """Wait for the row's analyses; store it whole when every photo shows a usable face, else reject it."""
        if self.progress is not None:
            self.progress(1)
        if isinstance(item, Rejection):
            self.summary.rejected.append(item)
            return
        try:
            analyses = [(photo, _usable(photo)) for photo in item.photos]
        except RowRejected as rejected:
            self.summary.rejected.append(Rejection(item.row.line, item.row.record.external_id, str(rejected)))
            if rejected.unusable is not None and not self.dry_run:
                remember_unusable(self.db, self.organisation, self.engine, *rejected.unusable)
            return
        if not self.dry_run:
            store_row(self.db, self.queue, self.organisation, item, analyses, self.by)
        setattr(self.summary, item.action, getattr(self.summary, item.action) + 1)


def _usable(photo: CheckedPhoto) -> PhotoAnalysis | None:
    """The photo's analysis, with the case rule (the person alone); RowRejected when no face is usable."""
    if photo.analysis is None:
        return None
    try:
        analysis = as_case_photo(photo.analysis.result())
    except PhotoRejected as rejected:
        why = f"cannot be read as a photo ({rejected.reason})"
    else:
        if any(face.quality == "ok" for face in analysis.faces):
            return analysis
        why = "shows no face" if not analysis.faces else f"has no usable face ({analysis.faces[0].quality_reason})"
    raise RowRejected(f"photo {photo.name} {why}", (photo.digest, why))


def store_row(
    db: Database,
    queue: Queue | None,
    organisation: ObjectId,
    plan: Plan,
    analyses: list[tuple[CheckedPhoto, PhotoAnalysis | None]],
    by: str,
) -> str:
    """Store a checked row: its record, then each new photo with its faces, then queue its matching."""
    record = plan.row.record
    if plan.existing is None:
        reference = create_found_person(db, organisation, record, import_source(organisation, record.external_id), by)
    else:
        reference = plan.existing["reference"]
        if plan.fields_changed and update_found_person(db, reference, record):
            reflag_found(db, reference)  # a corrected gender, age or date: its pending candidates' flags follow
    for photo, analysis in analyses:
        if analysis is not None:
            _store_photo(db, queue, reference, photo.data, analysis)
    return str(reference)


def _store_photo(db: Database, queue: Queue | None, reference: str, data: bytes, analysis: PhotoAnalysis) -> None:
    """Save the photo already analysed (as the analyse job records it), so no worker analyses it again."""
    owner = found_owner(reference)
    saved = save_photo(db, data, owner)
    # Just stored: pending by construction, no need to read it back (a round trip a row on 10 000 rows).
    photo = (
        {"_id": saved.id, "owner": owner.as_doc(), "status": "pending"} if saved.created else find_photo(db, saved.id)
    )
    if photo is None or photo["status"] != "pending":
        return  # analysed by an earlier run (or erased meanwhile)
    store_faces(db, photo, analysis)
    if finish_analysis(db, saved.id, analysis.photo_fields()) is not None and queue is not None:
        match_when_owned(queue, owner.as_doc(), [saved.id])  # else the reconciler does
