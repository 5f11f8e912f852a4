"""Accounts: admins create, disable and enable them, set passwords, end sessions; anyone changes their own password.

Each change ends the account's sessions through its session epoch (storage/users.py)
and is written to the audit log.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from admin import throttle
from admin.auth import current_user, home, require, start_session
from admin.context import homeward
from storage.audit import audit, audited
from storage.connections import Database
from storage.organisations import find_organisation, is_operator, list_organisations
from storage.users import (
    PARTNER_ROLES,
    ROLES,
    NoSuchUser,
    UserExists,
    authenticate,
    create_user,
    find_user,
    list_users,
    revoke_sessions,
    set_disabled,
    set_password,
)

blueprint = Blueprint("users", __name__, url_prefix="/users")


@blueprint.get("/")
@require("admin")
def index() -> str:
    db = homeward().connections.db
    organisations = list_organisations(db)
    names = {org["_id"]: org["name"] for org in organisations}
    return render_template("users.html", rows=list_users(db), roles=ROLES, organisations=organisations, names=names)


@blueprint.post("/")
@require("admin")
def create() -> Any:
    db = homeward().connections.db
    name, role = request.form.get("username", "").strip(), request.form.get("role", "viewer")
    chosen = find_organisation(db, request.form.get("organisation", "")) if request.form.get("organisation") else None
    detail = role + (f" of {chosen['name']}" if chosen else "")
    if role in PARTNER_ROLES and (chosen is None or is_operator(chosen)):
        flash(f"Nothing created: a {role} belongs to a partner organisation; pick it under Organisation.")
        return redirect(url_for("users.index"))
    try:
        with audited(db, current_user()["username"], "create user", f"user:{name[:64]}", detail):  # type: ignore[index]
            create_user(db, name, request.form.get("password", ""), role, chosen["_id"] if chosen else None)
    except (UserExists, ValueError) as exc:
        flash(f"Nothing created: {exc}.")
    else:
        flash(f"Created {role} {name}" + (f" of {chosen['name']}." if chosen else "."))
    return redirect(url_for("users.index"))


@blueprint.post("/<username>/disable")
@require("admin")
def disable(username: str) -> Any:
    if username == _me():
        flash("You cannot disable your own account; ask another admin.")
        return redirect(url_for("users.index"))
    return _change(username, "disable user", f"Disabled {username}: their sessions have ended.", set_disabled, True)


@blueprint.post("/<username>/enable")
@require("admin")
def enable(username: str) -> Any:
    return _change(username, "enable user", f"Enabled {username}; they can log in again.", set_disabled, False)


@blueprint.post("/<username>/revoke")
@require("admin")
def revoke(username: str) -> Any:
    return _change(username, "revoke sessions", f"Ended every session of {username}.", revoke_sessions)


@blueprint.post("/<username>/password")
@require("admin")
def reset_password(username: str) -> Any:
    message = f"Set a new password for {username}; their sessions have ended."
    return _change(username, "set password", message, set_password, request.form.get("password", ""))


@blueprint.route("/password", methods=["GET", "POST"])
@require("registrar")
def own_password() -> Any:
    """Change your own password: the current one first; your other sessions end, this one goes on.

    The current-password check is throttled like a login, so a borrowed session cannot guess it quickly.
    """
    if request.method == "GET":
        return render_template("password.html")
    services, me = homeward(), _me()
    db, connection, address = services.connections.db, services.connections.redis, request.remote_addr or "unknown"
    new = request.form.get("new_password", "")
    wait = throttle.wait_seconds(connection, address, me)
    if wait:
        flash(f"Too many wrong current passwords; nothing changed. Try again in {throttle.wait_text(wait)}.")
        return render_template("password.html"), 429
    if authenticate(db, me, request.form.get("password", "")) is None:
        audited_failure(db, me, address)
        throttle.count_failure(connection, address, me)
        flash("Your current password is not that one; nothing changed.")
    elif new != request.form.get("confirm", ""):
        flash("The two new passwords differ; nothing changed.")
    else:
        try:
            with audited(db, me, "change own password", f"user:{me}"):
                set_password(db, me, new)
        except ValueError as exc:
            flash(f"Nothing changed: {exc}.")
        else:
            throttle.clear(connection, address, me)
            start_session(find_user(db, me))  # type: ignore[arg-type]
            flash("Password changed. Any other session of yours has ended.")
            return redirect(home())
    return render_template("password.html"), 400


def audited_failure(db: Database, me: str, address: str) -> None:
    """A wrong current password is a failed password check: recorded as a failed login would be."""
    audit(db, me, "password check failed", f"user:{me}", f"from {address}")


def _change(username: str, action: str, done: str, change: Any, *args: Any) -> Any:
    """Apply one change to an account, audit it, and say what happened."""
    db, me = homeward().connections.db, _me()
    try:
        with audited(db, me, action, f"user:{username}"):
            change(db, username, *args)
    except (NoSuchUser, ValueError) as exc:
        flash(f"Nothing changed: {exc}.")
    else:
        if username == me:  # your own other sessions end; this one goes on
            start_session(find_user(db, me))  # type: ignore[arg-type]
        flash(done)
    return redirect(url_for("users.index"))


def _me() -> str:
    return current_user()["username"]  # type: ignore[index]
