"""Tell partner organisations' systems what became of their records: one event per change, a delivery per endpoint.

Called where the change is made (the panel, the chat's effects, the reconciler's approvals), right after it is
stored: the event and its deliveries are stored first, then their jobs are queued (a Redis outage leaves them
due, and the reconciler queues them). Each organisation is sent the record as it may see it: references,
statuses, outcomes and times, never a family's name or contact.
"""

from __future__ import annotations

import contextlib
import socket
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import redis
from bson import ObjectId
from rq import Queue

from core.partner_hooks import HookRefused, check_events, is_public_address, rfc3339
from services.queue import enqueue_partner_delivery
from storage.candidates import candidate_kind
from storage.connections import Database
from storage.partner_events import record_event, redeliver
from storage.partner_hooks import add_endpoint


def register_endpoint(
    db: Database, organisation: ObjectId, url: str, events: list[str], by: str, allow_private: bool
) -> tuple[ObjectId, str]:
    """Check the URL and events, then register; the endpoint's id and its secret (shown once)."""
    return add_endpoint(db, organisation, check_url(url, allow_private), check_events(events), by)


def check_url(url: str, allow_private: bool) -> str:
    """An HTTPS URL whose host resolves to public addresses only (unless the operator allows private ones)."""
    url = url.strip()
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise HookRefused(f"the URL must start with https:// and name a host (got {url[:100]!r})")
    if parts.username or parts.password:
        raise HookRefused("the URL must not hold a user name or password: each delivery is signed instead")
    if not allow_private:
        refuse_private_host(parts.hostname, parts.port or 443)
    return url


def refuse_private_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, all public; HookRefused when one is loopback, private or link-local (or
    when it does not resolve). A delivery connects to one of these, never resolving again (DNS rebinding)."""
    try:
        found = [str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError) as exc:
        raise HookRefused(f"{host} does not resolve ({exc}): check the host name") from None
    addresses = list(dict.fromkeys(found))
    private = sorted(address for address in addresses if not is_public_address(address))
    if private or not addresses:
        raise HookRefused(
            f"{host} resolves to {', '.join(private) or 'nothing'}, not a public address: Homeward calls only partners "
            "on the internet (an operator may allow private addresses with HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE=1)"
        )
    return addresses


def redeliver_now(
    db: Database, queue: Queue | None, delivery: ObjectId, organisation: ObjectId
) -> dict[str, Any] | None:
    """Send a delivery (failed or delivered) again, same event id, and queue it: the panel's and the API's button.

    None when it is still under way or not `organisation`'s. Stored first: a Redis outage leaves it due, and the
    reconciler queues it.
    """
    found = redeliver(db, delivery, organisation)
    if found is not None and queue is not None:
        with contextlib.suppress(redis.RedisError):
            enqueue_partner_delivery(queue, str(found["_id"]))
    return found


def candidate_approved(db: Database, queue: Queue | None, candidate: dict[str, Any]) -> None:
    """A match approved by a reviewer: the found person's organisation (and the case's, if one reported it) hear."""
    view = candidate_view(candidate)
    for organisation in _parties(db, candidate):
        _publish(db, queue, "candidate.approved", str(candidate["_id"]), organisation, view)


def outcome_recorded(db: Database, queue: Queue | None, candidate: dict[str, Any]) -> None:
    """An outcome set on an approved match; each outcome of a match is one event."""
    view = candidate_view(candidate)
    outcome_at = rfc3339(candidate.get("outcome_at"))
    key = f"{candidate['_id']}:{candidate.get('outcome')}:{outcome_at}"
    for organisation in _parties(db, candidate):
        # One event per outcome set, in the candidate's stream: after its approval, in the order they were set.
        _publish(db, queue, "outcome.recorded", str(candidate["_id"]), organisation, view, key=key)


def found_person_closed(db: Database, queue: Queue | None, reference: str) -> None:
    person = db.found_persons.find_one({"reference": reference})
    if person is None or person.get("status") != "closed":
        return
    _publish(db, queue, "found_person.closed", reference, person["organisation"], found_view(person))


def case_closed(db: Database, queue: Queue | None, reference: str) -> None:
    """A closed case: its reporting organisation, and those holding a person approved as its match, hear."""
    case = db.cases.find_one({"reference": reference})
    if case is None or case.get("status") != "closed":
        return
    approved = db.candidates.find({"case": reference, "status": "approved"}, {"found": 1, "kind": 1, "case": 1})
    organisations = {org for candidate in approved for org in _parties(db, candidate)}
    if case.get("organisation"):
        organisations.add(case["organisation"])
    view = {"case": reference, "status": "closed", "closed_at": rfc3339(case.get("closed_at"))}
    for organisation in organisations:
        _publish(db, queue, "case.closed", reference, organisation, view)


def record_missed(db: Database, queue: Queue | None, since: datetime) -> int:
    """Record the events of changes made since `since` whose step stopped before recording them (a crash); how many.

    Approvals are not looked at here: their step is run again by the reconciler until the family was told.
    """
    if db.partner_hooks.estimated_document_count() == 0:
        return 0  # nobody listens: nothing to record
    before = db.partner_deliveries.estimated_document_count()
    recent = {"status": "closed", "closed_at": {"$gte": since}}
    for case in db.cases.find(recent, {"reference": 1}):
        case_closed(db, queue, case["reference"])
    for person in db.found_persons.find(recent, {"reference": 1}):
        found_person_closed(db, queue, person["reference"])
    for candidate in db.candidates.find({"status": "approved", "outcome_at": {"$gte": since}}):
        outcome_recorded(db, queue, candidate)
    return db.partner_deliveries.estimated_document_count() - before


def candidate_view(candidate: dict[str, Any]) -> dict[str, Any]:
    """What an organisation party to a match sees of it: references, status and outcome, never the family."""
    return {
        "candidate": str(candidate["_id"]),
        "case": candidate.get("case"),
        "found_person": candidate.get("found"),
        "sighting": candidate.get("sighting"),  # a citizen's sighting (its reference only: never who sent it)
        "status": candidate.get("status"),
        "outcome": candidate.get("outcome"),
        "decided_at": rfc3339(candidate.get("decided_at")),
        "outcome_at": rfc3339(candidate.get("outcome_at")),
    }


def found_view(person: dict[str, Any]) -> dict[str, Any]:
    return {
        "found_person": person["reference"],
        "external_id": person.get("external_id") or None,
        "status": person.get("status"),
        "closed_reason": person.get("closed_reason"),
        "closed_at": rfc3339(person.get("closed_at")),
    }


def _parties(db: Database, candidate: dict[str, Any]) -> set[ObjectId]:
    """The organisations party to a match: the found person's, and the case's when an organisation reported it."""
    parties: set[ObjectId] = set()
    if candidate_kind(candidate) == "found" and candidate.get("found"):
        person = db.found_persons.find_one({"reference": candidate["found"]}, {"organisation": 1})
        if person and person.get("organisation"):
            parties.add(person["organisation"])
    case = db.cases.find_one({"reference": candidate.get("case")}, {"organisation": 1})
    if case and case.get("organisation"):
        parties.add(case["organisation"])
    return parties


def _publish(
    db: Database,
    queue: Queue | None,
    kind: str,
    record: str,
    organisation: ObjectId,
    data: dict[str, Any],
    key: str | None = None,
) -> None:
    deliveries = record_event(db, kind, record, organisation, data, key=key)
    if queue is None:
        return  # the reconciler queues them
    with contextlib.suppress(redis.RedisError):  # stored: the reconciler queues them within a minute
        for delivery in deliveries:
            enqueue_partner_delivery(queue, str(delivery))
