"""The partner API (/api/v1/): organisations' own systems register and follow their found persons with API keys.

`install` mounts it on the web app (admin/app.py): its routes, its request ids, and its errors as
application/problem+json under /api/ (RFC 9457), apart from the panel's HTML pages and CSRF check.
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from api import cases, docs, found, hooks, problems, requests  # noqa: F401 - cases, docs, found, hooks put routes on `blueprint`
from api.routes import blueprint


def install(app: Flask, csrf: CSRFProtect) -> None:
    """Register the API on the app: a key in a header authenticates it, so no CSRF token is asked."""
    app.register_blueprint(blueprint)
    csrf.exempt(blueprint)
    requests.install(app)
    problems.install(app)
