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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from bson import ObjectId
from pymongo.database import Database
from rq import Queue

from config import Settings
from core.errors import PhotoRejected
from core.faces.analysis import PhotoAnalysis, analyse_photo, as_case_photo
from core.found.archive import Limits, PhotoArchive, UnsafeArchive, photo_key
from core.found.sheet import Rejection, Sheet, SheetRow
from services.queue import enqueue_matching
from storage.faces import store_faces
from storage.found_persons import (
    create_found_person,
    find_by_source,
    found_owner,
    import_source,
    update_found_person,
)
from storage.photos import find_photo, finish_analysis, photo_digests, save_photo

Analyser = Callable[[bytes], PhotoAnalysis]  # raises PhotoRejected for a file that is no usable image


class PhotoSource(Protocol):
    def names(self) -> list[str]: ...

    def read(self, name: str) -> bytes: ...


class RowRejected(Exception):
    """This row cannot go in; the message is its reason in the summary."""


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
    analysis: PhotoAnalysis | None  # None: already stored and analysed


@dataclass(frozen=True)
class Plan:
    """What storing one checked row does: `imported`, `updated` or `unchanged`."""

    row: SheetRow
    existing: dict[str, Any] | None
    fields_changed: bool
    photos: list[CheckedPhoto]
    action: str


def analyser(settings: Settings, engine: Any) -> Analyser:
    """The face pipeline as the analyse job runs it on a found person's photo (one encoding, as for sightings)."""

    def analyse(data: bytes) -> PhotoAnalysis:
        return analyse_photo(data, settings.max_photo_bytes, settings.max_photo_pixels, 1, engine)

    return analyse


def import_sheet(
    db: Database,
    queue: Queue | None,
    organisation: ObjectId,
    sheet: Sheet,
    photos: PhotoSource,
    analyse: Analyser,
    by: str,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Check every row, store the good ones (not on a dry run), and report every bad one with its reason."""
    index = PhotoIndex(photos)
    summary = Summary(sheet.encoding, rejected=list(sheet.rejected))
    for row in sheet.rows:
        try:
            plan = check_row(db, organisation, row, index, analyse)
        except RowRejected as rejected:
            summary.rejected.append(Rejection(row.line, row.record.external_id, str(rejected)))
        else:
            if not dry_run:
                store_row(db, queue, organisation, plan, by)
            setattr(summary, plan.action, getattr(summary, plan.action) + 1)
        if progress is not None:
            progress(1)
    return summary


def check_row(db: Database, organisation: ObjectId, row: SheetRow, index: PhotoIndex, analyse: Analyser) -> Plan:
    """The row's plan once every photo is found, read and shows a usable face; RowRejected otherwise."""
    existing = find_by_source(db, import_source(organisation, row.record.external_id))
    stored = photo_digests(db, found_owner(existing["reference"])) if existing else {}
    checked: list[CheckedPhoto] = []
    seen: set[str] = set()
    for name in row.photos:
        data = index.source.read(index.find(name))
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        if stored.get(digest) == "analysed":
            checked.append(CheckedPhoto(name, b"", None))
            continue
        checked.append(CheckedPhoto(name, data, _usable(name, data, analyse)))
    fields = row.record.as_fields()
    changed = existing is not None and any(existing.get(key) != value for key, value in fields.items())
    new_photos = any(photo.analysis is not None for photo in checked)
    if existing is None or "analysed" not in stored.values():
        action = "imported"  # new, or a record whose photos an interrupted run did not store
    else:
        action = "updated" if changed or new_photos else "unchanged"
    return Plan(row, existing, changed, checked, action)


def _usable(name: str, data: bytes, analyse: Analyser) -> PhotoAnalysis:
    """The photo's analysis, with the case rule (the person alone); RowRejected when no face is usable."""
    try:
        analysis = as_case_photo(analyse(data))
    except PhotoRejected as rejected:
        raise RowRejected(f"photo {name} cannot be read as a photo ({rejected.reason})") from None
    if not analysis.faces:
        raise RowRejected(f"photo {name} shows no face: send a photo of the person's face")
    if not any(face.quality == "ok" for face in analysis.faces):
        why = analysis.faces[0].quality_reason
        raise RowRejected(f"photo {name} has no usable face ({why})")
    return analysis


def store_row(db: Database, queue: Queue | None, organisation: ObjectId, plan: Plan, by: str) -> str:
    """Store a checked row: its record, then each new photo with its faces, then queue its matching."""
    record = plan.row.record
    if plan.existing is None:
        reference = create_found_person(db, organisation, record, import_source(organisation, record.external_id), by)
    else:
        reference = plan.existing["reference"]
        if plan.fields_changed:
            update_found_person(db, reference, record)
    for photo in plan.photos:
        if photo.analysis is not None:
            _store_photo(db, queue, reference, photo.data, photo.analysis)
    return str(reference)


def _store_photo(db: Database, queue: Queue | None, reference: str, data: bytes, analysis: PhotoAnalysis) -> None:
    """Save the photo already analysed (as the analyse job records it), so no worker analyses it again."""
    saved = save_photo(db, data, found_owner(reference))
    photo = find_photo(db, saved.id)
    if photo is None or photo["status"] != "pending":
        return  # analysed by an earlier run (or erased meanwhile)
    store_faces(db, photo, analysis)
    if finish_analysis(db, saved.id, analysis.photo_fields()) is not None and queue is not None:
        # Queued directly: services.queue.match_when_owned matches only cases' and sightings' photos so far.
        enqueue_matching(queue, str(saved.id))
