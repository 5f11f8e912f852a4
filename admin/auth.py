"""Login, logout and roles: viewer reads, reviewer decides, admin manages users."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from admin.context import homeward
from storage.audit import audit
from storage.users import ROLES, authenticate, find_user

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
    if "user" not in g:
        name = session.get("user")
        g.user = find_user(homeward().connections.db, name) if name else None
    return g.user  # type: ignore[no-any-return]


def can(role: str) -> bool:
    user = current_user()
    return bool(user) and ROLES.index(user["role"]) >= ROLES.index(role)  # type: ignore[index]


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        db = homeward().connections.db
        name = request.form.get("username", "").strip()
        if authenticate(db, name, request.form.get("password", "")):
            audit(db, name, "login", f"user:{name}")
            session.clear()
            session["user"] = name
            session.permanent = True
            target = request.args.get("next", "")
            return redirect(
                target if target.startswith("/") and not target.startswith("//") else url_for("review.dashboard")
            )
        audit(db, "(anonymous)", "login failed", f"user:{name[:64]}", f"from {request.remote_addr or '?'}")
        flash("Wrong username or password.")
    return render_template("login.html")


@blueprint.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))
