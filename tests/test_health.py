"""GET /healthz tells an operator (or a load balancer) which part is down."""

from __future__ import annotations

import pymongo
from rq import SimpleWorker

from admin.app import create_app
from config import Settings
from services.queue import make_queue
from storage.connections import Connections, redis_client


def test_all_up_is_200(settings: Settings, connections: Connections) -> None:
    worker = SimpleWorker([make_queue(connections.redis)], connection=connections.redis)
    worker.register_birth()
    try:
        answer = create_app(settings, connections).test_client().get("/healthz")
    finally:
        worker.register_death()
    assert answer.status_code == 200
    assert answer.json == {
        "ok": True,
        "mongodb": {"ok": True},
        "redis": {"ok": True},
        "workers": {"ok": True, "count": 1},
        "reconciler": {"last_run_s_ago": None, "recovered": None},
        "retention": {"last_run_s_ago": None, "removed": None},
    }


def test_no_worker_is_503(settings: Settings, connections: Connections) -> None:
    answer = create_app(settings, connections).test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json["workers"] == {"ok": False, "count": 0} and answer.json["mongodb"]["ok"]


def test_database_down_is_503_and_named(settings: Settings, connections: Connections) -> None:
    app = create_app(settings, connections)  # started while the database was up
    dead_mongo: pymongo.MongoClient = pymongo.MongoClient("mongodb://127.0.0.1:9/", serverSelectionTimeoutMS=200)
    dead_redis = redis_client("redis://127.0.0.1:9/0")
    app.extensions["homeward"].connections = Connections(dead_mongo, dead_mongo["x"], dead_redis)
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json["mongodb"]["ok"] is False and answer.json["redis"]["ok"] is False
    assert answer.json["workers"]["ok"] is False
