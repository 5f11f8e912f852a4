"""`delete my data` in MongoDB: every trace of a contact, including what other records say about them.

Besides the contact's own cases, sightings, photos, faces, messages and
state, a contact's data shows up in records that belong to others: a
reviewer's free text about their case (audit notes), another case flagged as
possibly the same person (`possible_duplicates`), the message that told
a family about their sighting, the alerts volunteers got of their appeal
(the missing person's name), and the events a partner organisation is still
to be sent about their case (never sent; the case's reference blanked in all). Those are found from the contact's ids
(the `Footprint`, taken before anything is deleted) and cleaned too. The
audit chain itself keeps ids and hashes only, so it is never edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId
from pymongo.database import Database

from storage.appeals import erase_appeals
from storage.audit import erase_notes
from storage.candidates import erase_candidates
from storage.cases import draft_owner, erase_contact
from storage.contacts import erase_conversation
from storage.found_persons import found_owner
from storage.gallery_changes import bump_gallery
from storage.partner_cases import forget_family
from storage.partner_events import forget_erased_case
from storage.photos import Owner, delete_photos
from storage.volunteers import stop_volunteer


@dataclass(frozen=True)
class Footprint:
    """The ids of everything a contact left, taken before erasure: what else may point at it."""

    cases: list[str]
    sightings: list[str]
    photos: list[ObjectId]
    faces: list[ObjectId]
    candidates: list[ObjectId]
    candidates_of_sightings: list[ObjectId]
    inbound: list[ObjectId]
    outbox: list[ObjectId]
    appeals: list[str] = field(default_factory=list)

    def job_arguments(self) -> set[str]:
        """The ids that jobs about this contact name as their argument (jobs carry ids, never numbers)."""
        return {str(i) for i in [*self.photos, *self.inbound, *self.outbox]}

    def audit_targets(self) -> list[str]:
        return (
            [f"case:{r}" for r in self.cases]
            + [f"sighting:{r}" for r in self.sightings]
            + [f"candidate:{c}" for c in self.candidates]
            + [f"face:{f}" for f in self.faces]
            + [f"appeal:{r}" for r in self.appeals]  # a reviewer's reason may speak of the family
        )


def footprint(db: Database, contact: str) -> Footprint:
    cases = [str(c["reference"]) for c in db.cases.find({"reporter": contact}, {"reference": 1})]
    sightings = [str(s["reference"]) for s in db.sightings.find({"reporter": contact}, {"reference": 1})]
    owners = [draft_owner(contact)] + [Owner("case", r) for r in cases] + [Owner("sighting", r) for r in sightings]
    # One indexed query per owner: an $or of them would be a scan of every photo and face.
    photos = [p["_id"] for owner in owners for p in db.photos.find(owner.query(), {"_id": 1})]
    faces = [f["_id"] for owner in owners for f in db.faces.find(owner.query(), {"_id": 1})]
    faces += [f["_id"] for f in db.faces.find({"photo_id": {"$in": photos}}, {"_id": 1})]
    faces = list(dict.fromkeys(faces))
    of_cases = _ids(db, "candidates", {"case": {"$in": cases}})
    of_sightings = _ids(db, "candidates", {"sighting": {"$in": sightings}})
    return Footprint(
        cases=cases,
        sightings=sightings,
        photos=photos,
        faces=faces,
        candidates=of_cases + [c for c in of_sightings if c not in of_cases],
        candidates_of_sightings=of_sightings,
        inbound=_ids(db, "inbound", {"contact": contact}),
        outbox=_ids(db, "outbox", {"contact": contact}),
        appeals=[str(a["reference"]) for a in db.appeals.find({"contact": contact}, {"reference": 1})],
    )


def erase_everything(db: Database, contact: str) -> tuple[dict[str, int], Footprint]:
    """Erase the contact and every mention of them in others' records; return counts and what was found."""
    found = footprint(db, contact)
    erased = erase_contact(db, contact)
    erased["appeals"] = erase_appeals(db, contact)
    erased["volunteer"] = stop_volunteer(db, contact)  # their area and alerts, like any contact's data
    erased["messages_about_sightings"] = forget_messages_about(db, found.candidates_of_sightings)
    erased["messages_about_cases"] = forget_messages_about_cases(db, found.cases)  # volunteers' alerts
    erased["duplicate_flags"] = unflag_duplicates(db, found.cases)
    erased["audit_notes"] = erase_notes(db, found.audit_targets())
    erased["organisations_cases_unlinked"] = forget_family(db, contact)  # their case stays, without the number
    erased["partner_events"] = forget_erased_case(db, found.cases, found.candidates)
    erase_conversation(db, contact)
    return erased, found


