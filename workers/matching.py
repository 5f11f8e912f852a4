"""Matching jobs, both ways.

A sighting face, or an open found person's face, is searched against the open cases; a new case face against
past sightings, open found persons and other open cases (duplicates). Each candidate is recorded with the
consistency flags its two sides raise (core/found/consistency.py, read from the records by services/consistency.py).
Which candidates exist is one rule both ways (`_open_cases_near`): the engine's review score within its threshold
(the raw distance within the review band; for arcface a case of several photos by its template; for dlib the density
score), and within a margin of the seen face's best candidate. Which are strong, the density score's
(HOMEWARD_STRONG_BAND, `_band`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
from bson import ObjectId

from core.faces.calibration import DENSITY, MARGIN, REACH, TEMPLATE_REVIEW, Density
from core.faces.engines import ENGINES
from core.faces.matching import (
    CASE_NEIGHBOURS,
    DENSITY_MIN_CASES,
    DENSITY_RANKS,
    Bands,
    Hit,
    case_templates,
    density_band,
    distances,
    keep_best,
    near_the_best,
    pair_density,
    scored_case,
)
from search.gallery import CaseGallery, SeenIndex
from search.replica import engine_of, face_vector
from services import metrics
from services.consistency import flags_between
from services.queue import Job, runs
from storage.candidates import pending_distances, pending_of_case, record_candidate, withdraw_pending
from storage.cases import flag_possible_duplicate, is_open
from storage.faces import (
    MATCHED_KINDS,
    faces_by_ids,
    follow_photos,
    usable_case_faces_of,
    usable_faces,
    usable_faces_of_owner,
)
from storage.found_persons import is_found_open
from storage.photos import Owner, find_photo, mark_matched
from workers.context import WorkerContext, current

log = logging.getLogger(__name__)

# Sighting (or found-person) faces one case face can meet within the review band: far more than any real
# person's sightings.
PAST_SIGHTINGS_LIMIT = 1000
# Cases asked of the gallery per candidate kept, when cases of several photos are scored by their template: one
# whose closest photo ranks lower may have the closer template.
TEMPLATE_WIDTH = 4


@runs(Job.MATCH_PHOTO)
def match_photo(photo_id: str) -> int:
    """Create candidates for the usable faces of one analysed photo; return how many were new or improved."""
    context = current()
    db = context.connections.db
    photo = find_photo(db, photo_id)
    if photo is None or photo["status"] != "analysed":
        return 0
    created = _match(context, photo)
    mark_matched(db, photo["_id"])  # done: the reconciler stops looking at this photo
    return created


def _match(context: WorkerContext, photo: dict[str, Any]) -> int:
    db = context.connections.db
    kind, owner = photo["owner"]["kind"], photo["owner"]["id"]
    if kind in MATCHED_KINDS:
        # Faces follow their photo. The analysis moves them after it records the photo, so with two workers a
        # match queued when the draft became a sighting can run in between (and a crash there leaves them behind).
        follow_photos(db, [photo["_id"]], photo["owner"])
    faces = usable_faces(db, photo["_id"], context.settings.face_engine)
    if kind == "sighting" or (kind == "found" and is_found_open(db, owner)):
        return sum(_seen_face(context, face) for face in faces)
    if kind == "case" and is_open(db, owner):
        _flag_duplicates(context, owner, faces)
        created = _past_seen(context, owner, _sightings(context)) + _past_seen(context, owner, _found(context))
        _withdraw_outgrown(context, owner)
        return created
    return 0


def _gallery(context: WorkerContext) -> CaseGallery:
    assert context.gallery is not None
    return context.gallery


def _sightings(context: WorkerContext) -> SeenIndex:
    assert context.sightings is not None
    return context.sightings


def _found(context: WorkerContext) -> SeenIndex:
    assert context.found is not None
    return context.found


def _bands(context: WorkerContext) -> Bands:
    return Bands(context.settings.match_strong, context.settings.match_review)


def _seen_face(context: WorkerContext, face: dict[str, Any]) -> int:
    """A sighting's or found person's face against the open cases: the top_k within the review band."""
    db, top_k = context.connections.db, context.settings.match_top_k
    crowd = _crowd(context, face)  # for the density scores and bands, asked once
    found = _open_cases_near(context, face, crowd)
    case_face_ids = {hit.case: case_face_id for hit, case_face_id in found}
    kept = keep_best([hit for hit, _ in found], top_k, pending_distances(db, face["_id"]))
    case_faces = faces_by_ids(db, [case_face_ids[hit.case] for hit in kept])  # with their vectors, for `_band`
    created = 0
    for hit in kept:
        case_face = case_faces.get(case_face_ids[hit.case])
        if case_face and _record(context, hit, case_face, face, crowd):
            created += 1
    if created and face["owner"]["kind"] == "sighting":
        metrics.sighting_matched(db, face["owner"]["id"])
    return created


def _open_cases_near(context: WorkerContext, face: dict[str, Any], crowd: list[float]) -> list[tuple[Hit, ObjectId]]:
    """The open cases a seen face is a candidate of, each with its closest face's id, whether the face is new or
    a case is (`_past_seen`): the top_k within the engine's review threshold by its review score (`_scored`),
    then those within MARGIN of the best of them (core near_the_best; docs/evaluation/review-load.md).
    `crowd`: the face's nearest cases (`_crowd`)."""
    found = _scored(context, face, crowd)
    kept = {hit.case for hit in near_the_best([hit for hit, _ in found], MARGIN.get(engine_of(face)))}
    return [(hit, case_face_id) for hit, case_face_id in found if hit.case in kept]


