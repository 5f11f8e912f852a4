"""The web process: `python -m admin`, served by waitress."""

from __future__ import annotations

import sys

from waitress import serve

from admin.app import create_app
from config.process import start_process
from infra.services import backing_services
from storage.connections import connect


def main() -> int:
    settings = start_process("web")
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
        app = create_app(settings, connections)
        serve(app, host=settings.host, port=settings.port, threads=8, ident="homeward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
