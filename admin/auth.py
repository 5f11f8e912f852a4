"""Login, logout and roles: registrar keeps its own found persons, viewer reads, reviewer decides, admin manages.

A session holds the username, the account's session epoch at login and when
it started; it stops working when the account is disabled, its epoch moves on
(logout, password changed, sessions revoked) or it is older than
HOMEWARD_SESSION_MAX_HOURS, whatever its activity. Failed password checks are
throttled per (username, address) and per address with growing delays
(admin/throttle.py); a failed login says the same whatever the reason, and
keeps the typed username only as a keyed hash. After login the browser goes
back only to a page of this site.
"""

from __future__ import annotations

import hashlib
import hmac
import time
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
from storage.users import PARTNER_ROLES, ROLES, authenticate, find_user, revoke_sessions, session_epoch

blueprint = Blueprint("auth", __name__)
REFUSED = "Wrong username or password, or the account is disabled. Check both, or ask an admin."
F = TypeVar("F", bound=Callable[..., Any])


def require(role: str) -> Callable[[F], F]:
    """Anonymous visitors go to the login page; a signed-in user below `role` gets 403."""
    return _guard(lambda user: ROLES.index(user["role"]) >= ROLES.index(role))


def require_one_of(*roles: str) -> Callable[[F], F]:
    """Only these roles, whatever their order: a page that is a registrar's work but not every operator's."""
    return _guard(lambda user: user["role"] in roles)


def _guard(allowed: Callable[[dict[str, Any]], bool]) -> Callable[[F], F]:
    """Anonymous visitors go to the login page; a signed-in user `allowed` refuses gets 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if not allowed(user):
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorator


def is_registrar(user: dict[str, Any] | None) -> bool:
    """A partner organisation's account: it sees its own organisation's found persons and nothing of the operator's."""
    return bool(user) and user["role"] in PARTNER_ROLES  # type: ignore[index]


def home() -> str:
    """Where a signed-in user starts: a registrar on their found persons, the operator's people on the overview."""
    return url_for("found.index") if is_registrar(current_user()) else url_for("review.dashboard")


def current_user() -> dict[str, Any] | None:
    """The signed-in account, or None; a session of a disabled account, an old epoch or past its age is ended here."""
    if "user" not in g:
        name = session.get("user")
        user = find_user(homeward().connections.db, name) if name else None
        if user is not None and not _still_valid(user):
            session.clear()
            user = None
        g.user = user
    return g.user  # type: ignore[no-any-return]


def start_session(user: dict[str, Any]) -> None:
    """Sign this browser in as `user`, in a fresh session stamped with the account's epoch."""
    session.clear()
    session["user"] = user["username"]
    session["epoch"] = session_epoch(user)
    session["started"] = int(time.time())
    session.permanent = True
    g.pop("user", None)


def _still_valid(user: dict[str, Any]) -> bool:
    """Enabled, same epoch, and younger than the absolute limit (activity does not extend it)."""
    age = time.time() - float(session.get("started") or 0)
    limit = homeward().settings.session_max_hours * 3600
    return not user.get("disabled") and session.get("epoch") == session_epoch(user) and 0 <= age < limit


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
            flash(f"Too many failed logins. Try again in {throttle.wait_text(wait)}.")
            return render_template("login.html"), 429
        user = authenticate(db, name, request.form.get("password", ""))
        if user is None or user.get("disabled"):
            failed_login(db, connection, name, address, "account disabled" if user else "wrong username or password")
            flash(REFUSED)  # the same whether the password was right: a disabled account confirms nothing
            return render_template("login.html")
        throttle.clear(connection, address, name)
        audit(db, name, "login", f"user:{name}")  # before the session exists: no login goes unrecorded
        start_session(user)
        warn_of_failures(throttle.failures_since_login(connection, name))
        target = request.args.get("next", "")
        # The site's root is the overview, closed to a registrar: anyone sent from it starts on their own home.
        return redirect(target if on_site(target) and target.rstrip("?") != "/" else home())
    return render_template("login.html")


def failed_login(db: Database, connection: redis.Redis, username: str, address: str, why: str) -> None:
    """Every failed login passes here once: audited (the address as a note, erasable), and counted by the throttle."""
    audit(db, "(anonymous)", "login failed", typed_name(username), f"from {address}: {why}")
    throttle.count_failure(connection, address, username)


def typed_name(username: str) -> str:
    """The audit target of a typed username: a keyed hash, as people type passwords into the username field.

    Keyed with the deployment's secret key, so the hash of a short name cannot be looked up in a table elsewhere;
    `typed_name("admin")` computed on the same deployment finds the failures aimed at `admin`.
    """
    key = homeward().settings.secret_key.encode()
    return "typed-user:" + hmac.new(key, username.encode(), hashlib.sha256).hexdigest()[:32]


def warn_of_failures(failures: int) -> None:
    """Tell the owner of a username that someone tried many passwords on it since their last login."""
    if failures >= throttle.BURST:
        flash(
            f"There were {failures} wrong passwords for your username since your last login. If they were not yours, "
            "change your password (Password in the menu) and tell an admin."
        )


@blueprint.post("/logout")
def logout() -> Any:
    """End the session on the server too: the account's epoch moves on, so a copied cookie stops working."""
    user = current_user()
    if user is not None:
        revoke_sessions(homeward().connections.db, user["username"])
    session.clear()
    return redirect(url_for("auth.login"))
