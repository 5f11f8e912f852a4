"""Face crops and photos for signed-in reviewers, drawn from the stored originals."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from flask import Blueprint, Response, abort

from admin.auth import can, current_user, require
from admin.context import homeward
from core.faces.crops import face_crop, photo_with_boxes
from core.faces.images import decode_photo, turn
from storage.audit import audit
from storage.candidates import found_faces_shown, sighting_faces_shown
from storage.faces import faces_of_photo, find_face
from storage.found_persons import find_found_person
from storage.photos import find_photo, photo_bytes

blueprint = Blueprint("images", __name__, url_prefix="/images")


@blueprint.get("/faces/<face_id>/crop.jpg")
@require("viewer")
def crop(face_id: str) -> Any:
    face, rgb = _face_and_pixels(face_id, "crop")
    return _jpeg(face_crop(rgb, tuple(face["box"])))  # type: ignore[arg-type]


@blueprint.get("/faces/<face_id>/photo.jpg")
@require("viewer")
def photo(face_id: str) -> Any:
    face, rgb = _face_and_pixels(face_id, "photo")
    # One engine's faces (a re-embedded photo has each face twice): those of the face shown.
    shown = faces_of_photo(homeward().connections.db, face["photo_id"], face.get("engine"))
    boxes = [tuple(f["box"]) for f in shown]
    return _jpeg(photo_with_boxes(rgb, boxes, highlight=face["index"]))  # type: ignore[arg-type]


def _face_and_pixels(face_id: str, shown: str) -> tuple[dict[str, Any], Any]:
    """The face and its photo's pixels; the view is audited (by face id) before any pixel leaves."""
    db = homeward().connections.db
    try:
        face = find_face(db, ObjectId(face_id))
    except InvalidId:
        abort(404)
    photo = find_photo(db, face["photo_id"]) if face else None
    if face is None or photo is None:
        abort(404)
    if not _shown_in_panel(db, face["owner"]):
        abort(404)
    audit(db, current_user()["username"], f"view {shown}", f"face:{face_id}")  # type: ignore[index]
    # Boxes are in the orientation the faces were found in (a sideways photo is turned): turn the pixels alike.
    return face, turn(decode_photo(photo_bytes(db, photo)).rgb, photo.get("rotation", 0))


def _shown_in_panel(db: Any, owner: dict[str, str]) -> bool:
    """Only faces some page shows: a case's, and a sighting's or found person's while a candidate shows them.

    Never a draft's (a photo sent in an unfinished report), whose id no page gives but anyone may guess; nor a
    sighting's past HOMEWARD_KEEP_DECIDED_IMAGES_DAYS after its decisions. A deceased found person's only to
    reviewers and admins (the candidate page shows a viewer none either).
    """
    if owner["kind"] == "case":
        return True
    if owner["kind"] == "found":
        return found_faces_shown(db, owner["id"]) and _may_see_found(db, owner["id"])
    return owner["kind"] == "sighting" and sighting_faces_shown(db, owner["id"])


def _may_see_found(db: Any, reference: str) -> bool:
    person = find_found_person(db, reference)
    return person is not None and (person.get("condition") != "deceased" or can("reviewer"))


def _jpeg(data: bytes) -> Response:
    # Faces are sensitive: never cached by shared caches, and only briefly by the browser.
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=300"})
