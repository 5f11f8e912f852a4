"""API keys for operator admins: make a partner organisation's key (shown once), see every key's last use, revoke.

The same as `homeward api-key` (cli/api_keys.py), and audited the same way. A new key is shown on the page that
answers the creation, never through the session (a flashed message would carry it in the signed cookie).
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from admin.auth import current_user, require
from admin.context import homeward
from cli.api_keys import key_row
from storage.api_keys import SCOPES, InvalidKeyRequest, create_api_key, find_api_key, list_api_keys, revoke_api_key
from storage.audit import audited
from storage.organisations import NoSuchOrganisation, is_operator, list_organisations, require_organisation

blueprint = Blueprint("api_keys", __name__, url_prefix="/api-keys")


@blueprint.get("/")
@require("admin")
def index(new_key: str | None = None, status: int = 200) -> Any:
    db = homeward().connections.db
    organisations = list_organisations(db)
    names = {org["_id"]: org["name"] for org in organisations}
    rows = [key_row(key, names) for key in list_api_keys(db)]
    partners = [org for org in organisations if not is_operator(org)]
    page = render_template("api_keys.html", rows=rows, partners=partners, scopes=SCOPES, new_key=new_key)
    return page, status


@blueprint.post("/")
@require("admin")
def create() -> Any:
    db, me = homeward().connections.db, _me()
    scopes = request.form.getlist("scopes")
    try:
        organisation = require_organisation(db, request.form.get("organisation", ""))
        key_id = ObjectId()
        detail = f"{organisation['_id']} {','.join(scopes)}"
        with audited(db, me, "create api key", f"api-key:{key_id}", detail):
            made = create_api_key(db, organisation["_id"], scopes, me, request.form.get("name", ""), key_id=key_id)
    except (NoSuchOrganisation, InvalidKeyRequest) as exc:
        flash(f"No key made: {exc}.")
        return index(status=400)
    flash(f"Made a key of {organisation['name']}. Copy it now: it is shown only this once.")
    return index(new_key=made.secret)


@blueprint.post("/<key_id>/revoke")
@require("admin")
def revoke(key_id: str) -> Any:
    db = homeward().connections.db
    key = find_api_key(db, key_id)
    if key is None:
        abort(404)
    with audited(db, _me(), "revoke api key", f"api-key:{key['_id']}"):
        revoked = revoke_api_key(db, key["_id"], _me())
    flash(f"Revoked key {key['shown']}…: its next call is refused." if revoked else "That key was already revoked.")
    return redirect(url_for("api_keys.index"))


def _me() -> str:
    return current_user()["username"]  # type: ignore[index]
