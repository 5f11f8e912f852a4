"""What a request handler needs (settings, connections, the queue), kept on the app."""

from __future__ import annotations

from flask import current_app

from config import Settings
from services.queue import make_queue
from storage.connections import Connections


class Homeward:
    def __init__(self, settings: Settings, connections: Connections) -> None:
        self.settings = settings
        self.connections = connections
        self.queue = make_queue(connections.redis)


def homeward() -> Homeward:
    """The services of the app handling the current request."""
    return current_app.extensions["homeward"]
