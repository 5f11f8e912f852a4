"""Login, logout and roles: viewer reads, reviewer decides, admin manages users.

A session holds the username and the account's session epoch at login; it
stops working when the account is disabled or its epoch moves on (password
changed, sessions revoked). Failed logins are throttled per address and per
username (admin/throttle.py), and after login the browser goes back only to a
page of this site.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import redis
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from admin import throttle
from admin.context import homeward
from admin.security import on_site
from storage.audit import audit
from storage.connections import Database
from storage.users import ROLES, authenticate, find_user, session_epoch

blueprint = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


def require(role: str) -> Callable[[F], F]:
    """Anonymous visitors go to the login page; a signed-in user below `role` gets 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if ROLES.index(user["role"]) < ROLES.index(role):
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorator


def current_user() -> dict[str, Any] | None:
    """The signed-in account, or None; a session of a disabled account or an old epoch is ended here."""
    if "user" not in g:
        name = session.get("user")
        user = find_user(homeward().connections.db, name) if name else None
        if user is not None and (user.get("disabled") or session.get("epoch") != session_epoch(user)):
            session.clear()
            user = None
        g.user = user
    return g.user  # type: ignore[no-any-return]


def start_session(user: dict[str, Any]) -> None:
    """Sign this browser in as `user`, in a fresh session stamped with the account's epoch."""
    session.clear()
    session["user"] = user["username"]
    session["epoch"] = session_epoch(user)
    session.permanent = True
    g.pop("user", None)


def can(role: str) -> bool:
    user = current_user()
    return bool(user) and ROLES.index(user["role"]) >= ROLES.index(role)  # type: ignore[index]


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        services = homeward()
        db, connection = services.connections.db, services.connections.redis
        name = request.form.get("username", "").strip()[:100]
        address = request.remote_addr or "unknown"
        wait = throttle.wait_seconds(connection, address, name)
        if wait:
            flash(f"Too many failed logins. Try again in {-(-wait // 60)} minute(s).")
            return render_template("login.html"), 429
        user = authenticate(db, name, request.form.get("password", ""))
        if user is None or user.get("disabled"):
            failed_login(db, connection, name, address, "account disabled" if user else "wrong username or password")
            flash("This account is disabled; ask an admin." if user else "Wrong username or password.")
            return render_template("login.html")
        throttle.clear_user(connection, name)
        audit(db, name, "login", f"user:{name}")  # before the session exists: no login goes unrecorded
        start_session(user)
        target = request.args.get("next", "")
        return redirect(target if on_site(target) else url_for("review.dashboard"))
    return render_template("login.html")


def failed_login(db: Database, connection: redis.Redis, username: str, address: str, why: str) -> None:
    """Every failed login passes here once: audited (the address as a note, erasable), and counted by the throttle."""
    audit(db, "(anonymous)", "login failed", f"user:{username[:64]}", f"from {address}: {why}")
    throttle.count_failure(connection, address, username)


@blueprint.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))
