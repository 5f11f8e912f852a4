"""The one app factory: builds the Flask app and registers a blueprint per surface."""
from __future__ import annotations

import logging

from flask import Flask

from admin import cli, health, home
from admin.context import Homeward
from config import Settings, load_settings
from storage.connections import Connections, connect
from storage.users import bootstrap_admin

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a little above the photo limit, so the limit can answer politely


def create_app(settings: Settings | None = None, connections: Connections | None = None) -> Flask:
    """Build the web app; tests pass their own settings and connections."""
    settings = settings or load_settings()
    if connections is None:
        if not (settings.mongodb_uri and settings.redis_url):
            raise RuntimeError("create_app needs MONGODB_URI and REDIS_URL, or connections passed in")
        connections = connect(settings.mongodb_uri, settings.mongodb_database, settings.redis_url)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES)
    app.extensions["homeward"] = Homeward(settings, connections)
    generated = bootstrap_admin(connections.db, settings.admin_password)
    if generated:
        logging.getLogger(__name__).warning("created the admin account: user admin, password %s (shown once)", generated)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(home.blueprint)
    app.cli.add_command(cli.group)
    return app

