"""The sightings that came through an appeal (a scanned poster: `appeal: AP-…` on the sighting), for reviewers.

Only what the panel shows of each: when it was sent and when seen, the place as typed (never coordinates),
whether it has a photo, and its candidate if matching made one. Every read is indexed: sightings by appeal,
photos by owner, candidates by sighting.
"""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.database import Database

LIMIT = 200


def sightings_of_appeal(db: Database, reference: str, case: str = "", limit: int = LIMIT) -> list[dict[str, Any]]:
    """The appeal's sightings, newest first; a candidate with the appeal's `case` is preferred as the link."""
    fields = {"reference": 1, "created_at": 1, "time": 1, "time_text": 1, "place.text": 1}
    docs = list(db.sightings.find({"appeal": reference}, fields).sort("created_at", DESCENDING).limit(limit))
    references = [str(doc["reference"]) for doc in docs]
    if not references:
        return []
    photos = db.photos.find({"owner.kind": "sighting", "owner.id": {"$in": references}}, {"owner.id": 1})
    with_photo = {photo["owner"]["id"] for photo in photos}
    candidates: dict[str, str] = {}
    for found in db.candidates.find({"sighting": {"$in": references}}, {"sighting": 1, "case": 1}):
        if found["sighting"] not in candidates or found.get("case") == case:
            candidates[found["sighting"]] = str(found["_id"])
    return [
        {
            "reference": doc["reference"],
            "received": doc.get("created_at"),
            "seen": doc["time"].strftime("%d %b %Y %H:%M") if doc.get("time") else doc.get("time_text") or "",
            "place": (doc.get("place") or {}).get("text") or "",
            "photo": doc["reference"] in with_photo,
            "candidate": candidates.get(doc["reference"]),
        }
        for doc in docs
    ]


def sighting_counts(db: Database, references: list[str]) -> dict[str, int]:
    """How many sightings came through each of these appeals (one indexed read, counted here)."""
    counts = dict.fromkeys(references, 0)
    if references:
        for doc in db.sightings.find({"appeal": {"$in": references}}, {"appeal": 1}):
            counts[doc["appeal"]] += 1
    return counts
