"""Exports, for admins: cases, candidates with their decisions, review timings; CSV or XLSX; audited.

No photos and no phone numbers leave through here: a case is its reference
and name, a candidate its case and sighting references. A cell that a
spreadsheet would run as a formula (=, +, -, @) is exported as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from openpyxl import Workbook

from admin.auth import current_user, require
from admin.context import homeward
from core.faces.calibration import how_sure
from core.times import as_utc
from storage.audit import audit
from storage.connections import Database
from storage.reports import CANDIDATE_EXPORT_FIELDS, CASE_EXPORT_FIELDS, candidates_for_export, cases_for_export

blueprint = Blueprint("exports", __name__, url_prefix="/exports")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cases(db: Database, start: datetime | None, end: datetime | None, status: str | None) -> list[list[Any]]:
    return [
        [c.get("reference"), c.get("name"), c.get("status"), _time(c.get("created_at")), _time(c.get("closed_at"))]
        for c in cases_for_export(db, start, end, status)
    ]


def _candidates(db: Database, start: datetime | None, end: datetime | None, status: str | None) -> list[list[Any]]:
    engine = homeward().settings.face_engine
    return [
        [
            str(c["_id"]), c.get("case"), c.get("sighting"), c.get("band"), c.get("distance"), _sure(c, engine),
            c.get("status"),
            _time(c.get("created_at")), _time(c.get("decided_at")), c.get("decided_by"), c.get("reason"),
            c.get("outcome"), _time(c.get("outcome_at")), c.get("outcome_by"),
        ]
        for c in candidates_for_export(db, start, end, status)
    ]  # fmt: skip


def _sure(candidate: dict[str, Any], engine: str) -> float | None:
    """How sure: the share of candidates this close that were the person in the evaluation (blank if unmeasured),
    from the template's table for a candidate scored by its case's template."""
    distance = candidate.get("distance")
    return None if distance is None else how_sure(engine, distance, bool(candidate.get("template")))


def _timings(db: Database, start: datetime | None, end: datetime | None, status: str | None) -> list[list[Any]]:
    rows = []
    for c in candidates_for_export(db, start, end, status):
        if not (c.get("decided_at") and c.get("created_at")):
            continue  # not decided yet: no timing to report
        waited = (as_utc(c["decided_at"]) - as_utc(c["created_at"])).total_seconds() / 60
        rows.append(
            [str(c["_id"]), c.get("band"), c.get("status"), _time(c["created_at"]), _time(c["decided_at"]),
             round(waited, 1), c.get("decided_by")]
        )  # fmt: skip
    return rows


Rows = Callable[[Database, datetime | None, datetime | None, str | None], list[list[Any]]]
# name: (header, statuses one may filter on, rows)
KINDS: dict[str, tuple[list[str], tuple[str, ...], Rows]] = {
    "cases": (list(CASE_EXPORT_FIELDS), ("open", "closed"), _cases),
    "candidates": (
        ["candidate", *CANDIDATE_EXPORT_FIELDS[:4], "how_sure", *CANDIDATE_EXPORT_FIELDS[4:]],
        ("pending", "approved", "rejected"),
        _candidates,
    ),
    "review-timings": (
        ["candidate", "band", "status", "created_at", "decided_at", "minutes_to_decision", "decided_by"],
        ("approved", "rejected"),
        _timings,
    ),
}
FORMATS = ("csv", "xlsx")


@blueprint.get("/")
@require("admin")
def index() -> str:
    return render_template("exports.html", kinds=KINDS, formats=FORMATS)


@blueprint.get("/<kind>.<fmt>")
@require("admin")
def download(kind: str, fmt: str) -> Any:
    if kind not in KINDS or fmt not in FORMATS:
        abort(404)
    header, statuses, rows_of = KINDS[kind]
    try:
        start, end = _day(request.args.get("from")), _day(request.args.get("to"))
    except ValueError:
        flash("Dates must look like 2026-03-31; nothing was exported.")
        return redirect(url_for("exports.index"))
    status = request.args.get("status") or None
    if status is not None and status not in statuses:
        flash(f"A {kind} export can filter on {', '.join(statuses)}; nothing was exported.")
        return redirect(url_for("exports.index"))
    end = end + timedelta(days=1) if end else None  # "to" is inclusive: the whole of that day
    rows = [[_safe(value) for value in row] for row in rows_of(homeward().connections.db, start, end, status)]
    filters = f"from={request.args.get('from') or '-'} to={request.args.get('to') or '-'} status={status or 'any'}"
    audit(
        homeward().connections.db,
        current_user()["username"],
        "export",
        f"export:{kind}",
        f"{fmt} {filters}, {len(rows)} rows",
    )  # type: ignore[index]
    name = f"homeward-{kind}-{datetime.now(UTC):%Y%m%d-%H%M}.{fmt}"
    if fmt == "csv":
        return _download(_csv(header, rows), "text/csv; charset=utf-8", name)
    return _download(
        _xlsx(kind, header, rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", name
    )


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes spreadsheet programs read UTF-8 names right


def _xlsx(kind: str, header: list[str], rows: list[list[Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(kind[:31])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _download(body: bytes, mimetype: str, name: str) -> Response:
    return Response(body, 200, {"Content-Type": mimetype, "Content-Disposition": f'attachment; filename="{name}"'})


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    day = date.fromisoformat(value.strip())
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _time(moment: datetime | None) -> datetime | None:
    """Times in UTC without a zone: what spreadsheets (and openpyxl) accept."""
    return as_utc(moment).astimezone(UTC).replace(tzinfo=None, microsecond=0) if moment else None
