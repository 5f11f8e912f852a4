"""GET /metrics: Prometheus text format, the counters of every process plus levels read at scrape time.

It answers a scraper sending `Authorization: Bearer <HOMEWARD_METRICS_TOKEN>`,
a panel user logged in as a viewer or more, or anyone when HOMEWARD_METRICS_OPEN=1
says so on purpose. A loopback caller is not trusted on its own: behind a reverse
proxy on this host, every visitor is one.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from admin.auth import can, current_user
from admin.context import Homeward, homeward
from admin.overview import describe_duration, service_health
from storage.candidates import pending_by_band
from storage.reports import oldest_pending_candidates

blueprint = Blueprint("metrics", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
blueprint.add_app_template_global(describe_duration, "duration")


@blueprint.get("/metrics")
def metrics() -> Any:
    services = homeward()
    if not (services.settings.metrics_open or _token_sent(services.settings.metrics_token) or can("viewer")):
        if current_user() is not None:  # a partner's registrar: signed in, but the operator's figures are not theirs
            return Response("The service's metrics are for the operator's people.\n", 403)
        return Response(
            "Send Authorization: Bearer <HOMEWARD_METRICS_TOKEN> or log in to the panel"
            " (HOMEWARD_METRICS_OPEN=1 opens /metrics to anyone).\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    registry = CollectorRegistry()
    if services.settings.metrics_dir is not None:
        MultiProcessCollector(registry, str(services.settings.metrics_dir))  # every process's files, added up
    else:
        registry.register(_ThisProcess())
    registry.register(_Levels(services))
    return Response(generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE})


def _token_sent(token: str | None) -> bool:
    """True when a token is configured and the request carries it as a bearer token."""
    sent = request.headers.get("Authorization", "")
    return bool(token) and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].strip().encode(), token.encode())  # type: ignore[union-attr]


class _ThisProcess(Collector):
    """A process without PROMETHEUS_MULTIPROC_DIR counts in memory: report its default registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _Levels(Collector):
    """Levels read from Redis and MongoDB when scraped, so they are never stale and cost nothing between scrapes."""

    def __init__(self, services: Homeward) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        db = self._services.connections.db
        health = service_health(db, self._services.queue)
        jobs = GaugeMetricFamily(
            "homeward_queue_jobs", "Jobs in the queue and its registries, per state.", labels=["state"]
        )
        for state, count in (
            ("queued", health.queued),
            ("running", health.running),
            ("scheduled", health.scheduled),
            ("failed", health.failed),
        ):
            jobs.add_metric([state], count)
        yield jobs
        yield GaugeMetricFamily(
            "homeward_inbound_oldest_pending_seconds",
            "Age of the oldest received message not yet handled (0 when none waits).",
            value=health.oldest_pending_s or 0.0,
        )
        yield GaugeMetricFamily("homeward_workers", "Worker processes with a fresh heartbeat.", value=health.workers)
        yield GaugeMetricFamily(
            "homeward_reconciler_last_run_age_seconds",
            "Seconds since the reconciler last ran (-1 when it never did).",
            value=-1.0 if health.reconciler_age_s is None else health.reconciler_age_s,
        )
        pending = GaugeMetricFamily(
            "homeward_candidates_pending", "Candidates waiting for a decision, per band.", labels=["band"]
        )
        for band, count in pending_by_band(db).items():
            pending.add_metric([band], count)
        yield pending
        oldest = GaugeMetricFamily(
            "homeward_review_oldest_pending_seconds",
            "How long the longest-waiting pending candidate has waited, per band.",
            labels=["band"],
        )
        now = datetime.now(UTC)
        for band, created in oldest_pending_candidates(db).items():
            since = created if created.tzinfo else created.replace(tzinfo=UTC)
            oldest.add_metric([band], max(0.0, (now - since).total_seconds()))
        yield oldest
