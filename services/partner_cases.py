"""What the partner API and the workers do for a case an organisation registered: its family's chat and its matches.

The family's WhatsApp number is optional and asked first: one consent question in the family's language, through
the outbox (stored, retried, sent as the approved template since the family has not written yet). Until the family
says yes nothing else is sent to it; a no (or "delete my data") drops the number from the case and the
organisation sees that the family declined. Once agreed, the family gets the usual messages: approvals
(services/approval.py) and the reunion's thanks (services/outcomes.py) go to it as to a family that reported in chat.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

import redis
from rq import Queue

from core.conversation.answers import (
    FAMILY_DECIMALS,
    REVIEWER_DECIMALS,
    describe_place,
    describe_time,
    found_person_answer,
)
from core.conversation.catalog import render
from core.conversation.messages import Reply
from core.found.public import rfc3339
from core.outcomes import follow_up, may_set_outcome
from services.queue import enqueue_outbox
from storage.candidates import candidate_kind, candidates_of_case
from storage.cases import find_sighting
from storage.connections import Database
from storage.contacts import ask_consent_of
from storage.found_persons import find_found_person
from storage.organisations import find_organisation
from storage.outbox import queue_outbound
from storage.partner_cases import family_answered, note_family_asked, unasked_families

CHANNEL = "whatsapp"


def ask_family(db: Database, queue: Queue | None, case: dict[str, Any]) -> None:
    """Ask the family of a newly registered case for its consent (once: the message is keyed by the case).

    A family already in conversation with us that agreed before is not asked again: it is told the case is followed.
    """
    family = case.get("family") or {}
    if family.get("consent") != "asked" or not family.get("contact"):
        return
    contact = str(family["contact"])
    number = contact.removeprefix(f"{CHANNEL}:")
    language = case.get("language") or "en"
    organisation = (find_organisation(db, case["organisation"]) or {}).get("name") or "?"
    params = {"organisation": organisation, "name": case["name"], "reference": case["reference"]}
    if ask_consent_of(db, contact, CHANNEL, number, language):
        family_answered(db, contact, agreed=True)
        text, source = render(Reply("partner_case_followed", params), language), f"family-followed:{case['reference']}"
    else:
        text, source = render(Reply("partner_case_consent", params), language), f"family-consent:{case['reference']}"
    message_id = queue_outbound(db, contact, CHANNEL, number, text, source=source, about=case["reference"])
    note_family_asked(db, case["reference"])
    if queue is not None:
        with contextlib.suppress(redis.RedisError):  # stored: the reconciler queues it within a minute
            enqueue_outbox(queue, str(message_id))


def ask_unasked(db: Database, queue: Queue | None, before: datetime, limit: int = 100) -> int:
    """Ask the families whose question a crash kept from the outbox (the reconciler's step); how many."""
    waiting = unasked_families(db, before, limit)
    for case in waiting:
        ask_family(db, queue, case)
    return len(waiting)


def family_consented(db: Database, contact: str, agreed: bool) -> list[Reply]:
    """The contact answered the consent question: the cases that asked it follow (or drop) it; what to add to the
    dialog's answer (which case is now followed, in the contact's language by the caller)."""
    answered = family_answered(db, contact, agreed)
    if not agreed:
        return []
    replies = []
    for case in [case for case in answered if case.get("status") == "open"]:  # a closed one has no news to wait for
        organisation = (find_organisation(db, case.get("organisation")) or {}).get("name") or "?"
        params = {"organisation": organisation, "name": case["name"], "reference": case["reference"]}
        replies.append(Reply("partner_case_followed", params))
    return replies


def matches_of_case(db: Database, reference: str) -> list[dict[str, Any]]:
    """A case's candidates as the organisation that registered it follows them (rejected ones left out).

    Once approved, what the family's message shares, never more: the sighting's place (to ~100 m) and time, or the
    organisation holding the found person with its contact details and its own reference; before, only the status.
    """
    rows = []
    for candidate in candidates_of_case(db, reference):
        status, outcome = candidate["status"], candidate.get("outcome")
        if status == "rejected":
            continue
        since: datetime | None = (
            candidate.get("outcome_at") or candidate.get("decided_at") or candidate.get("created_at")
        )
        rows.append(
            {
                "id": str(candidate["_id"]),
                "kind": candidate_kind(candidate),
                "status": status,
                "outcome": outcome,
                "follow_up": follow_up(status, outcome),
                "since": rfc3339(since),
                "outcome_settable": may_set_outcome(status, outcome),
                "match": _shared(db, candidate) if status == "approved" else None,
            }
        )
    return rows


def _shared(db: Database, candidate: dict[str, Any]) -> dict[str, Any] | None:
    """What an approval shared of the other side: as the family's message says it."""
    if candidate_kind(candidate) == "found":
        person = find_found_person(db, candidate.get("found") or "")
        if person is None:
            return None
        holder = find_organisation(db, person["organisation"]) or {}
        shared = found_person_answer({"name": "", "reference": ""}, person, holder).params
        contact = {key: value for key, value in shared.items() if key in ("address", "phone", "hours")}
        return {
            "found_person": person["reference"],
            "held_by": holder.get("name"),
            "contact": {key: value if isinstance(value, str) else None for key, value in contact.items()},
            "their_reference": person.get("external_id") or None,
        }
    sighting = find_sighting(db, candidate.get("sighting") or "")
    if sighting is None:
        return None
    decimals = REVIEWER_DECIMALS if candidate.get("exact_place") is True else FAMILY_DECIMALS
    place = describe_place(sighting.get("place"), decimals)
    return {"sighting": sighting["reference"], "place": place, "seen": describe_time(sighting)}


def candidate_of_case(db: Database, reference: str, candidate_id: str) -> dict[str, Any] | None:
    """The case's candidate by id, as `matches_of_case` shows it; None when it is not one of them."""
    return next((row for row in matches_of_case(db, reference) if row["id"] == candidate_id), None)
