"""After a candidate is approved: tell the family (with the sighting photo, or whom to contact for a found person).

The citizen who sent the sighting hears nothing more: a message sent only when a reviewer approves would tell
them that the person they saw is a confirmed missing-person case. They were thanked when the sighting was
recorded, the same for every sighting (tests/test_admin_access.py checks that an approval changes nothing
for them).

A found-person candidate tells the family which organisation holds a person who may be their relative, its
contact details and the references to quote, with the found person's photo; a deceased person's record gets a
message written for it and never a photo. The found record keeps `families_told` (which case, when) for its
organisation's registrars (their notifications page).

Run by the panel right after its atomic claim, and by the reconciler for an
approved candidate without the `told_at` record (the panel crashed between the
two). Safe to run twice: each message is keyed by its source, so it is queued once.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from rq import Queue

from core.conversation.answers import family_answer, found_person_answer
from core.conversation.catalog import render
from services.partner_events import candidate_approved
from services.queue import enqueue_outbox
from storage.candidates import candidate_kind, find_candidate, note_family_message, note_told
from storage.cases import family_contact, find_case, find_sighting
from storage.connections import Database
from storage.contacts import find_contact, language_of
from storage.found_persons import find_found_person, note_family_told
from storage.organisations import find_organisation
from storage.outbox import queue_outbound
from storage.partner_cases import note_case_approved


def tell_family(db: Database, queue: Queue, candidate_id: ObjectId) -> bool:
    """Queue (once) the family's message; False when there was nothing to tell."""
    candidate = find_candidate(db, candidate_id)
    if candidate is None or candidate["status"] != "approved":
        return False
    told = _queue_messages(db, queue, candidate)
    match = candidate.get("found") or candidate.get("sighting") or ""
    note_case_approved(db, candidate["case"], candidate["_id"], match)  # an organisation's case: its notifications
    candidate_approved(db, queue, candidate)  # before note_told: the reconciler runs this again after a crash
    note_told(db, candidate["_id"])
    return told


def _queue_messages(db: Database, queue: Queue, candidate: dict[str, Any]) -> bool:
    if candidate_kind(candidate) == "found":
        return _queue_found_message(db, queue, candidate)
    case = find_case(db, candidate["case"])
    sighting = find_sighting(db, candidate["sighting"])
    family = find_contact(db, family_contact(case)) if case and family_contact(case) else None
    if case is None or sighting is None or family is None:
        return False  # erased meanwhile: there is nobody left to tell
    message_id = queue_outbound(
        db,
        family["contact"],
        family["channel"],
        family["chat_id"],
        render(family_answer(case, sighting, candidate.get("exact_place") is True), language_of(db, family["contact"])),
        photo_id=candidate["sighting_photo_id"],
        source=f"approve:{candidate['_id']}",
        about=case["reference"],
    )
    note_family_message(db, candidate["_id"], message_id)
    enqueue_outbox(queue, str(message_id))
    return True


def _queue_found_message(db: Database, queue: Queue, candidate: dict[str, Any]) -> bool:
    """The family hears whom to contact; the found record notes that they were told (for its registrars)."""
    case = find_case(db, candidate["case"])
    person = find_found_person(db, candidate["found"])
    family = find_contact(db, family_contact(case)) if case and family_contact(case) else None
    if case is None or person is None or family is None:
        return False  # erased meanwhile: there is nobody left to tell
    organisation = find_organisation(db, person["organisation"]) or {}
    deceased = person.get("condition") == "deceased"
    message_id = queue_outbound(
        db,
        family["contact"],
        family["channel"],
        family["chat_id"],
        render(found_person_answer(case, person, organisation), language_of(db, family["contact"])),
        photo_id=None if deceased else candidate["sighting_photo_id"],  # never a deceased person's photo
        source=f"approve:{candidate['_id']}",
        about=case["reference"],
    )
    note_family_message(db, candidate["_id"], message_id)
    note_family_told(db, person["reference"], candidate["_id"], case["reference"])
    enqueue_outbox(queue, str(message_id))
    return True
