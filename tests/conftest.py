"""Shared fixtures: real embedded MongoDB and Redis servers, a fresh database per test, real photos."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from pymongo.database import Database

from config import Settings, load_settings
from infra.embedded import EmbeddedServer, start_mongodb, start_redis
from standins.server import BackgroundServer
from standins.telegram_api import TelegramStandIn
from standins.twilio_api import TwilioStandIn
from storage.connections import Connections, connect
from tests.chat_harness import Harness
from tests.live import browser  # noqa: F401 - the headless Chromium fixture, shared by every test module


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that drives a browser, so `make test-fast` can leave them out."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if "faces_dir" in fixtures:
            item.add_marker(pytest.mark.faces)


FACES_HINT = "set HOMEWARD_FACES_DIR to a copy of shared/faces (LFW, small sets, groups)"


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedServer, EmbeddedServer]]:
    """One SecantusDB and one valkey for the whole test session, spoken to over loopback."""
    data_dir = tmp_path_factory.mktemp("servers")
    mongodb = start_mongodb(data_dir)
    redis_server = start_redis(data_dir)
    yield mongodb, redis_server
    redis_server.stop()
    mongodb.stop()


def make_environment(servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a Homeward process under test: real servers, a fresh database."""
    mongodb, redis_server = servers
    return {
        "HOMEWARD_DATA_DIR": str(tmp_path / "data"),
        "MONGODB_URI": mongodb.url,
        "MONGODB_DATABASE": f"test_{uuid.uuid4().hex[:12]}",
        "REDIS_URL": redis_server.url,
        "HOMEWARD_ADMIN_PASSWORD": "correct-horse-battery",
        "HOMEWARD_FACES_DIR": os.environ.get("HOMEWARD_FACES_DIR", "../shared/faces"),
        # One encoding per case photo, as for sightings: the default's ten (~0.8 s a photo) buy accuracy that
        # the evaluation measures (docs/evaluation/accuracy.md); the tests' same-person pairs match with one.
        "HOMEWARD_CASE_PHOTO_JITTERS": "1",
        # The tests chat as pretend people, as a newcomer does after `make run`: no panel login for the simulator.
        "HOMEWARD_SIMULATOR": "open",
    } | extra


# The bot every Telegram test talks as, and the secret Telegram signs its webhook calls with.
TOKEN, SECRET = "123456:TEST-token", "s3cret-webhook-token-123"


@pytest.fixture
def bot_api() -> Iterator[TelegramStandIn]:
    """A Telegram Bot API stand-in on a free port (its base URL in `.url`), where the bot's replies land."""
    standin = TelegramStandIn(TOKEN)
    with BackgroundServer(standin.app) as server:
        standin.url = server.url  # type: ignore[attr-defined]
        yield standin


def telegram_settings(bot_api: TelegramStandIn) -> dict[str, str]:
    """The settings that turn the Telegram channel on, pointed at the stand-in."""
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_BASE_URL": bot_api.url}  # type: ignore[attr-defined]


# The Twilio account the WhatsApp tests use, its sender number, and the public URL Twilio signs requests for.
TWILIO_SID, TWILIO_TOKEN, TWILIO_FROM = "AC" + "1" * 32, "twilio-auth-token-for-tests", "+14155238886"
PUBLIC = "https://homeward.example.org"


@pytest.fixture
def twilio_api() -> Iterator[TwilioStandIn]:
    """A Twilio REST API stand-in on a free port (its base URL in `.url`), where WhatsApp replies land."""
    standin = TwilioStandIn(TWILIO_SID, TWILIO_TOKEN)
    with BackgroundServer(standin.app) as server:
        standin.url = server.url  # type: ignore[attr-defined]
        yield standin


def twilio_settings(twilio_api: TwilioStandIn) -> dict[str, str]:
    """The settings that turn the WhatsApp channel on, pointed at the stand-in."""
    return {
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_FROM": TWILIO_FROM,
        "TWILIO_API_BASE_URL": twilio_api.url,  # type: ignore[attr-defined]
        "PUBLIC_BASE_URL": PUBLIC,
    }


@pytest.fixture
def environment(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, request: pytest.FixtureRequest
) -> dict[str, str]:
    """Override in a test module to add settings (chat channels, limits). A module marked `telegram`
    (`pytestmark = pytest.mark.telegram`) talks to the Bot API stand-in (`bot_api`)."""
    if request.node.get_closest_marker("telegram"):
        return make_environment(servers, tmp_path, **telegram_settings(request.getfixturevalue("bot_api")))
    return make_environment(servers, tmp_path)


@pytest.fixture
def settings(environment: dict[str, str]) -> Settings:
    return load_settings(environment)


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    """The web app and a real worker on this test's servers, as the platforms and `make run` drive them."""
    return Harness(settings, connections)


@pytest.fixture
def connections(settings: Settings) -> Iterator[Connections]:
    """A throwaway database on the real server, and an empty Redis."""
    assert settings.mongodb_uri and settings.redis_url
    opened = connect(settings.mongodb_uri, settings.mongodb_database, settings.redis_url, settings.data_keys())
    opened.redis.flushdb()
    yield opened
    opened.mongo.drop_database(settings.mongodb_database)
    opened.redis.flushdb()
    opened.close()


@pytest.fixture
def db(connections: Connections) -> Database:
    return connections.db


@pytest.fixture
def redis(connections: Connections) -> redis_lib.Redis:
    return connections.redis


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The shared labelled photos; tests that need them skip, saying why, where they are absent."""
    path = load_settings({"HOMEWARD_DATA_DIR": "/tmp", "HOMEWARD_SECRET_KEY": "x"} | _faces_env()).faces_dir
    if not (path / "lfw").is_dir() or not (path / "groups").is_dir():
        pytest.skip(f"face photos not found at {path}: {FACES_HINT}")
    return path


def _faces_env() -> dict[str, str]:
    value = os.environ.get("HOMEWARD_FACES_DIR")
    return {"HOMEWARD_FACES_DIR": value} if value else {}