def erase_found_person(db: Database, reference: str) -> dict[str, int]:
    """Erase a found person at their organisation's request, as completely as a contact's erasure.

    Its photos and faces, its candidates, the reviewers' notes about it, and what the families' messages
    said of it (emptied, as for an erased sighting) all go, then the record; every worker drops its faces.
    """
    candidates = _ids(db, "candidates", {"found": reference})
    erased = {
        "photos": delete_photos(db, found_owner(reference)),
        "messages": forget_messages_about(db, candidates),
        "audit_notes": erase_notes(db, [f"found:{reference}"] + [f"candidate:{c}" for c in candidates]),
        "candidates": erase_candidates(db, [], [], found=[reference]),
        "record": db.found_persons.delete_many({"reference": reference}).deleted_count,
    }
    bump_gallery(db, cases=[], found=[reference])  # cases=[]: no case left (None would rebuild every index)
    return erased


def forget_messages_about(db: Database, candidates: list[ObjectId]) -> int:
    """The family's messages that described these (erased) sightings: unsent ones are dropped, sent ones emptied.

    A sent or failed message keeps its status, time and case (operators see that a family was told, or not),
    but no longer what it said, nor the photo.
    """
    if not candidates:
        return 0
    about = {"source": {"$in": [f"approve:{c}" for c in candidates]}}
    dropped = db.outbox.delete_many(about | {"status": {"$in": ["pending", "sending"]}}).deleted_count
    emptied = db.outbox.update_many(
        about, {"$set": {"text": "", "content_erased": True}, "$unset": {"photo_id": "", "error": ""}}
    ).modified_count
    return dropped + emptied


def forget_messages_about_cases(db: Database, cases: list[str]) -> int:
    """Messages to others about these (erased) cases, such as volunteers' alerts naming the missing person.

    As for an erased sighting's message: unsent ones are dropped, sent ones keep their status and time but no
    longer what they said, nor the poster or photo.
    """
    if not cases:
        return 0
    # By `about` alone, the status judged here: SecantusDB scans for an `$in` beside a second field.
    messages = list(db.outbox.find({"about": {"$in": cases}}, {"status": 1}))
    unsent = [m["_id"] for m in messages if m.get("status") in ("pending", "sending")]
    sent = [m["_id"] for m in messages if m.get("status") not in ("pending", "sending")]
    dropped = db.outbox.delete_many({"_id": {"$in": unsent}}).deleted_count if unsent else 0
    erase = {"$set": {"text": "", "content_erased": True}, "$unset": {"photo_id": "", "poster": "", "error": ""}}
    emptied = db.outbox.update_many({"_id": {"$in": sent}}, erase).modified_count if sent else 0
    return dropped + emptied


def unflag_duplicates(db: Database, cases: list[str]) -> int:
    """Remove the "possibly the same person as" flags other cases carry about these (erased) cases."""
    if not cases:
        return 0
    flagged = {"possible_duplicates.case": {"$in": cases}}
    return db.cases.update_many(flagged, {"$pull": {"possible_duplicates": {"case": {"$in": cases}}}}).modified_count


def _ids(db: Database, collection: str, query: dict[str, Any]) -> list[ObjectId]:
    return [doc["_id"] for doc in db[collection].find(query, {"_id": 1})]
