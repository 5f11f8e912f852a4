"""Every call under /api/ carries a request id: the caller's X-Request-Id when it is a sane one, else a new one.

It is echoed in the answer's X-Request-Id and in every problem document, so a partner's log and ours meet.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def install(app: Flask) -> None:
    @app.before_request
    def request_id() -> None:
        if request.path.startswith("/api/"):
            given = request.headers.get("X-Request-Id", "")
            g.request_id = given if SANE_ID.match(given) else uuid.uuid4().hex

    @app.after_request
    def echo(response: Response) -> Response:
        if request.path.startswith("/api/") and "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response