def _scored(context: WorkerContext, face: dict[str, Any], crowd: list[float]) -> list[tuple[Hit, ObjectId]]:
    """The top_k open cases by the engine's review score, each within its threshold: a case of several photos by its
    template (an engine in TEMPLATE_REVIEW, core scored_case), one of the seen face's 10 nearest by its density score
    (an engine with a density review threshold, in a gallery where crowding can be told: `_by_density`), else by its
    closest photo within the review band (docs/evaluation/review-load.md)."""
    bands, top_k, engine, vector = _bands(context), context.settings.match_top_k, engine_of(face), face_vector(face)
    several, density = TEMPLATE_REVIEW.get(engine), _density_review(context, engine)
    if len(crowd) < DENSITY_MIN_CASES:  # crowding cannot be told
        density = None
    if several is None and density is None:
        return _gallery(context).search(vector, bands, top_k, engine=engine)
    reach = Bands(bands.strong, bands.review + REACH)  # a review score can be closer than the closest photo's distance
    width = TEMPLATE_WIDTH * top_k if several is not None else DENSITY_RANKS[0]
    near = _gallery(context).search(vector, reach, width, engine=engine)
    photos = usable_case_faces_of(context.connections.db, [hit.case for hit, _ in near], engine)
    scored = []
    for rank, (hit, case_face_id) in enumerate(near):
        faces = photos[hit.case]  # none: closed or erased since the gallery last looked
        if several is not None and len(faces) > 1:
            vectors = np.stack([face_vector(f) for f in faces])
            rescored = scored_case(hit, vector, vectors, ENGINES[engine].metric, bands.review, several)
        elif density is not None and rank < DENSITY_RANKS[0]:
            case_face = next((f for f in faces if f["_id"] == case_face_id), None)
            rescored = _by_density(context, hit, case_face, crowd, density) if case_face else None
        else:
            rescored = hit if faces and hit.distance <= bands.review else None
        scored += [(rescored, case_face_id)] if rescored else []
    return sorted(scored, key=lambda pair: pair[0].review_score)[:top_k]


def _density_review(context: WorkerContext, engine: str) -> Density | None:
    """The engine's density rule when its candidates are decided by the density score, else None."""
    density = DENSITY.get(engine)
    if context.settings.strong_band != "density" or density is None or density.review is None:
        return None
    return density


def _by_density(
    context: WorkerContext, hit: Hit, case_face: dict[str, Any], crowd: list[float], density: Density
) -> Hit | None:
    """The hit scored by its density score (core pair_density: `crowd` is the seen face's nearest cases, the case's
    crowding is its face's 10 nearest other cases), None past the engine's density review threshold."""
    engine = engine_of(case_face)
    case_crowd = _gallery(context).nearest_cases(face_vector(case_face), CASE_NEIGHBOURS, hit.case, engine)
    score = pair_density(hit.distance, crowd, case_crowd, density.typical)
    return replace(hit, score=score) if score is not None and score <= density.review else None


def _record(
    context: WorkerContext, hit: Hit, case_face: dict[str, Any], sighting_face: dict[str, Any], crowd: list[float]
) -> bool:
    """Store one candidate (`crowd`: the seen face's nearest cases, `_crowd`), in the band `_band` gives it."""
    db = context.connections.db
    band = _band(context, hit, case_face, sighting_face, crowd)
    flags = flags_between(db, hit.case, sighting_face["owner"]["kind"], sighting_face["owner"]["id"])
    return record_candidate(db, hit.case, case_face, sighting_face, hit.distance, band, flags, hit.template)


def _crowd(context: WorkerContext, seen_face: dict[str, Any]) -> list[float]:
    """The distances from a sighting's (or found person's) face to its DENSITY_MIN_CASES nearest open cases, however
    far; none when the strong band is the distance's (HOMEWARD_STRONG_BAND=distance)."""
    if context.settings.strong_band != "density" or engine_of(seen_face) not in DENSITY:
        return []
    return _gallery(context).nearest_cases(face_vector(seen_face), DENSITY_MIN_CASES, engine=engine_of(seen_face))


