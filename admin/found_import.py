"""The bulk import of found persons from the panel: a CSV and a ZIP of photos uploaded, run by a worker.

A registrar imports for its own organisation, an admin of the operator for
the organisation it chooses. The upload is checked at once (the CSV readable,
the ZIP safe), kept sealed until the import ends (storage/import_files.py)
and queued on the bulk lane (workers/bulk.py); its page follows the progress
and then shows the summary, every rejected row with its line and reason. A
registrar asking for another organisation's import gets 404, as for an
unknown one.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from admin.auth import current_user, is_registrar, require_one_of
from admin.context import homeward
from core.found.archive import PhotoArchive, UnsafeArchive
from core.found.sheet import UnreadableSheet, read_sheet
from services.queue import enqueue_found_import
from storage.audit import audit
from storage.import_files import keep_file
from storage.imports import create_import, find_import, list_imports
from storage.organisations import find_organisation, is_operator, list_organisations

blueprint = Blueprint("found_import", __name__, url_prefix="/found/imports")
# The panel's other forms stop at admin/app.py MAX_UPLOAD_BYTES (64 MB): ten photos of one person. A ZIP of an
# organisation's people is larger: 256 MB is ~80 phone photos of 3 MB or ~2 500 of 100 kB. The web process holds
# the upload and its sealed copy in memory once, the worker likewise; larger batches are split, or run with
# `homeward found import` on the server (docs/operators/found-import.md).
IMPORT_UPLOAD_BYTES = 256 * 1024 * 1024
NAME_CHARS = 200  # of an uploaded file's name, kept for the list
TOO_LARGE = (
    f"Nothing was imported: the CSV and the ZIP together are over {IMPORT_UPLOAD_BYTES // (1024 * 1024)} MB. "
    "Split the people into several CSVs, each with a ZIP of its own photos, and upload them one after another."
)
IMPORTERS = ("registrar", "admin")  # a registrar for its organisation, an operator's admin for any partner
REFRESH_S = 5  # how often a page with a queued or running import reloads itself


def allow_larger_upload() -> None:
    """These pages alone take bodies up to IMPORT_UPLOAD_BYTES (Flask 3.1 sets a limit per request), and only from
    those who may import: anyone else's large body is refused before it is parsed, as on every other page.

    admin/app.py runs this before every request, ahead of the CSRF check, which reads the form first.
    """
    user = current_user() if request.blueprint == blueprint.name else None
    if user is not None and user["role"] in IMPORTERS:
        request.max_content_length = IMPORT_UPLOAD_BYTES


@blueprint.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> Any:
    """The form again with what to do, rather than a bare 413 (the CSRF check refuses it before the view)."""
    user = current_user()
    if user is None or user["role"] not in IMPORTERS:
        return TOO_LARGE, 413, {"Content-Type": "text/plain; charset=utf-8"}
    flash(TOO_LARGE)
    return _page(), 413


@blueprint.route("/", methods=["GET", "POST"])
@require_one_of(*IMPORTERS)
def index() -> Any:
    """The upload form and the imports, newest first: a registrar's organisation's; an admin's, every one's."""
    if request.method == "POST":
        return _upload()
    return _page()


@blueprint.get("/<import_id>")
@require_one_of(*IMPORTERS)
def record(import_id: str) -> Any:
    """One import: its progress while it runs, then its summary with every rejected row."""
    db = homeward().connections.db
    found = find_import(db, import_id, organisation=_own_organisation())
    if found is None:
        abort(404)
    organisation = find_organisation(db, found["organisation"])
    rejected = (found.get("summary") or {}).get("rejected", [])
    return render_template(
        "found_import_record.html", item=found, organisation=organisation, rejected=rejected, refresh=_refresh([found])
    )


def _upload() -> Any:
    db, user = homeward().connections.db, _user()
    csv_file, zip_file = request.files.get("csv"), request.files.get("photos")
    organisation = _chosen_organisation()
    if organisation is None:
        flash("Nothing was imported: choose the organisation that holds these people.")
        return _page(), 400
    if not _given(csv_file) or not _given(zip_file):
        flash("Nothing was imported: choose both the CSV of the people and the ZIP of their photos.")
        return _page(), 400
    assert csv_file is not None and zip_file is not None
    csv_data, zip_data = csv_file.read(), zip_file.read()
    problem = _unreadable(csv_data, zip_data, csv_file.filename or "", zip_file.filename or "")
    if problem:
        flash(f"Nothing was imported: {problem}")
        return _page(), 400
    names = {"csv": _name(csv_file), "zip": _name(zip_file)}
    dry_run = request.form.get("dry_run") == "on"
    files = [keep_file(db, names["csv"], csv_data), keep_file(db, names["zip"], zip_data)]
    import_id = create_import(db, organisation, user["username"], names, files, dry_run)
    check = ", check only" if dry_run else ""
    audit(db, user["username"], "upload import", f"import:{import_id}",
          f"organisation {organisation}: {names['csv']} + {names['zip']}{check}")  # fmt: skip
    enqueue_found_import(homeward().queue, str(import_id))
    flash(f"{names['csv']} is queued{' to be checked' if dry_run else ''}; this page follows its progress.")
    return redirect(url_for("found_import.record", import_id=str(import_id)))


def _unreadable(csv_data: bytes, zip_data: bytes, csv_name: str, zip_name: str) -> str | None:
    """What makes the files unusable as a whole, said before anything is kept; None when they can go in."""
    try:
        sheet = read_sheet(csv_data)
        PhotoArchive(zip_data).close()
    except UnreadableSheet as exc:
        return f"{csv_name}: {exc}"
    except UnsafeArchive as exc:
        return f"{zip_name}: {exc}"
    if not sheet.rows and not sheet.rejected:
        return f"{csv_name} has no rows under its header."
    return None


def _page() -> str:
    db = homeward().connections.db
    organisations = {org["_id"]: org for org in list_organisations(db)}
    imports = list_imports(db, organisation=_own_organisation())
    partners = [org for org in organisations.values() if not is_operator(org)]
    return render_template(
        "found_import.html",
        imports=imports,
        organisations=organisations,
        partners=partners,
        limit_mb=IMPORT_UPLOAD_BYTES // (1024 * 1024),
        refresh=_refresh(imports),
    )


def _chosen_organisation() -> ObjectId | None:
    """A registrar's own; the partner organisation an admin chose (never the operator's own)."""
    own = _own_organisation()
    if own is not None:
        return own
    chosen = find_organisation(homeward().connections.db, request.form.get("organisation", ""))
    return None if chosen is None or is_operator(chosen) else chosen["_id"]


def _own_organisation() -> ObjectId | None:
    """The organisation a registrar is confined to; None for the operator's admins, who see every one's."""
    user = _user()
    return user["organisation"] if is_registrar(user) else None


def _refresh(imports: list[dict[str, Any]]) -> int | None:
    return REFRESH_S if any(item["status"] in ("queued", "running") for item in imports) else None


def _given(upload: FileStorage | None) -> bool:
    return upload is not None and bool(upload.filename)


def _name(upload: FileStorage) -> str:
    return (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:NAME_CHARS]


def _user() -> dict[str, Any]:
    return current_user()  # type: ignore[return-value]
