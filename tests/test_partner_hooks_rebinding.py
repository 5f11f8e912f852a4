"""DNS rebinding: a partner's host name that resolved to a public address when registered, and to loopback by the
time of a delivery, is never connected to (private addresses not allowed, as in production)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from bson import ObjectId

import workers.partner_hooks
from services.approval import tell_family
from storage.organisations import create_organisation
from storage.partner_hooks import add_endpoint
from tests import test_partner_hooks as hooks
from tests.chat_harness import Harness
from tests.test_partner_hooks import deliver, match

harness = hooks.harness  # a fixture; the environment is the usual one: private addresses not allowed

PUBLIC = "93.184.215.14"  # a public address: where the name pointed when the partner registered it
REAL_GETADDRINFO = socket.getaddrinfo


class Listener:
    """A TCP port on loopback that counts who connects to it: the internal service a rebinding would reach."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port, self.connections = self.server.getsockname()[1], 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.server.close()


def resolving(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    """partner.example resolves to each of `answers` in turn (the last one from then on); other names as usual."""
    asked: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "partner.example":
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        address = answers[min(len(asked), len(answers) - 1)]
        asked.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 443)))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


@pytest.mark.parametrize(
    "answers",
    [["127.0.0.1"], [PUBLIC, "127.0.0.1"]],
    ids=["loopback-at-delivery", "loopback-between-check-and-connect"],
)
def test_a_name_rebound_to_loopback_is_never_called(
    harness: Harness,
    listener: Listener,
    monkeypatch: pytest.MonkeyPatch,
    answers: list[str],
) -> None:
    assert not harness.context.settings.partner_hooks_allow_private
    monkeypatch.setattr(workers.partner_hooks, "TIMEOUT_S", 0.5)  # the public address is not reachable from here
    shelter: ObjectId = create_organisation(harness.db, "Northside Shelter", "shelter")
    url = f"https://partner.example:{listener.port}/events"  # public when registered: its check passed then
    add_endpoint(harness.db, shelter, url, ["candidate.approved"], "test")
    asked = resolving(monkeypatch, answers)
    tell_family(harness.db, harness.context.queue, match(harness, shelter))
    deliver(harness, lambda: bool(harness.db.partner_deliveries.find_one({"attempts": {"$gte": 1}})))
    assert asked, "the name was looked up at delivery"
    assert listener.connections == 0, "a rebound name reached a loopback service"
    delivery = harness.db.partner_deliveries.find_one()
    assert delivery["status"] in ("pending", "failed") and delivery["last_error"]
    if answers == ["127.0.0.1"]:
        assert "not a public address" in delivery["last_error"]
