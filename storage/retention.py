"""Retention: what is kept only for a while, and the queries that remove it once its time is up.

Each function takes the cutoff (`before`: anything older goes) from the caller,
so a test can sweep "91 days from now" without waiting, and returns how many
items it removed. workers/retention.py runs them on a schedule; the periods are
settings (config/settings.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from core.conversation.state import State
from storage.audit import erase_notes
from storage.candidates import erase_candidates
from storage.contacts import erase_conversation
from storage.erasure import unflag_duplicates
from storage.gallery_changes import bump_gallery
from storage.inbound import delete_inbound
from storage.photos import Owner, delete_photo_ids, delete_photos

BATCH = 500
# Candidates in these states still need their sighting: one waits for a reviewer, the other told a family.
LIVE_CANDIDATES = ("pending", "approved")


def sweep_unmatched_sightings(db: Database, before: datetime, limit: int = BATCH) -> int:
    """Delete sightings recorded before `before` that no pending or approved candidate needs, with photos and faces.

    Their rejected candidates stay as review statistics, without the links to the deleted photos.
    """
    gone: list[str] = []
    old = db.sightings.find({"created_at": {"$lt": before}}, {"reference": 1}).sort("created_at", ASCENDING)
    for batch in _batches((str(s["reference"]) for s in old), BATCH):
        needed = set(
            db.candidates.distinct("sighting", {"sighting": {"$in": batch}, "status": {"$in": LIVE_CANDIDATES}})
        )
        for reference in [r for r in batch if r not in needed]:
            delete_photos(db, Owner("sighting", reference))
            db.candidates.update_many(
                {"sighting": reference}, {"$unset": {"sighting_photo_id": "", "case_photo_id": ""}}
            )
            if db.sightings.delete_one({"reference": reference}).deleted_count:
                gone.append(reference)
            if len(gone) >= limit:
                break
        if len(gone) >= limit:
            break
    if gone:
        bump_gallery(db, cases=[], sightings=gone)  # the workers' sighting indexes drop their faces
    return len(gone)


def sweep_abandoned_drafts(db: Database, before: datetime, limit: int = BATCH) -> int:
    """Forget reports and sightings left half-written since `before`: their photos, faces and typed details.

    A draft is abandoned when its contact has not written since then; its photos go, and the dialog's
    half-filled answers (name, description) are dropped, so a person coming back starts from the menu.
    """
    removed = 0
    photos = db.photos.find({"owner.kind": "draft", "created_at": {"$lt": before}}, {"owner": 1}).limit(limit)
    contacts = sorted({str(p["owner"]["id"]) for p in photos})
    recent = {"contact": {"$in": contacts}, "last_inbound_at": {"$gte": before}}
    active = {str(c["contact"]) for c in db.conversations.find(recent, {"contact": 1})}
    for contact in [c for c in contacts if c not in active]:
        drafts = db.photos.find(Owner("draft", contact).query(), {"created_at": 1})  # the owner index's fields only
        removed += delete_photo_ids(db, [p["_id"] for p in drafts if p["created_at"] < before])
    in_flow = {"state.flow": {"$ne": None}, "last_inbound_at": {"$lt": before}}
    for doc in db.conversations.find(in_flow, {"contact": 1, "state": 1}).limit(limit):
        cleared = State.from_doc(doc.get("state")).idle().to_doc()
        if db.conversations.update_one({"_id": doc["_id"]} | in_flow, {"$set": {"state": cleared}}).modified_count:
            removed += 1
    return removed


def sweep_handled_inbound(db: Database, before: datetime, limit: int = 10 * BATCH) -> int:
    """Delete the stubs of messages handled (or given up on) before `before`: contact, platform id, status."""
    handled = {"status": {"$ne": "pending"}, "$or": [{"handled_at": {"$lt": before}}, {"failed_at": {"$lt": before}}]}
    ids = [d["_id"] for d in db.inbound.find(handled, {"_id": 1}).limit(limit)]
    return delete_inbound(db, {"_id": {"$in": ids}}) if ids else 0  # each leaves a replay marker


def sweep_declined_consent(db: Database, before: datetime, limit: int = BATCH) -> int:
    """Forget contacts who said no to consent before `before` (and never yes since): record, messages, replies."""
    declined = list(
        db.conversations.find({"consent": False, "consent_at": {"$lt": before}}, {"contact": 1}).limit(limit)
    )
    for doc in declined:
        erase_conversation(db, str(doc["contact"]))
    return len(declined)


def sweep_sent_texts(db: Database, before: datetime, limit: int = 10 * BATCH) -> int:
    """Empty the text of replies delivered (or given up on) before `before`; the delivery record stays."""
    done = {
        "text": {"$ne": ""},
        "$or": [{"status": "sent", "sent_at": {"$lt": before}}, {"status": "failed", "failed_at": {"$lt": before}}],
    }
    found = list(db.outbox.find(done, {"_id": 1, "contact": 1}).limit(limit))
    if not found:
        return 0
    update: dict[str, Any] = {"$set": {"text": "", "text_dropped": True}, "$unset": {"photo_id": ""}}
    emptied = db.outbox.update_many({"_id": {"$in": [d["_id"] for d in found]}}, update).modified_count
    forget_plans(db, sorted({str(d["contact"]) for d in found}), before)
    return emptied


def forget_plans(db: Database, contacts: list[str], before: datetime) -> None:
    """Drop the copy of the last answer's replies that a conversation keeps for a retry (workers/answering.py), once
    the contact has been silent since `before`: by then those replies were sent, and their texts go now."""
    for doc in db.conversations.find({"contact": {"$in": contacts}}, {"last_inbound_at": 1, "plan": 1}):
        last = doc.get("last_inbound_at")
        if doc.get("plan") and last is not None and (last if last.tzinfo else last.replace(tzinfo=UTC)) < before:
            db.conversations.update_one({"_id": doc["_id"]}, {"$unset": {"plan": ""}})


def sweep_decided_images(db: Database, before: datetime, now: datetime, limit: int = 10 * BATCH) -> int:
    """Stop showing the faces of candidates decided before `before`: their photo links go, the decision stays."""
    decided = {"status": {"$in": ["approved", "rejected"]}, "decided_at": {"$lt": before}, "images_dropped_at": None}
    ids = [d["_id"] for d in db.candidates.find(decided, {"_id": 1}).limit(limit)]
    if not ids:
        return 0
    update = {"$set": {"images_dropped_at": now}, "$unset": {"case_photo_id": "", "sighting_photo_id": ""}}
    return db.candidates.update_many({"_id": {"$in": ids}}, update).modified_count


def sweep_inactive_contacts(db: Database, before: datetime, limit: int = BATCH) -> int:
    """Forget contacts silent since `before` with no open case: record, chat address, messages, draft photos.

    What they reported and is still kept (a closed case within its period, a sighting a decision needs) stays,
    but no longer names them: its `reporter` and its photos' `notify` are emptied, so the phone number or chat
    id goes with the contact.
    """
    silent = db.conversations.find({"last_inbound_at": {"$lt": before}}, {"contact": 1}).limit(limit)
    contacts = [str(doc["contact"]) for doc in silent]
    # By reporter alone (an index's first field), the status checked here: both in the filter is a scan.
    reported = db.cases.find({"reporter": {"$in": contacts}}, {"reporter": 1, "status": 1})
    waiting = {case["reporter"] for case in reported if case.get("status") == "open"}
    # A family that agreed to hear of an organisation's open case (storage/partner_cases.py) waits for it too.
    followed = db.cases.find({"family.contact": {"$in": contacts}}, {"family": 1, "status": 1})
    waiting |= {case["family"]["contact"] for case in followed if case.get("status") == "open"}
    gone = [contact for contact in contacts if contact not in waiting]
    for contact in gone:
        delete_photos(db, Owner("draft", contact))
        erase_conversation(db, contact)
    if gone:
        for collection in ("cases", "sightings"):
            db[collection].update_many({"reporter": {"$in": gone}}, {"$set": {"reporter": ""}})
        db.cases.update_many({"family.contact": {"$in": gone}}, {"$unset": {"family.contact": ""}})
        # A stored photo keeps whom to tell about its analysis (contact, chat id): long told, now forgotten.
        db.photos.update_many({"notify.contact": {"$in": gone}}, {"$set": {"notify": None}})
    return len(gone)


def sweep_closed_cases(db: Database, before: datetime, limit: int = BATCH) -> int:
    """Delete cases closed before `before`: the case, its photos, faces, candidates and reviewers' notes.

    With its candidates gone, the sightings they kept are no longer needed and go at their own period.
    """
    closed = db.cases.find({"status": "closed", "closed_at": {"$lt": before}}, {"reference": 1}).limit(limit)
    references = [str(doc["reference"]) for doc in closed]
    if not references:
        return 0
    candidates = [str(c["_id"]) for c in db.candidates.find({"case": {"$in": references}}, {"_id": 1})]
    for reference in references:
        delete_photos(db, Owner("case", reference))
    erase_notes(db, [f"case:{r}" for r in references] + [f"candidate:{c}" for c in candidates])
    erase_candidates(db, references, [])
    unflag_duplicates(db, references)
    removed = db.cases.delete_many({"reference": {"$in": references}}).deleted_count
    bump_gallery(db, cases=references, sightings=[])  # the workers' case indexes drop their faces
    return removed


# What a closed found person's record keeps after its personal fields go: enough for the funnel and the audit.
FOUND_KEPT_FIELDS = ("reference", "organisation", "status", "closed_reason", "closed_at", "found_on", "condition")
FOUND_PERSONAL_FIELDS = (
    "description", "found_place", "held_at", "age_min", "age_max", "gender", "external_id", "families_told",
)  # fmt: skip


def sweep_closed_found_photos(db: Database, before: datetime, limit: int = BATCH) -> int:
    """Delete the photos and faces of found persons closed before `before` (their faces left matching at closing)."""
    query = {"status": "closed", "closed_at": {"$lt": before}, "photos_dropped_at": None}
    references = [str(doc["reference"]) for doc in db.found_persons.find(query, {"reference": 1}).limit(limit)]
    for reference in references:
        delete_photos(db, Owner("found", reference))
    if references:
        db.found_persons.update_many({"reference": {"$in": references}}, {"$set": {"photos_dropped_at": _now()}})
    return len(references)


def sweep_closed_found_records(db: Database, before: datetime, limit: int = BATCH) -> int:
    """Erase the personal fields of found persons closed before `before`, and the reviewers' notes about them.

    The reference, organisation, dates, condition and outcome stay: the funnel counts them. The import's
    `source` named the organisation's own id, so it is replaced by one that names only the reference.
    """
    query = {"status": "closed", "closed_at": {"$lt": before}, "personal_erased_at": None}
    references = [str(doc["reference"]) for doc in db.found_persons.find(query, {"reference": 1}).limit(limit)]
    for reference in references:
        db.found_persons.update_one(
            {"reference": reference},
            {
                "$unset": dict.fromkeys(FOUND_PERSONAL_FIELDS, ""),
                "$set": {"personal_erased_at": _now(), "source": f"erased:{reference}"},
            },
        )
    erase_notes(db, [f"found:{reference}" for reference in references])
    return len(references)


def _now() -> datetime:
    return datetime.now(UTC)


def _batches(items: Any, size: int) -> Any:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
