"""Cases an organisation registers through the partner API: kept in `cases` like a family's, with its organisation.

Such a case's `reporter` is the organisation (`organisation:<id>`), never a chat contact, so a family's "delete my
data" never erases the organisation's record. Its `family` says where the family's optional WhatsApp chat stands:
`asked` (the contact is kept only to hear its answer), `agreed` (the family gets the usual messages), `declined` or
`withdrawn` (the contact is dropped: nothing more is kept or sent), or `unanswered` (dropped after
HOMEWARD_KEEP_UNANSWERED_CONSENT_DAYS of silence). An approval of one of its candidates is noted
on it (`approvals`, `approved_at`) for the organisation's panel notifications.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo.database import Database

from core.conversation.references import CASE_PREFIX
from core.partner_cases import PartnerCase
from core.times import as_utc
from storage.cases import insert_with_reference
from storage.contacts import erase_conversation
from storage.found_persons import FoundQuery, notes_since, page_of_organisation


def organisation_reporter(organisation: ObjectId) -> str:
    """The `reporter` of a case an organisation registered: not a contact, so no chat step ever acts on it."""
    return f"organisation:{organisation}"


def whatsapp_contact(number: str) -> str:
    """The contact id a WhatsApp number writes to us as (bot/twilio.py: channel, then the bare number)."""
    return f"whatsapp:{number}"


def create_partner_case(db: Database, organisation: ObjectId, case: PartnerCase, source: str, by: str) -> str:
    """Store the case (open) and return its reference; the same `source` again returns the first one's."""
    now = datetime.now(UTC)
    doc: dict[str, Any] = {
        "reporter": organisation_reporter(organisation),
        "organisation": organisation,
        "status": "open",
        "source": source,
        "registered_by": by,
        "updated_at": now,
    }
    if case.family_whatsapp:
        contact = whatsapp_contact(case.family_whatsapp)
        # `pending` until its question is in the outbox: the reconciler asks again if a crash came between.
        doc["family"] = {"contact": contact, "consent": "asked", "asked_at": now, "pending": True}
    return insert_with_reference(db, "cases", CASE_PREFIX, doc | case.as_fields())


def case_by_source(db: Database, source: str) -> dict[str, Any] | None:
    """The case registered by this request (its source), if it was: a retried create finds it."""
    return db.cases.find_one({"source": source}, {"reference": 1})


def find_partner_case(db: Database, reference: str, organisation: ObjectId) -> dict[str, Any] | None:
    """The case if this organisation registered it; None otherwise, as for an unknown reference."""
    case = db.cases.find_one({"reference": reference})
    if case is None or case.get("organisation") != organisation:
        return None
    return case


def update_partner_case(db: Database, reference: str, case: PartnerCase, unchanged_since: datetime) -> bool:
    """Replace the registered fields if nobody changed the case since `unchanged_since` (If-Match); True if done."""
    query = {"reference": reference, "updated_at": unchanged_since}
    fields = case.as_fields()
    result = db.cases.update_one(query, {"$set": fields | {"updated_at": datetime.now(UTC)}})
    return result.matched_count == 1


def page_partner_cases(
    db: Database, organisation: ObjectId, query: FoundQuery, after: tuple[datetime, ObjectId] | None, limit: int
) -> list[dict[str, Any]]:
    """One page of the cases the organisation registered, least recently changed first (as its found persons)."""
    return page_of_organisation(db.cases, organisation, query, after, limit)


def family_answered(db: Database, contact: str, agreed: bool) -> list[dict[str, Any]]:
    """The family behind `contact` answered the consent question: the cases that asked it, as they were.

    Agreed: they are followed in its chat from now on. Declined: the contact is dropped from them at once.
    """
    asked = [
        case
        for case in db.cases.find({"family.contact": contact}, {"reference": 1, "name": 1, "family": 1, "status": 1})
        if case["family"].get("consent") == "asked"
    ]
    if not asked:
        return []
    now = datetime.now(UTC)
    family = {"contact": contact, "consent": "agreed", "answered_at": now} if agreed else _dropped("declined", now)
    references = [case["reference"] for case in asked]
    db.cases.update_many({"reference": {"$in": references}}, {"$set": {"family": family, "updated_at": now}})
    return asked


def note_family_asked(db: Database, reference: str) -> None:
    """The consent question of this case's family is in the outbox (which sends it, retried, from now on)."""
    db.cases.update_one({"reference": reference}, {"$unset": {"family.pending": ""}})


def unasked_families(db: Database, before: datetime, limit: int) -> list[dict[str, Any]]:
    """Cases registered before `before` whose family's question never reached the outbox (a crash between)."""
    waiting = db.cases.find({"family.pending": True}).limit(limit)
    return [case for case in waiting if as_utc(case["created_at"]) < before]


def forget_family(db: Database, contact: str) -> int:
    """The family asked to be forgotten: its contact leaves every case that named it (the cases stay the
    organisation's, marked `withdrawn`); how many."""
    now = datetime.now(UTC)
    named = [case["reference"] for case in db.cases.find({"family.contact": contact}, {"reference": 1})]
    if not named:
        return 0
    change = {"$set": {"family": _dropped("withdrawn", now), "updated_at": now}}
    return db.cases.update_many({"reference": {"$in": named}}, change).modified_count


def forget_unanswered_families(db: Database, before: datetime, limit: int) -> int:
    """Families asked before `before` who never answered: the number leaves the case (`unanswered`), and when no
    other case names it and it never wrote to us, its conversation record and the question sent to it go too.

    An organisation gave the number, not the family: silence is not consent, so it is not kept waiting for ever.
    """
    asked = list(db.cases.find({"family.consent": "asked", "family.asked_at": {"$lt": before}}).limit(limit))
    if not asked:
        return 0
    now = datetime.now(UTC)
    references = [case["reference"] for case in asked]
    db.cases.update_many(  # an answer that came in meanwhile wins: only those still asked
        {"reference": {"$in": references}, "family.consent": "asked"},
        {"$set": {"family": _dropped("unanswered", now), "updated_at": now}},
    )
    for contact in {str(case["family"]["contact"]) for case in asked}:
        if db.cases.find_one({"family.contact": contact}, {"_id": 1}) is not None:
            continue  # another case still asks, or the family agreed there
        record = db.conversations.find_one({"contact": contact}, {"last_inbound_at": 1})
        if record is not None and record.get("last_inbound_at") is None:
            erase_conversation(db, contact)
    return len(asked)


def note_case_approved(db: Database, reference: str, candidate: ObjectId, match: str) -> None:
    """Record on an organisation's case that a match of it was approved (once per candidate): its panel's
    notifications list it. `match` is the sighting's or found person's reference."""
    case = db.cases.find_one({"reference": reference}, {"organisation": 1, "approvals": 1})
    if case is None or not case.get("organisation"):
        return
    if any(told["candidate"] == candidate for told in case.get("approvals", [])):
        return
    told = {"candidate": candidate, "match": match, "at": datetime.now(UTC)}
    db.cases.update_one({"reference": reference}, {"$push": {"approvals": told}, "$set": {"approved_at": told["at"]}})


def case_approvals(db: Database, organisation: ObjectId, since: datetime | None = None) -> list[dict[str, Any]]:
    """Each approved match of the organisation's cases (since `since`), newest first: case, match and when."""
    rows = notes_since(db.cases, organisation, ("approvals", "approved_at"), since)
    return [{"case": r["reference"], "status": r["status"], "match": n["match"], "at": n["at"]} for r, n in rows]


def _dropped(consent: str, now: datetime) -> dict[str, Any]:
    return {"consent": consent, "answered_at": now}
