"""Deliver partner events: signed POSTs to organisations' endpoints, in order per record, retried for a day.

One job at a time works a stream (one endpoint, one record) under its lock, as the outbox works a contact's
messages (workers/outbox.py, workers/locks.py `take_turns`): it sends the stream's first delivery still due, and
after a failure (any answer but 2xx, or no answer within TIMEOUT_S) schedules itself for the retry, so a later
event about the same record waits behind it. Each try sends the event's stored body, so the event id is the same
on every retry; a delivery whose worker died during the call is sent again (at least once: partners dedupe on
the id). Runs on its own lane (services/queue.py PARTNERS_QUEUE): a hanging partner holds this worker, never a
chat one.
"""

from __future__ import annotations

import http.client
import logging
import socket
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from core.partner_hooks import SIGNATURE_HEADER, HookRefused, next_try, signature
from core.times import as_utc
from services.partner_events import refuse_private_host
from services.queue import Job, enqueue_partner_delivery_at, is_temporary, runs
from storage.partner_events import (
    claim_delivery,
    delivered,
    event_of,
    find_delivery,
    first_pending_delivery,
    give_up_delivery,
    retry_delivery,
)
from storage.partner_hooks import find_endpoint, signing_secrets
from workers.context import WorkerContext, current
from workers.locks import Held, take_turns

TIMEOUT_S = 5
WAIT_HERE_S = 0.2  # due sooner than this (a scheduler whose clock runs ahead): waited for here; later, scheduled
USER_AGENT = "Homeward-Webhooks/1"
log = logging.getLogger(__name__)


@runs(Job.DELIVER_PARTNER_EVENT)
def deliver_partner_event(delivery_id: str) -> int:
    """Deliver what is due in this delivery's stream, in order; return how many were delivered."""
    context = current()
    delivery = find_delivery(context.connections.db, delivery_id)
    if delivery is None:
        return 0
    stream = delivery["stream"]
    key = f"lock:partner-hooks:{stream}"
    return take_turns(context.connections.redis, key, "partner hook", lambda held: _deliver_due(context, stream, held))


def _deliver_due(context: WorkerContext, stream: str, held: Held) -> int:
    """Send the stream's deliveries in order until one must wait; return how many were delivered."""
    db, done = context.connections.db, 0
    while True:
        held.looking()
        delivery = first_pending_delivery(db, stream)
        if delivery is None:
            return done
        held.check()
        due = as_utc(delivery.get("next_attempt_at") or _now())
        wait = (due - _now()).total_seconds() if delivery["status"] == "pending" else 0
        if wait > WAIT_HERE_S:
            _wake_at(context, delivery, due)  # the stream waits behind it
            return done
        time.sleep(max(0.0, wait))  # due within a moment (or woken by a scheduler whose clock runs ahead)
        outcome = _try(context, delivery)
        if outcome == "wait":
            return done
        done += outcome == "delivered"


def _try(context: WorkerContext, delivery: dict[str, Any]) -> str:
    """One try: 'delivered', 'failed' (given up: the stream goes on) or 'wait' (due again later)."""
    db = context.connections.db
    endpoint, event = find_endpoint(db, delivery["endpoint"]), event_of(db, delivery)
    if endpoint is None or event is None:
        give_up_delivery(db, delivery["_id"], "the endpoint was removed" if endpoint is None else "the event is gone")
        return "failed"
    attempts = claim_delivery(db, delivery)
    try:
        answer = _post(endpoint, event["body"], event, context.settings.partner_hooks_allow_private)
    except Exception as exc:
        if is_temporary(exc):
            raise  # our own database or Redis is away: RQ retries the job; the claim is sent again
        return _failed(context, delivery, attempts, _error_of(exc))
    if 200 <= answer < 300:
        delivered(db, delivery["_id"], answer)
        return "delivered"
    return _failed(context, delivery, attempts, f"HTTP {answer}")


def _post(endpoint: dict[str, Any], body: str, event: dict[str, Any], allow_private: bool) -> int:
    """POST the signed body; the HTTP status (an error status too, a redirect too: it is not followed); raises on
    no answer within TIMEOUT_S."""
    parts = urlsplit(endpoint["url"])
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    # Checked at each call, and connected to the very addresses checked: a name that resolved to a public address
    # at registration and resolves to a private one now (DNS rebinding) is refused, never called.
    addresses = None if allow_private else refuse_private_host(host, port)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Homeward-Event-Id": event["id"],
        "Homeward-Event-Type": event["type"],
        SIGNATURE_HEADER: signature(signing_secrets(endpoint), body, int(time.time())),
    }
    connection = _connection(parts.scheme, host, port, addresses)
    try:
        connection.request(
            "POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body.encode(), headers
        )
        answer = connection.getresponse()
        answer.read(65536)
        return int(answer.status)
    finally:
        connection.close()


def _connection(scheme: str, host: str, port: int, addresses: list[str] | None) -> http.client.HTTPConnection:
    """A connection to `host` (its name in the Host header and, for HTTPS, in SNI and the certificate check) that
    opens its socket to the first of `addresses` that answers, when given, instead of resolving the name again."""
    kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    connection = kind(host, port, timeout=TIMEOUT_S)
    if addresses is not None:

        def pinned(_: tuple[str, int], timeout: float, source: Any = None) -> socket.socket:
            failure: OSError = OSError(f"no address of {host} to connect to")
            for address in addresses:
                try:
                    return socket.create_connection((address, port), timeout, source)
                except OSError as exc:
                    failure = exc
            raise failure

        connection._create_connection = pinned  # type: ignore[attr-defined]
    return connection


def _failed(context: WorkerContext, delivery: dict[str, Any], attempts: int, error: str) -> str:
    db = context.connections.db
    first = as_utc(delivery.get("first_try_at") or _now())
    when = next_try(attempts, first, _now())
    if when is None:
        log.warning("gave up a partner delivery after %d attempt(s) over a day: %s", attempts, error)
        give_up_delivery(db, delivery["_id"], error)
        return "failed"
    log.info("a partner delivery failed (attempt %d, next at %s): %s", attempts, when.isoformat(), error)
    retry_delivery(db, delivery["_id"], when, error)
    _wake_at(context, {**delivery, "attempts": attempts}, when)
    return "wait"


def _error_of(exc: Exception) -> str:
    """What an operator and the partner can act on: a timeout, a refused URL, a connection error; never a body."""
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return f"no answer within {TIMEOUT_S} s"
    if isinstance(exc, HookRefused):
        return str(exc)
    reason = getattr(exc, "reason", None) or exc
    return f"{type(exc).__name__}: {reason}"[:300]


def _wake_at(context: WorkerContext, delivery: dict[str, Any], when: datetime) -> None:
    assert context.queue is not None
    enqueue_partner_delivery_at(context.queue, str(delivery["_id"]), when, int(delivery.get("attempts") or 0))


def _now() -> datetime:
    return datetime.now(UTC)
