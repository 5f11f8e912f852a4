"""Record what became of an approved match; `reunited` closes the case (and the found person) and thanks the family.

Each step is safe to repeat, and the outcome is recorded last: a crash midway leaves the
match without its outcome, and setting it again finishes the rest (closing twice changes
nothing; the family's message is keyed by the candidate, so it is queued once).
"""

from __future__ import annotations

import contextlib
from typing import Any

import redis
from bson import ObjectId
from rq import Queue

from core.conversation.catalog import render
from core.conversation.messages import Reply
from core.outcomes import OutcomeRefused, check_outcome
from services.appeals import end_for_case
from services.partner_events import case_closed, found_person_closed, outcome_recorded
from services.queue import enqueue_outbox
from storage.candidates import find_candidate
from storage.cases import close_case, family_contact, find_case
from storage.connections import Database
from storage.contacts import find_contact, language_of
from storage.found_persons import close_found_person
from storage.outbox import queue_outbound
from storage.outcomes import record_outcome


def settle(db: Database, queue: Queue | None, candidate_id: ObjectId, outcome: str, by: str) -> dict[str, Any]:
    """Set the outcome; raise OutcomeRefused (with what to do) when it may not be set."""
    candidate = find_candidate(db, candidate_id)
    if candidate is None:
        raise OutcomeRefused("no such candidate: it may have been erased")
    check_outcome(candidate["status"], candidate.get("outcome"), outcome)
    if outcome == "reunited":
        close_case(db, candidate["case"], by=by)
        case_closed(db, queue, candidate["case"])
        end_for_case(db, queue, candidate["case"], "reunited")
        if candidate.get("found"):
            close_found_person(db, candidate["found"], "reunited", by=by)
            found_person_closed(db, queue, candidate["found"])
        _thank_family(db, queue, candidate)
    recorded = record_outcome(db, candidate_id, outcome, by)
    outcome_recorded(db, queue, recorded)
    return recorded


def _thank_family(db: Database, queue: Queue | None, candidate: dict[str, Any]) -> None:
    case = find_case(db, candidate["case"])
    family = find_contact(db, family_contact(case)) if case and family_contact(case) else None
    if case is None or family is None:
        return  # erased meanwhile: nobody left to tell
    text = render(
        Reply("case_reunited", {"reference": case["reference"], "name": case.get("name", "")}),
        language_of(db, family["contact"]),
    )
    message_id = queue_outbound(
        db,
        family["contact"],
        family["channel"],
        family["chat_id"],
        text,
        source=f"reunited:{candidate['_id']}",
        about=case["reference"],
    )
    if queue is not None:
        # Redis down: the message is stored, and the reconciler queues it within a minute; the outcome still counts.
        with contextlib.suppress(redis.RedisError):
            enqueue_outbox(queue, str(message_id))
