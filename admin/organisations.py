"""Organisations for operator admins: the partners (shelters, hospitals, police...) and the contacts a family is given.

Each creation and change is in the audit log, as account changes are (admin/users.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from admin.auth import current_user, require
from admin.context import homeward
from storage.audit import audited
from storage.organisations import (
    CONTACT_FIELDS,
    PARTNER_KINDS,
    NoSuchOrganisation,
    OrganisationExists,
    create_organisation,
    find_organisation,
    list_organisations,
    update_organisation,
)

blueprint = Blueprint("organisations", __name__, url_prefix="/organisations")
TEXT_LIMIT = 300  # a name, an address, opening hours: a line or two


@blueprint.get("/")
@require("admin")
def index() -> str:
    rows = list_organisations(homeward().connections.db)
    return render_template("organisations.html", rows=rows, kinds=PARTNER_KINDS, contact_fields=CONTACT_FIELDS)


@blueprint.post("/")
@require("admin")
def create() -> Any:
    db = homeward().connections.db
    name, kind = _text("name"), request.form.get("kind", "")
    contact = {key: _text(key) for key in CONTACT_FIELDS}
    try:
        with audited(db, _me(), "create organisation", f"organisation:{name[:64]}", kind):
            create_organisation(db, name, kind, **contact)
    except (OrganisationExists, ValueError) as exc:
        flash(f"Nothing created: {exc}.")
    else:
        flash(f"Created {kind} {name}. Add its registrars on the Users page.")
    return redirect(url_for("organisations.index"))


@blueprint.post("/<organisation_id>")
@require("admin")
def update(organisation_id: str) -> Any:
    db = homeward().connections.db
    organisation = find_organisation(db, organisation_id)
    if organisation is None:
        abort(404)
    changes = {key: _text(key) for key in ("name", *CONTACT_FIELDS) if key in request.form}
    if request.form.get("kind") and request.form["kind"] != organisation["kind"]:
        changes["kind"] = request.form["kind"]
    if "name" in changes and not changes["name"]:
        flash(f"Nothing changed: {organisation['name']} needs a name.")
        return redirect(url_for("organisations.index"))
    try:
        with audited(db, _me(), "update organisation", f"organisation:{organisation['_id']}", ", ".join(changes)):
            update_organisation(db, organisation["_id"], **changes)
    except (NoSuchOrganisation, OrganisationExists, ValueError) as exc:
        flash(f"Nothing changed: {exc}.")
    else:
        flash(f"Saved {changes.get('name') or organisation['name']}.")
    return redirect(url_for("organisations.index"))


def _text(field: str) -> str:
    return request.form.get(field, "").strip()[:TEXT_LIMIT]


def _me() -> str:
    return current_user()["username"]  # type: ignore[index]
