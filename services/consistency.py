"""Consistency flags read from the stored records, for matching and for a record edited after it.

A pair's flags (core/found/consistency.py) are computed when matching records it, from what the case and the
seen side say then. A found person's gender, age range or found date may be corrected later (a re-imported
row that changed, an API update), and so may a case's age or gender (its organisation's update): the pending
candidates are flagged again, so the review queue's order and the candidate page
say what the records say now. A decided candidate keeps the flags its reviewer saw.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database

from core.found.consistency import CaseSide, SeenSide, consistency_flags, day_of
from storage.candidates import candidate_kind, candidates_of_case, candidates_of_found, set_flags
from storage.cases import find_case, find_sighting
from storage.found_persons import find_found_person


def flags_between(db: Database, case_reference: str, kind: str, reference: str) -> list[dict[str, str]]:
    """What the case and the seen side (a `found` person or a `sighting`) say that cannot both be true.

    Nothing when either is gone (erased meanwhile) or the case has no report date.
    """
    case = find_case(db, case_reference)
    reported_on = day_of(case.get("created_at")) if case else None
    if case is None or reported_on is None:
        return []
    case_side = CaseSide(reported_on, case.get("age"), case.get("gender"), day_of(case.get("time")))
    seen = _seen_side(db, kind, reference)
    if seen is None:
        return []
    return [flag.as_doc() for flag in consistency_flags(case_side, seen, datetime.now(UTC).date())]


def reflag_found(db: Database, reference: str) -> int:
    """Flag this found person's pending candidates again from the records as they are; how many changed."""
    return _reflag(db, candidates_of_found(db, reference))


def reflag_case(db: Database, reference: str) -> int:
    """Flag this case's pending candidates again (its organisation corrected an age, a gender, a date); how many
    changed."""
    return _reflag(db, candidates_of_case(db, reference))


def _reflag(db: Database, candidates: list[dict[str, Any]]) -> int:
    changed = 0
    for candidate in candidates:
        if candidate["status"] != "pending":
            continue
        kind = candidate_kind(candidate)
        flags = flags_between(db, candidate["case"], kind, candidate["found" if kind == "found" else "sighting"])
        if flags != candidate.get("flags", []) and set_flags(db, candidate["_id"], flags):
            changed += 1
    return changed


def _seen_side(db: Database, kind: str, reference: str) -> SeenSide | None:
    if kind == "found":
        found = find_found_person(db, reference)
        if found is None:
            return None
        return SeenSide(
            day_of(found.get("found_on")), found.get("age_min"), found.get("age_max"), found.get("gender"), "found"
        )
    sighting = find_sighting(db, reference)
    if sighting is None:
        return None
    return SeenSide(day_of(sighting.get("time") or sighting.get("created_at")), kind="sighting")
