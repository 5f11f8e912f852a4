"""Serve a Flask app on a free loopback port in a background thread."""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import make_server

from infra.embedded import free_port


class BackgroundServer:
    def __init__(self, app: Flask) -> None:
        self.port = free_port()
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(5)
