"""The one app factory: builds the Flask app and registers a blueprint per surface."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, Response, jsonify, make_response, request
from flask_wtf.csrf import CSRFProtect

import api
from admin import (
    api_keys,
    appeals,
    auth,
    cases,
    exports,
    found,
    found_import,
    health,
    images,
    jobs,
    media,
    metrics,
    organisations,
    outcomes,
    partner_hooks,
    public_appeals,
    review,
    simulator,
    users,
    webhooks,
)
from admin.context import Homeward
from admin.security import install_headers
from config import Settings, load_settings
from storage.connections import UNREACHABLE, Connections, connect
from storage.users import bootstrap_admin

# Well above the photo limit, so a 40 MB upload still reaches the dialog and gets a polite "too large".
# waitress refuses a larger body before reading it (admin/__main__.py), Flask once it is read.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


def create_app(settings: Settings | None = None, connections: Connections | None = None) -> Flask:
    """Build the web app; tests pass their own settings and connections."""
    settings = settings or load_settings()
    if connections is None:
        if not (settings.mongodb_uri and settings.redis_url):
            raise RuntimeError("create_app needs MONGODB_URI and REDIS_URL, or connections passed in")
        connections = connect(settings.mongodb_uri, settings.mongodb_database, settings.redis_url, settings.data_keys())
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        # The cookie's lifetime; admin/auth.py ends the session at this age whatever the cookie says.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session
    )
    app.extensions["homeward"] = Homeward(settings, connections)
    generated = bootstrap_admin(connections.db, settings.admin_password)
    if generated:
        logging.getLogger(__name__).warning(
            "created the admin account: user admin, password %s (shown once)", generated
        )
    app.before_request(found_import.allow_larger_upload)  # before CSRF's check reads the form
    csrf = CSRFProtect(app)
    csrf.exempt(webhooks.blueprint)  # platforms authenticate by signature instead
    surfaces = (
        health,
        auth,
        review,
        outcomes,
        cases,
        images,
        media,
        users,
        organisations,
        api_keys,
        partner_hooks,
        found,
        found_import,
        appeals,
        public_appeals,
        webhooks,
        simulator,
        metrics,
        jobs,
        exports,
    )
    for surface in surfaces:
        app.register_blueprint(surface.blueprint)
    api.install(app, csrf)
    app.jinja_env.globals.update(current_user=auth.current_user, can=auth.can, home=auth.home)
    install_headers(app, settings)
    for unreachable in UNREACHABLE:
        app.register_error_handler(unreachable, _store_unreachable)
    return app


def _store_unreachable(error: Exception) -> tuple[Response, int]:
    """MongoDB or Redis did not answer: say so and when to try again, instead of a bare 500."""
    logging.getLogger(__name__).warning("a request failed: a store is unreachable (%s)", type(error).__name__)
    message = "The database is unreachable just now; nothing was changed. Try again in a minute."
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/simulator/"):
        return jsonify(error=message), 503
    return make_response(message, 503, {"Retry-After": "60", "Content-Type": "text/plain; charset=utf-8"}), 503
