"""One MongoClient and one Redis per process, created here and passed in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pymongo
import redis
from pymongo.database import Database as Database  # re-exported: admin/ and workers/ name the type from here
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, PyMongoError, ServerSelectionTimeoutError
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from config.keys import DataKeys
from storage.schema import ensure_indexes, upgrade_documents
from storage.sealing import use_keys
from storage.sealing_migration import seal_every_value

# Errors that say "a server cannot be reached right now", not "this request is wrong": worth retrying later.
UNREACHABLE: tuple[type[Exception], ...] = (
    ConnectionFailure,  # includes AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError
    AutoReconnect,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    redis.ConnectionError,
    redis.TimeoutError,
)


@dataclass(frozen=True)
class Connections:
    mongo: pymongo.MongoClient
    db: Database
    redis: redis.Redis

    def close(self) -> None:
        self.mongo.close()
        self.redis.close()


def connect(mongodb_uri: str, database: str, redis_url: str, data_keys: DataKeys | None = None) -> Connections:
    """Open both connections; make sure every collection has its indexes and its documents today's fields.

    `data_keys` (the settings' `data_keys()`) become the process's keys for sealing photos and encodings.
    """
    if data_keys is not None:
        use_keys(data_keys)
    # journal=True: a write is acknowledged once it is in the server's journal on disk. Without it, a write
    # acknowledged a moment before MongoDB is killed can vanish: a webhook already answered 200 for a message
    # that no longer exists (measured: 1-2 per chaos run), or a reply marked sent that is sent again.
    mongo: pymongo.MongoClient = pymongo.MongoClient(
        mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True, journal=True
    )
    db = mongo[database]
    ensure_indexes(db)
    upgrade_documents(db)
    seal_every_value(db)  # once per database; then unsealed values are refused (storage/sealing_migration.py)
    return Connections(mongo, db, redis_client(redis_url))


class DatabaseUnavailable(Exception):
    """MongoDB did not answer in time (down, unreachable or overloaded); the caller keeps the work elsewhere."""


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Bound every MongoDB operation inside to `seconds` in all (server selection included).

    A webhook must answer the platform quickly even when MongoDB is down, instead of
    waiting for the client's 5 s server selection; any driver failure becomes DatabaseUnavailable.
    """
    try:
        with pymongo.timeout(seconds):
            yield
    except PyMongoError as exc:
        raise DatabaseUnavailable(f"MongoDB did not answer within {seconds} s: {type(exc).__name__}") from exc


def ping(db: Database) -> None:
    """Raise unless MongoDB answers: the health check's probe."""
    db.command("ping")


def redis_client(url: str) -> redis.Redis:
    """A Redis client that retries a blip briefly instead of stalling health checks for seconds."""
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2)
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30, retry=retry)
