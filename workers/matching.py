"""Matching jobs: a sighting face against open cases; a new case face against past sightings and other cases."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from core.faces.matching import Bands, distances
from storage.candidates import record_candidate
from storage.faces import bytes_to_vector
from storage.photos import find_photo
from workers.context import WorkerContext, current
from workers.gallery import CaseGallery

log = logging.getLogger(__name__)


def match_photo(photo_id: str) -> int:
    """Create candidates for the usable faces of one analysed photo; return how many were new or improved."""
    context = current()
    db = context.connections.db
    photo = find_photo(db, photo_id)
    if photo is None or photo["status"] != "analysed":
        return 0
    faces = list(db.faces.find({"photo_id": photo["_id"], "quality": "ok"}))
    kind, owner = photo["owner"]["kind"], photo["owner"]["id"]
    if kind == "sighting":
        return sum(_sighting_face(context, face) for face in faces)
    if kind == "case" and db.cases.find_one({"reference": owner, "status": "open"}, {"_id": 1}):
        _flag_duplicates(context, owner, faces)
        return _past_sightings(context, owner)
    return 0


def _gallery(context: WorkerContext) -> CaseGallery:
    assert context.gallery is not None
    return context.gallery


def _bands(context: WorkerContext) -> Bands:
    return Bands(context.settings.match_strong, context.settings.match_review)


def _sighting_face(context: WorkerContext, face: dict[str, Any]) -> int:
    db, bands = context.connections.db, _bands(context)
    created = 0
    for hit, case_face_id in _gallery(context).search(bytes_to_vector(face["encoding"]), bands, context.settings.match_top_k):
        case_face = db.faces.find_one({"_id": case_face_id}, {"photo_id": 1})
        if case_face and record_candidate(db, hit.case, case_face, face, hit.distance, bands.band(hit.distance) or "review", context.settings.match_top_k):
            created += 1
    return created


def _past_sightings(context: WorkerContext, case: str) -> int:
    """Retroactive search: a case reported after a sighting still meets it. Scores use all the case's faces."""
    db, bands, settings = context.connections.db, _bands(context), context.settings
    case_faces = list(db.faces.find({"owner": {"kind": "case", "id": case}, "quality": "ok"}, {"encoding": 1, "photo_id": 1}))
    if not case_faces:
        return 0
    since = datetime.now(timezone.utc) - timedelta(days=settings.match_lookback_days)
    matrix = np.stack([bytes_to_vector(f["encoding"]) for f in case_faces])
    created = 0
    for sighting_face in db.faces.find({"owner.kind": "sighting", "quality": "ok", "created_at": {"$gte": since}}, {"encoding": 1, "owner": 1, "photo_id": 1}):
        row_distances = distances(matrix, bytes_to_vector(sighting_face["encoding"]))
        best = int(np.argmin(row_distances))
        band = bands.band(float(row_distances[best]))
        if band and record_candidate(db, case, case_faces[best], sighting_face, float(row_distances[best]), band, settings.match_top_k):
            created += 1
    return created


def _flag_duplicates(context: WorkerContext, case: str, faces: list[dict[str, Any]]) -> None:
    """A new case whose face is in the strong band of another open case: maybe the same person reported twice."""
    db, bands = context.connections.db, _bands(context)
    for face in faces:
        for hit, _ in _gallery(context).search(bytes_to_vector(face["encoding"]), bands, 3, exclude_case=case):
            if bands.band(hit.distance) == "strong":
                flag = {"case": hit.case, "distance": round(hit.distance, 4)}
                db.cases.update_one({"reference": case, "possible_duplicates.case": {"$ne": hit.case}}, {"$push": {"possible_duplicates": flag}})
                log.info("case %s may duplicate case %s (distance %.3f)", case, hit.case, hit.distance)
