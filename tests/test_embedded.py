"""The embedded servers as another local user would meet them."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pymongo
import pytest
import redis
from pymongo import monitoring

from infra.embedded import EmbeddedServer, respawn, start_redis
from infra.services import ServiceUrls


@pytest.mark.slow  # starts and restarts a real server process
def test_the_embedded_redis_refuses_a_client_without_its_password_and_keeps_it_across_restarts(
    tmp_path: Path,
) -> None:
    server = start_redis(tmp_path)
    try:
        address = urlsplit(server.url)
        assert address.password and redis.Redis.from_url(server.url).set("job", "queued")
        assert address.password not in repr(server) and address.password not in repr(ServiceUrls("", server.url))
        stranger = redis.Redis(host=address.hostname, port=address.port)  # another local user, a browser page
        with pytest.raises(redis.AuthenticationError):
            stranger.get("job")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(server.url.replace(address.password, "guessed")).get("job")
        server.stop()
        server = respawn(server, tmp_path)  # `make run` restarting it: every URL handed out works again
        assert server.url == f"redis://:{address.password}@{address.hostname}:{address.port}/0"
        assert answers(server.url)
        assert (tmp_path / "redis" / "password").stat().st_mode & 0o077 == 0
        assert (tmp_path / "redis" / "valkey.conf").stat().st_mode & 0o077 == 0
    finally:
        server.stop()


def answers(url: str, timeout: float = 15) -> bool:
    """Whether the server at `url` answers a ping within `timeout` seconds (a respawned one takes a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return bool(redis.Redis.from_url(url).ping())
        except redis.ConnectionError:
            time.sleep(0.1)
    return False


def test_the_embedded_mongodb_keeps_no_record_per_write_that_would_slow_every_later_write(
    servers: tuple[EmbeddedServer, EmbeddedServer],
) -> None:
    """As a replica set it kept every retryable write's reply 30 min and walked them all at each write (issue 24)."""
    mongodb, _redis = servers
    sent = WriteCommands()
    client: pymongo.MongoClient = pymongo.MongoClient(mongodb.url, journal=True, event_listeners=[sent])
    try:
        client["test_embedded"]["messages"].insert_one({"text": "hi"})
        client["test_embedded"]["messages"].update_one({"text": "hi"}, {"$set": {"status": "done"}})
        assert [name for name, _ in sent.commands] == ["insert", "update"]
        assert all("txnNumber" not in command for _, command in sent.commands)  # nothing for the server to keep
        assert client["test_embedded"]["messages"].find_one({"status": "done"})  # and the writes took effect
    finally:
        client.close()


class WriteCommands(monitoring.CommandListener):
    """The insert and update commands a client sent, as sent."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, object]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("insert", "update"):
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
