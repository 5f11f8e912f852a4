"""Cases for reviewers: a filtered list, and one case with its photos, candidates and history."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from admin.auth import current_user, require
from admin.context import homeward
from core.conversation.answers import describe_place, describe_time
from storage.audit import audit, history
from storage.cases import bump_gallery

blueprint = Blueprint("cases", __name__, url_prefix="/cases")
FILTERS = {"open": {"status": "open"}, "closed": {"status": "closed"}, "pending": {}, "all": {}}


@blueprint.get("/")
@require("viewer")
def index() -> str:
    db = homeward().connections.db
    shown = request.args.get("filter", "open")
    query = dict(FILTERS.get(shown, FILTERS["open"]))
    if shown == "pending":
        query["reference"] = {"$in": db.candidates.distinct("case", {"status": "pending"})}
    rows = list(db.cases.find(query, {"reference": 1, "name": 1, "age": 1, "status": 1, "created_at": 1, "possible_duplicates": 1}).sort("created_at", -1).limit(200))
    pending = {row["_id"]: row["n"] for row in db.candidates.aggregate([{"$match": {"status": "pending"}}, {"$group": {"_id": "$case", "n": {"$sum": 1}}}])}
    return render_template("cases.html", rows=rows, pending=pending, shown=shown)


@blueprint.get("/<reference>")
@require("viewer")
def case(reference: str) -> str:
    db = homeward().connections.db
    found = db.cases.find_one({"reference": reference})
    if found is None:
        abort(404)
    faces = list(db.faces.find({"owner": {"kind": "case", "id": reference}}, {"_id": 1, "quality": 1, "quality_reason": 1}))
    photos = list(db.photos.find({"owner": {"kind": "case", "id": reference}}, {"status": 1, "reason": 1, "face_count": 1, "created_at": 1}))
    candidates = list(db.candidates.find({"case": reference}).sort("distance", 1))
    audit(db, current_user()["username"], "view", f"case:{reference}")  # type: ignore[index]
    targets = [f"case:{reference}"] + [f"candidate:{c['_id']}" for c in candidates]
    return render_template("case.html", case=found, place=describe_place(found.get("place")), time=describe_time(found), faces=faces, photos=photos, candidates=candidates, history=history(db, targets))


@blueprint.post("/<reference>/close")
@require("reviewer")
def close(reference: str) -> Any:
    db = homeward().connections.db
    user = current_user()["username"]  # type: ignore[index]
    result = db.cases.update_one({"reference": reference, "status": "open"}, {"$set": {"status": "closed", "closed_by": user}})
    if result.modified_count:
        bump_gallery(db)
        audit(db, user, "close", f"case:{reference}", request.form.get("reason", "")[:300])
        flash(f"{reference} is closed; its faces no longer take part in matching.")
    return redirect(url_for("cases.case", reference=reference))
