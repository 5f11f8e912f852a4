"""The web process: `python -m admin`, served by waitress."""

from __future__ import annotations

import sys

from waitress import serve

from admin.app import MAX_UPLOAD_BYTES, create_app
from admin.found_import import IMPORT_UPLOAD_BYTES
from config.process import start_process
from infra.services import backing_services
from services import trace
from storage.connections import connect

# A body over twice the largest upload a route takes (the import's) is refused by waitress before it is read (its
# default is 1 GiB); one over a route's own limit by Flask, from its Content-Length, before it is parsed, so an
# import a little too large gets the form back saying what to do, not waitress's bare 413.
# waitress refuses max_request_body_size bytes or more, hence one byte above the limit.
BODY_LIMIT = 2 * max(MAX_UPLOAD_BYTES, IMPORT_UPLOAD_BYTES)
SERVE_OPTIONS = {"threads": 8, "ident": "homeward", "max_request_body_size": BODY_LIMIT + 1}


def main() -> int:
    settings = start_process("web")
    trace.start(settings.trace_path, "web")
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
        app = create_app(settings, connections)
        serve(app, host=settings.host, port=settings.port, **SERVE_OPTIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
