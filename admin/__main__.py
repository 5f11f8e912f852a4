"""The web process: `python -m admin`, served by waitress."""
from __future__ import annotations

import logging
import sys

from waitress import serve

from admin.app import create_app
from config import ConfigError, load_settings
from infra.services import backing_services
from storage.connections import connect


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"web: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s web %(levelname)s %(name)s: %(message)s")
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url)
        app = create_app(settings, connections)
        serve(app, host=settings.host, port=settings.port, threads=8, ident="homeward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
