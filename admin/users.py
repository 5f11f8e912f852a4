"""Accounts, for admins: who can see and decide."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from admin.auth import current_user, require
from admin.context import homeward
from storage.audit import audited
from storage.users import ROLES, UserExists, create_user, list_users

blueprint = Blueprint("users", __name__, url_prefix="/users")


@blueprint.get("/")
@require("admin")
def index() -> str:
    rows = list_users(homeward().connections.db)
    return render_template("users.html", rows=rows, roles=ROLES)


@blueprint.post("/")
@require("admin")
def create() -> Any:
    db = homeward().connections.db
    name, role = request.form.get("username", "").strip(), request.form.get("role", "viewer")
    try:
        with audited(db, current_user()["username"], "create user", f"user:{name[:64]}", role):  # type: ignore[index]
            create_user(db, name, request.form.get("password", ""), role)
    except (UserExists, ValueError) as exc:
        flash(str(exc))
    else:
        flash(f"Created {role} {name}.")
    return redirect(url_for("users.index"))