def _band(
    context: WorkerContext, hit: Hit, case_face: dict[str, Any], seen_face: dict[str, Any], crowd: list[float]
) -> str:
    """Strong only when the density score is within the engine's density threshold (core density_band), else review.

    The density score needs neighbourhoods: with fewer than DENSITY_MIN_CASES open cases of the engine (`crowd`
    shorter), or HOMEWARD_STRONG_BAND=distance, today's rule decides (distance within MATCH_STRONG_DISTANCE).
    A hit scored by density already (`_by_density`) is judged by its score.
    """
    bands, engine = _bands(context), engine_of(seen_face)
    if hit.score is not None:
        return "strong" if hit.score <= DENSITY[engine].strong else "review"
    if len(crowd) < DENSITY_MIN_CASES:
        return bands.band(hit.distance) or "review"
    case_crowd = _gallery(context).nearest_cases(face_vector(case_face), CASE_NEIGHBOURS, hit.case, engine)
    density = DENSITY[engine]
    return density_band(hit.distance, crowd, case_crowd, bands, density.typical, density.strong) or "review"


def _past_seen(context: WorkerContext, case: str, index: SeenIndex) -> int:
    """Retroactive search: a case reported after a sighting (or a finding) meets it as if the sighting came after
    the case. Each seen face near the case (`_seen_near`) is searched against the open cases again, by the rule a
    new seen face meets (`_open_cases_near`), and the case becomes its candidate if it is among those chosen."""
    db, top_k = context.connections.db, context.settings.match_top_k
    case_faces = {f["_id"]: f for f in usable_faces_of_owner(db, Owner("case", case), context.settings.face_engine)}
    near = _seen_near(context, list(case_faces.values()), index)
    stored = faces_by_ids(db, near)  # one erased since the index last looked is skipped
    created = 0
    for seen_face in (stored[face_id] for face_id in near if face_id in stored):
        crowd = _crowd(context, seen_face)
        for hit, case_face_id in _open_cases_near(context, seen_face, crowd):
            # The case is chosen, and the seen face has fewer than top_k closer cases pending:
            if (
                hit.case == case
                and case_face_id in case_faces
                and keep_best([hit], top_k, pending_distances(db, seen_face["_id"]))
            ):
                created += _record(context, hit, case_faces[case_face_id], seen_face, crowd)
    return created


def _seen_near(context: WorkerContext, case_faces: list[dict[str, Any]], index: SeenIndex) -> list[ObjectId]:
    """The seen faces that may become the case's candidates, closest first: within its template's threshold (an
    engine in TEMPLATE_REVIEW, a case of several photos), else within the review band of one of its faces, plus
    REACH where candidates are scored by density (a loner's can be past the band's distance)."""
    if not case_faces:
        return []
    bands, engine, best = _bands(context), engine_of(case_faces[0]), {}
    several = TEMPLATE_REVIEW.get(engine)
    if several is not None and len(case_faces) > 1:
        vectors, limit = [_template(case_faces, engine)], several
    else:
        vectors = [face_vector(f) for f in case_faces]
        limit = bands.review + (REACH if _density_review(context, engine) else 0.0)
    for vector in vectors:
        for seen_face_id, _, distance in index.within(vector, limit, PAST_SIGHTINGS_LIMIT, engine):
            best[seen_face_id] = min(distance, best.get(seen_face_id, np.inf))
    return sorted(best, key=best.__getitem__)


def _withdraw_outgrown(context: WorkerContext, case: str) -> int:
    """A case that gained a photo: its pending candidates that one photo made and its template no longer keeps
    (a look-alike of that photo only) leave the queue, as if the photos had come together; how many.

    Run at the end of every case photo's match, each reading the case's faces again, so a photo matched while
    another was analysed is judged once both are in.
    """
    db, engine = context.connections.db, context.settings.face_engine
    several = TEMPLATE_REVIEW.get(engine)
    case_faces = usable_faces_of_owner(db, Owner("case", case), engine) if several is not None else []
    if several is None or len(case_faces) < 2:
        return 0
    metric = ENGINES[engine].metric
    template = _template(case_faces, engine)
    waiting = pending_of_case(db, case)
    seen = faces_by_ids(db, [c["sighting_face_id"] for c in waiting])
    pending = [c for c in waiting if c["sighting_face_id"] in seen]
    if not pending:
        return 0
    apart = distances(np.stack([face_vector(seen[c["sighting_face_id"]]) for c in pending]), template, metric)
    outgrown = [c["_id"] for c, d in zip(pending, apart, strict=True) if d > several]
    withdrawn = withdraw_pending(db, outgrown)
    if withdrawn:
        log.info("case %s: %d pending candidate(s) withdrawn, beyond its template", case, withdrawn)
    return withdrawn


def _template(case_faces: list[dict[str, Any]], engine: str) -> np.ndarray:
    """The mean of a case's faces (core `case_templates`): what a case of several photos is scored by."""
    return case_templates([np.stack([face_vector(f) for f in case_faces])], ENGINES[engine].metric)[0]


def _flag_duplicates(context: WorkerContext, case: str, faces: list[dict[str, Any]]) -> None:
    """A new case whose face is in the strong band of another open case: maybe the same person reported twice."""
    db, bands = context.connections.db, _bands(context)
    for face in faces:
        found = _gallery(context).search(face_vector(face), bands, 3, exclude_case=case, engine=engine_of(face))
        for hit, _ in found:
            if bands.band(hit.distance) == "strong":
                flag_possible_duplicate(db, case, hit.case, hit.distance)
                log.info("case %s may duplicate case %s (distance %.3f)", case, hit.case, hit.distance)
