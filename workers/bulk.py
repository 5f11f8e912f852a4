"""Bulk jobs, on their own lane (services/queue.py BULK_QUEUE): an organisation's import uploaded in the panel.

The import itself is the CLI's (services/found_import.py `import_sheet`),
with faces analysed here by this worker's own loaded engine in this one
process: the worker is one of several on the machine, and a pool of its own
would take every core from the others. Its page follows `rows_done` of
`rows_total`, written every few rows. The uploaded files are deleted when it
ends, done or failed: they hold photos of people who cannot consent.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from core.found.archive import PhotoArchive, UnsafeArchive
from core.found.sheet import UnreadableSheet, read_sheet
from services.face_pool import EngineSpec, FaceAnalyser
from services.found_import import import_sheet
from services.queue import IMPORT_ATTEMPTS, Job, runs
from storage.audit import audit
from storage.import_files import delete_files, file_bytes
from storage.imports import (
    end_unfinished,
    finish_import,
    record_progress,
    retry_later,
    start_import,
    unfinished_imports,
)
from storage.sealing import SealError
from workers.context import WorkerContext, current

log = logging.getLogger(__name__)
PROGRESS_ROWS = 10  # the page's progress is written every this many rows ...
PROGRESS_S = 5.0  # ... or this many seconds, whichever comes first
# An import not ended this long after its upload lost its worker (killed, its machine gone): both its runs
# (IMPORT_TIMEOUT_S each) and the wait before the second fit well within it.
ABANDONED_AFTER = timedelta(hours=24)
ABANDONED_BATCH = 100


class ImportRefused(Exception):
    """The files cannot be imported as they are: said on the import's page, never retried."""


@runs(Job.IMPORT_FOUND)
def import_found(import_id: str) -> str:
    """Run one uploaded import to its end; return its status. Run again after it ended, it does nothing."""
    context = current()
    db = context.connections.db
    started = start_import(db, ObjectId(import_id))
    if started is None:
        return "gone"
    try:
        summary = _run(context, started)
    except ImportRefused as refused:
        _end(context, started, None, str(refused))
        return "failed"
    except Exception as exc:
        if started["attempts"] < IMPORT_ATTEMPTS:
            retry_later(db, started["_id"], f"stopped ({type(exc).__name__}); it runs once more within minutes")
        else:
            _end(context, started, None, f"stopped twice ({type(exc).__name__}): upload the files again")
        raise  # RQ retries it (IMPORT_RETRY) or keeps the failure for operators
    _end(context, started, summary)
    return "done"


def end_abandoned_imports(context: WorkerContext, now: datetime) -> int:
    """Mark failed the imports a dead worker left queued or running, and delete their files (the reconciler)."""
    db, ended = context.connections.db, 0
    for record in unfinished_imports(db, now - ABANDONED_AFTER, ABANDONED_BATCH):
        if end_unfinished(db, record["_id"], "it did not finish within a day (its worker stopped): upload it again"):
            delete_files(db, record["files"])
            ended += 1
    return ended


def _run(context: WorkerContext, record: dict[str, Any]) -> dict[str, Any]:
    """The import's summary as the CLI prints it; ImportRefused for files that cannot be read."""
    db = context.connections.db
    csv_data, zip_data = (_file(context, file_id) for file_id in record["files"])
    try:
        sheet, photos = read_sheet(csv_data), PhotoArchive(zip_data)
    except UnreadableSheet as exc:
        raise ImportRefused(f"{record['csv_name']}: {exc}") from None
    except UnsafeArchive as exc:
        raise ImportRefused(f"{record['zip_name']}: {exc}") from None
    # Rows refused while the CSV was read (a bad date, a bad gender) are done already.
    progress = _Progress(context, record["_id"], len(sheet.rows) + len(sheet.rejected), len(sheet.rejected))
    spec = EngineSpec.of(context.settings)
    with FaceAnalyser(spec, 1, lambda: context.engine) as analyser:  # loaded once per process, as the photo jobs use it
        try:
            summary = import_sheet(
                db, context.queue, record["organisation"], sheet, photos, analyser, record["by"],
                record["dry_run"], progress.add,
            )  # fmt: skip
        except UnsafeArchive as exc:  # a member whose header lied about its size
            raise ImportRefused(f"{record['zip_name']}: {exc}") from None
    progress.write()
    return summary.as_dict()


def _file(context: WorkerContext, file_id: ObjectId) -> bytes:
    try:
        data = file_bytes(context.connections.db, file_id)
    except SealError as exc:
        raise ImportRefused(f"the uploaded files can no longer be opened ({exc}): upload them again") from None
    if data is None:
        raise ImportRefused("the uploaded files are gone: upload them again")
    return data


def _end(
    context: WorkerContext, record: dict[str, Any], summary: dict[str, Any] | None, error: str | None = None
) -> None:
    """Record the end, audit it, and delete the uploaded files."""
    db = context.connections.db
    finish_import(db, record["_id"], summary, error)
    if summary is not None and not record["dry_run"]:
        counts = ", ".join(f"{summary[k]} {k}" for k in ("imported", "updated", "unchanged"))
        detail = f"{record['csv_name']}: {counts}, {len(summary['rejected'])} rejected"
        audit(db, record["by"], "import found persons", f"organisation:{record['organisation']}", detail)
    delete_files(db, record["files"])
    log.info("import %s ended: %s", record["_id"], error or "done")


class _Progress:
    """Counts rows as import_sheet finishes them; writes the count now and then, not at every row."""

    def __init__(self, context: WorkerContext, import_id: ObjectId, total: int, done: int) -> None:
        self.db, self.import_id, self.total = context.connections.db, import_id, total
        self.done, self.written_at = done, 0.0
        self.write()

    def add(self, rows: int) -> None:
        self.done += rows
        if self.done % PROGRESS_ROWS == 0 or time.monotonic() - self.written_at > PROGRESS_S:
            self.write()

    def write(self) -> None:
        record_progress(self.db, self.import_id, self.done, self.total)
        self.written_at = time.monotonic()
