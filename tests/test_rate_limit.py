"""A flooding chat gets one polite notice, then silence; nothing it sent is lost from the record."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings
from infra.embedded import EmbeddedServer
from storage.connections import Connections
from tests.chat_harness import Harness
from tests.conftest import make_environment


@pytest.fixture
def environment(servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path) -> dict[str, str]:
    return make_environment(servers, tmp_path, HOMEWARD_CHAT_RATE_PER_MINUTE="3")


def test_past_the_limit_one_notice_then_silence(settings: Settings, connections: Connections) -> None:
    harness = Harness(settings, connections)
    for text in ["hi", "yes", "menu", "menu", "menu", "menu", "menu"]:
        assert harness.simulator_send("flood", text) == 200
    harness.work()
    replies = [m["text"] for m in harness.db.outbox.find({"contact": "simulator:flood"}).sort("seq", 1)]
    assert sum("sending messages very quickly" in r for r in replies) == 1
    assert (
        sum("What would you like to do?" in r for r in replies) == 2
    )  # 'yes' and the first 'menu'; the rest were over the limit
    statuses = [d["status"] for d in harness.db.inbound.find({"contact": "simulator:flood"}).sort("received_at", 1)]
    assert statuses == ["done"] * 3 + ["rate_limited"] * 4
